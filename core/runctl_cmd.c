/*
 * drove status, wait, logs, ls and stop: a run followed from outside,
 * through its directory alone (runctl.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd.h"
#include "runctl.h"
#include "sched.h"
#include "util.h"

#define DEFAULT_ROOT ".drove/runs"

/* Reads run `which`, saying why on stderr when it cannot: 0 or
 * EXIT_USAGE. */
static int
read_run(const char *cmd, const char *root, const char *which,
    struct runinfo *info)
{
	char *dir = runctl_dir(root, which);
	int rc = runctl_read(dir, info);

	if (rc < 0) {
		log_warnx("%s: no run '%s' in '%s': %s", cmd, which, dir,
		    rc == -ENOENT ? "it has no journal.jsonl" :
		    strerror(-rc));
		runctl_info_release(info);
	}
	free(dir);
	return rc < 0 ? EXIT_USAGE : 0;
}

/* --- status ------------------------------------------------------------- */

static json_t *
status_json(const struct runinfo *in)
{
	json_t *o = json_object(), *c = json_object(), *r = json_array();
	long pending = in->ntasks - in->ok - in->failed - in->cancelled -
	    in->skipped - (long)in->nrunning;

	json_object_set_new(o, "run", json_string(in->id));
	json_object_set_new(o, "status",
	    json_string(runctl_state_name(in->state)));
	json_object_set_new(o, "pid", in->pid > 0 ? json_integer(in->pid) :
	    json_null());
	json_object_set_new(o, "exit", in->state == RUN_RUNNING ?
	    json_null() : json_integer(runctl_exit_status(in)));
	json_object_set_new(o, "run_dir", json_texts(in->dir));
	json_object_set_new(o, "task_file", in->task_file ?
	    json_texts(in->task_file) : json_null());
	json_object_set_new(o, "started_at", json_real(in->started_at));
	json_object_set_new(o, "elapsed_s", json_real(in->elapsed_s));
	json_object_set_new(o, "tasks", json_integer(in->ntasks));
	json_object_set_new(c, "ok", json_integer(in->ok));
	json_object_set_new(c, "failed", json_integer(in->failed));
	json_object_set_new(c, "cancelled", json_integer(in->cancelled));
	json_object_set_new(c, "skipped", json_integer(in->skipped));
	json_object_set_new(c, "running", json_integer((json_int_t)
	    in->nrunning));
	json_object_set_new(c, "waiting", json_integer(pending > 0 ?
	    pending : 0));
	json_object_set_new(o, "counts", c);
	for (size_t i = 0; i < in->nrunning; i++)
		json_array_append_new(r, json_texts(in->running[i]));
	json_object_set_new(o, "running", r);
	json_object_set_new(o, "cost_usd", json_real(in->cost_usd));
	return o;
}

static void
status_text(const struct runinfo *in)
{
	long pending = in->ntasks - in->ok - in->failed - in->cancelled -
	    in->skipped - (long)in->nrunning;

	printf("run %s %s", in->id, runctl_state_name(in->state));
	if (in->state == RUN_RUNNING)
		printf(" (drove pid %ld)", in->pid);
	printf(", %.1f s\n", in->elapsed_s);
	printf("  tasks      %ld: %ld ok, %ld failed, %ld skipped",
	    in->ntasks, in->ok, in->failed, in->skipped);
	if (in->cancelled)
		printf(", %ld cancelled", in->cancelled);
	if (in->state == RUN_RUNNING)
		printf(", %zu running, %ld waiting", in->nrunning,
		    pending > 0 ? pending : 0);
	printf("\n");
	if (in->nrunning > 0 && in->state == RUN_RUNNING) {
		printf("  running   ");
		for (size_t i = 0; i < in->nrunning; i++)
			printf(" %s", in->running[i]);
		printf("\n");
	}
	printf("  cost       $%.4f%s\n", in->cost_usd,
	    in->state == RUN_RUNNING ? " so far" : "");
	printf("  directory  %s\n", in->dir);
	if (in->state == RUN_STALE)
		printf("  it ended without finishing (killed?): 'drove run %s "
		    "--resume %s' finishes it\n", in->task_file ?
		    in->task_file : "FILE", in->id);
}

static void
status_usage(FILE *f)
{
	fprintf(f, "usage: drove status [RUN] [--json] [--run-dir DIR]\n"
	    "  A run's state (running, done, failed, interrupted, or stale: "
	    "killed before\n"
	    "  it ended), its tasks' counts, the tasks running, the time "
	    "since it started\n"
	    "  (or its wall time) and the cost of the tasks ended so far.\n"
	    "  RUN is a run id, a run directory, or 'last' (default: the "
	    "newest).\n"
	    "  --json         one JSON object instead\n"
	    "  --run-dir DIR  where runs are kept (default .drove/runs)\n"
	    "exit status: 0, 2 usage error or no such run.\n");
}

int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = DEFAULT_ROOT, *which = "last";
	struct runinfo in;
	int c, json = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'r': root = optarg; break;
		case 'h': status_usage(stdout); return 0;
		default: status_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc)
		which = argv[optind++];
	if (optind < argc) {
		log_warnx("status: unexpected argument '%s' (one run only)",
		    argv[optind]);
		return EXIT_USAGE;
	}
	if (read_run("status", root, which, &in) != 0)
		return EXIT_USAGE;
	if (json) {
		json_t *o = status_json(&in);
		char *txt = json_dumps(o, JSON_INDENT(2) |
		    JSON_PRESERVE_ORDER);

		printf("%s\n", txt);
		free(txt);
		json_decref(o);
	} else {
		status_text(&in);
	}
	runctl_info_release(&in);
	return 0;
}
