/* drove plugins: the built-in and loaded plugins and their ABI. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "drove/plugin.h"
#include "sched.h"
#include "setup.h"
#include "util.h"

int
cmd_plugins(int argc, char **argv)
{
	const char *config = NULL;
	struct setup s;
	int c, rc;

	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'h':
			printf("usage: drove plugins [-c CONFIG] "
			    "[--plugin-dir DIR]\n"
			    "  Lists the built-in plugins, those loaded from "
			    "[drove] plugin_dir and\n"
			    "  --plugin-dir, and each plugin file that did not "
			    "load, with why.\n"
			    "  -c, --config FILE   configuration file "
			    "(searched as for 'drove run')\n"
			    "  --plugin-dir DIR    also load the plugins in "
			    "DIR (any command takes it)\n"
			    "exit status: 0, 1 a plugin did not load, 2 usage "
			    "or config error.\n");
			return 0;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		log_warnx("plugins: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	rc = setup_load(&s, NULL, config);
	if (rc)
		return rc;
	printf("drove %s, plugin ABI %d.%d\n", DROVE_VERSION, DROVE_ABI_MAJOR,
	    DROVE_ABI_MINOR);
	for (size_t i = 0; i < s.reg.n; i++) {
		const struct drove_plugin *p = s.reg.v[i].p;

		printf("%-8s %-12s %-6s ABI %u.%u  %-9s %s\n",
		    registry_kind_name((int)p->kind),
		    p->name, p->version ? p->version : "-", p->abi_major,
		    p->abi_minor, s.reg.v[i].overrides ? "overrides" :
		    s.reg.v[i].path ? "loaded" : "built-in",
		    s.reg.v[i].path ? s.reg.v[i].path :
		    p->description ? p->description : "");
	}
	for (size_t i = 0; i < s.reg.nfail; i++)
		printf("%-8s %-12s not loaded: %s\n", "FAILED",
		    *s.reg.fail[i].name ? s.reg.fail[i].name : "-",
		    s.reg.fail[i].reason);
	rc = s.reg.nfail ? 1 : 0;
	setup_release(&s);
	return rc;
}
