/*
 * Running git as a child on an event loop, through spawn.c.  See git.h.
 */
#include "git.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drove/plugin.h"
#include "envfilter.h"
#include "loop.h"
#include "spawn.h"
#include "util.h"

/* Identity for drove's own commits when git has none configured. */
#define FALLBACK_NAME "user.name=drove"
#define FALLBACK_EMAIL "user.email=drove@localhost"

char *
git_find(void)
{
	const char *path = getenv("PATH"), *p, *e;

	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; p != NULL; p = *e ? e + 1 : NULL) {
		char *full;

		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		if (e == p)
			full = xstrdup("./git");
		else
			full = xasprintf("%.*s/git", (int)(e - p), p);
		if (access(full, X_OK) == 0)
			return full;
		free(full);
	}
	return NULL;
}

/* Variables that would point git at another repository, or let it ask
 * or open an editor: dropped from the environment git runs with. */
static const char *const dropped[] = {
	"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX",
	"GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY", NULL
};

/* Set for git, whatever the environment says. */
static const char *const forced[] = {
	"LC_ALL=C", "GIT_TERMINAL_PROMPT=0", "GIT_EDITOR=true",
	"GIT_MERGE_AUTOEDIT=no", NULL
};

/* A git command on its way. */
struct gitcmd {
	char *arg0;		/* git's subcommand, for messages */
	char *errpath;		/* git's stderr, a temporary file */
	double timeout_s;
	git_done_fn done;
	void *arg;
};

/* The last line of the file at path (trimmed), into err. */
static void
last_line(const char *path, const char *arg0, int code, char *err,
    size_t errlen)
{
	char *data = NULL, *s, *nl;
	size_t len;

	if (read_file(path, &data, &len) < 0)
		data = NULL;
	s = data ? strtrim(data) : (char *)"";
	nl = strrchr(s, '\n');
	errf(err, errlen, "git %s: %s", arg0, nl ? nl + 1 : *s ? s :
	    code == 127 ? "cannot run git" : "failed");
	free(data);
}

static void
cmd_exit(void *arg, int status, int err, const char *out, size_t len)
{
	struct gitcmd *c = arg;
	char msg[1024] = "";
	int code;

	if (err == DROVE_ETIMEDOUT) {
		code = DROVE_ETIMEDOUT;
		errf(msg, sizeof(msg), "git %s timed out after %gs (see "
		    "[drove] git_timeout)", c->arg0, c->timeout_s);
	} else if (err == DROVE_ECANCELED) {
		code = DROVE_ECANCELED;
		errf(msg, sizeof(msg), "git %s: cancelled", c->arg0);
	} else if (err != 0) {
		code = err;
		errf(msg, sizeof(msg), "git %s: %.*s", c->arg0, (int)len, out);
		out = "";
		len = 0;
	} else {
		code = status >= 0 ? status : 128 - status;
		if (code != 0)
			last_line(c->errpath, c->arg0, code, msg, sizeof(msg));
	}
	log_debug("git %s -> %d", c->arg0, code);
	(void)unlink(c->errpath);
	c->done(c->arg, code, out, len, msg);
	free(c->arg0);
	free(c->errpath);
	free(c);
}

int
git_start(struct git *g, struct loop *l, const struct git_cmd *cmd,
    struct spawn **sp, char *err, size_t errlen)
{
	const char *argv[80];
	char *gd = NULL, *wd = NULL, *tmpl;
	const char *tmp = getenv("TMPDIR");
	static const char *const git_pass[] = { "GIT_*", NULL };
	struct drove_spawn req;
	const char **env;
	struct gitcmd *c;
	size_t n = 0;
	int fd, rc;

	/* drop what would point git elsewhere: env -u NAME, only when set */
	for (size_t i = 0; dropped[i] != NULL; i++) {
		if (getenv(dropped[i]) == NULL)
			continue;
		if (n == 0)
			argv[n++] = "env";
		argv[n++] = "-u";
		argv[n++] = dropped[i];
	}
	argv[n++] = g->path;
	argv[n++] = "-C";
	argv[n++] = cmd->dir;
	if (cmd->gitdir != NULL) {
		gd = xasprintf("--git-dir=%s", cmd->gitdir);
		wd = xasprintf("--work-tree=%s", cmd->dir);
		argv[n++] = gd;
		argv[n++] = wd;
	}
	if (g->ident) {
		argv[n++] = "-c";
		argv[n++] = FALLBACK_NAME;
		argv[n++] = "-c";
		argv[n++] = FALLBACK_EMAIL;
	}
	argv[n++] = "-c";
	argv[n++] = "commit.gpgsign=false";
	for (size_t i = 0; cmd->args[i] != NULL && n < ARRAY_SIZE(argv) - 1;
	    i++)
		argv[n++] = cmd->args[i];
	argv[n] = NULL;

	tmpl = xasprintf("%s/drove-git.XXXXXX", tmp && *tmp == '/' ? tmp :
	    "/tmp");
	if ((fd = mkstemp(tmpl)) < 0) {
		errf(err, errlen, "cannot run git: cannot create a file in "
		    "'%s': %s", tmp ? tmp : "/tmp", strerror(errno));
		free(tmpl);
		free(gd);
		free(wd);
		return DROVE_ESPAWN;
	}
	close(fd);
	c = xcalloc(1, sizeof(*c));
	c->arg0 = xstrdup(cmd->args[0]);
	c->errpath = tmpl;
	c->timeout_s = g->timeout_s;
	c->done = cmd->done;
	c->arg = cmd->arg;
	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.argv = argv;
	req.env_add = forced;
	/* git and the hooks it runs get what every child gets: no key
	 * drove holds (a hook is a file an agent can write) */
	env = env_filtered(git_pass, NULL);
	req.env = env;
	req.stderr_path = c->errpath;
	req.timeout_s = g->timeout_s;
	req.on_exit = cmd_exit;
	req.arg = c;
	rc = spawn_start(l, &req, sp, err, errlen);
	free(env);
	free(gd);
	free(wd);
	if (rc < 0) {
		(void)unlink(c->errpath);
		free(c->errpath);
		free(c->arg0);
		free(c);
	}
	return rc;
}

