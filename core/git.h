/*
 * Running git as a child process and waiting for it: for short commands at
 * task boundaries, in the merge phase and in drove clean.  The child gets
 * its own process group (a Ctrl-C meant for drove does not tear a git
 * command in half), /dev/null as stdin, an environment without GIT_DIR and
 * the like, and no way to prompt.
 */
#ifndef DROVE_GIT_H
#define DROVE_GIT_H

#include <stddef.h>

#include "util.h"

/* A NULL-ended argument list for git_run: GIT_ARGS("rev-parse", "HEAD"). */
#define GIT_ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

struct git {
	char *path;	/* the git binary; the owner frees it */
	int ident;	/* no identity configured: commit as drove */
};

/* The path of git found in PATH (a new allocation), or NULL. */
char *git_find(void);

/*
 * Runs "git -C dir ARGS" and waits for it.  With gitdir set, git gets
 * --git-dir=gitdir --work-tree=dir as well and never looks for a
 * repository around dir (a worktree whose .git is gone cannot send it up
 * into another one).  stdout goes to out (may be NULL); when git fails,
 * the last line of its stderr goes to err (may be NULL).  Borrows
 * everything.  Returns git's exit status, 128 + the signal that ended it,
 * or -1 when it could not run.
 */
int git_run(struct git *g, const char *dir, const char *gitdir,
    const char *const *args, struct buf *out, char *err, size_t errlen);

/* git's stdout, trimmed, in a new allocation; NULL when git failed. */
char *git_str(struct git *g, const char *dir, const char *gitdir,
    const char *const *args, char *err, size_t errlen);

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
