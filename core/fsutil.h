/*
 * Small file-system helpers: whether a path exists, whether a relative
 * path stays below its directory, copying a tree.
 */
#ifndef DROVE_FSUTIL_H
#define DROVE_FSUTIL_H

/* True when p exists (a dangling symbolic link counts). */
int fs_exists(const char *p);

/* True for a relative path that stays below the directory it is in: not
 * empty, not absolute, no ".." component. */
int fs_path_inside(const char *p);

/* Copies a file, a symbolic link (as a link) or a directory tree from src
 * to dst, creating dst's parents; other file types are skipped.  Returns
 * 0 or -errno. */
int fs_copy_tree(const char *src, const char *dst);

#endif /* DROVE_FSUTIL_H */
