#include "registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifndef DROVE_NO_DLOPEN
#include <dlfcn.h>
#endif

#include "conf.h"
#include "util.h"

extern const struct drove_plugin *(*const drove_builtin_plugins[])(void);

/* The smallest descriptor and operation tables a plugin may hand over:
 * everything ABI 1.0 had. */
#define MIN_PLUGIN_SIZE \
	(offsetof(struct drove_plugin, merge) + \
	sizeof(((struct drove_plugin *)0)->merge))
#define MIN_BACKEND_OPS_SIZE \
	(offsetof(struct drove_backend_ops, cancel) + \
	sizeof(((struct drove_backend_ops *)0)->cancel))
#define MIN_MERGE_OPS_SIZE \
	(offsetof(struct drove_merge_ops, cancel) + \
	sizeof(((struct drove_merge_ops *)0)->cancel))

static const char *const plugin_keys[] = { "override", NULL };

void
registry_init(struct registry *r)
{
	memset(r, 0, sizeof(*r));
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
		if (r->v[i].fd >= 0)
			close(r->v[i].fd);
	}
	for (size_t i = 0; i < r->nfail; i++) {
		free(r->fail[i].path);
		free(r->fail[i].name);
		free(r->fail[i].reason);
		if (r->fail[i].fd >= 0)
			close(r->fail[i].fd);
	}
	free(r->v);
	free(r->fail);
	free((void *)r->override);
	registry_init(r);
}

const char *
registry_kind_name(int kind)
{
	switch (kind) {
	case DROVE_PLUGIN_BACKEND:
		return "backend";
	case DROVE_PLUGIN_MERGE:
		return "merge";
	case DROVE_PLUGIN_LAUNCHER:
		return "launcher";
	}
	return "plugin";
}

static int
may_override(const struct registry *r, const char *name)
{
	for (const char *const *o = r->override; o && *o; o++)
		if (strcmp(*o, name) == 0)
			return 1;
	return 0;
}

static struct plugin *
find_slot(const struct registry *r, int kind, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if ((int)r->v[i].p->kind == kind &&
		    strcmp(r->v[i].p->name, name) == 0)
			return &r->v[i];
	return NULL;
}

/*
 * Checks a descriptor; where names the plugin in messages (a path, or
 * NULL for a built-in).  *slot gets the built-in it may replace, else
 * NULL.
 */
