/*
 * Group commit: the results a loop turn produced are written to disk
 * together, made durable with one flush, off the loop thread, and only then
 * is each one's journal record appended.  A writer thread does the disk
 * work; it hands completions back through the loop's async watcher.
 *
 *	commit_output(cm, path, data, len, line, done, arg)
 *
 * queues path's new content and the journal line that says it is there.
 * At the end of the loop turn everything queued goes to the writer, which
 * writes each file beside its place and renames it in, flushes once (every
 * file system that holds a queued file, a file written with commit_write
 * or the journal), appends the lines of the files it wrote in one write,
 * and calls done(arg, rc) on the loop thread.  So a journal line never
 * names a file that is not whole on disk, whatever moment the process is
 * killed at.  journal_append(.., sync) on the journal given to commit_start
 * asks for the same flush instead of an fsync of its own.
 */
#ifndef DROVE_COMMIT_H
#define DROVE_COMMIT_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

#include "journal.h"
#include "loop.h"

struct commit_item;

#define COMMIT_MAX_FS 8
/* how many times, 10 ms apart, the writer tries to make a file while the
 * process is out of descriptors */
#define COMMIT_FD_TRIES 300

struct commit {
	struct loop *loop;
	struct journal *j;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int started;
	/* loop thread only */
	struct commit_item *turn, **turn_tail;	/* queued this turn */
	int turn_jsync;
	int turn_armed;
	size_t out;		/* items not reported back yet */
	struct loop_timer turn_timer;	/* 0 ms: the end of the turn */
	struct loop_timer hold;	/* keeps the loop alive while out > 0 */
	struct loop_async async;
	/* under mu */
	struct commit_item *todo, **todo_tail;	/* for the writer */
	int todo_jsync;
	struct commit_item *done, **done_tail;	/* for the loop */
	int stop;
	/* writer thread only: the file systems to flush, one fd on each */
	dev_t fs_dev[COMMIT_MAX_FS];
	int fs_fd[COMMIT_MAX_FS];
	int nfs;
	int spare;		/* a descriptor to give up for a file */
	char *last_dir;		/* the directory of the last file noted */
	unsigned long flushes;	/* for tests and -v */
};

/*
 * Starts the writer for j on loop (both borrowed; they outlive the commit
 * until commit_stop).  Returns 0 or -errno (then nothing runs and
 * commit_output writes at once, as before).
 */
int commit_start(struct commit *cm, struct loop *loop, struct journal *j);
/*
 * Writes what is queued, waits for the writer and stops it, then calls the
 * done callbacks that are left.  Safe on a commit never started.
 */
void commit_stop(struct commit *cm);

/*
 * Queues data (len bytes, borrowed until done runs) for path, and line
 * (a journal line without its newline, taken over; NULL: none) to append
 * once path is durable; then drop (a copy that path makes redundant, or
 * NULL) is removed, on the writer too.  done(arg, rc) runs on the loop
 * thread with rc 0 or -errno (the line was not written and drop is kept
 * then).
 */
void commit_output(struct commit *cm, const char *path, const void *data,
    size_t len, char *line, const char *drop,
    void (*done)(void *arg, int rc), void *arg);
/*
 * Writes path now (beside it, then renamed in), without a flush of its
 * own: the next group flush covers it.  Returns 0 or -errno.
 */
int commit_write(struct commit *cm, const char *path, const void *data,
    size_t len);

#endif /* DROVE_COMMIT_H */
