/*
 * Group commit (commit.h).  The loop thread collects a turn's items and
 * hands them over at the end of the turn (a 0 ms timer runs after the
 * turn's I/O and children); the writer takes everything handed over since
 * it last looked, so a slow disk makes batches bigger, not the loop
 * slower.  On Linux the flush is syncfs(2) of each file system involved,
 * one call however many files; elsewhere each file, its directory and the
 * journal are fsync'd, still on the writer thread.
 */
#include "commit.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

struct commit_item {
	struct commit_item *next;
	char *path;
	const void *data;
	size_t len;
	char *line;
	char *drop;		/* removed once path is durable, or NULL */
	void (*done)(void *arg, int rc);
	void *arg;
	int rc;
};

/* --- the writer thread -------------------------------------------------- */

/* Notes the file system of path's directory for the flushes; under mu.
 * Returns 0, or -1 when it could not (then the next file tries again). */
static int
fs_add(struct commit *cm, const char *path, dev_t dev)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int i, fd;

	for (i = 0; i < cm->nfs; i++)
		if (cm->fs_dev[i] == dev)
			return 0;
	if (cm->nfs == COMMIT_MAX_FS)
		return -1;
	dir = slash == NULL ? xstrdup(".") : slash == path ? xstrdup("/") :
	    xstrndup(path, (size_t)(slash - path));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -1;
	cm->fs_dev[cm->nfs] = dev;
	cm->fs_fd[cm->nfs++] = fd;
	return 0;
}

#if !defined(__linux__)
static void
fsync_path_and_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL ? xstrdup(".") : slash == path ?
	    xstrdup("/") : xstrndup(path, (size_t)(slash - path));
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}
#endif

/* Removes path when it holds exactly data[0..len): a copy that the
 * output just written makes redundant, not one that says more. */
static void
drop_copy(const char *path, const char *data, size_t len)
{
	char buf[65536];
	struct stat st;
	size_t off = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size != len) {
		close(fd);
		return;
	}
	while (off < len && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (size_t)n > len - off ||
		    memcmp(buf, data + off, (size_t)n) != 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	if (off == len)
		(void)unlink(path);
}

/* One flush for everything written so far; 0 or -errno. */
static int
flush_all(struct commit *cm, struct commit_item *batch)
{
	int fds[COMMIT_MAX_FS], n, i, rc = 0;

	pthread_mutex_lock(&cm->mu);
	n = cm->nfs;
	memcpy(fds, cm->fs_fd, (size_t)n * sizeof(*fds));
	pthread_mutex_unlock(&cm->mu);
#if defined(__linux__)
	(void)batch;
	for (i = 0; i < n; i++)
		if (syncfs(fds[i]) < 0 && rc == 0)
			rc = -errno;
#else
	for (; batch != NULL; batch = batch->next)
		if (batch->path != NULL && batch->rc == 0)
			fsync_path_and_dir(batch->path);
	for (i = 0; i < n; i++)
		(void)fsync(fds[i]);
	if (cm->j->fd >= 0 && fsync(cm->j->fd) < 0)
		rc = -errno;
#endif
	cm->flushes++;
	return rc;
}

/*
 * Creates path's temporary file; an fd or -errno.  The loop may hold every
 * descriptor the limit allows (its calls wait for one, see fdwait.h), so
 * the writer keeps a spare one to give up for this, and otherwise waits,
 * bounded, for a call to end and free one.
 */
static int
open_tmp(struct commit *cm, const char *path, char **tmp)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int fd, i;

	for (i = 0;; i++) {
		fd = write_file_open(path, tmp);
		if ((fd != -EMFILE && fd != -ENFILE) || i == COMMIT_FD_TRIES)
			return fd;
		if (cm->spare >= 0) {
			close(cm->spare);
			cm->spare = -1;
		} else
			(void)nanosleep(&ts, NULL);
	}
}

/* The length of path's directory part ("" for a bare name). */
static size_t
dir_len(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash == NULL ? 0 : (size_t)(slash - path);
}

/* Whether path is in the directory of the last file the writer noted;
 * writer thread only. */
static int
same_dir(const struct commit *cm, const char *path)
{
	size_t n = dir_len(path);

	return cm->last_dir != NULL && strlen(cm->last_dir) == n &&
	    memcmp(cm->last_dir, path, n) == 0;
}