static int
check_plugin(const struct registry *r, const struct drove_plugin *p,
    const char *where, struct plugin **slot, char *err, size_t errlen)
{
	const char *w = where ? where : "built-in";
	struct plugin *old;

	*slot = NULL;
	if (p == NULL) {
		errf(err, errlen, "%s: drove_plugin_entry returned NULL", w);
		return DROVE_EINVAL;
	}
	if (p->abi_major != DROVE_ABI_MAJOR) {
		errf(err, errlen, "%s: plugin ABI %u.%u does not match "
		    "drove's ABI %d.%d", w, p->abi_major, p->abi_minor,
		    DROVE_ABI_MAJOR, DROVE_ABI_MINOR);
		return DROVE_EINVAL;
	}
	if (p->size < MIN_PLUGIN_SIZE) {
		errf(err, errlen, "%s: malformed plugin descriptor: its size "
		    "%u is below the minimum %zu", w, p->size,
		    (size_t)MIN_PLUGIN_SIZE);
		return DROVE_EINVAL;
	}
	if (p->name == NULL || !valid_name(p->name)) {
		errf(err, errlen, "%s: malformed plugin descriptor: its name "
		    "must be letters, digits, '_', '.' or '-'", w);
		return DROVE_EINVAL;
	}
	if ((p->kind == DROVE_PLUGIN_BACKEND && (p->backend == NULL ||
	    p->backend->size < MIN_BACKEND_OPS_SIZE ||
	    p->backend->start == NULL || p->backend->open == NULL)) ||
	    (p->kind == DROVE_PLUGIN_MERGE && (p->merge == NULL ||
	    p->merge->size < MIN_MERGE_OPS_SIZE ||
	    p->merge->start == NULL)) ||
	    (p->kind == DROVE_PLUGIN_LAUNCHER && (!DROVE_HAS(p, launcher) ||
	    p->launcher == NULL || p->launcher->size <
	    sizeof(struct drove_launcher_ops) || p->launcher->open == NULL ||
	    p->launcher->start == NULL || p->launcher->cancel == NULL)) ||
	    (p->kind != DROVE_PLUGIN_BACKEND &&
	    p->kind != DROVE_PLUGIN_MERGE &&
	    p->kind != DROVE_PLUGIN_LAUNCHER)) {
		errf(err, errlen, "%s: plugin '%s' lacks the operations of "
		    "its kind (%s)", w, p->name,
		    registry_kind_name((int)p->kind));
		return DROVE_EINVAL;
	}
	old = find_slot(r, (int)p->kind, p->name);
	if (old == NULL)
		return 0;
	if (old->path != NULL) {
		errf(err, errlen, "%s: %s plugin '%s' is already loaded from "
		    "'%s'", w, registry_kind_name((int)p->kind), p->name,
		    old->path);
		return DROVE_EINVAL;
	}
	if (where == NULL || !may_override(r, p->name)) {
		errf(err, errlen, "%s: %s plugin '%s' clashes with the "
		    "built-in one; to replace the built-in, add [plugin %s] with "
		    "override = true to the configuration", w,
		    registry_kind_name((int)p->kind), p->name, p->name);
		return DROVE_EINVAL;
	}
	*slot = old;
	return 0;
}

static struct plugin *
add(struct registry *r, const struct drove_plugin *p, const char *path,
    void *dl, int fd)
{
	struct plugin *pl;

	r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
	pl = &r->v[r->n++];
	memset(pl, 0, sizeof(*pl));
	pl->p = p;
	pl->path = path ? xstrdup(path) : NULL;
	pl->dl = dl;
	pl->fd = fd;
	return pl;
}

#ifndef DROVE_NO_DLOPEN
/* The loaded plugin whose file is st's, or NULL. */
static const struct plugin *
loaded_file(const struct registry *r, const struct stat *st)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].path != NULL &&
		    r->v[i].dev == (unsigned long long)st->st_dev &&
		    r->v[i].ino == (unsigned long long)st->st_ino)
			return &r->v[i];
	return NULL;
}
#endif

/* Records a failure: reason is the whole line, name the plugin's when
 * known (else the file name without .so), fd is kept open (or -1). */
static void
add_fail(struct registry *r, const char *path, const char *name, int kind,
    const char *reason, int fd)
{
	struct plugin_fail *f;
	const char *base = strrchr(path, '/');
	size_t len;

	r->fail = xrealloc(r->fail, (r->nfail + 1) * sizeof(*r->fail));
	f = &r->fail[r->nfail++];
	f->path = xstrdup(path);
	if (name != NULL) {
		f->name = xstrdup(name);
	} else {
		base = base ? base + 1 : path;
		len = strlen(base);
		if (len > 3 && strcmp(base + len - 3, ".so") == 0)
			len -= 3;
		f->name = xstrndup(base, len);
	}
	f->kind = kind;
	f->reason = xstrdup(reason);
	f->fd = fd;
}

int
registry_add_builtins(struct registry *r, char *err, size_t errlen)
{
	for (size_t i = 0; drove_builtin_plugins[i]; i++) {
		const struct drove_plugin *p = drove_builtin_plugins[i]();
		struct plugin *slot;
		int rc = check_plugin(r, p, NULL, &slot, err, errlen);

		if (rc < 0)
			return rc;
		add(r, p, NULL, NULL, -1);
	}
	return 0;
}

