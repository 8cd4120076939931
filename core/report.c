#include "report.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "runlock.h"
#include "svg.h"
#include "util.h"

static double
num(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

static const char *
str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* Why a worktree run failed beyond its tasks: merge conflicts and
 * failures, each with its kept branch and how to look at it, and a merge
 * phase that was refused. */
static void
print_merge_why(FILE *f, json_t *s)
{
	json_t *m = json_object_get(s, "merge"), *tasks, *t, *files;
	const char *into = str(m, "into"), *name;
	size_t i;

	if (m == NULL)
		return;
	if (json_string_value(json_object_get(m, "refused")))
		fprintf(f, "  merge phase refused: %s\n    nothing was merged; "
		    "the branches are kept: merge each with 'git merge "
		    "BRANCH'\n", str(m, "refused"));
	tasks = json_object_get(s, "tasks");
	json_object_foreach(tasks, name, t) {
		const char *br = str(t, "branch");

		files = json_object_get(t, "conflict");
		if (json_array_size(files) > 0) {
			fprintf(f, "  merge conflict: task '%s' (branch %s) "
			    "into '%s' in ", name, br, into);
			for (i = 0; i < json_array_size(files); i++)
				fprintf(f, "%s%s", i ? ", " : "",
				    json_string_value(json_array_get(files,
				    i)));
			fprintf(f, "\n    merge aborted, branch kept; look "
			    "at it: git diff %s...%s\n    then merge it by "
			    "hand: git merge %s\n", into, br, br);
		} else if (json_string_value(json_object_get(t,
		    "merge_error"))) {
			fprintf(f, "  merge failed: task '%s' (branch %s) "
			    "into '%s': %s\n    branch kept; look at it: git "
			    "log -p %s..%s\n", name, br, into,
			    str(t, "merge_error"), into, br);
		}
	}
	report_merge_why(f, s);
}

/* The speedup line: none for a run that did not end ok, and an upper
 * estimate when the agents were CPU-bound. */
static void
print_speedup(FILE *f, json_t *s)
{
	double cpu = num(s, "agents_cpu_s");
	long ncpu = (long)json_integer_value(json_object_get(s, "cpus"));

	if (json_is_number(json_object_get(s, "agents_cpu_s")))
		fprintf(f, "  agents' CPU     %8.2f s   (user+sys of drove's "
		    "children; %ld CPU%s)\n", cpu, ncpu, ncpu == 1 ? "" : "s");
	if (strcmp(str(s, "status"), "ok") != 0) {
		fprintf(f, "  speedup         none: the run %s\n",
		    str(s, "status"));
		return;
	}
	if (json_is_true(json_object_get(s, "cpu_bound")))
		fprintf(f, "  speedup         %8.2fx   an upper estimate: the "
		    "agents were CPU-bound\n%30s(%.2f s of CPU on %ld CPU%s) and "
		    "slowed each\n%30sother; by CPU time %.2fx\n",
		    num(s, "speedup"), "", cpu, ncpu, ncpu == 1 ? "" : "s", "",
		    num(s, "speedup_cpu"));
	else
		fprintf(f, "  speedup         %8.2fx\n", num(s, "speedup"));
}

void
report_print_summary(FILE *f, json_t *s)
{
	json_t *tasks = json_object_get(s, "tasks"), *t, *cp;
	size_t counts[4] = { 0, 0, 0, 0 }, i;
	const char *name;
	double wall = num(s, "wall_s");

	json_object_foreach(tasks, name, t) {
		const char *st = str(t, "status");

		counts[strcmp(st, "ok") == 0 ? 0 : strcmp(st, "failed") == 0 ?
		    1 : strcmp(st, "skipped") == 0 ? 2 : 3]++;
	}
	fprintf(f, "run %s %s: %zu ok, %zu failed, %zu skipped", str(s, "run"),
	    str(s, "status"), counts[0], counts[1], counts[2]);
	if (counts[3])
		fprintf(f, ", %zu cancelled", counts[3]);
	fprintf(f, "\n");
	print_merge_why(f, s);
	fprintf(f, "  wall time       %8.2f s\n", wall);
	fprintf(f, "  sum of tasks    %8.2f s   (one after another)\n",
	    num(s, "sum_s"));
	print_speedup(f, s);
	fprintf(f, "  critical path   %8.2f s   ", num(s, "critical_path_s"));
	cp = json_object_get(s, "critical_path");
	for (i = 0; i < json_array_size(cp); i++)
		fprintf(f, "%s%s", i ? " -> " : "",
		    json_string_value(json_array_get(cp, i)));
	fprintf(f, "\n");
	fprintf(f, "  efficiency      %8.0f %%   (critical path / wall time)\n",
	    wall > 0 ? 100 * num(s, "efficiency") : 0);
	fprintf(f, "  tokens          %lld in, %lld out",
	    (long long)json_integer_value(json_object_get(s, "tokens_in")),
	    (long long)json_integer_value(json_object_get(s, "tokens_out")));
	if (num(s, "cache_read") > 0 || num(s, "cache_write") > 0)
		fprintf(f, ", %lld cache read, %lld cache written",
		    (long long)json_integer_value(json_object_get(s,
		    "cache_read")),
		    (long long)json_integer_value(json_object_get(s,
		    "cache_write")));
	fprintf(f, "   cost $%.4f\n", num(s, "cost_usd"));
	fprintf(f, "  run directory   %s\n", str(s, "run_dir"));
}

struct row {
	const char *name;
	json_t *t;
};

static int
row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	double sx = num(x->t, "start_s"), sy = num(y->t, "start_s");
	int fx = strcmp(str(x->t, "status"), "failed") == 0;
	int fy = strcmp(str(y->t, "status"), "failed") == 0;

	if (fx != fy)
		return fy - fx;
	/* tasks that never started go last */
	if (strcmp(str(x->t, "status"), "skipped") == 0)
		sx = 1e300;
	if (strcmp(str(y->t, "status"), "skipped") == 0)
		sy = 1e300;
	if (sx != sy)
		return sx < sy ? -1 : 1;
	return strcmp(x->name, y->name);
}