static void
write_batch(struct commit *cm, struct commit_item *batch)
{
	struct commit_item *it;
	struct buf lines = BUF_INIT;
	char *tmp;
	dev_t dev = 0;
	int rc, fd, same, noted;

	for (it = batch; it != NULL; it = it->next) {
		if (it->path == NULL || it->rc < 0)
			continue;
		/* created here, not on the loop: making a file waits on the
		 * file system's journal, which the last flush keeps busy */
		fd = open_tmp(cm, it->path, &tmp);
		if (fd < 0) {
			it->rc = fd;
			continue;
		}
		/* a task's file is where the last one was (tasks/): its
		 * file system is noted already, no fstat for it */
		same = same_dir(cm, it->path);
		it->rc = write_file_finish(fd, tmp, it->path, it->data,
		    it->len, 0, same ? NULL : &dev);
		if (cm->spare < 0)
			cm->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (it->rc == 0 && !same) {
			pthread_mutex_lock(&cm->mu);
			noted = fs_add(cm, it->path, dev) == 0;
			pthread_mutex_unlock(&cm->mu);
			free(cm->last_dir);
			cm->last_dir = noted ? xstrndup(it->path,
			    dir_len(it->path)) : NULL;
		}
	}
	rc = flush_all(cm, batch);
	for (it = batch; it != NULL; it = it->next) {
		if (rc < 0 && it->rc == 0)
			it->rc = rc;
		if (it->rc == 0 && it->line != NULL) {
			buf_adds(&lines, it->line);
			buf_addc(&lines, '\n');
		}
	}
	/* the records after the flush: each names a file that is whole on
	 * disk; one write, O_APPEND, so no other line cuts into them (they
	 * are made durable by the next flush, or when the journal closes) */
	if (lines.len > 0 && cm->j->fd >= 0 &&
	    (rc = write_all(cm->j->fd, lines.data, lines.len)) < 0)
		for (it = batch; it != NULL; it = it->next)
			if (it->rc == 0 && it->line != NULL)
				it->rc = rc;
	buf_release(&lines);
	/* a reader of drop finds path whole, and its record, first */
	for (it = batch; it != NULL; it = it->next)
		if (it->rc == 0 && it->drop != NULL)
			drop_copy(it->drop, it->data, it->len);
}

static void *
writer(void *arg)
{
	struct commit *cm = arg;
	struct commit_item *batch;
	int jsync, stop;

	for (;;) {
		pthread_mutex_lock(&cm->mu);
		while (cm->todo == NULL && !cm->todo_jsync && !cm->stop)
			pthread_cond_wait(&cm->cv, &cm->mu);
		batch = cm->todo;
		jsync = cm->todo_jsync;
		stop = cm->stop;
		cm->todo = NULL;
		cm->todo_tail = &cm->todo;
		cm->todo_jsync = 0;
		pthread_mutex_unlock(&cm->mu);
		if (batch == NULL && !jsync && stop)
			break;
		if (batch != NULL)
			write_batch(cm, batch);
		else
			(void)flush_all(cm, NULL);
		if (batch == NULL)
			continue;
		pthread_mutex_lock(&cm->mu);
		*cm->done_tail = batch;
		while (batch->next != NULL)
			batch = batch->next;
		cm->done_tail = &batch->next;
		pthread_mutex_unlock(&cm->mu);
		loop_async_send(cm->loop, &cm->async);
	}
	return NULL;
}

/* --- the loop thread ---------------------------------------------------- */

static void
item_free(struct commit_item *it)
{
	free(it->path);
	free(it->line);
	free(it->drop);
	free(it);
}

/* Calls the done callbacks of what the writer finished. */
static void
reap(struct commit *cm)
{
	struct commit_item *list, *it;

	pthread_mutex_lock(&cm->mu);
	list = cm->done;
	cm->done = NULL;
	cm->done_tail = &cm->done;
	pthread_mutex_unlock(&cm->mu);
	while ((it = list) != NULL) {
		list = it->next;
		cm->out--;
		it->done(it->arg, it->rc);
		item_free(it);
	}
	if (cm->out == 0)
		loop_timer_stop(cm->loop, &cm->hold);
}

static void
on_async(struct loop *l, struct loop_async *a)
{
	(void)l;
	reap(a->data);
}

static void
on_hold(struct loop *l, struct loop_timer *t)
{
	loop_timer_start(l, t, 3600 * 1000, on_hold, t->data);
}

/* The end of the turn: what it queued goes to the writer. */
static void
hand_over(struct commit *cm)
{
	struct commit_item *it;

	cm->turn_armed = 0;
	/* the turn's pending journal lines first, in one write: a task's
	 * start and its agent's end come before the record of its output */
	if (cm->j->npending > 0) {
		int rc = journal_flush(cm->j);

		if (rc < 0)
			log_warnx("cannot write '%s': %s", cm->j->path,
			    strerror(-rc));
	}
	if (cm->turn == NULL && !cm->turn_jsync)
		return;
	pthread_mutex_lock(&cm->mu);
	if (cm->turn != NULL) {
		*cm->todo_tail = cm->turn;
		for (it = cm->turn; it->next != NULL; it = it->next)
			;
		cm->todo_tail = &it->next;
	}
	cm->todo_jsync |= cm->turn_jsync;
	pthread_cond_signal(&cm->cv);
	pthread_mutex_unlock(&cm->mu);
	cm->turn = NULL;
	cm->turn_tail = &cm->turn;
	cm->turn_jsync = 0;
}

