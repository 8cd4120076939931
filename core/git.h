/*
 * Running git as a child process on an event loop, through spawn.c, like
 * any agent: for the commands at task boundaries, in the merge phase and
 * in drove clean.  The child gets its own process group (a Ctrl-C meant
 * for drove does not tear a git command in half; cancelling kills the
 * group, hooks included), /dev/null as stdin, an environment without
 * GIT_DIR and the like, no way to prompt, and a timeout.
 */
#ifndef DROVE_GIT_H
#define DROVE_GIT_H

#include <stddef.h>

#include "util.h"

struct loop;
struct spawn;

/* A NULL-ended argument list for git_run: GIT_ARGS("rev-parse", "HEAD"). */
#define GIT_ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

struct git {
	char *path;	/* the git binary; the owner frees it */
	int ident;	/* no identity configured: commit as drove */
	double timeout_s; /* per command, then the group is killed; 0: none */
};

/* Seconds a git command may take unless [drove] git_timeout says. */
#define GIT_TIMEOUT_S 120.0

/*
 * How a git command ended: code is git's exit status (128 + signal when a
 * signal ended it), or DROVE_ETIMEDOUT, DROVE_ECANCELED or DROVE_ESPAWN.
 * out is git's stdout; when code is not 0, err says what failed ("git
 * merge: <the last line of its stderr>").  Both are borrowed for the call.
 */
typedef void (*git_done_fn)(void *arg, int code, const char *out,
    size_t len, const char *err);

struct git_cmd {
	const char *dir;		/* git -C dir */
	const char *gitdir;		/* --git-dir, --work-tree=dir; NULL */
	const char *const *args;	/* NULL-ended (GIT_ARGS) */
	git_done_fn done;
	void *arg;
};

/*
 * Starts "git -C dir ARGS" as a child on loop l; with gitdir set, git also
 * gets --git-dir=gitdir --work-tree=dir and never looks for a repository
 * around dir.  Borrows cmd and g for the call only.  Returns 0 and the
 * spawn in *sp (for spawn_kill; valid until done runs), then calls done
 * once from the loop.  Otherwise returns < 0 with the reason in err and
 * never calls done.
 */
int git_start(struct git *g, struct loop *l, const struct git_cmd *cmd,
    struct spawn **sp, char *err, size_t errlen);

/* The path of git found in PATH (a new allocation), or NULL. */
char *git_find(void);

/*
 * Runs git as git_start does and waits for it, on a loop of its own: for
 * the checks before a run and for drove clean, never from a callback of a
 * running loop.  stdout goes to out (may be NULL); when git fails, err
 * (may be NULL) says why.  Borrows everything.  Returns git's exit status,
 * 128 + the signal that ended it, a negative DROVE_E* code (timed out) or
 * -1 when it could not run.
 */
int git_run(struct git *g, const char *dir, const char *gitdir,
    const char *const *args, struct buf *out, char *err, size_t errlen);

/* git's stdout, trimmed, in a new allocation; NULL when git failed. */
char *git_str(struct git *g, const char *dir, const char *gitdir,
    const char *const *args, char *err, size_t errlen);

/* NUL-separated output (git's -z) as a new NULL-ended list (free with
 * strv_free). */
char **git_strv(const char *out, size_t len);

/* git's NUL-separated stdout (for -z) as a new NULL-ended list (free with
 * strv_free); NULL when git failed. */
char **git_list(struct git *g, const char *dir, const char *gitdir,
    const char *const *args, char *err, size_t errlen);

/*
 * The admin dir of the linked worktree at path, when it is one of the
 * repository whose common git dir is common: path is its own real path
 * (no symbolic link on the way), path/.git is a regular file naming
 * <common>/worktrees/<name>, and that dir's gitdir file names path/.git
 * back.  Returns the admin dir's real path in a new allocation and, when
 * dotgit is not NULL, the .git file's text in *dotgit (the caller frees
 * both); NULL when path is not such a worktree.  Reads files only.
 */
char *git_worktree_admin(const char *common, const char *path,
    char **dotgit);

#endif /* DROVE_GIT_H */