static struct row *
sorted_rows(json_t *s, size_t *n)
{
	json_t *tasks = json_object_get(s, "tasks"), *t;
	struct row *rows = xcalloc(json_object_size(tasks) + 1,
	    sizeof(*rows));
	const char *name;

	*n = 0;
	json_object_foreach(tasks, name, t) {
		rows[*n].name = name;
		rows[*n].t = t;
		(*n)++;
	}
	qsort(rows, *n, sizeof(*rows), row_cmp);
	return rows;
}

/* "replica 2 (sh)" or "'task'": how a merge's source is named. */
static void
source_label(json_t *o, char *buf, size_t len)
{
	json_t *rep = json_object_get(o, "replica");
	const char *be = json_string_value(json_object_get(o, "backend"));

	if (json_is_integer(rep))
		snprintf(buf, len, "replica %lld%s%s%s",
		    (long long)json_integer_value(rep), be ? " (" : "",
		    be ? be : "", be ? ")" : "");
	else
		snprintf(buf, len, "'%s'", str(o, "task"));
}

/* What a merge added to a task: the competitive merge's candidates and
 * scores, the consensus merge's tally. */
static void
print_merge_details(FILE *f, json_t *t)
{
	json_t *a = json_object_get(t, "candidates"), *v, *votes;
	char lb[160];
	size_t i;

	json_array_foreach(a, i, v) {
		json_t *sc = json_object_get(v, "score");
		char what[64], line[512];
		size_t n;

		source_label(v, lb, sizeof(lb));
		if (json_is_number(sc))
			snprintf(what, sizeof(what), "score %g",
			    json_number_value(sc));
		else if (json_is_integer(json_object_get(v, "judge_number")))
			snprintf(what, sizeof(what), "judge's #%lld",
			    (long long)json_integer_value(json_object_get(v,
			    "judge_number")));
		else
			snprintf(what, sizeof(what), "no score");
		snprintf(line, sizeof(line), "%-20s   candidate %-3lld %-24s "
		    "%-16s%s", "", (long long)json_integer_value(
		    json_object_get(v, "candidate")), lb, what,
		    json_is_true(json_object_get(v, "winner")) ? " winner" :
		    "");
		/* no trailing blanks from the padding */
		for (n = strlen(line); n && line[n - 1] == ' ';)
			line[--n] = '\0';
		fprintf(f, "%s", line);
		if (json_string_value(json_object_get(v, "error")))
			fprintf(f, " (%s)", str(v, "error"));
		fprintf(f, "\n");
	}
	votes = json_object_get(t, "votes");
	if (votes == NULL)
		return;
	json_array_foreach(json_object_get(votes, "tally"), i, v)
		fprintf(f, "%-20s   vote '%.40s' %lld, weight %g, share "
		    "%.2f%s\n", "", str(v, "answer"), (long long)json_integer_value(
		    json_object_get(v, "votes")), num(v, "weight"),
		    num(v, "share"), json_is_true(json_object_get(v,
		    "winner")) ? "  winner" : "");
	json_array_foreach(json_object_get(votes, "no_vote"), i, v) {
		source_label(v, lb, sizeof(lb));
		fprintf(f, "%-20s   no vote: %s: %s\n", "", lb,
		    str(v, "why"));
	}
}

