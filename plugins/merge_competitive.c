/*
 * competitive merge: best of N.  Every usable source (it succeeded and its
 * output is not blank) is a candidate, kept in the task's artifact
 * directory as candidate-<k>.out; one of two rules picks the winner:
 *
 *   score = CMD        run once per candidate, at the same time; the
 *                      candidate on stdin, or its file's path wherever an
 *                      argument holds {{file}}.  It prints a number; the
 *                      highest wins, a tie goes to the earliest.  A
 *                      command that fails or prints anything but one
 *                      number leaves that candidate unscored.
 *   judge = BACKEND    that backend is shown the task's prompt and the
 *                      numbered candidates and answers with a number
 *                      (judge_prompt replaces the opening instruction).
 *                      An unusable answer is asked again once, then the
 *                      task fails with the judge's text.
 *
 * The winner is the merged result (the core writes it to `output`).
 * scores.json next to the candidates, and "candidates" in summary.json,
 * keep every candidate with its score.
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

#define DEFAULT_JUDGE_PROMPT "Several candidates answered the same task. " \
	"Pick the best one."

struct comp;

struct cand {
	struct comp *cp;
	const struct drove_merge_input *in;
	size_t k;		/* input index */
	int usable;
	char *file;		/* candidate-<k>.out, or NULL */
	int scored;
	double score;
	char *why;		/* why it has no score, or NULL */
	void *spawn;		/* score command in flight */
	const char **argv;
	char **own;		/* argv strings with {{file}} replaced */
	char *env[3];
};

struct comp {
	const struct drove_host *h;
	struct drove_merge_call *m;
	struct cand *c;
	size_t n;
	size_t *order;		/* judge's number - 1 -> candidate */
	size_t nusable;
	size_t pending;		/* score commands in flight */
	char **cmd;		/* split score command */
	int cancelled;
	/* judge */
	const char *judge;
	char *prompt;
	void *call;
	int asked;
	char *answers[2];
	long choice;		/* 1-based, or 0 */
	char err[1024];
};

