#include "runlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "drove/plugin.h"
#include "util.h"

/* The pid written in the lock file at fd, or 0. */
static long
read_pid(int fd)
{
	char buf[32];
	ssize_t n;
	long pid;
	char *end;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	if (end == buf || pid <= 0)
		return 0;
	return pid;
}

static int
open_lock(const char *dir, int flags)
{
	char *path = xasprintf("%s/lock", dir);
	int fd;

	/* a link planted at the lock's name is not followed */
	fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC, 0644);
	free(path);
	return fd < 0 ? -errno : fd;
}

int
runlock_take(struct runlock *l, const char *dir, long *owner, char *err,
    size_t errlen)
{
	char line[32];
	int fd, n, rc;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	*owner = 0;
	fd = open_lock(dir, O_RDWR | O_CREAT);
	if (fd < 0) {
		errf(err, errlen, "cannot open '%s/lock': %s", dir,
		    strerror(-fd));
		return DROVE_EIO;
	}
	/* a few tries: `drove report` holds a shared lock for an instant */
	for (int tries = 0; tries < 10; tries++) {
		rc = flock(fd, LOCK_EX | LOCK_NB);
		if (rc == 0 || (errno != EINTR && errno != EWOULDBLOCK))
			break;
		if (errno == EWOULDBLOCK)
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	if (rc < 0) {
		int e = errno;

		*owner = read_pid(fd);
		close(fd);
		if (e == EWOULDBLOCK) {
			if (*owner > 0)
				errf(err, errlen, "run '%s' is in progress in "
				    "drove pid %ld; wait for it to end, or "
				    "stop it (kill %ld), before resuming",
				    dir, *owner, *owner);
			else
				errf(err, errlen, "run '%s' is in progress in "
				    "another drove; wait for it to end before "
				    "resuming", dir);
			return DROVE_ECONFLICT;
		}
		errf(err, errlen, "cannot lock '%s/lock': %s", dir,
		    strerror(e));
		return DROVE_EIO;
	}
	l->prev_pid = read_pid(fd);
	n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, line, (size_t)n, 0) != n) {
		errf(err, errlen, "cannot write '%s/lock': %s", dir,
		    strerror(errno));
		close(fd);
		return DROVE_EIO;
	}
	l->fd = fd;
	l->held = 1;
	return 0;
}

void
runlock_release(struct runlock *l)
{
	if (!l->held)
		return;
	/* closing drops the lock; the pid stays as the last owner's */
	close(l->fd);
	l->fd = -1;
	l->held = 0;
}

int
runlock_owner(const char *dir, long *pid)
{
	int fd, rc;

	*pid = 0;
	fd = open_lock(dir, O_RDONLY);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	/* a shared lock is refused only while an owner holds it; taken, it
	 * is dropped at once */
	while ((rc = flock(fd, LOCK_SH | LOCK_NB)) < 0 && errno == EINTR)
		;
	if (rc == 0) {
		close(fd);
		return 0;
	}
	if (errno != EWOULDBLOCK) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*pid = read_pid(fd);
	close(fd);
	return 1;
}
