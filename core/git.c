/*
 * Running git: one command at a time, waited for.  See git.h.
 */
#include "git.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host.h"
#include "loop.h"
#include "util.h"

extern char **environ;

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

/* The environment git runs with: the user's, minus what would point it at
 * another repository, plus what keeps it from asking anything. */
static char **
git_env(void)
{
	static const char *const drop[] = {
		"GIT_DIR=", "GIT_WORK_TREE=", "GIT_INDEX_FILE=", "GIT_PREFIX=",
		"GIT_COMMON_DIR=", "GIT_OBJECT_DIRECTORY=", "LC_ALL=",
		"GIT_TERMINAL_PROMPT=", "GIT_EDITOR=", "GIT_MERGE_AUTOEDIT=",
		NULL
	};
	size_t n, k = 0;
	char **v;

	for (n = 0; environ[n] != NULL; n++)
		;
	v = xcalloc(n + 8, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		int keep = 1;

		for (size_t d = 0; drop[d] != NULL && keep; d++)
			keep = strncmp(environ[i], drop[d],
			    strlen(drop[d])) != 0;
		if (keep)
			v[k++] = environ[i];
	}
	v[k++] = (char *)"LC_ALL=C";
	v[k++] = (char *)"GIT_TERMINAL_PROMPT=0";
	v[k++] = (char *)"GIT_EDITOR=true";
	v[k++] = (char *)"GIT_MERGE_AUTOEDIT=no";
	v[k] = NULL;
	return v;
}

/* Reads both pipes to their end. */
static void
drain(int ofd, int efd, struct buf *out, struct buf *eb)
{
	struct pollfd pf[2] = { { ofd, POLLIN, 0 }, { efd, POLLIN, 0 } };
	char tmp[8192];

	while (pf[0].fd >= 0 || pf[1].fd >= 0) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int k = 0; k < 2; k++) {
			ssize_t n;

			if (pf[k].fd < 0 || pf[k].revents == 0)
				continue;
			n = read(pf[k].fd, tmp, sizeof(tmp));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(pf[k].fd);
				pf[k].fd = -1;
				continue;
			}
			buf_add(k == 0 ? out : eb, tmp, (size_t)n);
		}
	}
}

int
git_run(struct git *g, const char *dir, const char *gitdir,
    const char *const *args, struct buf *out, char *err, size_t errlen)
{
	char *gd = NULL, *wd = NULL;
	const char *argv[64];
	struct buf ob = BUF_INIT, eb = BUF_INIT;
	int op[2], ep[2], status = 0, code;
	size_t n = 0;
	char **envp;
	pid_t pid;

	argv[n++] = "git";
	argv[n++] = "-C";
	argv[n++] = dir;
	if (gitdir != NULL) {
		gd = xasprintf("--git-dir=%s", gitdir);
		wd = xasprintf("--work-tree=%s", dir);
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
	for (size_t i = 0; args[i] != NULL && n < ARRAY_SIZE(argv) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe2(op, O_CLOEXEC) < 0)
		goto fail;
	if (pipe2(ep, O_CLOEXEC) < 0) {
		close(op[0]);
		close(op[1]);
		goto fail;
	}
	envp = git_env();
	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		if (host_loop() != NULL)
			loop_child_after_fork(host_loop());
		signal(SIGPIPE, SIG_DFL);
		(void)setpgid(0, 0);
		if (nul < 0 || dup2(nul, STDIN_FILENO) < 0 ||
		    dup2(op[1], STDOUT_FILENO) < 0 ||
		    dup2(ep[1], STDERR_FILENO) < 0)
			_exit(127);
		execve(g->path, (char *const *)argv, envp);
		_exit(127);
	}
	free(envp);
	close(op[1]);
	close(ep[1]);
	if (pid < 0) {
		close(op[0]);
		close(ep[0]);
		goto fail;
	}
	drain(op[0], ep[0], out ? out : &ob, &eb);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	code = WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status);
	if (code != 0 && err != NULL) {
		char *s = strtrim((char *)buf_str(&eb));
		char *nl = strrchr(s, '\n');

		errf(err, errlen, "git %s: %s", args[0], nl ? nl + 1 :
		    *s ? s : code == 127 ? "cannot run git" : "failed");
	}
	log_debug("git -C %s %s ... -> %d", dir, args[0], code);
	buf_release(&ob);
	buf_release(&eb);
	free(gd);
	free(wd);
	return code;
fail:
	errf(err, errlen, "cannot run git: %s", strerror(errno));
	free(gd);
	free(wd);
	return -1;
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
	size_t n = 0, k = 0;

	if (git_run(g, dir, gitdir, args, &b, err, errlen) != 0) {
		buf_release(&b);
		return NULL;
	}
	for (size_t i = 0; i < b.len; i++)
		n += b.data[i] == '\0';
	v = xcalloc(n + 2, sizeof(*v));
	for (size_t i = 0; i < b.len; i += strlen(b.data + i) + 1)
		if (b.data[i] != '\0')
			v[k++] = xstrdup(b.data + i);
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
