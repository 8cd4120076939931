/*
 * additive merge: every source keeps its own file.  Each successful input is
 * written to its own declared output, or to the merging task's `output`
 * template expanded with the source's {{name}} and {{replica}}.  Two sources
 * that would write the same path are a conflict; nothing is overwritten.
 * The merged result (what {{task}} inserts downstream) is the successful
 * parts in order.
 */
#include <stdio.h>
#include <string.h>

#include "drove/plugin.h"

static int
additive_start(const struct drove_host *h, struct drove_merge_call *m)
{
	char **paths = h->alloc((m->n + 1) * sizeof(*paths));
	char err[512], msg[1024];
	size_t cap = 1, len = 0, ok = 0;
	char *out = h->alloc(cap);
	int outcome = DROVE_MERGE_CLEAN;

	msg[0] = '\0';
	for (size_t i = 0; i < m->n; i++) {
		const struct drove_merge_input *in = &m->inputs[i];

		paths[i] = NULL;
		if (in->status != 0)
			continue;
		ok++;
		if (in->output)
			paths[i] = h->strdup(in->output);
		else if (m->output)
			paths[i] = h->expand_output(m->output, in->task,
			    in->replica < 0 ? 0 : in->replica);
		for (size_t j = 0; paths[i] && j < i; j++) {
			if (paths[j] && strcmp(paths[i], paths[j]) == 0) {
				snprintf(msg, sizeof(msg), "sources '%s' and "
				    "'%s' would both write '%s' (use "
				    "{{name}} or {{replica}} in output)",
				    m->inputs[j].task, in->task, paths[i]);
				outcome = DROVE_MERGE_CONFLICT;
			}
		}
		if (outcome != DROVE_MERGE_CLEAN)
			break;
		/* the merged result: the parts in order */
		out = h->realloc(out, cap = len + in->len + 2);
		memcpy(out + len, in->text, in->len);
		len += in->len;
		if (m->n > 1 && in->len && in->text[in->len - 1] != '\n')
			out[len++] = '\n';
	}
	if (outcome == DROVE_MERGE_CLEAN && ok == 0) {
		snprintf(msg, sizeof(msg), "every source failed");
		outcome = DROVE_MERGE_ERROR;
	}
	for (size_t i = 0; outcome == DROVE_MERGE_CLEAN && i < m->n; i++) {
		const struct drove_merge_input *in = &m->inputs[i];

		if (paths[i] == NULL)
			continue;
		if (h->write_output(m, paths[i], in->text, in->len, err,
		    sizeof(err)) < 0) {
			snprintf(msg, sizeof(msg), "%s", err);
			outcome = DROVE_MERGE_ERROR;
		}
	}
	out[len] = '\0';
	h->merge_done(m, outcome, out, len, msg[0] ? msg : NULL);
	for (size_t i = 0; i < m->n; i++)
		h->free(paths[i]);
	h->free(paths);
	h->free(out);
	return 0;
}

static const struct drove_merge_ops additive_ops = {
	.size = sizeof(struct drove_merge_ops),
	.start = additive_start,
	/* each source goes to its own file: `output` is this merge's */
	.flags = DROVE_MERGE_OWN_OUTPUT,
};

static const char *const additive_keys[] = { NULL };

static const struct drove_plugin additive_plugin = {
	.abi_major = DROVE_ABI_MAJOR,
	.abi_minor = DROVE_ABI_MINOR,
	.size = sizeof(struct drove_plugin),
	.kind = DROVE_PLUGIN_MERGE,
	.name = "additive",
	.version = "1.0",
	.description = "each source to its own output file",
	.keys = additive_keys,
	.merge = &additive_ops,
};

__attribute__((visibility("default"))) const struct drove_plugin *
DROVE_PLUGIN_ENTRY(void)
{
	return &additive_plugin;
}
