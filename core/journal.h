/*
 * The run journal: journal.jsonl in the run directory, append-only, one JSON
 * event a line, fsync'd at every task boundary.  Replay tolerates a torn
 * last line (a crash in the middle of a write).
 */
#ifndef DROVE_JOURNAL_H
#define DROVE_JOURNAL_H

#include <jansson.h>

struct journal {
	int fd;
	char *path;
	/* when set, journal_append(.., sync) calls sync(sync_arg) instead of
	 * fsync (a group commit flushes the journal later, see commit.h) */
	void (*sync)(void *arg);
	void *sync_arg;
	/* When set, sees every event appended (borrowed, before it is
	 * written): the run's event stream and live view. */
	void (*tap)(void *arg, json_t *ev);
	void *tap_arg;
};

/* Opens (creating or appending to) path.  Returns 0 or -errno. */
int journal_open(struct journal *j, const char *path);
void journal_close(struct journal *j);

/* Appends ev as one line in one write(2); when sync is set, fsyncs (or asks
 * j->sync for a flush).  Takes over the reference to ev.  Returns 0 or
 * -errno. */
int journal_append(struct journal *j, json_t *ev, int sync);

/* Calls fn for every complete event line of the journal at path, in order.
 * A last line without its newline, or that is not valid JSON, is ignored
 * (and counted in *torn when torn is not NULL).  fn borrows ev.  Returns 0,
 * or -errno when the file cannot be read. */
int journal_replay(const char *path, void (*fn)(json_t *ev, void *arg),
    void *arg, int *torn);

#endif /* DROVE_JOURNAL_H */
