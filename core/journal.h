/*
 * The run journal: journal.jsonl in the run directory, append-only, one JSON
 * event a line, made durable at every task boundary (by the group commit,
 * commit.h, during a run).  Replay tolerates a torn last line (a crash in
 * the middle of a write).
 */
#ifndef DROVE_JOURNAL_H
#define DROVE_JOURNAL_H

#include <jansson.h>

/* journal_append's flags */
#define JOURNAL_SYNC	1	/* durable: fsync'd, or the next group flush */
#define JOURNAL_LATER	2	/* may wait for the end of the loop turn */

struct journal {
	int fd;
	char *path;
	/* when set, journal_append(.., JOURNAL_SYNC) calls sync(sync_arg)
	 * instead of fsync (a group commit flushes the journal later, see
	 * commit.h), and a JOURNAL_LATER line is kept in pending until
	 * journal_flush, which the commit calls at the end of the turn */
	void (*sync)(void *arg);
	void (*later)(void *arg);	/* a line is pending: end the turn */
	void *sync_arg;
	char *pending;		/* lines not written yet */
	size_t npending, cpending;
	/* When set, sees every event appended (borrowed, before it is
	 * written): the run's event stream and live view. */
	void (*tap)(void *arg, json_t *ev);
	void *tap_arg;
};

/* Opens (creating or appending to) path.  Returns 0 or -errno. */
int journal_open(struct journal *j, const char *path);
void journal_close(struct journal *j);

/*
 * Appends ev as one line; flags is 0 or of JOURNAL_*.  Without
 * JOURNAL_LATER the line is written now, in one write(2) with the lines
 * pending before it, so the order of the lines is the order of the calls.
 * With JOURNAL_LATER and a group commit (j->sync set) it waits for the
 * next such write or journal_flush: a line a kill -9 may lose (a start, a
 * wait, an agent's end), never one that something outside the process
 * depends on (an agent's process group, a launched job, a worktree's
 * state).  With JOURNAL_SYNC, fsyncs (or asks j->sync for a flush).
 * Takes over the reference to ev.  Returns 0 or -errno.
 */
int journal_append(struct journal *j, json_t *ev, int flags);
/* Writes the pending lines, in one write(2).  Returns 0 or -errno. */
int journal_flush(struct journal *j);

/* Calls fn for every complete event line of the journal at path, in order.
 * A last line without its newline, or that is not valid JSON, is ignored
 * (and counted in *torn when torn is not NULL).  fn borrows ev.  Returns 0,
 * or -errno when the file cannot be read. */
int journal_replay(const char *path, void (*fn)(json_t *ev, void *arg),
    void *arg, int *torn);

#endif /* DROVE_JOURNAL_H */
