/*
 * consensus merge: the sources vote.  Each answer is normalised (normalize
 * = a comma list of steps run in order: trim, lower, first_line, json;
 * default trim; json compares canonically: keys sorted, no spacing, 1.0
 * equal to 1), equal answers are one option, and each source's vote
 * weighs `weights = BACKEND:W, ...` (1 for a backend not listed; a merge
 * node's inputs are weighed by task name).  An option wins when its share
 * of all the weight (failed sources included) reaches `quorum` (0.5) and
 * no other option has as much.  Otherwise the task fails and shows the
 * tally, unless `on_no_quorum = plurality`: then the heaviest option wins,
 * a tie going to the one voted first.  A failed source, or one whose
 * answer is empty or (with json) not JSON, casts no vote.
 *
 * The merged result is the winning option's first voter's output as it
 * was.  The tally goes to votes.json in the task's artifact directory and
 * to "votes" in summary.json.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "drove/plugin.h"
#include "plugin_util.h"

enum step {
	STEP_TRIM = 1,
	STEP_LOWER,
	STEP_FIRST_LINE,
	STEP_JSON,
};

#define MAX_STEPS 16

struct voter {
	const struct drove_merge_input *in;
	double weight;
	char *norm;		/* normalised answer, or NULL: no vote */
	char *why;		/* why no vote */
	long option;		/* index into the options, or -1 */
};

struct option {
	const char *answer;	/* a voter's norm */
	double weight;
	size_t votes;
	size_t first;		/* first voter */
};

static const char *const step_names[] = {
	NULL, "trim", "lower", "first_line", "json"
};

/* Parses a normalize list into steps (0-ended).  Returns 0, or -1 with the
 * bad item in bad. */
static int
parse_steps(const char *v, int *steps, char *bad, size_t badlen)
{
	size_t n = 0;
	const char *p = v;

	steps[0] = 0;
	if (v == NULL) {
		steps[0] = STEP_TRIM;
		steps[1] = 0;
		return 0;
	}
	while (*p) {
		const char *e;
		size_t len;
		int s = 0;

		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e && *e != ',' && !isspace((unsigned char)*e);)
			e++;
		len = (size_t)(e - p);
		for (int k = STEP_TRIM; k <= STEP_JSON; k++)
			if (strlen(step_names[k]) == len &&
			    strncmp(step_names[k], p, len) == 0)
				s = k;
		if (s == 0 || n + 1 >= MAX_STEPS) {
			snprintf(bad, badlen, "%.*s", (int)(len > 40 ? 40 :
			    len), p);
			return -1;
		}
		steps[n++] = s;
		steps[n] = 0;
		p = e;
	}
	return 0;
}

/* Weights "a:2, b:1.5".  With out NULL only checks.  Returns 0 or -1 with
 * the bad item in bad.  *out is a jansson object name -> weight. */
static int
parse_weights(const char *v, json_t **out, char *bad, size_t badlen)
{
	json_t *o = json_object();
	const char *p = v;

	while (p && *p) {
		const char *e = strchr(p, ','), *colon;
		char name[256], num[64], *end;
		size_t len;
		double w;

		if (e == NULL)
			e = p + strlen(p);
		while (p < e && isspace((unsigned char)*p))
			p++;
		len = (size_t)(e - p);
		while (len && isspace((unsigned char)p[len - 1]))
			len--;
		if (len == 0) {
			p = *e ? e + 1 : e;
			continue;
		}
		snprintf(bad, badlen, "%.*s", (int)(len > 60 ? 60 : len), p);
		colon = memchr(p, ':', len);
		if (colon == NULL || colon == p ||
		    (size_t)(colon - p) >= sizeof(name) ||
		    (size_t)(p + len - colon - 1) >= sizeof(num) ||
		    p + len - colon - 1 == 0) {
			json_decref(o);
			return -1;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(colon - p), p);
		snprintf(num, sizeof(num), "%.*s", (int)(p + len - colon - 1),
		    colon + 1);
		for (char *q = name + strlen(name); q > name &&
		    isspace((unsigned char)q[-1]);)
			*--q = '\0';
		w = strtod(num, &end);
		while (isspace((unsigned char)*end))
			end++;
		if (*end != '\0' || !isfinite(w) || w < 0) {
			json_decref(o);
			return -1;
		}
		json_object_set_new(o, name, json_real(w));
		p = *e ? e + 1 : e;
	}
	if (out)
		*out = o;
	else
		json_decref(o);
	return 0;
}

