/* The run's view on stderr: a live block on a terminal, else plain lines
 * (see ui.h). */
#include "ui.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "quota.h"
#include "util.h"

#define UI_MIN_REDRAW_MS 100	/* at most 10 redraws a second */
#define UI_TICK_MS 1000		/* elapsed times move while tasks run */
#define UI_NAME_COLS 24
#define UI_BE_COLS 10

struct utask {
	const char *name;
	const char *backend;
	enum ui_state st;
	double start;		/* first start, monotonic s; 0: not yet */
	double until;		/* a retry's end */
	uint64_t bytes;		/* streamed by its calls */
	int tokens;		/* bytes are an API's text */
	char reason[48];	/* UI_PENDING: the scheduler's reason */
};

struct uorder {
	int waits;		/* for a slot: after the started ones */
	double start;
	size_t i;
};

struct ui {
	struct loop *loop;
	int fd;
	int live, color, quiet, verbose;
	size_t n;
	struct utask *t;
	double t0;
	/* totals */
	size_t ndone, nfailed;
	uint64_t tokens;
	double cost, busy;
	/* the block on screen: its lines' widths in columns */
	size_t *drawn;
	size_t ndrawn;
	int width;		/* the terminal's when it was drawn */
	int dirty, timer_on;
	double last_draw;
	struct loop_timer timer;
	struct loop_signal winch;
	struct buf out;
	struct uorder *order;	/* scratch for sorting */
};

static const char *const state_word[] = {
	[UI_IDLE] = "waiting for its inputs",
	[UI_SLOT] = "waiting for a slot",
	[UI_RATE] = "waiting for a rate limit",
	[UI_MEM] = "waiting for memory",
	[UI_RETRY] = "retrying",
	[UI_RUN] = "running",
	[UI_DONE] = "done",
	[UI_PENDING] = "pending",
};

/* --- text --------------------------------------------------------------- */

/* Appends s to b without control characters, and at most max columns
 * (ending on a character boundary); returns the columns added. */
static size_t
add_clean(struct buf *b, const char *s, size_t max)
{
	size_t c = 0;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch & 0xc0) != 0x80) {
			if (c == max)
				break;
			c++;
		}
		buf_addc(b, ch < 0x20 || ch == 0x7f ? '?' : (char)ch);
	}
	return c;
}

/* Appends s padded or cut to exactly w columns. */
static void
add_col(struct buf *b, const char *s, size_t w)
{
	size_t c = add_clean(b, s ? s : "", w);

	for (; c < w; c++)
		buf_addc(b, ' ');
}

