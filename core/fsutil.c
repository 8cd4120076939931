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


int
fs_copy_tree(const char *src, const char *dst)
{
	struct stat st;
	char *parent = xstrdup(dst), *slash = strrchr(parent, '/');
	int rc = 0;

	if (slash != NULL) {
		*slash = '\0';
		rc = mkdir_p(parent, 0777);
	}
	free(parent);
	if (rc < 0)
		return rc;
	if (lstat(src, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof(target) - 1);

		if (n < 0)
			return -errno;
		target[n] = '\0';
		(void)unlink(dst);
		return symlink(target, dst) < 0 ? -errno : 0;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *d;
		struct dirent *de;

		if (mkdir(dst, st.st_mode & 07777) < 0 && errno != EEXIST)
			return -errno;
		if ((d = opendir(src)) == NULL)
			return -errno;
		while (rc == 0 && (de = readdir(d)) != NULL) {
			char *s, *t;

			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			s = xasprintf("%s/%s", src, de->d_name);
			t = xasprintf("%s/%s", dst, de->d_name);
			rc = fs_copy_tree(s, t);
			free(s);
			free(t);
		}
		closedir(d);
		return rc;
	}
	if (!S_ISREG(st.st_mode))
		return 0;
	char *data;
	size_t len;
	int fd;

	if ((rc = read_file(src, &data, &len)) < 0)
		return rc;
	fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    st.st_mode & 07777);
	if (fd < 0)
		rc = -errno;
	else {
		rc = write_all(fd, data, len);
		if (close(fd) < 0 && rc == 0)
			rc = -errno;
	}
	free(data);
	return rc;
}
