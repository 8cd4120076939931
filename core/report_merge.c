/*
 * The merge phase of worktree isolation in reports: each task's merge
 * status (merged, conflict, check failed with the end of the check's
 * output, not merged because a dependency failed) and the final check,
 * from summary.json.  See report.h.
 */
#include "report.h"

#include <string.h>

static const char *
sget(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* Text x, each line indented by ind. */
static void
print_lines(FILE *f, const char *ind, const char *x)
{
	const char *nl;

	while (*x) {
		nl = strchr(x, '\n');
		fprintf(f, "%s%.*s\n", ind, nl ? (int)(nl - x) :
		    (int)strlen(x), x);
		if (nl == NULL)
			break;
		x = nl + 1;
	}
}

void
report_merge_task(FILE *f, json_t *t)
{
	const char *ms = json_string_value(json_object_get(t, "merge_status"));
	json_t *files;
	size_t i;

	if (ms == NULL)
		return;
	fprintf(f, "%-20s   merge: ", "");
	if (strcmp(ms, "merged") == 0) {
		fprintf(f, "merged\n");
	} else if (strcmp(ms, "conflict") == 0) {
		files = json_object_get(t, "conflict");
		fprintf(f, "conflict in ");
		for (i = 0; i < json_array_size(files); i++)
			fprintf(f, "%s%s", i ? ", " : "",
			    json_string_value(json_array_get(files, i)));
		fprintf(f, "; branch kept\n");
	} else if (strcmp(ms, "check_failed") == 0 &&
	    json_string_value(json_object_get(t, "merge_error"))) {
		/* the undo itself failed: say so, not "undone" */
		fprintf(f, "check failed; %s\n", sget(t, "merge_error"));
		print_lines(f, "                            ",
		    sget(t, "check_output"));
	} else if (strcmp(ms, "check_failed") == 0) {
		fprintf(f, "check failed, merge undone; branch kept\n");
		print_lines(f, "                            ",
		    sget(t, "check_output"));
	} else if (strcmp(ms, "dependency_failed") == 0) {
		fprintf(f, "not merged: dependency '%s' failed or was not "
		    "merged\n", sget(t, "blocked_by"));
	} else if (strcmp(ms, "failed") == 0) {
		fprintf(f, "failed: %s; branch kept\n",
		    sget(t, "merge_error"));
	} else if (strcmp(ms, "unchanged") == 0) {
		fprintf(f, "nothing to merge (no changes)\n");
	} else {
		fprintf(f, "not merged\n");
	}
}

void
report_merge_why(FILE *f, json_t *s)
{
	json_t *m = json_object_get(s, "merge"), *fin, *t;
	const char *name;

	if (m == NULL)
		return;
	json_object_foreach(json_object_get(s, "tasks"), name, t) {
		const char *ms = sget(t, "merge_status"), *br = sget(t,
		    "branch");

		if (strcmp(ms, "check_failed") == 0)
			fprintf(f, "  check failed: task '%s' (branch %s) "
			    "merged into '%s' failed the check; the merge "
			    "was undone, branch kept\n", name, br,
			    sget(m, "into"));
		else if (strcmp(ms, "dependency_failed") == 0 &&
		    json_is_true(json_object_get(t, "merged")) == 0 &&
		    strcmp(sget(t, "status"), "ok") == 0)
			fprintf(f, "  not merged: task '%s' (branch %s) "
			    "depends on '%s', which was not merged\n", name,
			    br, sget(t, "blocked_by"));
	}
	fin = json_object_get(m, "final_check");
	if (json_is_true(json_object_get(fin, "passed")))
		fprintf(f, "  final check     passed on '%s'\n",
		    sget(m, "into"));
	else if (fin != NULL && !json_is_null(fin)) {
		fprintf(f, "  final check     FAILED on '%s' (the merges "
		    "stay)\n", sget(m, "into"));
		print_lines(f, "    ", sget(fin, "output"));
	}
}
