/* drove doctor: options, then one line per backend (doctor.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "doctor.h"
#include "sched.h"
#include "setup.h"
#include "util.h"

int
cmd_doctor(int argc, char **argv)
{
	const char *config = NULL, *file = NULL;
	struct setup s;
	int c, rc, probe = 0;

	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "probe", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'p': probe = 1; break;
		case 'h':
			printf("usage: drove doctor [-c CONFIG] [FILE.ini] "
			    "[--probe]\n"
			    "  One line per backend: ok, or why it cannot "
			    "work: API key present\n"
			    "  (never shown), CA bundle found, DNS, TCP and "
			    "TLS connect to base_url;\n"
			    "  exec backends: the command is in PATH, or, "
			    "with launcher = slurm,\n"
			    "  sinfo answers, the partition exists and a "
			    "step on a node sees the\n"
			    "  working directory.\n"
			    "  -c, --config FILE  configuration file "
			    "(searched as for 'drove run')\n"
			    "  --probe            also send each backend a "
			    "one-token request\n"
			    "exit status: 0 every line is ok, 1 a backend is "
			    "not, 2 usage or config\nerror.\n");
			return 0;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc)
		file = argv[optind++];
	if (optind < argc) {
		log_warnx("doctor: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	rc = setup_load(&s, NULL, config);
	if (rc)
		return rc;
	if (file != NULL) {
		char err[1024];

		if (conf_load(&s.conf, file, err, sizeof(err)) < 0) {
			log_warnx("%s", err);
			setup_release(&s);
			return EXIT_USAGE;
		}
	}
	rc = doctor_run(&s.conf, &s.reg, probe);
	setup_release(&s);
	return rc;
}