/* Refuses a file or directory that others may change: "PATH: why". */
static int
check_owner(const struct stat *st, const char *path, const char *what,
    char *err, size_t errlen)
{
	if (st->st_mode & S_IWOTH) {
		errf(err, errlen, "%s: refusing a world-writable plugin%s",
		    path, what);
		return DROVE_EINVAL;
	}
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		errf(err, errlen, "%s: refusing a plugin%s owned by uid %ld "
		    "(neither you nor root)", path, what, (long)st->st_uid);
		return DROVE_EINVAL;
	}
	return 0;
}

/*
 * Opens path (relative to dirfd) without following a final symbolic link,
 * checks what was opened and loads that very file.  Returns 0, or < 0 with
 * the failure recorded and its reason in err.
 */
static int
load_at(struct registry *r, int dirfd, const char *rel, const char *path,
    char *err, size_t errlen)
{
#ifdef DROVE_NO_DLOPEN
	(void)dirfd;
	(void)rel;
	errf(err, errlen, "%s: this drove is statically linked and cannot "
	    "load plugins (built-in plugins only); use a dynamically linked "
	    "build", path);
	add_fail(r, path, NULL, 0, err, -1);
	return DROVE_ENOTSUP;
#else
	const struct drove_plugin *(*entry)(void);
	const struct drove_plugin *p;
	struct plugin *slot;
	char proc[64];
	struct stat st;
	void *dl;
	int fd, rc;

	fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK);
	if (fd < 0) {
		if (errno == ELOOP)
			errf(err, errlen, "%s: refusing a symbolic link as a "
			    "plugin (put the file itself in the directory)",
			    path);
		else
			errf(err, errlen, "%s: %s", path, strerror(errno));
		add_fail(r, path, NULL, 0, err, -1);
		return DROVE_EIO;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		errf(err, errlen, "%s: not a regular file", path);
		add_fail(r, path, NULL, 0, err, fd);
		return DROVE_EINVAL;
	}
	if ((rc = check_owner(&st, path, "", err, errlen)) < 0) {
		add_fail(r, path, NULL, 0, err, fd);
		return rc;
	}
	/* the same directory from plugin_dir and --plugin-dir, or a hard
	 * link: one file loads once */
	if (loaded_file(r, &st) != NULL) {
		close(fd);
		return 0;
	}
	/*
	 * dlopen the descriptor, not the name, so the file checked is the
	 * file loaded.  The fd stays open as long as the plugin is loaded:
	 * the loader knows the object by this name, and a reused number
	 * would name another file.
	 */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	dl = dlopen(proc, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		const char *why = dlerror();
		const char *colon = why ? strstr(why, proc) : NULL;

		/* dlerror names the /proc path: show the reason only */
		if (colon != NULL && colon[strlen(proc)] == ':')
			why = colon + strlen(proc) + 1;
		while (why && *why == ' ')
			why++;
		if (access(proc, F_OK) < 0)
			why = "/proc is not mounted, and drove loads a plugin "
			    "through /proc/self/fd so that the file it checked "
			    "is the file it loads";
		errf(err, errlen, "%s: cannot load: %s", path,
		    why ? why : "unknown error");
		add_fail(r, path, NULL, 0, err, fd);
		return DROVE_EINVAL;
	}
	*(void **)&entry = dlsym(dl, "drove_plugin_entry");
	if (entry == NULL) {
		errf(err, errlen, "%s: no drove_plugin_entry symbol (define "
		    "it with DROVE_PLUGIN_ENTRY from drove/plugin.h, which "
		    "exports it)", path);
		dlclose(dl);
		add_fail(r, path, NULL, 0, err, fd);
		return DROVE_EINVAL;
	}
	p = entry();
	rc = check_plugin(r, p, path, &slot, err, errlen);
	if (rc < 0) {
		/* the name is only trusted once the descriptor passed the
		 * size check, and it lives in the object: copy it first */
		int named = p != NULL && p->abi_major == DROVE_ABI_MAJOR &&
		    p->size >= MIN_PLUGIN_SIZE && p->name != NULL;

		add_fail(r, path, named ? p->name : NULL,
		    named ? (int)p->kind : 0, err, fd);
		dlclose(dl);
		return rc;
	}
	if (slot != NULL) {
		slot->p = p;
		slot->path = xstrdup(path);
		slot->dl = dl;
		slot->fd = fd;
		slot->overrides = 1;
	} else {
		slot = add(r, p, path, dl, fd);
	}
	slot->dev = (unsigned long long)st.st_dev;
	slot->ino = (unsigned long long)st.st_ino;
	return 0;