/* s with every {{file}} replaced by file; a host allocation. */
static char *
subst_file(const struct drove_host *h, const char *s, const char *file)
{
	size_t n = 0, fl = strlen(file);
	const char *p;
	char *out, *o;

	for (p = s; (p = strstr(p, "{{file}}")) != NULL; p += 8)
		n++;
	out = o = h->alloc(strlen(s) + n * fl + 1);
	for (p = s; *p;) {
		if (strncmp(p, "{{file}}", 8) == 0) {
			memcpy(o, file, fl);
			o += fl;
			p += 8;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

/* A one-line excerpt of s for messages: at most 60 bytes, newlines as
 * spaces. */
static void
excerpt(const char *s, size_t len, char *buf, size_t size)
{
	size_t i, n = 0;

	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	for (i = 0; i < len && n + 4 < size && n < 60; i++)
		buf[n++] = s[i] == '\n' || s[i] == '\r' || s[i] == '\t' ||
		    s[i] == '\0' ? ' ' : s[i];
	if (i < len && n + 4 < size) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
}

static int
blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

/* How messages name a candidate. */
static void
label(const struct cand *c, char *buf, size_t size)
{
	if (c->in->replica >= 0)
		snprintf(buf, size, "replica %d%s%s%s", c->in->replica,
		    c->in->backend ? " (" : "", c->in->backend ?
		    c->in->backend : "", c->in->backend ? ")" : "");
	else
		snprintf(buf, size, "'%s'", c->in->task);
}

static int
parse_score(const char *out, size_t len, double *v)
{
	char buf[128], *end;

	while (len && isspace((unsigned char)*out)) {
		out++;
		len--;
	}
	while (len && isspace((unsigned char)out[len - 1]))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, out, len);
	buf[len] = '\0';
	*v = strtod(buf, &end);
	return *end == '\0' && isfinite(*v) ? 0 : -1;
}

/* The judge's choice: the first whole number in its answer. */
static long
parse_choice(const char *s, size_t len)
{
	long v = 0;
	size_t i = 0;

	while (i < len && !isdigit((unsigned char)s[i]))
		i++;
	if (i == len)
		return -1;
	for (; i < len && isdigit((unsigned char)s[i]); i++) {
		if (v > 100000)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static json_t *
cand_json(const struct comp *cp, const struct cand *c, int winner)
{
	json_t *o = json_object();
	const struct drove_merge_input *in = c->in;

	json_object_set_new(o, "candidate", json_integer((json_int_t)c->k));
	json_object_set_new(o, "task", json_string(in->task));
	json_object_set_new(o, "replica", in->replica >= 0 ?
	    json_integer(in->replica) : json_null());
	json_object_set_new(o, "backend", in->backend ?
	    json_string(in->backend) : json_null());
	json_object_set_new(o, "status", json_string(in->status != 0 ?
	    "failed" : c->usable ? "ok" : "empty"));
	json_object_set_new(o, "score", c->scored ? json_real(c->score) :
	    json_null());
	if (cp->judge && cp->order) {
		json_t *num = json_null();

		for (size_t j = 0; j < cp->nusable; j++)
			if (cp->order[j] == c->k)
				num = json_integer((json_int_t)j + 1);
		json_object_set_new(o, "judge_number", num);
	}
	json_object_set_new(o, "winner", json_boolean(winner));
	json_object_set_new(o, "file", c->file ? json_string(c->file) :
	    json_null());
	json_object_set_new(o, "error", pu_json_text(cp->h, c->why));
	return o;
}

/* Keeps every candidate and score: scores.json and the summary. */
static void
record(struct comp *cp, long win)
{
	const struct drove_host *h = cp->h;
	json_t *a = json_array(), *doc;
	char err[512], *txt, *path;

	for (size_t i = 0; i < cp->n; i++)
		json_array_append_new(a, cand_json(cp, &cp->c[i],
		    win >= 0 && (size_t)win == i));
	txt = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (txt) {
		h->merge_note(cp->m, "candidates", txt);
		free(txt);
	}
	doc = json_object();
	json_object_set_new(doc, "rule", json_string(cp->judge ? "judge" :
	    "score"));
	if (cp->judge) {
		json_t *ans = json_array();

		json_object_set_new(doc, "judge", json_string(cp->judge));
		for (int i = 0; i < 2; i++)
			if (cp->answers[i])
				json_array_append_new(ans,
				    pu_json_text(h, cp->answers[i]));
		json_object_set_new(doc, "answers", ans);
		txt = json_dumps(json_object_get(doc, "answers"),
		    JSON_COMPACT);
		if (txt) {
			h->merge_note(cp->m, "judge_answers", txt);
			free(txt);
		}
	}
	json_object_set_new(doc, "candidates", a);
	txt = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	path = pu_fmt(h, "%s/scores.json", cp->m->artifact_dir);
	if (txt && h->write_output(cp->m, path, txt, strlen(txt), err,
	    sizeof(err)) < 0)
		h->log(DROVE_LOG_WARN, "%s: %s", cp->m->task, err);
	h->free(path);
	free(txt);
	json_decref(doc);
}

static void
comp_free(struct comp *cp)
{
	const struct drove_host *h = cp->h;

	for (size_t i = 0; i < cp->n; i++) {
		struct cand *c = &cp->c[i];

		h->free(c->file);
		h->free(c->why);
		h->free(c->argv);
		if (c->own)
			for (size_t j = 0; c->own[j]; j++)
				h->free(c->own[j]);
		h->free(c->own);
		for (size_t j = 0; j < 3; j++)
			h->free(c->env[j]);
	}
	h->free(cp->c);
	h->free(cp->order);
	h->free(cp->cmd);
	h->free(cp->prompt);
	h->free(cp->answers[0]);
	h->free(cp->answers[1]);
	h->free(cp);
}

/* Reports the outcome once and frees cp.  win: candidate index or -1. */
static void
finish(struct comp *cp, long win)
{
	const struct drove_host *h = cp->h;
	struct drove_merge_call *m = cp->m;
	const struct drove_merge_input *in;

	m->plugin_data = NULL;
	record(cp, win);
	if (cp->cancelled) {
		snprintf(cp->err, sizeof(cp->err), "cancelled");
		win = -1;
	}
	if (win < 0) {
		h->merge_done(m, DROVE_MERGE_ERROR, NULL, 0, cp->err);
		comp_free(cp);
		return;
	}
	in = cp->c[win].in;
	/* the core writes the winner to `output` */
	h->merge_done(m, DROVE_MERGE_CLEAN, in->text, in->len, NULL);
	comp_free(cp);
}

/* Appends "; label: why" for every candidate that has a reason. */
static void
add_reasons(struct comp *cp, size_t off)
{
	char lb[128];

	for (size_t i = 0; i < cp->n && off < sizeof(cp->err); i++) {
		int n;

		if (cp->c[i].why == NULL)
			continue;
		label(&cp->c[i], lb, sizeof(lb));
		n = snprintf(cp->err + off, sizeof(cp->err) - off, "%s%s: %s",
		    off && cp->err[off - 1] != ' ' ? "; " : "", lb,
		    cp->c[i].why);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

static void
scores_done(struct comp *cp)
{
	long win = -1;

	for (size_t i = 0; i < cp->n; i++)
		if (cp->c[i].scored && (win < 0 ||
		    cp->c[i].score > cp->c[win].score))
			win = (long)i;
	if (win < 0) {
		int n = snprintf(cp->err, sizeof(cp->err), "no candidate "
		    "could be scored: ");

		add_reasons(cp, n > 0 ? (size_t)n : 0);
	}
	finish(cp, win);
}

static void
score_exit(void *arg, int status, int err, const char *out, size_t len)
{
	struct cand *c = arg;
	struct comp *cp = c->cp;
	const struct drove_host *h = cp->h;
	char shown[128];

	c->spawn = NULL;
	if (err == DROVE_ESPAWN || err == DROVE_EIO) {
		excerpt(out, len, shown, sizeof(shown));
		c->why = pu_fmt(h, "score command: %s", shown);
	} else if (err == DROVE_ETIMEDOUT) {
		c->why = pu_fmt(h, "score command timed out");
	} else if (err == DROVE_ECANCELED) {
		c->why = pu_fmt(h, "score command cancelled");
	} else if (status != 0) {
		c->why = status > 0 ? pu_fmt(h, "score command exited with "
		    "status %d", status) : pu_fmt(h, "score command killed by "
		    "signal %d", -status);
	} else if (parse_score(out, len, &c->score) < 0) {
		excerpt(out, len, shown, sizeof(shown));
		c->why = shown[0] ? pu_fmt(h, "score command printed '%s', not "
		    "a number", shown) : pu_fmt(h, "score command printed "
		    "nothing, not a number");
	} else {
		c->scored = 1;
	}
	if (c->why)
		h->log(DROVE_LOG_WARN, "%s: candidate %zu unscored: %s",
		    cp->m->task, c->k, c->why);
	if (--cp->pending == 0)
		scores_done(cp);
}

static int
start_score(struct comp *cp, struct cand *c, double timeout)
{
	const struct drove_host *h = cp->h;
	struct drove_spawn req;
	size_t argc = 0;
	int use_file = 0, rc;
	char *errp;

	while (cp->cmd[argc])
		argc++;
	c->argv = h->alloc((argc + 1) * sizeof(*c->argv));
	c->own = h->alloc((argc + 1) * sizeof(*c->own));
	for (size_t i = 0; i <= argc; i++) {
		c->own[i] = NULL;
		c->argv[i] = NULL;
	}
	for (size_t i = 0; i < argc; i++) {
		if (strstr(cp->cmd[i], "{{file}}")) {
			c->own[i] = subst_file(h, cp->cmd[i], c->file);
			c->argv[i] = c->own[i];
			use_file = 1;
		} else {
			c->argv[i] = cp->cmd[i];
		}
	}
	/* own[] is NULL-ended for freeing: compact it */
	for (size_t i = 0, j = 0; i < argc; i++) {
		char *p = c->own[i];

		c->own[i] = NULL;
		if (p)
			c->own[j++] = p;
	}
	c->env[0] = pu_fmt(h, "DROVE_TASK=%s", cp->m->task);
	c->env[1] = pu_fmt(h, "DROVE_CANDIDATE=%zu", c->k);
	c->env[2] = NULL;
	errp = pu_fmt(h, "%s/candidate-%zu.score.err", cp->m->artifact_dir,
	    c->k);
	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.argv = c->argv;
	req.env_add = (const char *const *)c->env;
	if (!use_file) {
		req.stdin_data = c->in->text;
		req.stdin_len = c->in->len;
	}
	req.stderr_path = errp;
	req.timeout_s = timeout;
	req.on_exit = score_exit;
	req.arg = c;
	req.core = cp->m->core;		/* the merge's context (ABI 1.4) */
	rc = h->spawn(&req, &c->spawn);
	h->free(errp);
	if (rc < 0) {
		c->why = pu_fmt(h, "cannot start the score command '%s' (error "
		    "%d)", cp->cmd[0], rc);
		return rc;
	}
	cp->pending++;
	return 0;
}

static void ask_judge(struct comp *cp);

static void
judge_done(void *arg, const struct drove_result *r)
{
	struct comp *cp = arg;
	const struct drove_host *h = cp->h;
	char shown[128];
	long v;

	cp->call = NULL;
	if (cp->cancelled) {
		finish(cp, -1);
		return;
	}
	if (r->status != 0) {
		snprintf(cp->err, sizeof(cp->err), "judge '%s' failed: %s",
		    cp->judge, r->error ? r->error : "error");
		if (cp->asked < 2) {
			h->log(DROVE_LOG_WARN, "%s: %s; asking again",
			    cp->m->task, cp->err);
			ask_judge(cp);
			return;
		}
		finish(cp, -1);
		return;
	}
	cp->answers[cp->asked - 1] = h->alloc(r->len + 1);
	memcpy(cp->answers[cp->asked - 1], r->text ? r->text : "", r->len);
	cp->answers[cp->asked - 1][r->len] = '\0';
	v = parse_choice(r->text ? r->text : "", r->len);
	if (v >= 1 && (size_t)v <= cp->nusable) {
		cp->choice = v;
		finish(cp, (long)cp->order[v - 1]);
		return;
	}
	excerpt(r->text ? r->text : "", r->len, shown, sizeof(shown));
	snprintf(cp->err, sizeof(cp->err), "judge '%s' answered '%s', not "
	    "a candidate number from 1 to %zu%s", cp->judge, shown,
	    cp->nusable, cp->asked >= 2 ? " (asked twice)" : "");
	if (cp->asked >= 2) {
		finish(cp, -1);
		return;
	}
	h->log(DROVE_LOG_WARN, "%s: %s; asking again", cp->m->task, cp->err);
	ask_judge(cp);
}

static void
ask_judge(struct comp *cp)
{
	const struct drove_host *h = cp->h;
	char *prompt = cp->prompt, shown[128];
	int rc;

	if (cp->asked == 1 && cp->answers[0]) {
		excerpt(cp->answers[0], strlen(cp->answers[0]), shown,
		    sizeof(shown));
		prompt = pu_fmt(h, "%s\n\nYour previous answer was '%s', which "
		    "is not a number from 1 to %zu. Answer with one number "
		    "only.", cp->prompt, shown, cp->nusable);
	}
	cp->asked++;
	rc = h->backend_call(cp->m, cp->judge, prompt, NULL, judge_done, cp,
	    &cp->call);
	if (prompt != cp->prompt)
		h->free(prompt);
	if (rc < 0) {
		/* the host refuses at once only a backend it does not
		 * have; anything else arrives in judge_done */
		snprintf(cp->err, sizeof(cp->err), "cannot call judge '%s': "
		    "%s", cp->judge, rc == DROVE_EINVAL ? "no backend of "
		    "that name" : "the call could not start");
		finish(cp, -1);
	}
}

/* The instruction, the task's own prompt, the numbered candidates. */
static char *
judge_prompt(struct comp *cp)
{
	const struct drove_host *h = cp->h;
	const char *intro = h->conf_get(cp->m->conf, "judge_prompt");
	const char *task = h->conf_get(cp->m->conf, "prompt");
	struct pbuf b = { h, NULL, 0, 0 };
	char line[160];

	pbuf_adds(&b, intro ? intro : DEFAULT_JUDGE_PROMPT);
	if (task) {
		pbuf_adds(&b, "\n\nThe task was:\n");
		pbuf_adds(&b, task);
	}
	for (size_t j = 0; j < cp->nusable; j++) {
		const struct drove_merge_input *in = cp->c[cp->order[j]].in;

		snprintf(line, sizeof(line), "\n\n=== Candidate %zu ===\n",
		    j + 1);
		pbuf_adds(&b, line);
		pbuf_add(&b, in->text, in->len);
	}
	snprintf(line, sizeof(line), "\n\n=== End ===\nAnswer with the "
	    "number of the best candidate (1 to %zu) and nothing else.",
	    cp->nusable);
	pbuf_adds(&b, line);
	return b.p;
}

static int
competitive_start(const struct drove_host *h, struct drove_merge_call *m)
{
	const char *score = h->conf_get(m->conf, "score");
	const char *tv = h->conf_get(m->conf, "timeout");
	struct comp *cp;
	char err[512];
	double timeout = 0;

	/* the task's timeout, already checked when the file was loaded */
	if (tv != NULL && pu_duration(tv, &timeout) < 0)
		timeout = 0;
	cp = h->alloc(sizeof(*cp));
	memset(cp, 0, sizeof(*cp));
	cp->h = h;
	cp->m = m;
	cp->n = m->n;
	cp->judge = h->conf_get(m->conf, "judge");
	cp->c = h->alloc((m->n + 1) * sizeof(*cp->c));
	memset(cp->c, 0, (m->n + 1) * sizeof(*cp->c));
	cp->order = h->alloc((m->n + 1) * sizeof(*cp->order));
	m->plugin_data = cp;
	for (size_t i = 0; i < m->n; i++) {
		struct cand *c = &cp->c[i];

		c->cp = cp;
		c->in = &m->inputs[i];
		c->k = i;
		if (c->in->status != 0) {
			c->why = pu_fmt(h, "failed");
			continue;
		}
		if (blank(c->in->text, c->in->len)) {
			c->why = pu_fmt(h, "empty output");
			continue;
		}
		c->file = pu_fmt(h, "%s/candidate-%zu.out", m->artifact_dir, i);
		if (h->write_output(m, c->file, c->in->text, c->in->len, err,
		    sizeof(err)) < 0) {
			snprintf(cp->err, sizeof(cp->err), "%s", err);
			finish(cp, -1);
			return 0;
		}
		c->usable = 1;
		cp->order[cp->nusable++] = i;
	}
	if (cp->nusable == 0) {
		int n = snprintf(cp->err, sizeof(cp->err), "no candidate: ");

		add_reasons(cp, n > 0 ? (size_t)n : 0);
		finish(cp, -1);
		return 0;
	}
	if (cp->judge) {
		if (cp->nusable == 1) {
			/* nothing to compare */
			finish(cp, (long)cp->order[0]);
			return 0;
		}
		cp->prompt = judge_prompt(cp);
		ask_judge(cp);
		return 0;
	}
	cp->cmd = h->split_argv(score ? score : "", err, sizeof(err));
	if (cp->cmd == NULL || cp->cmd[0] == NULL) {
		snprintf(cp->err, sizeof(cp->err), "score: %s", cp->cmd ?
		    "empty command" : err);
		finish(cp, -1);
		return 0;
	}
	/* pending stays above 0 until every command is started, so an early
	 * exit cannot finish the merge half-way */
	cp->pending = 1;
	for (size_t i = 0; i < cp->n; i++)
		if (cp->c[i].usable)
			(void)start_score(cp, &cp->c[i], timeout);
	if (--cp->pending == 0)
		scores_done(cp);
	return 0;
}

static void
competitive_cancel(const struct drove_host *h, struct drove_merge_call *m)
{
	struct comp *cp = m->plugin_data;

	if (cp == NULL || cp->cancelled)
		return;
	cp->cancelled = 1;
	for (size_t i = 0; i < cp->n; i++)
		if (cp->c[i].spawn)
			h->spawn_kill(cp->c[i].spawn);
	if (cp->call)
		h->backend_call_cancel(cp->call);
}

static int
competitive_check(const struct drove_host *h, const struct drove_conf *c,
    const char **key, char *err, size_t errlen)
{
	const char *score = h->conf_get(c, "score");
	const char *judge = h->conf_get(c, "judge");
	char **argv;

	if (score && judge) {
		*key = "judge";
		snprintf(err, errlen, "score and judge are both set; "
		    "competitive takes one");
		return DROVE_EINVAL;
	}
	if (!score && !judge) {
		*key = "merge";
		snprintf(err, errlen, "merge = competitive needs score = "
		    "COMMAND or judge = BACKEND");
		return DROVE_EINVAL;
	}
	if (h->conf_get(c, "judge_prompt") && !judge) {
		*key = "judge_prompt";
		snprintf(err, errlen, "judge_prompt without judge");
		return DROVE_EINVAL;
	}
	if (score) {
		char why[256];

		argv = h->split_argv(score, why, sizeof(why));
		if (argv == NULL || argv[0] == NULL) {
			*key = "score";
			snprintf(err, errlen, "score: %s", argv ?
			    "empty command" : why);
			h->free(argv);
			return DROVE_EINVAL;
		}
		h->free(argv);
	}
	return 0;
}

static const struct drove_merge_ops competitive_ops = {
	.size = sizeof(struct drove_merge_ops),
	.start = competitive_start,
	.cancel = competitive_cancel,
	.check = competitive_check,
};

static const char *const competitive_keys[] = {
	"score", "judge", "judge_prompt", NULL
};

static const struct drove_plugin competitive_plugin = {
	.abi_major = DROVE_ABI_MAJOR,
	.abi_minor = DROVE_ABI_MINOR,
	.size = sizeof(struct drove_plugin),
	.kind = DROVE_PLUGIN_MERGE,
	.name = "competitive",
	.version = "1.0",
	.description = "best of N: a score command or a judge backend picks",
	.keys = competitive_keys,
	.merge = &competitive_ops,
};

__attribute__((visibility("default"))) const struct drove_plugin *
DROVE_PLUGIN_ENTRY(void)
{
	return &competitive_plugin;
}
