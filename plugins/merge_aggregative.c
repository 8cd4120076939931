/*
 * aggregative merge: the sources' outputs concatenated in declared order,
 * each part preceded by an optional header (`header = ## {{name}}`) and
 * separated by `separator` (default: nothing; every part ends in a
 * newline).  With `summarize = BACKEND` that backend is asked to
 * summarise the collected parts (`summarize_prompt` leads the prompt); the
 * summary is then the result, and the parts are kept as parts.md in the
 * task's artifact directory.  The core writes the result to the task's
 * `output` when it has one.
 */
#include <stdio.h>
#include <string.h>

#include "drove/plugin.h"
#include "plugin_util.h"

#define DEFAULT_SUMMARIZE_PROMPT "Summarise the following parts into " \
	"one coherent result. Keep every fact that matters; drop repetition."

/* Backslash escapes in a separator: \n and \t, so one line can say it. */
static void
sb_add_unescaped(struct pbuf *b, const char *s)
{
	for (; *s; s++) {
		char c = *s;

		if (c == '\\' && (s[1] == 'n' || s[1] == 't' ||
		    s[1] == '\\')) {
			s++;
			c = *s == 'n' ? '\n' : *s == 't' ? '\t' : '\\';
		}
		pbuf_add(b, &c, 1);
	}
}

/* A summary in flight. */
struct summary {
	const struct drove_host *h;
	struct drove_merge_call *m;
	const char *backend;
	void *call;
};

/* Reports the outcome: the merged text, or an error. */
static void
finish(const struct drove_host *h, struct drove_merge_call *m,
    const char *text, size_t len, const char *error)
{
	if (error)
		h->merge_done(m, DROVE_MERGE_ERROR, NULL, 0, error);
	else
		h->merge_done(m, DROVE_MERGE_CLEAN, text, len, NULL);
}

static void
summary_done(void *arg, const struct drove_result *r)
{
	struct summary *sm = arg;
	const struct drove_host *h = sm->h;
	struct drove_merge_call *m = sm->m;
	char msg[1024];

	m->plugin_data = NULL;
	if (r->status != 0) {
		snprintf(msg, sizeof(msg), "summarize: backend '%s' failed: "
		    "%s", sm->backend, r->error ? r->error : "error");
		finish(h, m, NULL, 0, msg);
	} else {
		finish(h, m, r->text ? r->text : "", r->text ? r->len : 0,
		    NULL);
	}
	h->free(sm);
}

/* Keeps the parts in the artifact directory and asks the backend for a
 * summary of them; the summary becomes the result. */
static void
summarize(const struct drove_host *h, struct drove_merge_call *m,
    const char *backend, struct pbuf *parts)
{
	const char *intro = h->conf_get(m->conf, "summarize_prompt");
	struct pbuf p = { h, NULL, 0, 0 };
	struct summary *sm;
	char err[512], msg[600], *path;
	size_t dl = strlen(m->artifact_dir);
	int rc;

	path = h->alloc(dl + sizeof("/parts.md"));
	memcpy(path, m->artifact_dir, dl);
	memcpy(path + dl, "/parts.md", sizeof("/parts.md"));
	rc = h->write_output(m, path, parts->p, parts->len, err, sizeof(err));
	h->free(path);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "%s", err);
		finish(h, m, NULL, 0, msg);
		return;
	}
	if (intro == NULL)
		intro = DEFAULT_SUMMARIZE_PROMPT;
	pbuf_add(&p, intro, strlen(intro));
	pbuf_add(&p, "\n\n", 2);
	pbuf_add(&p, parts->p, parts->len);
	sm = h->alloc(sizeof(*sm));
	sm->h = h;
	sm->m = m;
	sm->backend = backend;
	sm->call = NULL;
	m->plugin_data = sm;
	rc = h->backend_call(m, backend, p.p, NULL, summary_done, sm,
	    &sm->call);
	h->free(p.p);
	if (rc < 0) {
		m->plugin_data = NULL;
		h->free(sm);
		snprintf(msg, sizeof(msg), "summarize: cannot call backend "
		    "'%s'", backend);
		finish(h, m, NULL, 0, msg);
	}
}

static int
aggregative_start(const struct drove_host *h, struct drove_merge_call *m)
{
	const char *header = h->conf_get(m->conf, "header");
	const char *sep = h->conf_get(m->conf, "separator");
	const char *sumb = h->conf_get(m->conf, "summarize");
	struct pbuf b = { h, NULL, 0, 0 };
	size_t ok = 0;

	pbuf_add(&b, "", 0);
	for (size_t i = 0; i < m->n; i++) {
		const struct drove_merge_input *in = &m->inputs[i];

		if (in->status != 0)
			continue;
		if (ok && sep)
			sb_add_unescaped(&b, sep);
		ok++;
		if (header) {
			char *hd = h->expand_output(header, in->task,
			    in->replica < 0 ? 0 : in->replica);

			sb_add_unescaped(&b, hd);
			pbuf_add(&b, "\n", 1);
			h->free(hd);
		}
		pbuf_add(&b, in->text, in->len);
		if (in->len && in->text[in->len - 1] != '\n')
			pbuf_add(&b, "\n", 1);
	}
	if (ok == 0)
		finish(h, m, NULL, 0, "every source failed");
	else if (sumb)
		summarize(h, m, sumb, &b);
	else
		finish(h, m, b.p, b.len, NULL);
	h->free(b.p);
	return 0;
}

static void
aggregative_cancel(const struct drove_host *h, struct drove_merge_call *m)
{
	struct summary *sm = m->plugin_data;

	if (sm && sm->call)
		h->backend_call_cancel(sm->call);
}

static int
aggregative_check(const struct drove_host *h, const struct drove_conf *c,
    const char **key, char *err, size_t errlen)
{
	if (h->conf_get(c, "summarize_prompt") &&
	    !h->conf_get(c, "summarize")) {
		*key = "summarize_prompt";
		snprintf(err, errlen, "summarize_prompt without summarize = "
		    "BACKEND");
		return DROVE_EINVAL;
	}
	return 0;
}

static const struct drove_merge_ops aggregative_ops = {
	.size = sizeof(struct drove_merge_ops),
	.start = aggregative_start,
	.cancel = aggregative_cancel,
	.check = aggregative_check,
};

static const char *const aggregative_keys[] = {
	"header", "separator", "summarize", "summarize_prompt", NULL
};

static const struct drove_plugin aggregative_plugin = {
	.abi_major = DROVE_ABI_MAJOR,
	.abi_minor = DROVE_ABI_MINOR,
	.size = sizeof(struct drove_plugin),
	.kind = DROVE_PLUGIN_MERGE,
	.name = "aggregative",
	.version = "1.0",
	.description = "concatenate outputs in declared order",
	.keys = aggregative_keys,
	.merge = &aggregative_ops,
};

__attribute__((visibility("default"))) const struct drove_plugin *
DROVE_PLUGIN_ENTRY(void)
{
	return &aggregative_plugin;
}
