/*
 * Small file-system helpers of worktree isolation.  See fsutil.h.
 */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int
fs_exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

int
fs_path_inside(const char *p)
{
	const char *s = p;

	if (*p == '\0' || *p == '/')
		return 0;
	while (*s) {
		size_t n = strcspn(s, "/");

		if (n == 2 && s[0] == '.' && s[1] == '.')
			return 0;
		s += n;
		while (*s == '/')
			s++;
	}
	return 1;
}


/* Opens the directory name below dfd, never through a symbolic link
 * (-ELOOP).  Returns a descriptor or -errno. */
static int
open_subdir(int dfd, const char *name)
{
	struct stat st;
	int fd, e;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd >= 0)
		return fd;
	e = errno;
	if (e == ENOTDIR && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		return -ELOOP;
	return -e;
}

/* Opens, below the directory dfd, the directory rel names (components
 * separated by '/'; "" is dfd itself), one component at a time, each a
 * real directory and never a symbolic link, creating those missing.
 * Returns a new descriptor or -errno (-ELOOP or -ENOTDIR for a link). */
static int
open_dirs_at(int dfd, const char *rel)
{
	char *p = xstrdup(rel), *c = p, *slash;
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0), nfd;

	if (fd < 0)
		fd = -errno;

	while (fd >= 0 && c != NULL) {
		if ((slash = strchr(c, '/')) != NULL)
			*slash = '\0';
		if (*c != '\0' && strcmp(c, ".") != 0) {
			if (mkdirat(fd, c, 0777) < 0 && errno != EEXIST)
				nfd = -errno;
			else
				nfd = open_subdir(fd, c);
			close(fd);
			fd = nfd;
		}
		c = slash != NULL ? slash + 1 : NULL;
	}
	free(p);
	return fd;
}

/* Writes the regular file src as name in the directory dfd: never
 * through a link (-ELOOP), nor into a file with other hard links
 * (-EMLINK) or one that is not a regular file (-EEXIST). */
static int
copy_file_at(const char *src, mode_t mode, int dfd, const char *name)
{
	struct stat st;
	char *data;
	size_t len;
	int fd, rc;

	if ((rc = read_file(src, &data, &len)) < 0)
		return rc;
	/* not truncated before it is known to be ours alone; O_NONBLOCK:
	 * a FIFO planted there does not hang the open */
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC, mode);
	if (fd < 0)
		rc = errno == ENXIO ? -EEXIST : -errno;
	else if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode))
		rc = -EEXIST;
	else if (st.st_nlink > 1)
		rc = -EMLINK;
	else if (ftruncate(fd, 0) < 0)
		rc = -errno;
	else
		rc = write_all(fd, data, len);
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = -errno;
	free(data);
	return rc;
}

/* Copies src as name in the directory dfd. */
static int
copy_at(const char *src, int dfd, const char *name)
{
	struct stat st;
	int rc = 0;

	if (lstat(src, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof(target) - 1);

		if (n < 0)
			return -errno;
		target[n] = '\0';
		/* a link there is replaced, never followed */
		(void)unlinkat(dfd, name, 0);
		return symlinkat(target, dfd, name) < 0 ? -errno : 0;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *d;
		struct dirent *de;
		int sub;

		if (mkdirat(dfd, name, st.st_mode & 07777) < 0 &&
		    errno != EEXIST)
			return -errno;
		if ((sub = open_subdir(dfd, name)) < 0)
			return sub;
		if ((d = opendir(src)) == NULL) {
			rc = -errno;
			close(sub);
			return rc;
		}
		while (rc == 0 && (de = readdir(d)) != NULL) {
			char *s;

			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			s = xasprintf("%s/%s", src, de->d_name);
			rc = copy_at(s, sub, de->d_name);
			free(s);
		}
		closedir(d);
		close(sub);
		return rc;
	}
	if (!S_ISREG(st.st_mode))
		return 0;
	return copy_file_at(src, st.st_mode & 07777, dfd, name);
}

int
fs_copy_into(const char *src, const char *root, const char *rel)
{
	const char *base = strrchr(rel, '/');
	char *dirs = base ? xstrndup(rel, (size_t)(base - rel)) : xstrdup("");
	int rootfd, dfd, rc;

	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		free(dirs);
		return -errno;
	}
	dfd = open_dirs_at(rootfd, dirs);
	close(rootfd);
	free(dirs);
	if (dfd < 0)
		return dfd;
	rc = copy_at(src, dfd, base ? base + 1 : rel);
	close(dfd);
	return rc;
}

/* Empties the directory dfd (taken over and closed), depth levels deep
 * at most. */
static int
empty_dir(int dfd, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int rc = 0;

	if (d == NULL) {
		rc = -errno;
		close(dfd);
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		int sub, e;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = rc ? rc : -errno;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (depth <= 0) {
				rc = rc ? rc : -ELOOP;
				continue;
			}
			sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			e = sub < 0 ? -errno : empty_dir(sub, depth - 1);
			if (e == 0 && unlinkat(dfd, de->d_name, AT_REMOVEDIR) <
			    0)
				e = -errno;
		} else {
			e = unlinkat(dfd, de->d_name, 0) < 0 ? -errno : 0;
		}
		rc = rc ? rc : e;
	}
	closedir(d);
	return rc;
}

int
fs_remove_tree(const char *path)
{
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc;

	if (dfd < 0)
		return -errno;
	rc = empty_dir(dfd, 64);
	if (rc == 0 && rmdir(path) < 0)
		rc = -errno;
	return rc;
}
