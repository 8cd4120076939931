/*
 * drove: run many AI agents in parallel from one binary.  main() sets up
 * what every command shares (SIGPIPE ignored, the open-file limit, stdout
 * checked at exit) and dispatches to the command (cmd.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#if defined(__linux__)
#include <sys/random.h>
#endif
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd.h"
#include "drove/plugin.h"
#include "fetch.h"
#include "report.h"
#include "sched.h"
#include "setup.h"
#include "util.h"
#include "worktree.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: drove COMMAND [ARGS]\n"
	    "\n"
	    "Runs many AI agents in parallel from an INI file of tasks.\n"
	    "\n"
	    "commands:\n"
	    "  run FILE.ini     run the task graph (see 'drove run --help')\n"
	    "  graph FILE.ini   show the graph: waves, edges, critical path\n"
	    "  plan \"GOAL\"      a backend splits a goal into a task file\n"
	    "  report [RUN]     per-task times, speedup, tokens and cost\n"
	    "  status [RUN]     a run's state, counts, running tasks, cost "
	    "so far\n"
	    "  wait [RUN...]    block until runs end; exit with their "
	    "status\n"
	    "  stop [RUN]       stop a running run as Ctrl-C would\n"
	    "  logs [RUN TASK]  a task's output as it is written (or the "
	    "run's log)\n"
	    "  ls               the runs here, newest first\n"
	    "  fetch URL        one HTTP(S) request (see 'drove fetch --help')\n"
	    "  clean [RUN]      remove a run's merged worktrees and branches\n"
	    "  plugins          built-in and loaded plugins, and the ABI\n"
	    "  doctor           check each backend: key, CA bundle, network\n"
	    "  version          print the version\n"
	    "\n"
	    "  --plugin-dir DIR  (with any command, repeatable) also load the "
	    "plugins in DIR\n"
	    "'drove COMMAND --help' describes a command.\n"
	    "exit status: that of the command (0 success, 1 a task or the "
	    "command failed,\n"
	    "2 usage or config error); 2 for an unknown command.\n");
}

/*
 * Every agent in flight holds a few descriptors: raise the soft limit on
 * open files to the hard limit, so -j 2000 is not stopped by a soft limit
 * of 256 or 1024.  Failing to raise it is not an error.
 */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
#ifdef OPEN_MAX
	/* macOS refuses more than OPEN_MAX */
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		return;
	rl.rlim_cur = OPEN_MAX;
#endif
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

/*
 * As git does: results that could not be written are a failure, not a 0.
 * A closed pipe (drove run ... | head) is the reader's choice and is
 * ignored; a full disk or an I/O error is reported and the status becomes
 * 1 unless it already says something worse.
 */
static int
close_stdout(int rc)
{
	struct stat st;
	int bad = 0, e = 0;

	if (fstat(STDOUT_FILENO, &st) < 0)
		return rc;
	if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
		return rc;
	errno = 0;
	if (fflush(stdout) == EOF) {
		bad = 1;
		e = errno;
	} else if (ferror(stdout))
		bad = 1;
	if (fclose(stdout) == EOF && !bad) {
		bad = 1;
		e = errno;
	}
	if (!bad)
		return rc;
	if (e != 0)
		log_warnx("cannot write to stdout: %s", strerror(e));
	else
		log_warnx("cannot write to stdout: a write failed");
	return rc == 0 ? EXIT_TASK_FAILED : rc;
}

/* Takes every --plugin-dir DIR (or --plugin-dir=DIR) out of argv, into
 * setup_plugin_dirs; returns the new argc, or -1 after a usage message. */
static int
take_plugin_dirs(int argc, char **argv)
{
	static const char opt[] = "--plugin-dir";
	size_t n = 0, len = sizeof(opt) - 1;
	int i, j;

	setup_plugin_dirs = xcalloc((size_t)argc + 1,
	    sizeof(*setup_plugin_dirs));
	for (i = j = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[j++] = argv[i++];
			break;
		}
		if (strncmp(argv[i], opt, len) == 0 && argv[i][len] == '=') {
			setup_plugin_dirs[n++] = argv[i] + len + 1;
		} else if (strcmp(argv[i], opt) == 0) {
			if (i + 1 == argc) {
				log_warnx("--plugin-dir needs a directory");
				return -1;
			}
			setup_plugin_dirs[n++] = argv[++i];
		} else {
			argv[j++] = argv[i];
		}
	}
	argv[j] = NULL;
	return j;
}

static int
dispatch(int argc, char **argv)
{
	const char *cmd;

	if ((argc = take_plugin_dirs(argc, argv)) < 0)
		return EXIT_USAGE;
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "graph") == 0)
		return cmd_graph(argc - 1, argv + 1);
	if (strcmp(cmd, "plan") == 0)
		return cmd_plan(argc - 1, argv + 1);
	if (strcmp(cmd, "report") == 0)
		return cmd_report(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(cmd, "wait") == 0)
		return cmd_wait(argc - 1, argv + 1);
	if (strcmp(cmd, "stop") == 0)
		return cmd_stop(argc - 1, argv + 1);
	if (strcmp(cmd, "ls") == 0)
		return cmd_ls(argc - 1, argv + 1);
	if (strcmp(cmd, "logs") == 0)
		return cmd_logs(argc - 1, argv + 1);
	if (strcmp(cmd, "clean") == 0)
		return cmd_clean(argc - 1, argv + 1);
	if (strcmp(cmd, "plugins") == 0)
		return cmd_plugins(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		if (argc > 2 && (strcmp(argv[2], "--help") == 0 ||
		    strcmp(argv[2], "-h") == 0)) {
			printf("usage: drove version\n"
			    "  Prints the version and the plugin ABI.\n"
			    "exit status: 0, 2 usage error.\n");
			return 0;
		}
		if (argc > 2) {
			log_warnx("version: unexpected argument '%s'",
			    argv[2]);
			return EXIT_USAGE;
		}
		printf("drove %s (plugin ABI %d.%d)\n", DROVE_VERSION,
		    DROVE_ABI_MAJOR, DROVE_ABI_MINOR);
		return 0;
	}
	if (strcmp(cmd, "doctor") == 0)
		return cmd_doctor(argc - 1, argv + 1);
	if (strcmp(cmd, "fetch") == 0)
		return cmd_fetch(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	log_warnx("unknown command '%s'", cmd);
	usage(stderr);
	return EXIT_USAGE;
}

/* jansson seeds its hash tables at the first object from /dev/urandom
 * (an open, a read, a close, before the first call); one getrandom does
 * the same.  Elsewhere, or when it fails, jansson seeds itself. */
static void
seed_json(void)
{
#if defined(__linux__)
	size_t seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) ==
	    (ssize_t)sizeof(seed) && seed != 0)
		json_object_seed(seed);
#endif
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	seed_json();
	return close_stdout(dispatch(argc, argv));
}