/* Longest name column; a longer name gets a line of its own above its
 * row, so the columns stay put. */
#define NAME_MAX_W 32

void
report_print_tasks(FILE *f, json_t *s)
{
	size_t n, i, nw = 4, bw = 7;
	struct row *rows = sorted_rows(s, &n);

	for (i = 0; i < n; i++) {
		size_t l = strlen(rows[i].name);
		const char *be = json_string_value(json_object_get(rows[i].t,
		    "backend"));

		if (l > nw)
			nw = l < NAME_MAX_W ? l : NAME_MAX_W;
		if (be && strlen(be) > bw)
			bw = strlen(be) < 16 ? strlen(be) : 16;
	}
	fprintf(f, "%-*s %-9s %-*s %8s %8s %8s %8s %9s %9s %9s\n", (int)nw,
	    "task", "status", (int)bw, "backend", "start", "end", "time",
	    "attempts", "tok in", "tok out", "cost $");
	for (i = 0; i < n; i++) {
		json_t *t = rows[i].t;
		const char *be = json_string_value(json_object_get(t,
		    "backend"));
		int started = strcmp(str(t, "status"), "skipped") != 0;

		if (strlen(rows[i].name) > nw)
			fprintf(f, "%s\n", rows[i].name);
		fprintf(f, "%-*s %-9s %-*.*s ", (int)nw,
		    strlen(rows[i].name) > nw ? "" : rows[i].name,
		    str(t, "status"), (int)bw, (int)bw, be ? be : "-");
		if (started)
			fprintf(f, "%8.2f %8.2f %8.2f ", num(t, "start_s"),
			    num(t, "end_s"), num(t, "end_s") -
			    num(t, "start_s"));
		else
			fprintf(f, "%8s %8s %8s ", "-", "-", "-");
		fprintf(f, "%8lld %9lld %9lld %9.4f%s\n",
		    (long long)json_integer_value(json_object_get(t,
		    "attempts")),
		    (long long)json_integer_value(json_object_get(t,
		    "tokens_in")),
		    (long long)json_integer_value(json_object_get(t,
		    "tokens_out")), num(t, "cost_usd"),
		    json_is_true(json_object_get(t, "resumed")) ?
		    "  (before the resume)" : "");
		if (json_string_value(json_object_get(t, "error")))
			fprintf(f, "%-20s   %s\n", "", str(t, "error"));
		if (json_string_value(json_object_get(t, "fallback_from")))
			fprintf(f, "%-20s   on fallback '%s' of '%s'\n", "",
			    be ? be : "-", str(t, "fallback_from"));
		print_merge_details(f, t);
		report_merge_task(f, t);
	}
	free(rows);
}