/* s as "12.3s" (prec decimals), "4m05s" or "2h10m". */
static void
add_dur(struct buf *b, double s, int prec)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		buf_printf(b, "%*.*fs", 4 + prec, prec, s);
	else if (s < 3600)
		buf_printf(b, "%2dm%02ds", (int)s / 60, (int)s % 60);
	else
		buf_printf(b, "%2dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

static void
add_count(struct buf *b, uint64_t n)
{
	if (n < 10000)
		buf_printf(b, "%llu", (unsigned long long)n);
	else if (n < 10000000)
		buf_printf(b, "%.1fk", (double)n / 1e3);
	else
		buf_printf(b, "%.1fM", (double)n / 1e6);
}

static void
add_streamed(struct buf *b, const struct utask *t)
{
	if (t->bytes == 0)
		return;
	if (t->tokens) {
		buf_adds(b, "~");
		add_count(b, (uint64_t)quota_est_tokens(t->bytes));
		buf_adds(b, " tok  ");
	} else {
		add_count(b, t->bytes);
		buf_adds(b, " B  ");
	}
}

/* --- the live block ----------------------------------------------------- */

static void
term_size(struct ui *u, int *w, int *h)
{
	struct winsize ws;

	*w = 80;
	*h = 24;
	if (ioctl(u->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 &&
	    ws.ws_row > 0) {
		*w = ws.ws_col;
		*h = ws.ws_row;
	}
}

/* Moves the cursor back over the block and clears it: a line drawn wider
 * than the terminal is now takes more than one row. */
static void
erase(struct ui *u, struct buf *b)
{
	size_t rows = 0;
	int w, h;

	if (u->ndrawn == 0)
		return;
	term_size(u, &w, &h);
	for (size_t k = 0; k < u->ndrawn; k++)
		rows += u->drawn[k] == 0 ? 1 : (u->drawn[k] + (size_t)w - 1) /
		    (size_t)w;
	buf_printf(b, "\r\033[%zuA\033[J", rows);
	u->ndrawn = 0;
}

static int
active(const struct utask *t)
{
	return t->st == UI_RUN || t->st == UI_RETRY || t->st == UI_RATE ||
	    t->st == UI_SLOT || t->st == UI_MEM || t->st == UI_PENDING;
}

/* Started tasks first, longest-running first; then those that wait. */
static int
by_start(const void *a, const void *b)
{
	const struct uorder *x = a, *y = b;

	if (x->waits != y->waits)
		return x->waits - y->waits;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->i < y->i ? -1 : 1;
}

/* Ends the line begun at b->len - start: cut to the width, coloured. */
static void
end_line(struct ui *u, struct buf *b, size_t start, const char *color,
    int w)
{
	char *line = xstrndup(b->data + start, b->len - start);
	size_t max = w > 1 ? (size_t)w - 1 : 1, c;

	b->len = start;
	if (u->color && color)
		buf_adds(b, color);
	/* line holds no control characters: add_clean copies it as is */
	c = add_clean(b, line, max);
	if (u->color && color)
		buf_adds(b, "\033[0m");
	buf_addc(b, '\n');
	free(line);
	u->drawn[u->ndrawn++] = c;
}

static void
draw_block(struct ui *u, struct buf *b)
{
	double now = now_mono(), busy = u->busy, el = now - u->t0;
	size_t nrun = 0, nwait = 0, nact = 0, shown, start;
	uint64_t streamed = 0;
	int w, h, maxl;

	term_size(u, &w, &h);
	u->width = w;
	for (size_t i = 0; i < u->n; i++) {
		const struct utask *t = &u->t[i];

		if (!active(t))
			continue;
		u->order[nact].waits = t->st == UI_SLOT || t->st == UI_MEM;
		u->order[nact].start = t->start;
		u->order[nact++].i = i;
		if (t->st == UI_RUN)
			nrun++;
		else
			nwait++;
		if (t->start > 0)
			busy += now - t->start;
		if (t->tokens)
			streamed += (uint64_t)quota_est_tokens(t->bytes);
	}
	qsort(u->order, nact, sizeof(*u->order), by_start);
	/* the totals line, the tasks, a line for the rest; one row is
	 * the cursor's */
	maxl = h - 1 < 1 ? 1 : h - 1;
	shown = nact;
	if ((size_t)maxl < nact + 1)
		shown = maxl >= 2 ? (size_t)maxl - 2 : 0;
	start = b->len;
	buf_printf(b, "[%zu/%zu done] %zu running, %zu waiting, %zu failed | ",
	    u->ndone, u->n, nrun, nwait, u->nfailed);
	add_count(b, u->tokens + streamed);
	buf_printf(b, " tok $%.4f | %.0fs", u->cost, el);
	if (el >= 1)
		buf_printf(b, " | %.2fx", busy / el);
	end_line(u, b, start, "\033[1m", w);
	for (size_t k = 0; k < shown; k++) {
		const struct utask *t = &u->t[u->order[k].i];
		const char *color = NULL;

		start = b->len;
		buf_adds(b, "  ");
		add_col(b, t->name, UI_NAME_COLS);
		buf_adds(b, " ");
		add_col(b, t->backend ? t->backend : "-", UI_BE_COLS);
		buf_adds(b, " ");
		if (t->start > 0)
			add_dur(b, now - t->start, 0);
		else
			buf_adds(b, "     -");
		buf_adds(b, "  ");
		add_streamed(b, t);
		if (t->st == UI_RETRY) {
			double s = t->until - now;

			buf_printf(b, "retrying in %.0f s", s < 0 ? 0 : s);
			color = "\033[33m";
		} else {
			buf_adds(b, state_word[t->st]);
			if (t->st == UI_PENDING)
				buf_printf(b, " (%s)", t->reason);
			if (t->st == UI_RATE)
				color = "\033[35m";
			else if (t->st == UI_SLOT || t->st == UI_MEM)
				color = "\033[2m";
		}
		end_line(u, b, start, color, w);
	}
	if (shown < nact) {
		start = b->len;
		buf_printf(b, "  ... and %zu more", nact - shown);
		end_line(u, b, start, "\033[2m", w);
	}
}

static void ui_arm(struct ui *u, uint64_t ms);

static void
redraw(struct ui *u)
{
	int running = 0;

	buf_reset(&u->out);
	erase(u, &u->out);
	draw_block(u, &u->out);
	(void)write_all(u->fd, u->out.data, u->out.len);
	u->dirty = 0;
	u->last_draw = now_mono();
	for (size_t i = 0; i < u->n && !running; i++)
		running = u->t[i].st == UI_RUN || u->t[i].st == UI_RETRY;
	/* elapsed times and countdowns change by themselves */
	if (running) {
		u->dirty = 1;
		ui_arm(u, UI_TICK_MS);
	}
}

static void
on_timer(struct loop *l, struct loop_timer *tm)
{
	struct ui *u = tm->data;

	(void)l;
	u->timer_on = 0;
	if (u->dirty)
		redraw(u);
}

static void
ui_arm(struct ui *u, uint64_t ms)
{
	if (u->timer_on)
		return;
	u->timer_on = 1;
	loop_timer_start(u->loop, &u->timer, ms, on_timer, u);
}

/* Something changed: redraw soon, no sooner than 100 ms after the last. */
static void
touch(struct ui *u)
{
	double since;
	uint64_t ms;

	if (!u->live)
		return;
	ms = 0;
	since = (now_mono() - u->last_draw) * 1000;
	if (since < UI_MIN_REDRAW_MS)
		ms = (uint64_t)(UI_MIN_REDRAW_MS - since);
	if (u->dirty && u->timer_on && u->timer.due_ms <= loop_now(u->loop) +
	    ms)
		return;
	u->dirty = 1;
	/* a tick may be armed for later: the change comes sooner */
	if (u->timer_on)
		loop_timer_stop(u->loop, &u->timer);
	u->timer_on = 0;
	ui_arm(u, ms);
}

/* A permanent line: above the block on a terminal, else on its own. */
static void
ui_line(struct ui *u, const char *text, const char *color)
{
	if (u->quiet)
		return;
	buf_reset(&u->out);
	if (u->live)
		erase(u, &u->out);
	if (u->color && color)
		buf_adds(&u->out, color);
	buf_adds(&u->out, "drove: ");
	add_clean(&u->out, text, (size_t)-1);
	if (u->color && color)
		buf_adds(&u->out, "\033[0m");
	buf_addc(&u->out, '\n');
	(void)write_all(u->fd, u->out.data, u->out.len);
	touch(u);
}

static void
on_log(void *arg, int before)
{
	struct ui *u = arg;

	if (before && u->ndrawn) {
		buf_reset(&u->out);
		erase(u, &u->out);
		(void)write_all(u->fd, u->out.data, u->out.len);
	} else if (!before) {
		touch(u);
	}
}

static void
on_winch(struct loop *l, struct loop_signal *s, int signo)
{
	(void)l;
	(void)signo;
	touch(s->data);
}

/* --- entry points ------------------------------------------------------- */

struct ui *
ui_new(struct loop *l, int fd, size_t ntasks, double t0, int quiet,
    int verbose)
{
	struct ui *u = xcalloc(1, sizeof(*u));
	const char *term = getenv("TERM"), *nc = getenv("NO_COLOR");

	u->loop = l;
	u->fd = fd;
	u->n = ntasks;
	u->t = xcalloc(ntasks + 1, sizeof(*u->t));
	u->order = xcalloc(ntasks + 1, sizeof(*u->order));
	u->t0 = t0;
	u->quiet = quiet;
	u->verbose = verbose;
	buf_init(&u->out);
	if (!quiet && isatty(fd) && !(term && strcmp(term, "dumb") == 0)) {
		u->live = 1;
		u->color = nc == NULL || *nc == '\0';
		/* the totals line and one row at most per task, and the rest */
		u->drawn = xcalloc(ntasks + 3, sizeof(*u->drawn));
		log_set_hook(on_log, u);
		loop_signal_start(l, &u->winch, SIGWINCH, on_winch, u);
		touch(u);
	}
	return u;
}

int
ui_is_live(const struct ui *u)
{
	return u->live;
}

void
ui_end(struct ui *u)
{
	if (u == NULL || !u->live)
		return;
	buf_reset(&u->out);
	erase(u, &u->out);
	(void)write_all(u->fd, u->out.data, u->out.len);
	if (u->timer_on)
		loop_timer_stop(u->loop, &u->timer);
	u->timer_on = 0;
	loop_signal_stop(u->loop, &u->winch);
	log_set_hook(NULL, NULL);
	u->live = 0;
}

void
ui_free(struct ui *u)
{
	if (u == NULL)
		return;
	ui_end(u);
	buf_release(&u->out);
	free(u->t);
	free(u->order);
	free(u->drawn);
	free(u);
}

void
ui_task_start(struct ui *u, size_t i, const char *name, const char *backend,
    int attempt)
{
	struct utask *t;

	(void)attempt;
	if (i >= u->n)
		return;
	t = &u->t[i];
	t->name = name;
	t->backend = backend;
	if (t->start == 0)
		t->start = now_mono();
	t->st = UI_RUN;
	touch(u);
}

void
ui_task_wait(struct ui *u, size_t i, const char *name, enum ui_state why)
{
	if (i >= u->n || u->t[i].st == UI_DONE)
		return;
	u->t[i].name = name;
	u->t[i].st = why;
	if (u->verbose && !u->live && !u->quiet) {
		char *l = why == UI_PENDING ? xasprintf("%s: pending (%s)",
		    name, u->t[i].reason) : xasprintf("%s: %s", name,
		    state_word[why]);

		ui_line(u, l, NULL);
		free(l);
	}
	touch(u);
}

void
ui_task_pending(struct ui *u, size_t i, const char *name, const char *reason)
{
	if (i >= u->n || u->t[i].st == UI_DONE)
		return;
	if (reason == NULL) {
		if (u->t[i].st == UI_PENDING)
			u->t[i].st = UI_RUN;
		touch(u);
		return;
	}
	snprintf(u->t[i].reason, sizeof(u->t[i].reason), "%s", reason);
	ui_task_wait(u, i, name, UI_PENDING);
}

void
ui_task_retry(struct ui *u, size_t i, const char *name, double wait_s,
    int rate)
{
	if (i >= u->n)
		return;
	u->t[i].name = name;
	u->t[i].st = rate ? UI_RATE : UI_RETRY;
	u->t[i].until = now_mono() + wait_s;
	touch(u);
}

void
ui_task_progress(struct ui *u, size_t i, size_t bytes, int tokens)
{
	if (i >= u->n)
		return;
	u->t[i].bytes += bytes;
	u->t[i].tokens = tokens;
	touch(u);
}

void
ui_task_done(struct ui *u, size_t i, const char *name, const char *status,
    double secs, const char *backend, const char *error, uint64_t tokens,
    double cost)
{
	struct buf b = BUF_INIT;
	const char *color = NULL;

	if (i >= u->n || u->t[i].st == UI_DONE)
		return;
	u->t[i].st = UI_DONE;
	u->ndone++;
	u->tokens += tokens;
	u->cost += cost;
	if (strcmp(status, "skipped") != 0 && strcmp(status, "resumed") != 0)
		u->busy += secs;
	buf_printf(&b, "[%zu/%zu] %-9s ", u->ndone, u->n, status);
	if (strcmp(status, "resumed") == 0) {
		buf_printf(&b, "%s (done before the resume)", name);
		color = "\033[32m";
	} else if (strcmp(status, "ok") == 0) {
		buf_printf(&b, "%-20s ", name);
		add_dur(&b, secs, 2);
		buf_printf(&b, "  %s", backend ? backend : "");
		color = "\033[32m";
	} else {
		if (strcmp(status, "failed") == 0) {
			u->nfailed++;
			color = "\033[31m";
		} else {
			color = "\033[33m";
		}
		buf_printf(&b, "%-20s %s", name, error ? error : "");
	}
	ui_line(u, buf_str(&b), color);
	buf_release(&b);
}