static void
on_turn(struct loop *l, struct loop_timer *t)
{
	(void)l;
	hand_over(t->data);
}

static void
arm(struct commit *cm)
{
	if (cm->turn_armed)
		return;
	cm->turn_armed = 1;
	loop_timer_start(cm->loop, &cm->turn_timer, 0, on_turn, cm);
}

static void
want_jsync(void *arg)
{
	struct commit *cm = arg;

	cm->turn_jsync = 1;
	arm(cm);
}

static void
want_turn(void *arg)
{
	arm(arg);
}

static void
close_spare(struct commit *cm)
{
	if (cm->spare >= 0)
		close(cm->spare);
	cm->spare = -1;
}

int
commit_start(struct commit *cm, struct loop *loop, struct journal *j)
{
	sigset_t all, old;
	struct stat st;
	int rc;

	memset(cm, 0, sizeof(*cm));
	cm->loop = loop;
	cm->j = j;
	cm->turn_tail = &cm->turn;
	cm->todo_tail = &cm->todo;
	cm->done_tail = &cm->done;
	cm->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pthread_mutex_init(&cm->mu, NULL);
	pthread_cond_init(&cm->cv, NULL);
	/* the journal's own file system is flushed for journal_append */
	if (j->fd >= 0 && fstat(j->fd, &st) == 0)
		fs_add(cm, j->path, st.st_dev);
	rc = loop_async_start(loop, &cm->async, on_async, cm);
	if (rc < 0) {
		close_spare(cm);
		return rc;
	}
	/* the writer takes no signal: they are the loop's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&cm->th, NULL, writer, cm);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		loop_async_stop(loop, &cm->async);
		close_spare(cm);
		return rc;
	}
	cm->started = 1;
	j->sync = want_jsync;
	j->later = want_turn;
	j->sync_arg = cm;
	return 0;
}

void
commit_stop(struct commit *cm)
{
	int i;

	if (!cm->started)
		return;
	loop_timer_stop(cm->loop, &cm->turn_timer);
	hand_over(cm);
	pthread_mutex_lock(&cm->mu);
	cm->stop = 1;
	pthread_cond_signal(&cm->cv);
	pthread_mutex_unlock(&cm->mu);
	pthread_join(cm->th, NULL);
	reap(cm);
	loop_timer_stop(cm->loop, &cm->hold);
	loop_async_stop(cm->loop, &cm->async);
	cm->j->sync = NULL;
	cm->j->later = NULL;
	cm->j->sync_arg = NULL;
	for (i = 0; i < cm->nfs; i++)
		close(cm->fs_fd[i]);
	free(cm->last_dir);
	cm->last_dir = NULL;
	close_spare(cm);
	pthread_mutex_destroy(&cm->mu);
	pthread_cond_destroy(&cm->cv);
	cm->started = 0;
}

void
commit_output(struct commit *cm, const char *path, const void *data,
    size_t len, char *line, const char *drop,
    void (*done)(void *arg, int rc), void *arg)
{
	struct commit_item *it;
	int rc;

	if (!cm->started) {
		/* no writer: as before, at once and fsync'd */
		rc = write_file_atomic(path, data, len);
		if (rc == 0 && line != NULL && cm->j != NULL &&
		    cm->j->fd >= 0) {
			struct buf b = BUF_INIT;

			buf_adds(&b, line);
			buf_addc(&b, '\n');
			rc = write_all(cm->j->fd, b.data, b.len);
			if (rc == 0 && fsync(cm->j->fd) < 0)
				rc = -errno;
			buf_release(&b);
		}
		if (rc == 0 && drop != NULL)
			drop_copy(drop, data, len);
		free(line);
		done(arg, rc);
		return;
	}
	it = xcalloc(1, sizeof(*it));
	it->path = xstrdup(path);
	it->data = data;
	it->len = len;
	it->line = line;
	it->drop = drop != NULL ? xstrdup(drop) : NULL;
	it->done = done;
	it->arg = arg;
	*cm->turn_tail = it;
	cm->turn_tail = &it->next;
	if (cm->out++ == 0)
		loop_timer_start(cm->loop, &cm->hold, 3600 * 1000, on_hold,
		    cm);
	arm(cm);
}

int
commit_write(struct commit *cm, const char *path, const void *data,
    size_t len)
{
#if defined(__linux__)
	dev_t dev;
	int rc;

	if (!cm->started)
		return write_file_atomic(path, data, len);
	rc = write_file_replace(path, data, len, &dev);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&cm->mu);
	fs_add(cm, path, dev);
	pthread_mutex_unlock(&cm->mu);
	want_jsync(cm);
	return 0;
#else
	/* the writer's flush covers only the files it wrote itself */
	(void)cm;
	return write_file_atomic(path, data, len);
#endif
}
