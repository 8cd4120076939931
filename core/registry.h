/*
 * Plugin registry: the built-in plugins (a table build.sh generates) and
 * shared objects loaded from plugin_dir with dlopen.
 */
#ifndef DROVE_REGISTRY_H
#define DROVE_REGISTRY_H

#include <stddef.h>

#include "drove/plugin.h"

struct plugin {
	const struct drove_plugin *p;
	char *path;		/* NULL for a built-in */
	void *dl;		/* dlopen handle or NULL */
};

struct registry {
	struct plugin *v;
	size_t n;
};

void registry_init(struct registry *r);
/* Unloads shared objects; call only when no plugin code can run. */
void registry_release(struct registry *r);

/* Adds every built-in plugin.  Returns 0 or DROVE_EINVAL (a built-in
 * with a bad descriptor, which is a build bug). */
int registry_add_builtins(struct registry *r, char *err, size_t errlen);

/*
 * Loads every *.so in dir.  A file that is world-writable, or not owned by
 * the user or root, is refused; so is one whose ABI major differs.  A
 * plugin whose kind and name are already registered replaces nothing: it
 * is an error.  Returns 0, or < 0 with "DIR/x.so: reason" in err.
 * A missing dir is not an error.
 */
int registry_load_dir(struct registry *r, const char *dir, char *err,
    size_t errlen);
/* Loads one shared object (same checks). */
int registry_load_file(struct registry *r, const char *path, char *err,
    size_t errlen);

/* The plugin of that kind and name, or NULL. */
const struct drove_plugin *registry_find(const struct registry *r, int kind,
    const char *name);

/* NULL-ended arrays for graph_opts: names of merge plugins and the union
 * of their task keys.  Freed with free() (strings are borrowed). */
const char **registry_names(const struct registry *r, int kind);
const char **registry_merge_keys(const struct registry *r);

#endif /* DROVE_REGISTRY_H */
