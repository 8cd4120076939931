/*
 * Plugin registry: the built-in plugins (a table build.sh generates) and
 * shared objects loaded from plugin directories with dlopen.
 *
 * A shared object that cannot load does not stop the others: it is kept in
 * the registry's list of failures with its reason, `drove plugins` and
 * `drove doctor` show that list, and a command refuses to start only when
 * its configuration uses a plugin that failed (registry_check_uses()).
 */
#ifndef DROVE_REGISTRY_H
#define DROVE_REGISTRY_H

#include <stddef.h>

#include "drove/plugin.h"

struct conf;

struct plugin {
	const struct drove_plugin *p;
	char *path;		/* NULL for a built-in */
	void *dl;		/* dlopen handle or NULL */
	int fd;			/* the open file dlopen loaded, or -1 */
	int overrides;		/* replaced the built-in of its name */
	unsigned long long dev, ino; /* the file loaded (0, 0: built-in) */
};

/* A plugin file or directory that did not load. */
struct plugin_fail {
	char *path;		/* the .so or the directory */
	char *name;		/* the plugin's name when its descriptor was
				 * read, else the file name without .so */
	int kind;		/* enum drove_plugin_kind, or 0: unknown */
	char *reason;		/* one line: "PATH: why" */
	int fd;			/* kept open while the registry lives */
};

struct registry {
	struct plugin *v;
	size_t n;
	struct plugin_fail *fail;
	size_t nfail;
	/* names a loaded plugin may replace a built-in of (borrowed,
	 * NULL-ended, or NULL: none); see registry_load_conf() */
	const char *const *override;
};

void registry_init(struct registry *r);
/* Unloads shared objects; call only when no plugin code can run. */
void registry_release(struct registry *r);

/* Adds every built-in plugin.  Returns 0 or DROVE_EINVAL (a built-in
 * with a bad descriptor, which is a build bug). */
int registry_add_builtins(struct registry *r, char *err, size_t errlen);

/*
 * Loads every *.so in dir (sorted by name).  The directory and each file
 * must be owned by the user or root and not be world-writable; a file is
 * opened with O_NOFOLLOW (a symbolic link is refused), checked with fstat
 * and that open file is what dlopen loads.  A file whose ABI major
 * differs, whose descriptor is malformed, or whose kind and name are
 * already registered (unless r->override names it and the other is a
 * built-in) is refused.  A file already loaded (the same directory named
 * twice) is skipped.  Each refusal, and a directory that cannot be
 * read, is added to r->fail; origin ("drove.ini:3", "--plugin-dir") is
 * named for a missing directory.  Returns the number of failures added.
 */
int registry_load_dir(struct registry *r, const char *dir,
    const char *origin);
/* Loads one shared object, with the same checks.  Returns 0, or < 0 with
 * the failure added to r->fail and its reason in err as well. */
int registry_load_file(struct registry *r, const char *path, char *err,
    size_t errlen);

/*
 * Loads [drove] plugin_dir, a relative one resolved against the directory
 * of the file that sets it, then each of dirs (NULL-ended, may be NULL) as
 * given on the command line.  [plugin NAME] sections with override = true
 * let a loaded plugin of that name replace the built-in one.  Returns 0, or
 * DROVE_EINVAL with a reason in err for a malformed [plugin] section;
 * plugins that fail are only recorded.  c must outlive r.
 */
int registry_load_conf(struct registry *r, const struct conf *c,
    const char *const *dirs, char *err, size_t errlen);

/*
 * Checks that c uses no plugin that failed: a [backend] type or a task's
 * merge that names a failure, or that is not registered while some plugin
 * failed.  Returns 0, or DROVE_EINVAL with "file:line: ...: why" in err.
 */
int registry_check_uses(const struct registry *r, const struct conf *c,
    char *err, size_t errlen);

/* The plugin of that kind and name, or NULL. */
const struct drove_plugin *registry_find(const struct registry *r, int kind,
    const char *name);

/* NULL-ended arrays for graph_opts: names of merge plugins and the union
 * of their task keys.  Freed with free() (strings are borrowed). */
const char **registry_names(const struct registry *r, int kind);
const char **registry_merge_keys(const struct registry *r);

/*
 * A backend's defaults from its descriptor (ABI 1.3): retries, the call
 * timeout (0: none), the API key variable and base URL (NULL: not an API
 * backend) and whether the key is required.  A descriptor from before
 * ABI 1.3 gets 2 retries, REGISTRY_OLD_TIMEOUT_S and no API defaults.
 */
#define REGISTRY_OLD_TIMEOUT_S 1800
long registry_default_retries(const struct drove_plugin *p);
double registry_default_timeout(const struct drove_plugin *p);
const char *registry_default_key_env(const struct drove_plugin *p,
    int *key_required);
const char *registry_default_base_url(const struct drove_plugin *p);
/* True when merge plugin p writes the task's `output` itself. */
int registry_merge_owns_output(const struct drove_plugin *p);

/* "backend", "merge" or "plugin" (kind unknown). */
const char *registry_kind_name(int kind);

#endif /* DROVE_REGISTRY_H */
