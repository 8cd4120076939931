/*
 * What every command that reads a task file does first: find the
 * configuration, load the plugins, the configuration and the tasks, check
 * the [drove] keys and the backends, and build the graph.
 */
#ifndef DROVE_SETUP_H
#define DROVE_SETUP_H

#include <stddef.h>

#include "conf.h"
#include "graph.h"
#include "registry.h"

struct setup {
	struct conf conf;
	struct registry reg;
	struct graph graph;
	const char **merges;
	const char **merge_keys;
};

/* Directories given with --plugin-dir, NULL-ended (or NULL); set once by
 * main() before any command runs. */
extern const char **setup_plugin_dirs;

/*
 * Loads plugins, configuration and the tasks, and builds the graph.  The
 * tasks come from task_file, or from text (named name in messages) when
 * task_file is NULL; with neither, only plugins and configuration load.
 * default_backend, when not NULL, overrides [drove] backend; config is -c
 * or NULL.  Returns 0, or DROVE_EINVAL with the error in err and s
 * released.  Borrows every argument.
 */
int setup_build(struct setup *s, const char *task_file, const char *name,
    const char *text, const char *default_backend, const char *config,
    char *err, size_t errlen);
/* setup_build from a task file (or none); returns 0 or an exit status (2)
 * after printing the error. */
int setup_load(struct setup *s, const char *task_file, const char *config);
void setup_release(struct setup *s);
/*
 * setup_release for a command about to exit: the plugins are unloaded as
 * setup_release does, but the graph and the configuration, tens of
 * thousands of small blocks for a large task file, are left for the exit
 * to hand back at once.  Under AddressSanitizer everything is freed, so a
 * leak still shows.
 */
void setup_release_exit(struct setup *s);

#endif /* DROVE_SETUP_H */
