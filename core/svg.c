/*
 * The timeline picture of a run (see svg.h): the journal's start, attempt
 * and task records become one bar per attempt, with the wait before a
 * retry after it, packed into lanes, one per slot in use at once.
 */
#include "svg.h"

#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "util.h"

enum kind {
	K_OK,
	K_FAIL,
	K_RETRY,	/* failed, retried */
	K_RATE,		/* rate-limited, retried */
	K_CANCEL,	/* cancelled or cut off */
	K_NKINDS,
};

static const char *const kind_fill[K_NKINDS] = {
	"#7bc96f", "#e57373", "#ffb74d", "#ba68c8", "#bdbdbd",
};
static const char *const kind_name[K_NKINDS] = {
	"ok", "failed", "failed, retried", "rate-limited, retried",
	"cancelled",
};
/* the wait after a retried attempt: a darker strip */
static const char *const wait_fill[K_NKINDS] = {
	"#ffffff", "#ffffff", "#e0912f", "#8e3fa0", "#ffffff",
};

/* End not known yet: the attempt runs, or it ended and its end comes
 * with the next record. */
enum { OPEN, ENDED_NO_TIME, WAITING, CLOSED };

struct bar {
	char *task, *key, *backend, *error;
	int attempt, state, has_attempt, crit, lane;
	enum kind kind;
	double t0, t1, w1;	/* attempt from t0 to t1, its wait to w1 */
	size_t seg;
};

struct tl {
	struct bar *b;
	size_t n, cap;
	size_t seg;		/* parts of the run (resumes) seen */
	double base, last;	/* the part's start, latest time, absolute */
};

static struct bar *
latest(struct tl *tl, const char *key)
{
	for (size_t i = tl->n; i-- > 0;)
		if (tl->b[i].seg == tl->seg && strcmp(tl->b[i].key, key) == 0)
			return &tl->b[i];
	return NULL;
}

/* Ends b's attempt, or its wait, at t. */
static void
bar_close(struct bar *b, double t)
{
	switch (b->state) {
	case OPEN:
	case ENDED_NO_TIME:
		b->t1 = b->w1 = t;
		break;
	case WAITING:
		b->w1 = t;
		break;
	}
	if (b->t1 < b->t0)
		b->t1 = b->t0;
	if (b->w1 < b->t1)
		b->w1 = b->t1;
	b->state = CLOSED;
}

/* Whether key is one of task's calls. */
static int
key_of(const char *key, const char *task)
{
	size_t n = strlen(task);

	return strncmp(key, task, n) == 0 && key[n] == 1;
}

static void
tl_event(json_t *ev, void *arg)
{
	struct tl *tl = arg;
	const char *type = json_string_value(json_object_get(ev, "ev"));
	const char *task = json_string_value(json_object_get(ev, "task"));
	json_t *jt = json_object_get(ev, "t"), *rep;
	double t = tl->base + json_number_value(jt);
	char key[512];
	struct bar *b;

	if (type == NULL)
		return;
	if (strcmp(type, "run") == 0) {
		/* what a killed part left running ends where it stopped */
		for (size_t i = 0; i < tl->n; i++)
			if (tl->b[i].state != CLOSED) {
				if (tl->b[i].state == OPEN)
					tl->b[i].kind = K_CANCEL;
				bar_close(&tl->b[i], tl->last);
			}
		tl->seg++;
		tl->base = tl->last = json_number_value(json_object_get(ev,
		    "time"));
		return;
	}
	if (json_is_number(jt) && t > tl->last)
		tl->last = t;
	if (task == NULL)
		return;
	rep = json_object_get(ev, "replica");
	snprintf(key, sizeof(key), "%s%c%c%lld", task, 1,
	    json_is_integer(rep) ? 'r' : 'c', (long long)json_integer_value(
	    json_is_integer(rep) ? rep : json_object_get(ev, "call")));
	if (strcmp(type, "start") == 0) {
		const char *be = json_string_value(json_object_get(ev,
		    "backend"));

		if ((b = latest(tl, key)) != NULL && b->state != CLOSED)
			bar_close(b, t);
		if (tl->n == tl->cap) {
			tl->cap = tl->cap ? 2 * tl->cap : 64;
			tl->b = xrealloc(tl->b, tl->cap * sizeof(*tl->b));
		}
		b = &tl->b[tl->n++];
		memset(b, 0, sizeof(*b));
		b->task = xstrdup(task);
		b->key = xstrdup(key);
		b->backend = xstrdup(be ? be : "");
		b->attempt = (int)json_integer_value(json_object_get(ev,
		    "attempt"));
		b->seg = tl->seg;
		b->t0 = b->t1 = b->w1 = t;
		b->kind = K_OK;
		b->lane = -1;
		if (!json_is_integer(rep)) {
			/* a merge's own call: a judge, a summary */
			free(b->task);
			b->task = xasprintf("%s (merge call)", task);
		}
	} else if (strcmp(type, "attempt") == 0) {
		const char *e = json_string_value(json_object_get(ev, "error"));

		if ((b = latest(tl, key)) == NULL || b->state != OPEN)
			return;
		b->has_attempt = 1;
		free(b->error);
		b->error = e ? xstrdup(e) : NULL;
		if (json_is_true(json_object_get(ev, "retry")))
			b->kind = json_is_true(json_object_get(ev,
			    "rate_limited")) || (e && (strstr(e, "429") ||
			    strstr(e, "rate limit"))) ? K_RATE : K_RETRY;
		else
			b->kind = K_FAIL;
		if (json_is_number(jt)) {
			b->t1 = b->w1 = t;
			b->state = WAITING;
		} else {
			b->state = ENDED_NO_TIME;
		}
	} else if (strcmp(type, "task") == 0) {
		const char *st = json_string_value(json_object_get(ev,
		    "status"));

		if (st == NULL)
			st = "";
		for (size_t i = 0; i < tl->n; i++) {
			b = &tl->b[i];
			if (b->seg != tl->seg || b->state == CLOSED ||
			    !key_of(b->key, task))
				continue;
			if (strcmp(st, "cancelled") == 0 && b->kind != K_RATE &&
			    b->kind != K_RETRY)
				b->kind = K_CANCEL;
			else if (!b->has_attempt && strcmp(st, "failed") == 0)
				b->kind = K_FAIL;
			bar_close(b, t);
		}
	}
}

