#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsondump.h"
#include "util.h"

int
journal_open(struct journal *j, const char *path)
{
	char last;

	/* every hook and buffer starts unset, whatever j held */
	memset(j, 0, sizeof(*j));
	j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (j->fd < 0)
		return -errno;
	/* a torn last line (killed mid-write) is closed off so the next
	 * event starts on a line of its own */
	if (pread(j->fd, &last, 1, lseek(j->fd, 0, SEEK_END) - 1) == 1 &&
	    last != '\n')
		(void)write_all(j->fd, "\n", 1);
	j->path = xstrdup(path);
	return 0;
}

int
journal_flush(struct journal *j)
{
	int rc = 0;

	if (j->npending == 0)
		return 0;
	/* one write: with O_APPEND the lines are never interleaved */
	if (j->fd >= 0)
		rc = write_all(j->fd, j->pending, j->npending);
	j->npending = 0;
	return rc;
}

static void
add_pending(struct journal *j, const char *line, size_t len)
{
	if (j->npending + len > j->cpending) {
		j->cpending = (j->npending + len) * 2 + 256;
		j->pending = xrealloc(j->pending, j->cpending);
	}
	memcpy(j->pending + j->npending, line, len);
	j->npending += len;
}

void
journal_close(struct journal *j)
{
	(void)journal_flush(j);
	free(j->pending);
	j->pending = NULL;
	j->cpending = 0;
	if (j->fd >= 0) {
		(void)fsync(j->fd);
		close(j->fd);
	}
	j->fd = -1;
	free(j->path);
	j->path = NULL;
}

int
journal_append(struct journal *j, json_t *ev, int flags)
{
	int sync = flags & JOURNAL_SYNC;
	char *line;
	size_t len;
	int rc;

	if (j->tap != NULL)
		j->tap(j->tap_arg, ev);
	line = jsondump_line(ev, JSON_COMPACT | JSON_PRESERVE_ORDER, &len);
	json_decref(ev);
	if (line == NULL)
		return -ENOMEM;
	if ((flags & JOURNAL_LATER) && j->sync != NULL) {
		/* the end of the turn writes it, with the turn's others */
		add_pending(j, line, len);
		free(line);
		if (sync)
			j->sync(j->sync_arg);
		else if (j->later != NULL)
			j->later(j->sync_arg);
		return 0;
	}
	if (j->npending > 0) {
		add_pending(j, line, len);
		free(line);
		rc = journal_flush(j);
	} else {
		/* one write: with O_APPEND a line is never interleaved */
		rc = write_all(j->fd, line, len);
		free(line);
	}
	if (rc == 0 && sync && j->sync != NULL)
		j->sync(j->sync_arg);
	else if (rc == 0 && sync && fsync(j->fd) < 0)
		rc = -errno;
	return rc;
}

int
journal_replay(const char *path, void (*fn)(json_t *ev, void *arg),
    void *arg, int *torn)
{
	char *data, *p, *nl;
	size_t len;
	int rc;

	if (torn)
		*torn = 0;
	rc = read_file(path, &data, &len);
	if (rc < 0)
		return rc;
	for (p = data; p < data + len; p = nl + 1) {
		json_error_t e;
		json_t *ev;

		nl = memchr(p, '\n', (size_t)(data + len - p));
		if (nl == NULL) {
			if (torn)
				(*torn)++;
			break;
		}
		if (nl == p)
			continue;
		ev = json_loadb(p, (size_t)(nl - p), 0, &e);
		if (ev == NULL || !json_is_object(ev)) {
			if (torn)
				(*torn)++;
			json_decref(ev);
			continue;
		}
		fn(ev, arg);
		json_decref(ev);
	}
	free(data);
	return 0;
}