/* --- waited for, on a loop of its own --------------------------------- */

struct gitwait {
	struct loop *l;
	int code;
	struct buf *out;
	char *err;
	size_t errlen;
};

static void
wait_done(void *arg, int code, const char *out, size_t len, const char *err)
{
	struct gitwait *gw = arg;

	gw->code = code;
	if (gw->out != NULL)
		buf_add(gw->out, out, len);
	if (code != 0)
		errf(gw->err, gw->errlen, "%s", err);
	loop_stop(gw->l);
}

int
git_run(struct git *g, const char *dir, const char *gitdir,
    const char *const *args, struct buf *out, char *err, size_t errlen)
{
	struct gitwait gw = { NULL, -1, out, err, errlen };
	struct git_cmd cmd = { dir, gitdir, args, wait_done, &gw };
	struct spawn *sp;
	int rc;

	if ((gw.l = loop_new()) == NULL) {
		errf(err, errlen, "cannot run git: %s", strerror(errno));
		return -1;
	}
	rc = git_start(g, gw.l, &cmd, &sp, err, errlen);
	if (rc == 0)
		(void)loop_run(gw.l);
	loop_free(gw.l);
	if (rc < 0)
		return -1;
	return gw.code;
}

char **
git_strv(const char *out, size_t len)
{
	char **v;
	size_t n = 0, k = 0;

	for (size_t i = 0; i < len; i++)
		n += out[i] == '\0';
	v = xcalloc(n + 2, sizeof(*v));
	for (size_t i = 0; i < len; i += strnlen(out + i, len - i) + 1)
		if (out[i] != '\0')
			v[k++] = xstrndup(out + i, strnlen(out + i, len - i));
	return v;
}

char *
git_str(struct git *g, const char *dir, const char *gitdir,
    const char *const *args, char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	char *s;

	if (git_run(g, dir, gitdir, args, &b, err, errlen) != 0) {
		buf_release(&b);
		return NULL;
	}
	s = xstrdup(strtrim((char *)buf_str(&b)));
	buf_release(&b);
	return s;
}

char **
git_list(struct git *g, const char *dir, const char *gitdir,
    const char *const *args, char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	char **v;

	if (git_run(g, dir, gitdir, args, &b, err, errlen) != 0) {
		buf_release(&b);
		return NULL;
	}
	v = git_strv(b.data ? b.data : "", b.len);
	buf_release(&b);
	return v;
}

/* The real path of p (relative to base when it is relative) in a new
 * allocation, or NULL. */
static char *
real_path(const char *base, const char *p)
{
	char buf[PATH_MAX], *full;
	const char *r;

	full = *p == '/' || base == NULL ? xstrdup(p) :
	    xasprintf("%s/%s", base, p);
	r = realpath(full, buf);
	free(full);
	return r ? xstrdup(buf) : NULL;
}

/* The text of the small regular file p after "prefix", trimmed, or NULL. */
static char *
read_pointer(const char *p, const char *prefix, char **whole)
{
	struct stat st;
	char *data = NULL, *s;
	size_t len, pl = strlen(prefix);

	if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 8192 ||
	    read_file(p, &data, &len) < 0)
		return NULL;
	if (strlen(data) != len || strncmp(data, prefix, pl) != 0) {
		free(data);
		return NULL;
	}
	s = xstrdup(data + pl);
	strtrim(s);
	if (whole != NULL)
		*whole = data;
	else
		free(data);
	return s;
}

char *
git_worktree_admin(const char *common, const char *path, char **dotgit)
{
	char *dg = xasprintf("%s/.git", path), *text = NULL, *whole = NULL;
	char *rpath = NULL, *root = NULL, *admin = NULL, *back = NULL;
	char *rdg = NULL, *rback = NULL, *q, *ok = NULL;
	size_t rl;

	rpath = real_path(NULL, path);
	if (rpath == NULL || strcmp(rpath, path) != 0)
		goto out;
	if ((text = read_pointer(dg, "gitdir: ", &whole)) == NULL)
		goto out;
	admin = real_path(path, text);
	q = xasprintf("%s/worktrees", common);
	root = real_path(NULL, q);
	free(q);
	if (admin == NULL || root == NULL ||
	    strncmp(admin, root, rl = strlen(root)) != 0 ||
	    admin[rl] != '/' || strchr(admin + rl + 1, '/') != NULL)
		goto out;
	q = xasprintf("%s/gitdir", admin);
	back = read_pointer(q, "", NULL);
	free(q);
	rdg = real_path(NULL, dg);
	rback = back ? real_path(admin, back) : NULL;
	if (rdg == NULL || rback == NULL || strcmp(rdg, rback) != 0)
		goto out;
	ok = admin;
	admin = NULL;
	if (dotgit != NULL) {
		*dotgit = whole;
		whole = NULL;
	}
out:
	free(dg);
	free(text);
	free(whole);
	free(rpath);
	free(root);
	free(admin);
	free(back);
	free(rdg);
	free(rback);
	return ok;
}