/* JSON made comparable: a real with an integral value becomes an
 * integer, inside arrays and objects too. */
static json_t *
canonical(json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_REAL: {
		double d = json_real_value(v);

		if (d == floor(d) && fabs(d) < 9e15) {
			json_decref(v);
			return json_integer((json_int_t)d);
		}
		return v;
	}
	case JSON_ARRAY:
		json_array_foreach(v, i, x)
			json_array_set_new(v, i, canonical(json_incref(x)));
		return v;
	case JSON_OBJECT:
		json_object_foreach(v, k, x)
			json_object_set_new(v, k, canonical(json_incref(x)));
		return v;
	default:
		return v;
	}
}

/* Runs the steps over a copy of s; a host allocation, or NULL with a
 * reason in why. */
static char *
normalize(const struct drove_host *h, const int *steps, const char *s,
    size_t len, char *why, size_t whylen)
{
	char *t = h->alloc(len + 1), *p;

	memcpy(t, s, len);
	t[len] = '\0';
	for (const int *st = steps; *st; st++) {
		switch (*st) {
		case STEP_TRIM:
			for (p = t; isspace((unsigned char)*p); p++)
				;
			len = strlen(p);
			memmove(t, p, len + 1);
			while (len && isspace((unsigned char)t[len - 1]))
				t[--len] = '\0';
			break;
		case STEP_LOWER:
			for (p = t; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			break;
		case STEP_FIRST_LINE:
			/* the first line that holds more than blanks */
			for (p = t; *p;) {
				char *nl = strchr(p, '\n');
				size_t n = nl ? (size_t)(nl - p) : strlen(p);
				size_t k;

				for (k = 0; k < n; k++)
					if (!isspace((unsigned char)p[k]))
						break;
				if (k < n) {
					if (n && p[n - 1] == '\r')
						n--;
					memmove(t, p, n);
					t[n] = '\0';
					break;
				}
				p = nl ? nl + 1 : p + n;
			}
			if (*p == '\0')
				t[0] = '\0';
			break;
		case STEP_JSON: {
			json_error_t je;
			json_t *v;
			char *d;

			v = json_loads(t, JSON_DECODE_ANY, &je);
			if (v == NULL) {
				snprintf(why, whylen, "not JSON: %s", je.text);
				h->free(t);
				return NULL;
			}
			v = canonical(v);
			d = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS |
			    JSON_ENCODE_ANY);
			json_decref(v);
			h->free(t);
			t = h->strdup(d ? d : "");
			free(d);
			break;
		}
		}
	}
	if (t[0] == '\0') {
		snprintf(why, whylen, "empty answer");
		h->free(t);
		return NULL;
	}
	return t;
}

/* A one-line excerpt of s, at most 40 bytes. */
static void
excerpt(const char *s, char *buf, size_t size)
{
	size_t n = 0, i;

	for (i = 0; s[i] && n + 4 < size && n < 40; i++)
		buf[n++] = s[i] == '\n' || s[i] == '\r' || s[i] == '\t' ?
		    ' ' : s[i];
	if (s[i] && n + 4 < size) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
}

static void
voter_label(const struct voter *v, char *buf, size_t size)
{
	if (v->in->replica >= 0)
		snprintf(buf, size, "replica %d%s%s%s", v->in->replica,
		    v->in->backend ? " (" : "", v->in->backend ?
		    v->in->backend : "", v->in->backend ? ")" : "");
	else
		snprintf(buf, size, "'%s'", v->in->task);
}

