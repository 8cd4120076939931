#include "registry.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifndef DROVE_NO_DLOPEN
#include <dlfcn.h>
#endif

#include "util.h"

extern const struct drove_plugin *(*const drove_builtin_plugins[])(void);

void
registry_init(struct registry *r)
{
	r->v = NULL;
	r->n = 0;
}

void
registry_release(struct registry *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].path);
#ifndef DROVE_NO_DLOPEN
		if (r->v[i].dl)
			dlclose(r->v[i].dl);
#endif
	}
	free(r->v);
	registry_init(r);
}

static const char *
kind_name(uint32_t kind)
{
	switch (kind) {
	case DROVE_PLUGIN_BACKEND:
		return "backend";
	case DROVE_PLUGIN_MERGE:
		return "merge";
	}
	return "unknown";
}

/* Checks a descriptor; where names the plugin in messages. */
static int
check_plugin(const struct registry *r, const struct drove_plugin *p,
    const char *where, char *err, size_t errlen)
{
	if (p == NULL) {
		errf(err, errlen, "%s: plugin entry returned NULL", where);
		return DROVE_EINVAL;
	}
	if (p->abi_major != DROVE_ABI_MAJOR) {
		errf(err, errlen, "%s: plugin ABI %u.%u does not match "
		    "drove's ABI %d.%d", where, p->abi_major, p->abi_minor,
		    DROVE_ABI_MAJOR, DROVE_ABI_MINOR);
		return DROVE_EINVAL;
	}
	if (p->size < offsetof(struct drove_plugin, merge) +
	    sizeof(p->merge) || p->name == NULL || !valid_name(p->name)) {
		errf(err, errlen, "%s: malformed plugin descriptor", where);
		return DROVE_EINVAL;
	}
	if ((p->kind == DROVE_PLUGIN_BACKEND && (p->backend == NULL ||
	    p->backend->start == NULL || p->backend->open == NULL)) ||
	    (p->kind == DROVE_PLUGIN_MERGE && (p->merge == NULL ||
	    p->merge->start == NULL)) ||
	    (p->kind != DROVE_PLUGIN_BACKEND &&
	    p->kind != DROVE_PLUGIN_MERGE)) {
		errf(err, errlen, "%s: plugin '%s' lacks the operations of "
		    "its kind (%s)", where, p->name, kind_name(p->kind));
		return DROVE_EINVAL;
	}
	if (registry_find(r, (int)p->kind, p->name)) {
		errf(err, errlen, "%s: a %s plugin named '%s' is already "
		    "loaded", where, kind_name(p->kind), p->name);
		return DROVE_EINVAL;
	}
	return 0;
}

static void
add(struct registry *r, const struct drove_plugin *p, const char *path,
    void *dl)
{
	r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
	r->v[r->n].p = p;
	r->v[r->n].path = path ? xstrdup(path) : NULL;
	r->v[r->n].dl = dl;
	r->n++;
}

int
registry_add_builtins(struct registry *r, char *err, size_t errlen)
{
	for (size_t i = 0; drove_builtin_plugins[i]; i++) {
		const struct drove_plugin *p = drove_builtin_plugins[i]();
		int rc = check_plugin(r, p, "built-in", err, errlen);

		if (rc < 0)
			return rc;
		add(r, p, NULL, NULL);
	}
	return 0;
}

int
registry_load_file(struct registry *r, const char *path, char *err,
    size_t errlen)
{
#ifdef DROVE_NO_DLOPEN
	errf(err, errlen, "%s: cannot load plugins: this drove is statically "
	    "linked (built-in plugins only)", path);
	return DROVE_ENOTSUP;
#else
	const struct drove_plugin *(*entry)(void);
	const struct drove_plugin *p;
	struct stat st;
	void *dl;
	int rc;

	if (stat(path, &st) < 0) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		return DROVE_EIO;
	}
	if (st.st_mode & S_IWOTH) {
		errf(err, errlen, "%s: refusing a world-writable plugin", path);
		return DROVE_EINVAL;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		errf(err, errlen, "%s: refusing a plugin owned by uid %ld "
		    "(neither you nor root)", path, (long)st.st_uid);
		return DROVE_EINVAL;
	}
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		errf(err, errlen, "%s: %s", path, dlerror());
		return DROVE_EINVAL;
	}
	*(void **)&entry = dlsym(dl, "drove_plugin_entry");
	if (entry == NULL) {
		errf(err, errlen, "%s: no drove_plugin_entry symbol", path);
		dlclose(dl);
		return DROVE_EINVAL;
	}
	p = entry();
	rc = check_plugin(r, p, path, err, errlen);
	if (rc < 0) {
		dlclose(dl);
		return rc;
	}
	add(r, p, path, dl);
	return 0;
#endif
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
registry_load_dir(struct registry *r, const char *dir, char *err,
    size_t errlen)
{
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	int rc = 0;
	DIR *d;

	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : (errf(err, errlen, "%s: %s", dir,
		    strerror(errno)), DROVE_EIO);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 3 && strcmp(de->d_name + len - 3, ".so") == 0) {
			names = xrealloc(names, (n + 1) * sizeof(*names));
			names[n++] = xasprintf("%s/%s", dir, de->d_name);
		}
	}
	closedir(d);
	/* a stable order makes duplicate errors reproducible */
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			rc = registry_load_file(r, names[i], err, errlen);
		free(names[i]);
	}
	free(names);
	return rc;
}

const struct drove_plugin *
registry_find(const struct registry *r, int kind, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if ((int)r->v[i].p->kind == kind &&
		    strcmp(r->v[i].p->name, name) == 0)
			return r->v[i].p;
	return NULL;
}

const char **
registry_names(const struct registry *r, int kind)
{
	const char **v = xcalloc(r->n + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		if ((int)r->v[i].p->kind == kind)
			v[n++] = r->v[i].p->name;
	return v;
}

const char **
registry_merge_keys(const struct registry *r)
{
	const char **v = xcalloc(1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct drove_plugin *p = r->v[i].p;

		if (p->kind != DROVE_PLUGIN_MERGE || p->keys == NULL)
			continue;
		for (const char *const *k = p->keys; *k; k++) {
			v = xrealloc(v, (n + 2) * sizeof(*v));
			v[n++] = *k;
			v[n] = NULL;
		}
	}
	return v;
}
