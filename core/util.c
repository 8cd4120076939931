#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#if defined(__linux__)
#include <sys/random.h>
#endif
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../plugins/plugin_util.h"

int log_verbosity = 1;

static void __attribute__((noreturn))
oom(size_t n)
{
	fprintf(stderr, "drove: out of memory allocating %zu bytes\n", n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom(n * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom(n);
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return buf_detach(&b, NULL);
}

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void
buf_grow(struct buf *b, size_t extra)
{
	size_t want;

	if (extra > SIZE_MAX - b->len - 1)
		oom(SIZE_MAX);
	want = b->len + extra + 1;
	if (want <= b->cap)
		return;
	if (b->cap && want < b->cap * 2)
		want = b->cap * 2;
	if (want < 64)
		want = 64;
	b->data = xrealloc(b->data, want);
	b->cap = want;
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	buf_grow(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

const char *
buf_str(struct buf *b)
{
	if (b->data == NULL)
		buf_grow(b, 0), b->data[0] = '\0';
	return b->data;
}

char *
buf_detach(struct buf *b, size_t *len)
{
	char *p;

	buf_str(b);
	p = b->data;
	if (len)
		*len = b->len;
	buf_init(b);
	return p;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static void (*log_hook)(void *arg, int before);
static void *log_hook_arg;

void
log_set_hook(void (*hook)(void *arg, int before), void *arg)
{
	log_hook = hook;
	log_hook_arg = arg;
}

static void
vlog(const char *prefix, int with_errno, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;
	int saved = errno;

	buf_adds(&b, "drove: ");
	if (prefix)
		buf_adds(&b, prefix);
	buf_vprintf(&b, fmt, ap);
	if (with_errno)
		buf_printf(&b, ": %s", strerror(saved));
	buf_addc(&b, '\n');
	if (log_hook != NULL)
		log_hook(log_hook_arg, 1);
	/* one write per line so lines from parallel writers never mix */
	(void)write_all(STDERR_FILENO, b.data, b.len);
	if (log_hook != NULL)
		log_hook(log_hook_arg, 0);
	buf_release(&b);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(NULL, 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(NULL, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < 1)
		return;
	va_start(ap, fmt);
	vlog(NULL, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < 2)
		return;
	va_start(ap, fmt);
	vlog("debug: ", 0, fmt, ap);
	va_end(ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(NULL, 0, fmt, ap);
	va_end(ap);
	exit(2);
}

void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
now_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_file_flags(const char *path, int flags, char **data,
    size_t *len);

int
read_file(const char *path, char **data, size_t *len)
{
	return read_file_flags(path, 0, data, len);
}

int
read_file_nofollow(const char *path, char **data, size_t *len)
{
	return read_file_flags(path, O_NOFOLLOW, data, len);
}

static int
read_file_flags(const char *path, int flags, char **data, size_t *len)
{
	struct buf b = BUF_INIT;
	char chunk[65536];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | flags);
	if (fd < 0)
		return -errno;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			buf_release(&b);
			return -e;
		}
		if (n == 0)
			break;
		buf_add(&b, chunk, (size_t)n);
	}
	close(fd);
	*data = buf_detach(&b, len);
	return 0;
}

int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
mkdir_p(const char *path, int mode)
{
	const char *slash;
	char *parent;
	int rc;

	/* the deepest first: only the missing directories are made, and
	 * one that exists costs one call */
	if (mkdir(path, (mode_t)mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -errno;
	slash = strrchr(path, '/');
	while (slash != NULL && slash > path && slash[-1] == '/')
		slash--;
	if (slash == NULL || slash == path)
		return -ENOENT;
	parent = xstrndup(path, (size_t)(slash - path));
	rc = mkdir_p(parent, mode);
	free(parent);
	if (rc < 0)
		return rc;
	if (mkdir(path, (mode_t)mode) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

static void
fsync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, (size_t)(slash - path)) :
	    xstrdup(".");
	int fd;

	if (*dir == '\0') {
		free(dir);
		dir = xstrdup("/");
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

/* Fills buf with n unpredictable bytes: the kernel's generator, else
 * /dev/urandom, else a mix of clocks and the pid (the name then is merely
 * unusual; O_EXCL still keeps the open safe). */
static void
fill_random(unsigned char *buf, size_t n)
{
	static unsigned long salt;
	size_t got = 0;
	int fd;

#if defined(__linux__)
	while (got < n) {
		ssize_t k = getrandom(buf + got, n - got, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
#elif defined(__APPLE__) || defined(__FreeBSD__) || \
    defined(__OpenBSD__) || defined(__NetBSD__)
	arc4random_buf(buf, n);
	got = n;
#endif
	if (got < n && (fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) >= 0) {
		while (got < n) {
			ssize_t k = read(fd, buf + got, n - got);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			got += (size_t)k;
		}
		close(fd);
	}
	for (; got < n; got++) {
		unsigned long x = (unsigned long)(now_mono() * 1e9) ^
		    ((unsigned long)getpid() << 16) ^ (++salt * 2654435761UL);

		buf[got] = (unsigned char)(x >> (got % 4 * 8));
	}
}

int
open_tmp_beside(const char *path, char **tmp)
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	/* drawn from the kernel 240 bytes at a time, per thread: the group
	 * commit's writer makes a file per task */
	static _Thread_local unsigned char pool[240];
	static _Thread_local size_t left;
	unsigned char *rnd;
	char sfx[12 + 1];
	int fd, tries;

	for (tries = 0; tries < 100; tries++) {
		if (left < 12) {
			fill_random(pool, sizeof(pool));
			left = sizeof(pool);
		}
		left -= 12;
		rnd = pool + left;
		for (size_t i = 0; i < 12; i++)
			sfx[i] = set[rnd[i] % (sizeof(set) - 1)];
		sfx[12] = '\0';
		*tmp = xasprintf("%s.tmp.%s", path, sfx);
		fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0666);
		if (fd >= 0)
			return fd;
		free(*tmp);
		*tmp = NULL;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int
write_file_open(const char *path, char **tmp)
{
	const char *slash = strrchr(path, '/');
	int fd, rc;

	/* an unpredictable name, created here and now: a link planted at a
	 * guessable name is never followed */
	fd = open_tmp_beside(path, tmp);
	if (fd != -ENOENT || slash == NULL || slash == path)
		return fd;
	{
		char *dir = xstrndup(path, (size_t)(slash - path));

		rc = mkdir_p(dir, 0777);
		free(dir);
	}
	if (rc < 0)
		return rc;
	return open_tmp_beside(path, tmp);
}

int
write_file_finish(int fd, char *tmp, const char *path, const void *data,
    size_t len, int sync, dev_t *dev)
{
	struct stat st;
	int rc;

	rc = write_all(fd, data, len);
	if (rc == 0 && sync && fsync(fd) < 0)
		rc = -errno;
	if (rc == 0 && dev != NULL) {
		if (fstat(fd, &st) < 0)
			rc = -errno;
		else
			*dev = st.st_dev;
	}
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	/* rename replaces a link at path; it never writes through it */
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	else if (sync)
		fsync_dir_of(path);
	free(tmp);
	return rc;
}

static int
write_beside(const char *path, const void *data, size_t len, int sync,
    dev_t *dev)
{
	char *tmp;
	int fd;

	fd = write_file_open(path, &tmp);
	if (fd < 0)
		return fd;
	return write_file_finish(fd, tmp, path, data, len, sync, dev);
}

int
write_file_atomic(const char *path, const void *data, size_t len)
{
	return write_beside(path, data, len, 1, NULL);
}

int
write_file_replace(const char *path, const void *data, size_t len,
    dev_t *dev)
{
	return write_beside(path, data, len, 0, dev);
}

int
write_file_new(const char *path, const void *data, size_t len)
{
	struct stat st;
	char *tmp;
	int fd, rc;

	/* the same unpredictable temporary file as write_file_atomic */
	if ((fd = write_file_open(path, &tmp)) < 0)
		return fd;
	rc = write_all(fd, data, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	/* link never replaces what is at path, and never follows it */
	if (rc == 0 && link(tmp, path) < 0) {
		rc = -errno;
		/* file systems without hard links: check, then rename */
		if (rc != -EEXIST && lstat(path, &st) < 0 && errno == ENOENT)
			rc = rename(tmp, path) < 0 ? -errno : 0;
	}
	(void)unlink(tmp);
	if (rc == 0)
		fsync_dir_of(path);
	free(tmp);
	return rc;
}

int
valid_name(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		    c == '-'))
			return 0;
	}
	return 1;
}

int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f';
}

char *
strtrim(char *s)
{
	char *e;

	while (is_space(*s))
		s++;
	e = s + strlen(s);
	while (e > s && is_space(e[-1]))
		*--e = '\0';
	return s;
}

size_t
strv_split(const char *s, char sep, char ***items)
{
	size_t n = 0, cap = 1;
	const char *p;
	char **v;

	/* one array, one copy per item: lists like after = run to
	 * thousands of tasks */
	for (p = s; p && *p; p++)
		cap += *p == sep;
	v = xcalloc(cap + 1, sizeof(*v));
	for (p = s; p && *p;) {
		const char *e = strchr(p, sep), *b = p, *end;

		end = e ? e : p + strlen(p);
		while (b < end && is_space(*b))
			b++;
		while (end > b && is_space(end[-1]))
			end--;
		if (end > b)
			v[n++] = xstrndup(b, (size_t)(end - b));
		p = e ? e + 1 : NULL;
	}
	*items = v;
	return n;
}

void
strv_free(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t
strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

int
read_file_max(const char *path, size_t max, int regular, char **data,
    size_t *len)
{
	struct buf b = BUF_INIT;
	char chunk[65536];
	struct stat st;
	ssize_t n;
	int fd, e;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	fd = open(path, O_RDONLY | O_CLOEXEC | (regular ? O_NONBLOCK : 0));
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	if (regular && !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			close(fd);
			buf_release(&b);
			return -e;
		}
		if (n == 0)
			break;
		/* the file may grow after fstat, or be no regular file */
		if ((size_t)n > max - b.len) {
			close(fd);
			buf_release(&b);
			return -EFBIG;
		}
		buf_add(&b, chunk, (size_t)n);
	}
	close(fd);
	*data = buf_detach(&b, len);
	return 0;
}

char *
path_resolve(const char *path)
{
	char *abs, *head, *real, *slash, *out;
	const char *tail, *c;
	size_t n;

	if (*path == '\0')
		return NULL;
	if (path[0] == '/')
		abs = xstrdup(path);
	else {
		char *cwd = getcwd(NULL, 0);

		if (cwd == NULL)
			return NULL;
		abs = xasprintf("%s/%s", cwd, path);
		free(cwd);
	}
	/* the longest part that exists, resolved; the rest as written */
	head = xstrdup(abs);
	while ((real = realpath(head, NULL)) == NULL) {
		if (errno != ENOENT && errno != ENOTDIR) {
			free(head);
			free(abs);
			return NULL;
		}
		slash = strrchr(head, '/');
		if (slash == NULL || slash == head) {
			free(head);
			free(abs);
			return NULL;
		}
		*slash = '\0';
	}
	n = strlen(head);
	tail = abs + n;
	free(head);
	/* a ".." after a missing directory cannot be resolved: refuse it */
	for (c = tail; *c != '\0'; c++) {
		if (c[0] == '.' && c[1] == '.' && (c[2] == '/' ||
		    c[2] == '\0') && (c == tail || c[-1] == '/')) {
			free(real);
			free(abs);
			return NULL;
		}
	}
	out = xasprintf("%s%s", strcmp(real, "/") == 0 && *tail == '/' ?
	    "" : real, tail);
	free(real);
	free(abs);
	return out;
}

int
path_under(const char *resolved, const char *dir)
{
	char *d = realpath(dir, NULL);
	size_t n;
	int in;

	if (d == NULL || resolved == NULL) {
		free(d);
		return 0;
	}
	n = strlen(d);
	in = strcmp(d, "/") == 0 || (strncmp(resolved, d, n) == 0 &&
	    (resolved[n] == '\0' || resolved[n] == '/'));
	free(d);
	return in;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0; *sub
 * gets the length of its longest valid prefix (the "maximal subpart"
 * that one U+FFFD replaces). */
static size_t
utf8_seq(const unsigned char *p, size_t n, size_t *sub)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	*sub = 1;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* no overlong forms */
		else if (c == 0xed)
			hi = 0x9f;	/* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;	/* nothing above U+10FFFF */
	} else
		return 0;
	for (i = 1; i < need; i++) {
		if (i >= n || p[i] < lo || p[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
		*sub = i + 1;
	}
	return need;
}

/* Appends s[0..len) to b with each maximal invalid subpart replaced by
 * U+FFFD, when s is not valid UTF-8; returns 1 then, else 0 and leaves b
 * alone.  The one lossy encoder behind json_text and utf8_lossy. */
static int
utf8_fix(const char *s, size_t len, struct buf *b)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k, sub, start = 0;
	int fixed = 0;

	while (i < len) {
		k = utf8_seq(p + i, len - i, &sub);
		if (k > 0) {
			i += k;
			continue;
		}
		buf_add(b, s + start, i - start);
		buf_adds(b, "\xef\xbf\xbd");
		i += sub;
		start = i;
		fixed = 1;
	}
	if (fixed)
		buf_add(b, s + start, len - start);
	return fixed;
}

char *
utf8_lossy(const char *s, size_t len, size_t *outlen)
{
	struct buf b = BUF_INIT;

	if (s == NULL)
		len = 0;
	if (!utf8_fix(s, len, &b))
		buf_add(&b, s, len);
	return buf_detach(&b, outlen);
}

struct json_t *
json_text(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	json_t *j;

	if (s == NULL)
		return json_null();
	if (!utf8_fix(s, len, &b))
		return json_stringn(s, len);
	j = json_stringn(b.data, b.len);
	buf_release(&b);
	return j;
}

struct json_t *
json_texts(const char *s)
{
	return s ? json_text(s, strlen(s)) : json_null();
}

int
parse_duration(const char *s, double *out)
{
	return pu_duration(s, out);
}

int
parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "kmgt";
	size_t n = strspn(s, "0123456789.");
	const char *u;
	double v, mul = 1;
	char *end;

	/* digits and a point only: strtod alone would take "0x1p4", "1e3"
	 * and " 5" */
	if (n == 0 || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno == ERANGE || end != s + n || !isfinite(v))
		return -1;
	if (*end != '\0') {
		u = strchr(units, tolower((unsigned char)*end));
		if (u == NULL || end[1] != '\0')
			return -1;
		for (; u >= units; u--)
			mul *= 1024;
	}
	v *= mul;
	if (!(v < 18446744073709551616.0))
		return -1;
	*out = (uint64_t)v;
	return 0;
}