#endif
}

int
registry_load_file(struct registry *r, const char *path, char *err,
    size_t errlen)
{
	return load_at(r, AT_FDCWD, path, path, err, errlen);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
registry_load_dir(struct registry *r, const char *dir, const char *origin)
{
	char err[1024], **names = NULL;
	size_t n = 0, before = r->nfail;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			errf(err, sizeof(err), "%s: plugin directory does "
			    "not exist (from %s)", dir, origin);
		else
			errf(err, sizeof(err), "%s: cannot open the plugin "
			    "directory: %s", dir, strerror(errno));
		add_fail(r, dir, "", 0, err, -1);
		return 1;
	}
	if (fstat(fd, &st) < 0 || check_owner(&st, dir, " directory", err,
	    sizeof(err)) < 0) {
		add_fail(r, dir, "", 0, err, -1);
		close(fd);
		return 1;
	}
	d = fdopendir(fd);
	if (d == NULL) {
		errf(err, sizeof(err), "%s: %s", dir, strerror(errno));
		add_fail(r, dir, "", 0, err, -1);
		close(fd);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 3 && strcmp(de->d_name + len - 3, ".so") == 0) {
			names = xrealloc(names, (n + 1) * sizeof(*names));
			names[n++] = xstrdup(de->d_name);
		}
	}
	/* a stable order makes clashes reproducible */
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", dir, names[i]);

		(void)load_at(r, dirfd(d), names[i], path, err, sizeof(err));
		free(path);
		free(names[i]);
	}
	free(names);
	closedir(d);
	return (int)(r->nfail - before);
}

/* dir resolved against the directory of file, unless it is absolute. */
static char *
resolve_beside(const char *file, const char *dir)
{
	const char *slash = strrchr(file, '/');

	if (dir[0] == '/' || slash == NULL)
		return xstrdup(dir);
	return xasprintf("%.*s/%s", (int)(slash - file), file, dir);
}

int
registry_load_conf(struct registry *r, const struct conf *c,
    const char *const *dirs, char *err, size_t errlen)
{
	const struct conf_section *d = conf_find(c, "drove", "");
	const struct conf_kv *kv = d ? conf_get_kv(d, "plugin_dir") : NULL;
	const char **over = NULL;
	size_t nover = 0;

	for (size_t i = 0; i < c->nsec; i++) {
		const struct conf_section *s = c->sec[i];
		int on;

		if (strcmp(s->type, "plugin") != 0)
			continue;
		if (conf_check_keys(s, err, errlen, plugin_keys,
		    (const char *const *)NULL) < 0 ||
		    conf_get_bool(s, "override", 0, &on, err, errlen) < 0) {
			free(over);
			return DROVE_EINVAL;
		}
		if (!on)
			continue;
		over = xrealloc(over, (nover + 2) * sizeof(*over));
		over[nover++] = s->name;
		over[nover] = NULL;
	}
	free((void *)r->override);
	r->override = over;
	if (kv != NULL && kv->value[0] != '\0') {
		char *dir = resolve_beside(kv->file, kv->value);
		char *origin = xasprintf("plugin_dir at %s:%d", kv->file,
		    kv->line);

		registry_load_dir(r, dir, origin);
		free(origin);
		free(dir);
	}
	for (size_t i = 0; dirs && dirs[i]; i++)
		registry_load_dir(r, dirs[i], "--plugin-dir");
	return 0;
}