static json_t *
tally_json(const struct drove_host *h, const struct voter *vs, size_t n,
    const struct option *opt, size_t nopt, double total, double quorum,
    const char *rule, long win)
{
	json_t *o = json_object(), *ta = json_array(), *nv = json_array();

	for (size_t i = 0; i < nopt; i++) {
		json_t *e = json_object(), *who = json_array();

		for (size_t k = 0; k < n; k++)
			if (vs[k].option == (long)i)
				json_array_append_new(who,
				    json_integer((json_int_t)k));
		json_object_set_new(e, "answer",
		    pu_json_text(h, opt[i].answer));
		json_object_set_new(e, "votes",
		    json_integer((json_int_t)opt[i].votes));
		json_object_set_new(e, "weight", json_real(opt[i].weight));
		json_object_set_new(e, "share", json_real(total > 0 ?
		    opt[i].weight / total : 0));
		json_object_set_new(e, "voters", who);
		json_object_set_new(e, "winner", json_boolean(win ==
		    (long)i));
		json_array_append_new(ta, e);
	}
	for (size_t k = 0; k < n; k++) {
		json_t *e;

		if (vs[k].norm)
			continue;
		e = json_object();
		json_object_set_new(e, "voter", json_integer((json_int_t)k));
		json_object_set_new(e, "task", json_string(vs[k].in->task));
		json_object_set_new(e, "replica", vs[k].in->replica >= 0 ?
		    json_integer(vs[k].in->replica) : json_null());
		json_object_set_new(e, "backend", vs[k].in->backend ?
		    json_string(vs[k].in->backend) : json_null());
		json_object_set_new(e, "why", pu_json_text(h, vs[k].why ?
		    vs[k].why : "no vote"));
		json_array_append_new(nv, e);
	}
	json_object_set_new(o, "rule", json_string(rule));
	json_object_set_new(o, "quorum", json_real(quorum));
	json_object_set_new(o, "total_weight", json_real(total));
	json_object_set_new(o, "winner", win >= 0 ?
	    pu_json_text(h, opt[win].answer) : json_null());
	json_object_set_new(o, "tally", ta);
	json_object_set_new(o, "no_vote", nv);
	return o;
}

static int
cmp_options(const void *a, const void *b)
{
	const struct option *x = a, *y = b;

	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return x->first < y->first ? -1 : x->first > y->first;
}

/* "no quorum: 'A' 2 of 5 votes (0.40 < 0.50), 'B' 1 of 5 (0.20), no vote:
 * replica 3 (sh): failed" */
static void
no_quorum_text(char *buf, size_t size, const struct voter *vs, size_t n,
    const struct option *opt, size_t nopt, double total, double quorum,
    int weighted)
{
	size_t off = 0;
	char shown[64], lb[128];
	int w;

#define PUT(...) do { \
	w = snprintf(buf + off, off < size ? size - off : 0, __VA_ARGS__); \
	if (w > 0) \
		off += (size_t)w; \
	if (off >= size) \
		return; \
} while (0)
	PUT("no quorum:");
	for (size_t i = 0; i < nopt; i++) {
		double share = total > 0 ? opt[i].weight / total : 0;

		excerpt(opt[i].answer, shown, sizeof(shown));
		PUT("%s '%s' %g of %g %s (%.2f", i ? "," : "", shown,
		    weighted ? opt[i].weight : (double)opt[i].votes,
		    weighted ? total : (double)n, weighted ? "weight" :
		    "votes", share);
		if (i == 0 && share < quorum)
			PUT(" < %.2f", quorum);
		else if (i == 0)
			PUT(", tied");
		PUT(")");
	}
	if (nopt == 0)
		PUT(" no votes");
	for (size_t k = 0, first = 1; k < n; k++) {
		if (vs[k].norm)
			continue;
		voter_label(&vs[k], lb, sizeof(lb));
		PUT("%s %s: %s", first ? "; no vote:" : ",", lb, vs[k].why ?
		    vs[k].why : "no vote");
		first = 0;
	}
#undef PUT
}

