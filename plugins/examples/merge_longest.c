/*
 * An example merge strategy: merge = longest keeps the longest output among
 * the inputs that succeeded (the first one on a tie), and reports which one
 * won in summary.json.  `min_len = N` makes a winner shorter than N bytes a
 * conflict.  It builds with nothing but the header:
 *
 *	cc -shared -fPIC -I include -o longest.so \
 *	    plugins/examples/merge_longest.c
 *
 * and shows the whole merge contract: check judges the task's keys before
 * anything runs, start looks at the inputs, and host->merge_done reports
 * the outcome and the merged text once.  The core writes that text to the
 * task's result and to its `output =` file; the merge writes no file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drove/plugin.h"

/* Reads min_len from the task's section: 0 when absent, -1 when bad. */
static long
min_len(const struct drove_host *h, const struct drove_conf *task)
{
	const char *v = h->conf_get(task, "min_len");
	char *end;
	long n;

	if (v == NULL)
		return 0;
	n = strtol(v, &end, 10);
	if (end == v || *end != '\0' || n < 0)
		return -1;
	return n;
}

static int
longest_check(const struct drove_host *h, const struct drove_conf *task,
    const char **key, char *err, size_t errlen)
{
	if (min_len(h, task) < 0) {
		*key = "min_len";	/* the core names its file:line */
		snprintf(err, errlen, "bad value '%s' for 'min_len' "
		    "(expected a number of bytes >= 0)",
		    h->conf_get(task, "min_len"));
		return DROVE_EINVAL;
	}
	return 0;
}

static int
longest_start(const struct drove_host *h, struct drove_merge_call *m)
{
	const struct drove_merge_input *best = NULL;
	char note[256], why[128];
	long min = min_len(h, m->conf);

	for (size_t i = 0; i < m->n; i++) {
		const struct drove_merge_input *in = &m->inputs[i];

		if (in->status != 0)
			continue;	/* that source failed */
		if (best == NULL || in->len > best->len)
			best = in;
	}
	if (best == NULL) {
		/* merge_done may run before start returns */
		h->merge_done(m, DROVE_MERGE_ERROR, NULL, 0,
		    "no input succeeded");
		return 0;
	}
	/* a JSON value, shown by drove report and kept in summary.json */
	snprintf(note, sizeof(note), "{\"task\": \"%s\", \"replica\": %d, "
	    "\"bytes\": %zu}", best->task, best->replica, best->len);
	h->merge_note(m, "longest", note);
	if ((long)best->len < min) {
		snprintf(why, sizeof(why), "the longest output has %zu bytes, "
		    "under min_len %ld", best->len, min);
		h->merge_done(m, DROVE_MERGE_CONFLICT, best->text, best->len,
		    why);
		return 0;
	}
	h->merge_done(m, DROVE_MERGE_CLEAN, best->text, best->len, NULL);
	return 0;
}

static void
longest_cancel(const struct drove_host *h, struct drove_merge_call *m)
{
	/* start always ends the merge at once: nothing is left to stop */
	(void)h;
	(void)m;
}

static const struct drove_merge_ops longest_ops = {
	.size = sizeof(struct drove_merge_ops),
	.start = longest_start,
	.cancel = longest_cancel,
	.check = longest_check,
};

/* The keys this merge adds to a [task] (with merge = longest). */
static const char *const longest_keys[] = { "min_len", NULL };

static const struct drove_plugin longest_plugin = {
	.abi_major = DROVE_ABI_MAJOR,
	.abi_minor = DROVE_ABI_MINOR,
	.size = sizeof(struct drove_plugin),
	.kind = DROVE_PLUGIN_MERGE,
	.name = "longest",
	.version = "1.0",
	.description = "example: the longest output wins",
	.keys = longest_keys,
	.merge = &longest_ops,
};

const struct drove_plugin *
DROVE_PLUGIN_ENTRY(void)
{
	return &longest_plugin;
}