/* The failure that name (of kind) refers to, or NULL. */
static const struct plugin_fail *
find_fail(const struct registry *r, int kind, const char *name)
{
	for (size_t i = 0; i < r->nfail; i++) {
		const struct plugin_fail *f = &r->fail[i];
		const char *n = f->name;

		if (f->kind != 0 && f->kind != kind)
			continue;
		/* an unread file "backend_x.so" may well be backend x */
		if (f->kind == 0 && strncmp(n, "backend_", 8) == 0 &&
		    kind == DROVE_PLUGIN_BACKEND)
			n += 8;
		else if (f->kind == 0 && strncmp(n, "merge_", 6) == 0 &&
		    kind == DROVE_PLUGIN_MERGE)
			n += 6;
		if (strcmp(n, name) == 0)
			return f;
	}
	return NULL;
}

static int
check_use(const struct registry *r, const struct conf_section *s,
    const char *key, int kind, char *err, size_t errlen)
{
	const char *name = conf_get(s, key);
	const struct plugin_fail *f;
	char where[256], label[256];

	if (name == NULL || r->nfail == 0)
		return 0;
	f = find_fail(r, kind, name);
	if (f == NULL && registry_find(r, kind, name) != NULL)
		return 0;
	conf_where(s, key, where, sizeof(where));
	conf_label(s, label, sizeof(label));
	if (f != NULL)
		errf(err, errlen, "%s: %s: %s '%s' did not load: %s", where,
		    label, registry_kind_name(kind), name, f->reason);
	else
		errf(err, errlen, "%s: %s: unknown %s '%s', and %zu plugin "
		    "file%s did not load (first: %s); see 'drove plugins'",
		    where, label, registry_kind_name(kind), name, r->nfail,
		    r->nfail == 1 ? "" : "s", r->fail[0].reason);
	return DROVE_EINVAL;
}

int
registry_check_uses(const struct registry *r, const struct conf *c,
    char *err, size_t errlen)
{
	for (size_t i = 0; i < c->nsec; i++) {
		const struct conf_section *s = c->sec[i];
		int rc = 0;

		if (strcmp(s->type, "backend") == 0)
			rc = check_use(r, s, "type", DROVE_PLUGIN_BACKEND, err,
			    errlen);
		else if (strcmp(s->type, "task") == 0)
			rc = check_use(r, s, "merge", DROVE_PLUGIN_MERGE, err,
			    errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

const struct drove_plugin *
registry_find(const struct registry *r, int kind, const char *name)
{
	const struct plugin *pl = find_slot(r, kind, name);

	return pl ? pl->p : NULL;
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

long
registry_default_retries(const struct drove_plugin *p)
{
	if (!DROVE_HAS(p, default_retries))
		return 2;
	return p->default_retries < 0 ? 0 : p->default_retries;
}

double
registry_default_timeout(const struct drove_plugin *p)
{
	if (!DROVE_HAS(p, default_timeout_s))
		return REGISTRY_OLD_TIMEOUT_S;
	return p->default_timeout_s < 0 ? 0 : p->default_timeout_s;
}

const char *
registry_default_key_env(const struct drove_plugin *p, int *key_required)
{
	*key_required = DROVE_HAS(p, key_required) && p->key_required;
	return DROVE_HAS(p, default_key_env) ? p->default_key_env : NULL;
}

const char *
registry_default_base_url(const struct drove_plugin *p)
{
	return DROVE_HAS(p, default_base_url) ? p->default_base_url : NULL;
}

int
registry_merge_owns_output(const struct drove_plugin *p)
{
	return p != NULL && p->merge != NULL &&
	    DROVE_HAS(p->merge, flags) &&
	    (p->merge->flags & DROVE_MERGE_OWN_OUTPUT) != 0;
}
