/* drove run: options, then the graph to the scheduler (sched.c). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "estimate.h"
#include "run.h"
#include "runctl.h"
#include "sched.h"
#include "setup.h"
#include "util.h"

static void
run_usage(FILE *f)
{
	fprintf(f,
	    "usage: drove run FILE.ini [-j N] [-c CONFIG] [-k] "
	    "[--resume RUN|last\n"
	    "                 [--force]] [--dry-run] [-y] [--json] [-q] [-v] "
	    "[--run-dir DIR]\n"
	    "                 [--notify CMD] [-d]\n"
	    "  Runs every task whose inputs are ready, all at once, up to "
	    "the caps.\n"
	    "  -j, --jobs N       agents in flight at most, 0 for no limit "
	    "(default: [drove]\n"
	    "                     jobs, else 8)\n"
	    "  -c, --config FILE  configuration file (default: "
	    "$DROVE_CONFIG, ./drove.ini,\n"
	    "                     $XDG_CONFIG_HOME/drove/drove.ini, "
	    "/etc/drove/drove.ini)\n"
	    "  -k, --keep-going   after a failure, keep running what does "
	    "not depend on it\n"
	    "  --resume RUN       finish an earlier run ('last', a run id "
	    "or directory); a\n"
	    "                     task file whose tasks changed since is "
	    "refused, naming them\n"
	    "  --force            with --resume: run the changed tasks as "
	    "they are now\n"
	    "  --dry-run          print the waves and the worst case (calls, "
	    "tokens, cost per\n"
	    "                     backend) and run nothing; with --json, "
	    "the worst case as\n"
	    "                     one JSON line\n"
	    "  -y, --yes          start a run whose worst case is over "
	    "[drove] confirm_usd\n"
	    "                     without asking (on a terminal it asks; "
	    "elsewhere it is\n"
	    "                     refused)\n"
	    "  --json             the run's events on stdout, one JSON line "
	    "each, the summary\n"
	    "                     last (docs/EVENTS.md)\n"
	    "  -q, --quiet        no progress on stderr (on a terminal: a "
	    "live view)\n"
	    "  -v, --verbose      more progress on stderr (start and wait "
	    "lines)\n"
	    "  --run-dir DIR      keep runs in DIR (default .drove/runs)\n"
	    "  --notify CMD       run CMD (no shell) after each task and at "
	    "the end, the\n"
	    "                     facts in DROVE_* variables (default: "
	    "[drove] notify; ''\n"
	    "                     for none)\n"
	    "  -d, --detach       run in the background, in a session of "
	    "its own: print the\n"
	    "                     run id once it has started and return; "
	    "its output goes\n"
	    "                     to RUNDIR/drove.log; SIGHUP does not stop "
	    "it ('drove\n"
	    "                     status|wait|logs|stop' follow it)\n"
	    "exit status: 0 all tasks succeeded, 1 a task failed or the "
	    "results could not\n"
	    "be written to stdout, 2 usage or config error (or a run over "
	    "confirm_usd not\n"
	    "confirmed), 130 interrupted, 129 hung up (the terminal "
	    "closed).  With -d: 0\n"
	    "the run started, 2 it could not start.\n");
}

/* With --resume, the tasks of g the run finished (*done, caller frees),
 * so its estimate covers what is left; else *done is NULL.  Returns 0, or
 * 2 (EXIT_USAGE) after saying why. */
static int
resume_done(const struct run_opts *o, const struct graph *g,
    unsigned char **done)
{
	char err[1024], *dir;

	*done = NULL;
	if (o->resume == NULL)
		return 0;
	if (rundir_resume_dir(o->run_root ? o->run_root : ".drove/runs",
	    o->resume, &dir, err, sizeof(err)) < 0) {
		log_warnx("run: %s", err);
		return EXIT_USAGE;
	}
	*done = rundir_done(dir, g, err, sizeof(err));
	free(dir);
	if (*done == NULL) {
		log_warnx("run: %s", err);
		return EXIT_USAGE;
	}
	return 0;
}

int
cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "config", required_argument, NULL, 'c' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "resume", required_argument, NULL, 'R' },
		{ "force", no_argument, NULL, 'F' },
		{ "notify", required_argument, NULL, 'N' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "yes", no_argument, NULL, 'y' },
		{ "json", no_argument, NULL, 'J' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "run-dir", required_argument, NULL, 'D' },
		{ "detach", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts o;
	const char *config = NULL;
	struct setup s;
	int c, dry = 0, detach = 0, yes = 0, rc;
	unsigned char *done;
	char *end;

	memset(&o, 0, sizeof(o));
	o.jobs = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "j:c:kqvdyh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			errno = 0;
			o.jobs = strtol(optarg, &end, 10);
			if (errno || *end || *optarg == '\0' || o.jobs < 0 ||
			    o.jobs > 100000) {
				log_warnx("run: bad value '%s' for -j (expected "
				    "an integer from 0 to 100000)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'c': config = optarg; break;
		case 'k': o.keep_going = 1; break;
		case 'R': o.resume = optarg; break;
		case 'F': o.force = 1; break;
		case 'N': o.notify = optarg; break;
		case 'n': dry = 1; break;
		case 'y': yes = 1; break;
		case 'J': o.json = 1; break;
		case 'q': o.quiet = 1; log_verbosity = 0; break;
		case 'v': log_verbosity = 2; break;
		case 'D': o.run_root = optarg; break;
		case 'd': detach = 1; break;
		case 'h': run_usage(stdout); return 0;
		default: run_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc - 1) {
		log_warnx("run: unexpected argument '%s' (one task file "
		    "only)", argv[optind + 1]);
		return EXIT_USAGE;
	}
	if (optind != argc - 1) {
		run_usage(stderr);
		return EXIT_USAGE;
	}
	if (o.force && o.resume == NULL) {
		log_warnx("run: --force goes with --resume (it resumes a run "
		    "whose task file changed)");
		return EXIT_USAGE;
	}
	o.task_file = argv[optind];
	rc = setup_load(&s, o.task_file, config);
	if (rc)
		return rc;
	if (o.run_root == NULL) {
		const struct conf_section *d = conf_find(&s.conf, "drove", "");

		o.run_root = d ? conf_get(d, "run_dir") : NULL;
	}
	/* a resume's estimate is of the tasks still to run */
	if ((rc = resume_done(&o, &s.graph, &done)) != 0) {
		setup_release(&s);
		return rc;
	}
	if (dry) {
		if (!o.json)
			graph_print_text(stdout, &s.graph, o.task_file, 1);
		rc = estimate_show(stdout, &s.conf, &s.graph, &s.reg, done,
		    o.json);
		if (!o.json && rc == 0)
			printf("dry run: nothing was run\n");
		free(done);
		setup_release_exit(&s);
		return rc;
	}
	/* asked here, while the terminal is ours: a detached run has none */
	rc = estimate_confirm(&s.conf, &s.graph, &s.reg, done, yes);
	free(done);
	if (rc) {
		setup_release(&s);
		return rc;
	}
	/* the file is loaded, so its errors are the terminal's; the
	 * parent returns once the run has started */
	if (detach && (rc = runctl_detach(&o)) >= 0) {
		setup_release(&s);
		return rc;
	}
	rc = sched_run(&s.conf, &s.graph, &s.reg, &o);
	setup_release_exit(&s);
	return rc;
}