static int
consensus_start(const struct drove_host *h, struct drove_merge_call *m)
{
	const char *qv = h->conf_get(m->conf, "quorum");
	const char *onq = h->conf_get(m->conf, "on_no_quorum");
	const char *wv = h->conf_get(m->conf, "weights");
	int steps[MAX_STEPS + 1];
	struct voter *vs;
	struct option *opt, *sorted;
	json_t *weights = NULL, *tally;
	double quorum = qv ? strtod(qv, NULL) : 0.5, total = 0;
	int plurality = onq && strcmp(onq, "plurality") == 0;
	size_t nopt = 0;
	long win = -1;
	char bad[128], why[256], msg[2048], err[512];
	const char *rule = "quorum";
	int outcome = DROVE_MERGE_CLEAN;
	char *txt;

	msg[0] = '\0';
	/* the check op has vetted the keys; fall back quietly if not */
	if (parse_steps(h->conf_get(m->conf, "normalize"), steps, bad,
	    sizeof(bad)) < 0)
		parse_steps(NULL, steps, bad, sizeof(bad));
	if (wv && parse_weights(wv, &weights, bad, sizeof(bad)) < 0)
		weights = NULL;
	vs = h->alloc((m->n + 1) * sizeof(*vs));
	opt = h->alloc((m->n + 1) * sizeof(*opt));
	for (size_t k = 0; k < m->n; k++) {
		struct voter *v = &vs[k];
		const char *key;
		json_t *wj;

		v->in = &m->inputs[k];
		v->norm = NULL;
		v->why = NULL;
		v->option = -1;
		key = v->in->backend ? v->in->backend : v->in->task;
		wj = weights ? json_object_get(weights, key) : NULL;
		v->weight = wj ? json_number_value(wj) : 1;
		total += v->weight;
		if (v->in->status != 0) {
			v->why = h->strdup("failed");
			continue;
		}
		v->norm = normalize(h, steps, v->in->text, v->in->len, why,
		    sizeof(why));
		if (v->norm == NULL) {
			v->why = h->strdup(why);
			continue;
		}
		for (size_t i = 0; i < nopt; i++)
			if (strcmp(opt[i].answer, v->norm) == 0)
				v->option = (long)i;
		if (v->option < 0) {
			opt[nopt].answer = v->norm;
			opt[nopt].weight = 0;
			opt[nopt].votes = 0;
			opt[nopt].first = k;
			v->option = (long)nopt++;
		}
		opt[v->option].weight += v->weight;
		opt[v->option].votes++;
	}
	json_decref(weights);
	/* the heaviest option, earliest on a tie */
	for (size_t i = 0; i < nopt; i++)
		if (win < 0 || opt[i].weight > opt[win].weight)
			win = (long)i;
	if (win >= 0) {
		int tied = 0;

		for (size_t i = 0; i < nopt; i++)
			if ((long)i != win && opt[i].weight == opt[win].weight)
				tied = 1;
		if (tied || total <= 0 || opt[win].weight / total < quorum) {
			if (plurality && opt[win].weight > 0) {
				rule = "plurality";
			} else {
				sorted = h->alloc((nopt + 1) *
				    sizeof(*sorted));
				memcpy(sorted, opt, nopt * sizeof(*sorted));
				qsort(sorted, nopt, sizeof(*sorted),
				    cmp_options);
				no_quorum_text(msg, sizeof(msg), vs, m->n,
				    sorted, nopt, total, quorum,
				    wv != NULL);
				h->free(sorted);
				win = -1;
			}
		}
	} else {
		no_quorum_text(msg, sizeof(msg), vs, m->n, opt, 0, total,
		    quorum, wv != NULL);
	}
	tally = tally_json(h, vs, m->n, opt, nopt, total, quorum, rule, win);
	if ((txt = json_dumps(tally, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		h->merge_note(m, "votes", txt);
		free(txt);
	}
	if ((txt = json_dumps(tally, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
		char *path = h->alloc(strlen(m->artifact_dir) + 16);

		sprintf(path, "%s/votes.json", m->artifact_dir);
		if (h->write_output(m, path, txt, strlen(txt), err,
		    sizeof(err)) < 0)
			h->log(DROVE_LOG_WARN, "%s: %s", m->task, err);
		h->free(path);
		free(txt);
	}
	json_decref(tally);
	if (win < 0)
		outcome = DROVE_MERGE_ERROR;
	/* the core writes the winner to `output` */
	if (outcome == DROVE_MERGE_CLEAN) {
		const struct drove_merge_input *in = vs[opt[win].first].in;

		h->merge_done(m, outcome, in->text, in->len, NULL);
	} else {
		h->merge_done(m, outcome, NULL, 0, msg);
	}
	for (size_t k = 0; k < m->n; k++) {
		h->free(vs[k].norm);
		h->free(vs[k].why);
	}
	h->free(vs);
	h->free(opt);
	return 0;
}

/* Is name in the comma list v? */
static int
in_list(const char *v, const char *name)
{
	size_t len = strlen(name);
	const char *p = v;

	while (p && *p) {
		const char *e = strchr(p, ','), *s = p;
		size_t n;

		if (e == NULL)
			e = p + strlen(p);
		while (s < e && isspace((unsigned char)*s))
			s++;
		n = (size_t)(e - s);
		while (n && isspace((unsigned char)s[n - 1]))
			n--;
		if (n == len && strncmp(s, name, len) == 0)
			return 1;
		p = *e ? e + 1 : e;
	}
	return 0;
}

static int
consensus_check(const struct drove_host *h, const struct drove_conf *c,
    const char **key, char *err, size_t errlen)
{
	const char *v, *backends = h->conf_get(c, "backend");
	const char *inputs = h->conf_get(c, "inputs");
	int steps[MAX_STEPS + 1];
	char bad[128], *end;
	json_t *w;
	const char *name;
	json_t *x;
	double q;

	if (parse_steps(h->conf_get(c, "normalize"), steps, bad,
	    sizeof(bad)) < 0) {
		*key = "normalize";
		snprintf(err, errlen, "unknown normalize step '%s' (expected "
		    "a comma list of trim, lower, first_line, json)", bad);
		return DROVE_EINVAL;
	}
	if ((v = h->conf_get(c, "quorum")) != NULL) {
		q = strtod(v, &end);
		while (isspace((unsigned char)*end))
			end++;
		if (end == v || *end != '\0' || !(q > 0 && q <= 1)) {
			*key = "quorum";
			snprintf(err, errlen, "bad value '%.40s' for 'quorum' "
			    "(expected a fraction of the votes, more than 0 "
			    "and at most 1)", v);
			return DROVE_EINVAL;
		}
	}
	if ((v = h->conf_get(c, "on_no_quorum")) != NULL &&
	    strcmp(v, "fail") != 0 && strcmp(v, "plurality") != 0) {
		*key = "on_no_quorum";
		snprintf(err, errlen, "bad value '%.40s' for 'on_no_quorum' "
		    "(expected fail or plurality)", v);
		return DROVE_EINVAL;
	}
	if ((v = h->conf_get(c, "weights")) != NULL) {
		*key = "weights";
		if (parse_weights(v, &w, bad, sizeof(bad)) < 0) {
			snprintf(err, errlen, "bad weight '%s' (expected "
			    "BACKEND:NUMBER, the number 0 or more)", bad);
			return DROVE_EINVAL;
		}
		/* a name the task never votes with is a typo */
		json_object_foreach(w, name, x) {
			const char *list = inputs ? inputs : backends;

			if (list && !in_list(list, name)) {
				snprintf(err, errlen, "weights names '%s', "
				    "which is not among this task's %s",
				    name, inputs ? "inputs" : "backends");
				json_decref(w);
				return DROVE_EINVAL;
			}
		}
		json_decref(w);
	}
	return 0;
}

static const struct drove_merge_ops consensus_ops = {
	.size = sizeof(struct drove_merge_ops),
	.start = consensus_start,
	.check = consensus_check,
};

static const char *const consensus_keys[] = {
	"normalize", "weights", "quorum", "on_no_quorum", NULL
};

static const struct drove_plugin consensus_plugin = {
	.abi_major = DROVE_ABI_MAJOR,
	.abi_minor = DROVE_ABI_MINOR,
	.size = sizeof(struct drove_plugin),
	.kind = DROVE_PLUGIN_MERGE,
	.name = "consensus",
	.version = "1.0",
	.description = "majority or weighted vote over normalised answers",
	.keys = consensus_keys,
	.merge = &consensus_ops,
};

__attribute__((visibility("default"))) const struct drove_plugin *
DROVE_PLUGIN_ENTRY(void)
{
	return &consensus_plugin;
}
