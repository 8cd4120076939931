/*
 * aggregative merge: the sources' outputs concatenated in declared order,
 * each part preceded by an optional header (`header = ## {{name}}`) and
 * separated by `separator` (default: nothing; every part ends in a
 * newline).  The result goes to the task's `output` when it has one.
 */
#include <stdio.h>
#include <string.h>

#include "drove/plugin.h"

struct sbuf {
	const struct drove_host *h;
	char *p;
	size_t len, cap;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = b->h->realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Backslash escapes in a separator: \n and \t, so one line can say it. */
static void
sb_add_unescaped(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		char c = *s;

		if (c == '\\' && (s[1] == 'n' || s[1] == 't' ||
		    s[1] == '\\')) {
			s++;
			c = *s == 'n' ? '\n' : *s == 't' ? '\t' : '\\';
		}
		sb_add(b, &c, 1);
	}
}

static int
aggregative_start(const struct drove_host *h, struct drove_merge_call *m)
{
	const char *header = h->conf_get(m->conf, "header");
	const char *sep = h->conf_get(m->conf, "separator");
	struct sbuf b = { h, NULL, 0, 0 };
	char err[512], msg[512];
	size_t ok = 0;
	int outcome = DROVE_MERGE_CLEAN;

	msg[0] = '\0';
	sb_add(&b, "", 0);
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
			sb_add(&b, "\n", 1);
			h->free(hd);
		}
		sb_add(&b, in->text, in->len);
		if (in->len && in->text[in->len - 1] != '\n')
			sb_add(&b, "\n", 1);
	}
	if (ok == 0) {
		snprintf(msg, sizeof(msg), "every source failed");
		outcome = DROVE_MERGE_ERROR;
	} else if (m->output) {
		char *path = h->expand_output(m->output, m->task, 0);

		if (h->write_output(m, path, b.p, b.len, err,
		    sizeof(err)) < 0) {
			snprintf(msg, sizeof(msg), "%s", err);
			outcome = DROVE_MERGE_ERROR;
		}
		h->free(path);
	}
	h->merge_done(m, outcome, b.p, b.len, msg[0] ? msg : NULL);
	h->free(b.p);
	return 0;
}

static const struct drove_merge_ops aggregative_ops = {
	.size = sizeof(struct drove_merge_ops),
	.start = aggregative_start,
};

static const char *const aggregative_keys[] = { "header", "separator", NULL };

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
