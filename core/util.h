/*
 * Small helpers every part of the core uses: allocation that never returns
 * NULL, a growable byte buffer, logging in the style of OpenBSD's log.c, and
 * string utilities.
 */
#ifndef DROVE_UTIL_H
#define DROVE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation: abort with a message on out-of-memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new allocation. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable buffer, always NUL-terminated when len > 0 or after buf_str. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};
#define BUF_INIT { NULL, 0, 0 }
void buf_init(struct buf *b);
void buf_release(struct buf *b);
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Returns the contents as a C string (never NULL). */
const char *buf_str(struct buf *b);
/* Hands the storage over to the caller (never NULL); b is reset. */
char *buf_detach(struct buf *b, size_t *len);
void buf_reset(struct buf *b);

/* Logging to stderr.  Levels: 0 quiet, 1 normal, 2 verbose (debug). */
extern int log_verbosity;
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* hook(arg, 1) runs before each log line is written to stderr and
 * hook(arg, 0) after it (the live view steps aside); NULL: none. */
void log_set_hook(void (*hook)(void *arg, int before), void *arg);
/* Start-up only: print and exit(2). */
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* Writes an error message into err (may be NULL) like snprintf. */
void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Monotonic and wall-clock time in seconds. */
double now_mono(void);
double now_wall(void);

/* Reads a whole file into a new allocation (NUL-terminated).  Returns 0 or
 * -errno. */
int read_file(const char *path, char **data, size_t *len);
/* read_file, but a symbolic link at path is not followed (-ELOOP). */
int read_file_nofollow(const char *path, char **data, size_t *len);
/* Writes data to path atomically: a new temporary file beside it (see
 * open_tmp_beside), fsync, rename over path, fsync dir.  A link at path is
 * replaced, never written through.  Creates missing parent directories.
 * Returns 0 or -errno. */
int write_file_atomic(const char *path, const void *data, size_t len);
/* write_file_atomic without the two fsyncs (a later flush makes it
 * durable); *dev (unless NULL) is the file system it is on. */
int write_file_replace(const char *path, const void *data, size_t len,
    dev_t *dev);
/* write_file_atomic in two steps: the temporary file beside path (its
 * directory made when missing; fd returned, name in *tmp), then
 * write_file_finish, which writes data, fsyncs when sync is set, closes
 * fd, renames it over path and frees tmp (unlinking it on failure). */
int write_file_open(const char *path, char **tmp);
int write_file_finish(int fd, char *tmp, const char *path, const void *data,
    size_t len, int sync, dev_t *dev);
/* write_file_atomic, but never over anything at path (-EEXIST): the
 * same unpredictable temporary file (write_file_open), then linked into
 * place. */
int write_file_new(const char *path, const void *data, size_t len);
/* Creates "PATH.tmp.XXXXXXXXXXXX" (12 unpredictable characters) with
 * O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, mode 0666 less the umask, and returns
 * its write-only fd with the name in *tmp (the caller frees it, and unlinks
 * or renames the file); or -errno with *tmp NULL. */
int open_tmp_beside(const char *path, char **tmp);
/* mkdir -p; returns 0 or -errno.  A path that exists costs one mkdir. */
int mkdir_p(const char *path, int mode);
/* Writes all of data to fd, retrying on EINTR; 0 or -errno. */
int write_all(int fd, const void *data, size_t len);

/* True if s is a valid task or backend name: [A-Za-z0-9_.-]+ */
int valid_name(const char *s);
/* Value of hex digit c, or -1. */
int hex_digit(int c);
/* Trims ASCII whitespace in place and returns s. */
char *strtrim(char *s);
/* Splits a comma-separated list into trimmed, non-empty items.  Returns
 * the count; *items is a NULL-ended array to free with strv_free. */
size_t strv_split(const char *s, char sep, char ***items);
void strv_free(char **v);
size_t strv_len(char *const *v);

/* Largest task or prompt file drove reads (16 MiB). */
#define DROVE_FILE_MAX ((size_t)16 << 20)
/*
 * Reads the file at path into a new allocation (NUL-terminated), at most
 * max bytes.  With regular set, only a regular file (a FIFO or device is
 * opened without blocking and refused).  Returns 0, -errno, -EFBIG when
 * the file holds more than max bytes, -EINVAL when regular is set and the
 * file is not a regular file.
 */
int read_file_max(const char *path, size_t max, int regular, char **data,
    size_t *len);
/*
 * The absolute form of path (relative: to the working directory) with the
 * links of the part that exists resolved and the rest as written.  NULL
 * when it cannot be resolved or a ".." follows a missing directory.  The
 * caller frees.
 */
char *path_resolve(const char *path);
/* True if the resolved path is dir or below it (dir's links resolved). */
int path_under(const char *resolved, const char *dir);

/*
 * A JSON string of text drove did not create (task output, errors, stderr
 * excerpts, paths): bytes that are not valid UTF-8 become U+FFFD, one for
 * each maximal invalid subpart, so the text is never dropped.  NULL gives
 * JSON null.  A new reference (jansson's json_t), never NULL.
 */
struct json_t *json_text(const char *s, size_t len);
/* The same for a C string. */
struct json_t *json_texts(const char *s);
/* s[0..len) with the same replacements, NUL-terminated, in a new
 * allocation (free); its length in *outlen when outlen is set.  NULL s
 * gives "".  Behind the host table's utf8_lossy. */
char *utf8_lossy(const char *s, size_t len, size_t *outlen);

/*
 * A duration: a number of seconds with an optional unit, "90", "90s",
 * "1.5m", "5m", "1h", "7d".  Returns 0 and the seconds in *out, or -1
 * when s is not one (empty, blanks, negative, not finite, unknown unit).
 */
int parse_duration(const char *s, double *out);

/*
 * A size: a number of bytes with an optional unit K, M, G or T (powers of
 * 1024, either case), "1048576", "512M", "1.5G".  Returns 0 and the bytes
 * (rounded down) in *out, or -1 when s is not one.
 */
int parse_size(const char *s, uint64_t *out);

#endif /* DROVE_UTIL_H */
