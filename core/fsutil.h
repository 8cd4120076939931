/*
 * Small file-system helpers: whether a path exists, whether a relative
 * path stays below its directory, copying a tree, removing one.
 */
#ifndef DROVE_FSUTIL_H
#define DROVE_FSUTIL_H

/* True when p exists (a dangling symbolic link counts). */
int fs_exists(const char *p);

/* True for a relative path that stays below the directory it is in: not
 * empty, not absolute, no ".." component. */
int fs_path_inside(const char *p);

/*
 * Copies a file, a symbolic link (as a link) or a directory tree from src
 * to root/rel, creating the directories on rel's way; other file types
 * are skipped.  Below root nothing is written through a symbolic link:
 * each directory on the way and each file written is opened without
 * following one (-ELOOP), a file with other hard links is not written
 * into (-EMLINK), nor is anything but a regular file (-EEXIST); a link at
 * a copied link's place is replaced.  root itself is trusted.  Returns 0
 * or -errno.
 */
int fs_copy_into(const char *src, const char *root, const char *rel);

/*
 * Removes the directory path and everything below it, as rm -rf would,
 * never following a symbolic link (a link is removed, not what it names)
 * and descending at most 64 directories (-ELOOP beyond, the rest kept).
 * Returns 0 or the first -errno; what could be removed is.
 */
int fs_remove_tree(const char *path);

#endif /* DROVE_FSUTIL_H */
