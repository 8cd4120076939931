/* drove: run many AI agents in parallel from one binary. */
#include <stdio.h>
#include <string.h>

#include "drove/plugin.h"
#include "fetch.h"

#define DROVE_VERSION "0.1.0"

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "version") == 0) {
		printf("drove %s (plugin ABI %d.%d)\n", DROVE_VERSION,
		    DROVE_ABI_MAJOR, DROVE_ABI_MINOR);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "fetch") == 0)
		return cmd_fetch(argc - 1, argv + 1);
	fprintf(stderr, "usage: drove COMMAND [ARGS]\n");
	return 2;
}