static void
html_escape(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '<': buf_adds(b, "&lt;"); break;
		case '>': buf_adds(b, "&gt;"); break;
		case '&': buf_adds(b, "&amp;"); break;
		default: buf_addc(b, s[i]); break;
		}
	}
}

int
report_write_svg(json_t *s, const char *dir, const char *path)
{
	char *jp = xasprintf("%s/journal.jsonl", dir);
	struct buf b = BUF_INIT;
	int rc;

	rc = svg_render(s, jp, &b);
	if (rc == 0)
		rc = write_file_atomic(path, b.data, b.len);
	buf_release(&b);
	free(jp);
	return rc;
}

int
report_write_html(json_t *s, const char *dir, const char *path)
{
	char *jp = xasprintf("%s/journal.jsonl", dir), *text = NULL;
	struct buf b = BUF_INIT;
	size_t len = 0;
	FILE *f;
	int rc;

	buf_adds(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>drove run ");
	html_escape(&b, str(s, "run"), strlen(str(s, "run")));
	buf_adds(&b, "</title>\n<style>body{font-family:sans-serif;margin:1em}"
	    "pre{font-size:13px}</style></head><body>\n<h1>run ");
	html_escape(&b, str(s, "run"), strlen(str(s, "run")));
	buf_adds(&b, "</h1>\n");
	rc = svg_render(s, jp, &b);
	free(jp);
	if (rc < 0) {
		buf_release(&b);
		return rc;
	}
	f = open_memstream(&text, &len);
	if (f == NULL) {
		buf_release(&b);
		return -errno;
	}
	report_print_summary(f, s);
	fprintf(f, "\n");
	report_print_tasks(f, s);
	fclose(f);
	buf_adds(&b, "<pre>");
	html_escape(&b, text, len);
	buf_adds(&b, "</pre>\n</body></html>\n");
	free(text);
	rc = write_file_atomic(path, b.data, b.len);
	buf_release(&b);
	return rc;
}

static void
count_done(json_t *ev, void *arg)
{
	json_t *done = arg;
	const char *type = json_string_value(json_object_get(ev, "ev"));
	const char *task = json_string_value(json_object_get(ev, "task"));
	const char *st = json_string_value(json_object_get(ev, "status"));

	if (type != NULL && strcmp(type, "task") == 0 && task && st)
		json_object_set_new(done, task, json_string(st));
}

/*
 * A run that a live drove owns: says so, with the owner's pid and the
 * tasks finished so far, rather than a summary that is not written yet (or
 * is an earlier attempt's).  Returns the exit status.
 */
static int
report_running(const char *dir, long pid, int json)
{
	json_t *done = json_object(), *v;
	char *jp = xasprintf("%s/journal.jsonl", dir);
	const char *slash = strrchr(dir, '/'), *name;
	const char *id = slash ? slash + 1 : dir;
	size_t ok = 0, other = 0;

	(void)journal_replay(jp, count_done, done, NULL);
	free(jp);
	json_object_foreach(done, name, v) {
		if (strcmp(json_string_value(v), "ok") == 0)
			ok++;
		else
			other++;
	}
	if (json) {
		json_t *s = json_object();
		char *txt;

		json_object_set_new(s, "run", json_string(id));
		json_object_set_new(s, "status", json_string("running"));
		json_object_set_new(s, "pid", json_integer(pid));
		json_object_set_new(s, "tasks_ok", json_integer((json_int_t)ok));
		json_object_set_new(s, "tasks_ended",
		    json_integer((json_int_t)(ok + other)));
		json_object_set_new(s, "run_dir", json_texts(dir));
		txt = json_dumps(s, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", txt);
		free(txt);
		json_decref(s);
	} else {
		printf("run %s running (drove pid %ld): %zu task%s ok, %zu "
		    "ended otherwise so far\n", id, pid, ok, ok == 1 ? "" : "s",
		    other);
		printf("  run directory   %s\n", dir);
		printf("  the report is complete once the run ends\n");
	}
	json_decref(done);
	return 0;
}

static void
report_usage(FILE *f)
{
	fprintf(f, "usage: drove report [RUN] [--svg FILE] [--html FILE] "
	    "[--json] [--run-dir DIR]\n"
	    "  Per-task times (failed first, then by start), why a run "
	    "failed, speedup\n"
	    "  (an upper estimate when the agents were CPU-bound), critical "
	    "path, tokens\n"
	    "  and cost of a run; for worktree runs what became of each "
	    "branch (merged,\n"
	    "  conflict, check failed, dependency failed) and the final "
	    "check.\n"
	    "  RUN is a run id, a run directory, or 'last' (default).\n"
	    "  --svg FILE     also draw the run: a lane per slot in use at "
	    "once, a bar\n"
	    "                 per attempt coloured by outcome, waits before "
	    "retries, the\n"
	    "                 critical path outlined, a time axis\n"
	    "  --html FILE    also write a page with that picture and the "
	    "report\n"
	    "  --json         print summary.json instead\n"
	    "  --run-dir DIR  where runs are kept (default .drove/runs)\n"
	    "exit status: 0, 1 the picture or page could not be written, 2 "
	    "usage error\nor no such run.\n");
}

int
cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "svg", required_argument, NULL, 's' },
		{ "html", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *svg = NULL, *html = NULL, *root = ".drove/runs", *which = "last";
	char *dir, *path, *data;
	json_error_t je;
	json_t *s;
	size_t len;
	long pid;
	int c, json = 0, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': svg = optarg; break;
		case 'H': html = optarg; break;
		case 'j': json = 1; break;
		case 'r': root = optarg; break;
		case 'h': report_usage(stdout); return 0;
		default: report_usage(stderr); return 2;
		}
	}
	if (optind < argc)
		which = argv[optind++];
	if (optind < argc) {
		report_usage(stderr);
		return 2;
	}
	dir = strchr(which, '/') ? xstrdup(which) :
	    xasprintf("%s/%s", root, which);
	/* a live run's summary is not written yet, or is stale */
	if (runlock_owner(dir, &pid) == 1) {
		rc = report_running(dir, pid, json);
		free(dir);
		return rc;
	}
	path = xasprintf("%s/summary.json", dir);
	rc = read_file(path, &data, &len);
	if (rc < 0) {
		log_warnx("report: cannot read '%s': %s%s", path,
		    strerror(-rc), rc == -ENOENT ? " (no such run, or it "
		    "did not finish: 'drove run FILE --resume' completes it)" :
		    "");
		free(dir);
		free(path);
		return 2;
	}
	s = json_loadb(data, len, 0, &je);
	free(data);
	if (s == NULL) {
		log_warnx("report: '%s':%d: %s", path, je.line, je.text);
		free(dir);
		free(path);
		return 2;
	}
	if (json) {
		char *txt = json_dumps(s, JSON_INDENT(2) |
		    JSON_PRESERVE_ORDER);

		printf("%s\n", txt);
		free(txt);
	} else {
		report_print_tasks(stdout, s);
		printf("\n");
		report_print_summary(stdout, s);
	}
	rc = 0;
	if (svg && (rc = report_write_svg(s, dir, svg)) < 0)
		log_warnx("report: cannot write '%s': %s", svg, strerror(-rc));
	if (html && rc == 0 && (rc = report_write_html(s, dir, html)) < 0)
		log_warnx("report: cannot write '%s': %s", html,
		    strerror(-rc));
	json_decref(s);
	free(dir);
	free(path);
	return rc < 0 ? 1 : 0;
}