static void
xml_esc(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': buf_adds(b, "&lt;"); break;
		case '>': buf_adds(b, "&gt;"); break;
		case '&': buf_adds(b, "&amp;"); break;
		case '"': buf_adds(b, "&quot;"); break;
		default:
			/* no control characters in XML 1.0 */
			if ((unsigned char)*s >= 0x20 || *s == '\t' ||
			    *s == '\n')
				buf_addc(b, *s);
		}
	}
}

static int
bar_cmp(const void *a, const void *b)
{
	const struct bar *x = a, *y = b;

	if (x->t0 != y->t0)
		return x->t0 < y->t0 ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* Packs the bars into lanes: each takes the lowest lane free at its
 * start.  Returns the number of lanes. */
static int
pack(struct bar *b, size_t n)
{
	double *free_at = xcalloc(n + 1, sizeof(*free_at));
	int lanes = 0;

	qsort(b, n, sizeof(*b), bar_cmp);
	for (size_t i = 0; i < n; i++) {
		int k;

		for (k = 0; k < lanes; k++)
			if (free_at[k] <= b[i].t0 + 1e-6)
				break;
		if (k == lanes)
			lanes++;
		b[i].lane = k;
		/* a wait before a retry holds no slot */
		free_at[k] = b[i].t1;
	}
	free(free_at);
	return lanes;
}

/* A round step for about ten ticks over span seconds. */
static double
tick_step(double span)
{
	double raw = span / 10, mag = 1, f;

	if (!(raw > 1e-9))
		return 1;
	while (mag * 10 <= raw)
		mag *= 10;
	while (mag > raw)
		mag /= 10;
	f = raw / mag;
	return mag * (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10);
}

/* The smallest whole number not below x (no libm). */
static double
ceil_d(double x)
{
	double i = (double)(long long)x;

	return i < x ? i + 1 : i;
}

#define SVG_W 1200
#define SVG_LEFT 70
#define SVG_RIGHT 30
#define SVG_TOP 64

static void
draw_legend(struct buf *o)
{
	int x = SVG_LEFT;

	for (int k = 0; k <= K_NKINDS + 1; k++) {
		const char *name = k < K_NKINDS ? kind_name[k] : k == K_NKINDS ?
		    "wait before a retry" : "critical path";
		const char *fill = k < K_NKINDS ? kind_fill[k] :
		    k == K_NKINDS ? wait_fill[K_RETRY] : "#ffffff";

		buf_printf(o, "<g><title>%s</title><rect x=\"%d\" y=\"32\" "
		    "width=\"14\" height=\"12\" fill=\"%s\"%s/>"
		    "<text x=\"%d\" y=\"42\">%s</text></g>\n", name, x, fill,
		    k == K_NKINDS + 1 ? " stroke=\"#000\" stroke-width=\"2\"" :
		    "", x + 18, name);
		x += 18 + 7 * (int)strlen(name) + 16;
	}
}

static void
draw_bar(struct buf *o, const struct bar *b, double x0, double sc,
    double tmin, double lane_h, int waits)
{
	double y = SVG_TOP + b->lane * lane_h, pad = lane_h >= 8 ? 2 : 0.5;
	double bx = x0 + (b->t0 - tmin) * sc, bw = (b->t1 - b->t0) * sc;
	double h = lane_h - 2 * pad;

	if (bw < 1)
		bw = 1;
	if (waits)
		goto wait;
	buf_printf(o, "<g><title>");
	xml_esc(o, b->task);
	buf_printf(o, ": attempt %d", b->attempt);
	if (b->backend[0]) {
		buf_adds(o, " on ");
		xml_esc(o, b->backend);
	}
	buf_printf(o, ", %.2f s to %.2f s (%.2f s): %s", b->t0, b->t1,
	    b->t1 - b->t0, kind_name[b->kind]);
	if (b->error) {
		buf_adds(o, ": ");
		xml_esc(o, b->error);
	}
	if (b->crit)
		buf_adds(o, "; on the critical path");
	buf_printf(o, "</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
	    "height=\"%.1f\" fill=\"%s\"%s/>", bx, y + pad, bw, h,
	    kind_fill[b->kind], b->crit ? " stroke=\"#000\" "
	    "stroke-width=\"2\"" : lane_h >= 8 ? " stroke=\"#ffffff\"" : "");
	/* the name where it fits: about 7 px a character at 11 px */
	if (lane_h >= 14 && bw >= 7.0 * (double)strlen(b->task) + 8) {
		buf_printf(o, "<text x=\"%.1f\" y=\"%.1f\">", bx + 4,
		    y + lane_h / 2 + 4);
		xml_esc(o, b->task);
		buf_adds(o, "</text>");
	}
	buf_adds(o, "</g>\n");
	return;
wait:
	if (b->w1 > b->t1 + 1e-9) {
		/* a strip along the lane's foot: the lane may hold another
		 * attempt meanwhile */
		buf_printf(o, "<g><title>");
		xml_esc(o, b->task);
		buf_printf(o, ": waits %.2f s before attempt %d (%s)</title>"
		    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		    "fill=\"%s\"/></g>\n", b->w1 - b->t1, b->attempt + 1,
		    b->kind == K_RATE ? "rate limit" : "backoff", bx + bw,
		    y + lane_h - pad - (h / 4 < 2 ? 2 : h / 4),
		    (b->w1 - b->t1) * sc, h / 4 < 2 ? 2 : h / 4,
		    wait_fill[b->kind]);
	}
}

int
svg_render(json_t *s, const char *journal, struct buf *o)
{
	struct tl tl = { 0 };
	json_t *cp = json_object_get(s, "critical_path");
	double ref, tmin = 0, tmax, sc, lane_h, step, axis_y;
	int lanes, h, rc;
	size_t i, k;

	rc = journal_replay(journal, tl_event, &tl, NULL);
	if (rc < 0)
		return rc;
	/* cut off by a kill: ends where the journal stops */
	for (i = 0; i < tl.n; i++)
		if (tl.b[i].state != CLOSED) {
			if (tl.b[i].state == OPEN)
				tl.b[i].kind = K_CANCEL;
			bar_close(&tl.b[i], tl.last);
		}
	/* times from the start of the run's last part, as summary.json */
	ref = json_is_number(json_object_get(s, "started_at")) ?
	    json_number_value(json_object_get(s, "started_at")) : tl.base;
	tmax = json_number_value(json_object_get(s, "wall_s"));
	for (i = 0; i < tl.n; i++) {
		struct bar *b = &tl.b[i];

		b->t0 -= ref;
		b->t1 -= ref;
		b->w1 -= ref;
		tmin = b->t0 < tmin ? b->t0 : tmin;
		tmax = b->w1 > tmax ? b->w1 : tmax;
		for (k = 0; k < json_array_size(cp); k++)
			if (json_string_value(json_array_get(cp, k)) &&
			    key_of(b->key, json_string_value(
			    json_array_get(cp, k))))
				b->crit = 1;
	}
	if (tmax - tmin <= 0)
		tmax = tmin + 1;
	lanes = pack(tl.b, tl.n);
	/* lanes shrink so a thousand still fit on a screen or two */
	lane_h = lanes <= 30 ? 24 : 720.0 / lanes < 3 ? 3 : 720.0 / lanes;
	sc = (SVG_W - SVG_LEFT - SVG_RIGHT) / (tmax - tmin);
	axis_y = SVG_TOP + (lanes ? lanes : 1) * lane_h + 6;
	h = (int)axis_y + 40;
	buf_printf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" "
	    "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
	    "font-family=\"sans-serif\" font-size=\"11\">\n<title>run ",
	    SVG_W, h, SVG_W, h);
	xml_esc(o, json_string_value(json_object_get(s, "run")) ?
	    json_string_value(json_object_get(s, "run")) : "");
	buf_printf(o, ": %zu attempts in %d lanes</title>\n", tl.n, lanes);
	buf_printf(o, "<rect width=\"100%%\" height=\"100%%\" "
	    "fill=\"#ffffff\"/>\n<text x=\"%d\" y=\"20\" font-size=\"14\">"
	    "run ", SVG_LEFT);
	xml_esc(o, json_string_value(json_object_get(s, "run")) ?
	    json_string_value(json_object_get(s, "run")) : "");
	buf_printf(o, " %s: wall %.2f s, sum of tasks %.2f s",
	    json_string_value(json_object_get(s, "status")) ?
	    json_string_value(json_object_get(s, "status")) : "",
	    json_number_value(json_object_get(s, "wall_s")),
	    json_number_value(json_object_get(s, "sum_s")));
	if (json_is_number(json_object_get(s, "speedup")) &&
	    strcmp(json_string_value(json_object_get(s, "status")) ?
	    json_string_value(json_object_get(s, "status")) : "", "ok") == 0)
		buf_printf(o, ", speedup %s%.2fx",
		    json_is_true(json_object_get(s, "cpu_bound")) ?
		    "at most " : "",
		    json_number_value(json_object_get(s, "speedup")));
	buf_printf(o, ", %d lane%s</text>\n", lanes, lanes == 1 ? "" : "s");
	draw_legend(o);
	/* lanes: stripes and names */
	for (int l = 0; l < lanes; l++) {
		buf_printf(o, "<g><title>lane %d: one slot in use at once"
		    "</title><rect x=\"%d\" y=\"%.1f\" width=\"%d\" "
		    "height=\"%.1f\" fill=\"%s\"/>", l + 1, SVG_LEFT,
		    SVG_TOP + l * lane_h, SVG_W - SVG_LEFT - SVG_RIGHT, lane_h,
		    l % 2 ? "#f4f4f4" : "#ffffff");
		if (lane_h >= 12 || l % (int)ceil_d(12 / lane_h) == 0)
			buf_printf(o, "<text x=\"%d\" y=\"%.1f\" "
			    "text-anchor=\"end\">%d</text>", SVG_LEFT - 6,
			    SVG_TOP + l * lane_h + (lane_h < 12 ? 10 :
			    lane_h / 2 + 4), l + 1);
		buf_adds(o, "</g>\n");
	}
	buf_printf(o, "<text x=\"8\" y=\"%d\">lane</text>\n", SVG_TOP - 6);
	/* the axis, its ticks and faint lines up through the lanes */
	step = tick_step(tmax - tmin);
	buf_printf(o, "<g><title>time from the run's start, seconds</title>"
	    "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
	    "stroke=\"#000\" stroke-width=\"2\"/>\n", SVG_LEFT, axis_y,
	    SVG_W - SVG_RIGHT, axis_y);
	for (double t = ceil_d(tmin / step - 1e-9) * step; t <= tmax + 1e-9;
	    t += step) {
		double x = SVG_LEFT + (t - tmin) * sc;

		buf_printf(o, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
		    "y2=\"%.1f\" stroke=\"#dddddd\"/><line x1=\"%.1f\" "
		    "y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\" "
		    "stroke-width=\"2\"/><text x=\"%.1f\" y=\"%.1f\" "
		    "text-anchor=\"middle\">%g s</text>\n", x, SVG_TOP, x,
		    axis_y, x, axis_y, x, axis_y + 8, x, axis_y + 22,
		    (t < 0 ? -t : t) < step / 1e6 ? 0 : t);
	}
	buf_adds(o, "</g>\n");
	for (i = 0; i < tl.n; i++)
		draw_bar(o, &tl.b[i], SVG_LEFT, sc, tmin, lane_h, 0);
	for (i = 0; i < tl.n; i++)
		draw_bar(o, &tl.b[i], SVG_LEFT, sc, tmin, lane_h, 1);
	buf_adds(o, "</svg>\n");
	for (i = 0; i < tl.n; i++) {
		free(tl.b[i].task);
		free(tl.b[i].key);
		free(tl.b[i].backend);
		free(tl.b[i].error);
	}
	free(tl.b);
	return 0;
}
