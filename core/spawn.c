#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
/*
 * Linux starts children with clone(CLONE_VM | CLONE_VFORK); under
 * AddressSanitizer with fork, as its shadow memory would be written by a
 * child running on the parent's heap.
 */
#if defined(__linux__) && !defined(__SANITIZE_ADDRESS__)
#define SPAWN_CLONE 1
#include <sched.h>
#endif

#include "loop.h"
#include "util.h"

extern char **environ;

double spawn_grace_s = 2.0;
double spawn_drain_s = 0.5;
size_t spawn_max_output = (size_t)64 << 20;

/* What the single timer of a spawn is counting down to. */
enum phase {
	PHASE_RUN,	/* the timeout, if any */
	PHASE_KILL,	/* SIGTERM sent: SIGKILL after the grace period */
	PHASE_DRAIN,	/* child reaped: stop waiting for stdout's end */
};

/* Where the child failed before exec; sent through the error pipe. */
enum stage {
	STAGE_SETUP = 1,
	STAGE_STDERR = 2,	/* /dev/null, when stderr is not kept */
	STAGE_CHDIR = 3,
	STAGE_EXEC = 4,
};

/* stderr the file cannot take yet (out of descriptors) is held up to this */
#define ERR_HOLD_MAX ((size_t)1 << 20)

struct child_err {
	int stage;
	int errnum;
};

struct spawn {
	struct loop *l;
	struct spawn *prev, *next;	/* live spawns */
	pid_t pid;
	struct loop_child child;
	struct loop_io in_io, out_io, ep_io, err_io;
	int in_fd, out_fd, ep_fd, err_fd;	/* -1 once closed */
	int tee_fd;			/* spawn_tee's copy of stdout, or -1 */
	char *tee_path;		/* that copy, made at stdout's first byte */
	int err_file;		/* stderr_path, opened at stderr's first byte */
	struct buf err_hold;	/* stderr read while err_file could not open */
	char *in_data;			/* copy of stdin_data */
	size_t in_len, in_off;
	struct buf out;
	struct child_err ce;		/* read from the error pipe */
	size_t ce_len;
	struct loop_timer timer;
	enum phase phase;
	int reaped;
	int fresh;		/* spawn_start_fresh: no earlier files */
	int status;
	int err;
	char reason[512];
	char *argv0, *cwd, *stderr_path; /* for messages */
	void (*on_exit)(void *, int, int, const char *, size_t);
	void *arg;
};

static struct spawn *live;
static size_t nlive;
static const struct spawn_watch *watch;

static int
out_of_fds(int e)
{
	return e == EMFILE || e == ENFILE;
}

static uint64_t
secs_to_ms(double s)
{
	if (s <= 0)
		return 0;
	if (s > 1e9)
		s = 1e9;
	return (uint64_t)(s * 1000.0 + 0.5);
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Signals the child's whole process group. */
static void
kill_group(struct spawn *s, int sig)
{
	if (kill(-s->pid, sig) < 0 && errno == ESRCH && !s->reaped)
		(void)kill(s->pid, sig);
}

static void
list_remove(struct spawn *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		live = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	nlive--;
}

static void
spawn_free(struct spawn *s)
{
	close_fd(&s->tee_fd);
	free(s->tee_path);
	buf_release(&s->out);
	buf_release(&s->err_hold);
	free(s->in_data);
	free(s->argv0);
	free(s->cwd);
	free(s->stderr_path);
	free(s);
}

static void
stop_stdin(struct spawn *s)
{
	loop_io_stop(s->l, &s->in_io);
	close_fd(&s->in_fd);
	free(s->in_data);
	s->in_data = NULL;
}

static void
stop_stdout(struct spawn *s)
{
	loop_io_stop(s->l, &s->out_io);
	close_fd(&s->out_fd);
}

static void
stop_errpipe(struct spawn *s)
{
	loop_io_stop(s->l, &s->ep_io);
	close_fd(&s->ep_fd);
}

static void
stop_stderr(struct spawn *s)
{
	loop_io_stop(s->l, &s->err_io);
	close_fd(&s->err_fd);
	close_fd(&s->err_file);
}

/*
 * Opens the stderr file at the first byte: an agent that writes nothing
 * there leaves no file.  0, or -errno.
 */
static int
open_err_file(struct spawn *s)
{
	if (s->err_file >= 0)
		return 0;
	/* never through a link planted at the run directory's path; a FIFO
	 * planted there fails instead of blocking the loop */
	s->err_file = open(s->stderr_path, O_WRONLY | O_CREAT | O_TRUNC |
	    O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
	return s->err_file < 0 ? -errno : 0;
}

static void start_kill(struct spawn *, int);

/* The stderr file cannot be made: the call ends with that reason. */
static void
err_file_failed(struct spawn *s, int e)
{
	if (s->err == 0) {
		/* out of descriptors: a start to try again, as a child
		 * that cannot open a file */
		s->err = out_of_fds(e) ? DROVE_ENOFD : DROVE_ESPAWN;
		snprintf(s->reason, sizeof(s->reason), "cannot open '%s': %s",
		    s->stderr_path, strerror(e));
	}
	buf_release(&s->err_hold);
	stop_stderr(s);
	if (!s->reaped)
		start_kill(s, SIGTERM);
}

/* Appends what the child wrote to stderr to its file.  A write error is
 * ignored, as a child ignores one on its stderr. */
static void
err_write(struct spawn *s, const char *data, size_t len)
{
	int rc = open_err_file(s);

	if (rc < 0) {
		/* out of descriptors: hold it until a call ends */
		if (out_of_fds(-rc) && s->err_hold.len + len <= ERR_HOLD_MAX) {
			buf_add(&s->err_hold, data, len);
			return;
		}
		err_file_failed(s, -rc);
		return;
	}
	if (s->err_hold.len > 0) {
		(void)write_all(s->err_file, s->err_hold.data,
		    s->err_hold.len);
		buf_release(&s->err_hold);
	}
	(void)write_all(s->err_file, data, len);
}

/* Reports the end and frees s.  The child has been reaped. */
static void
finish(struct spawn *s)
{
	const char *out;
	size_t len;

	loop_timer_stop(s->l, &s->timer);
	/* what is held for the stderr file goes there now, or the call
	 * says why it could not */
	if (s->err_hold.len > 0) {
		int rc = open_err_file(s);

		if (rc < 0)
			err_file_failed(s, -rc);
		else
			err_write(s, "", 0);
	}
	stop_stdin(s);
	stop_stdout(s);
	stop_errpipe(s);
	stop_stderr(s);
	list_remove(s);
	if (watch != NULL && watch->ended != NULL)
		watch->ended(watch->arg, (long)s->pid);
	if (s->err == DROVE_ESPAWN || s->err == DROVE_EIO ||
	    s->err == DROVE_ENOFD) {
		if (s->err != DROVE_EIO)
			s->status = -1;
		out = s->reason;
		len = strlen(s->reason);
	} else {
		out = buf_str(&s->out);
		len = s->out.len;
	}
	s->on_exit(s->arg, s->status, s->err, out, len);
	spawn_free(s);
}

static void
maybe_finish(struct spawn *s)
{
	if (s->reaped && s->out_fd < 0 && s->ep_fd < 0 && s->err_fd < 0)
		finish(s);
}

static void
on_timer(struct loop *l, struct loop_timer *t)
{
	struct spawn *s = t->data;

	switch (s->phase) {
	case PHASE_RUN:
		if (s->err == 0)
			s->err = DROVE_ETIMEDOUT;
		kill_group(s, SIGTERM);
		s->phase = PHASE_KILL;
		loop_timer_start(l, &s->timer, secs_to_ms(spawn_grace_s),
		    on_timer, s);
		break;
	case PHASE_KILL:
		kill_group(s, SIGKILL);
		break;
	case PHASE_DRAIN:
		finish(s);
		break;
	}
}

/* TERM the group now and KILL it after the grace period. */
static void
start_kill(struct spawn *s, int sig)
{
	if (s->reaped) {
		/* only grandchildren are left; the drain timer is running */
		kill_group(s, SIGKILL);
		return;
	}
	kill_group(s, sig);
	if (s->phase == PHASE_RUN && sig != SIGKILL) {
		s->phase = PHASE_KILL;
		loop_timer_start(s->l, &s->timer, secs_to_ms(spawn_grace_s),
		    on_timer, s);
	} else if (sig == SIGKILL) {
		s->phase = PHASE_KILL;
		loop_timer_stop(s->l, &s->timer);
	}
}

static void
on_child(struct loop *l, struct loop_child *c, int wstatus)
{
	struct spawn *s = c->data;

	s->reaped = 1;
	if (wstatus == -1)
		s->status = -1;	/* reaped elsewhere: unknown */
	else if (WIFEXITED(wstatus))
		s->status = WEXITSTATUS(wstatus);
	else if (WIFSIGNALED(wstatus))
		s->status = -WTERMSIG(wstatus);
	else
		s->status = -1;
	loop_timer_stop(l, &s->timer);
	/* a killed group goes entirely, grandchildren included */
	if (s->phase == PHASE_KILL)
		kill_group(s, SIGKILL);
	if (s->out_fd >= 0 || s->ep_fd >= 0 || s->err_fd >= 0) {
		s->phase = PHASE_DRAIN;
		loop_timer_start(l, &s->timer, secs_to_ms(spawn_drain_s),
		    on_timer, s);
	}
	maybe_finish(s);
}

/* Writes data[*off..len) to the pipe fd as far as it takes it now.  1
 * when done (all written, or the child wants no more), 0 when full. */
static int
pipe_feed(int fd, const char *data, size_t len, size_t *off)
{
	while (*off < len) {
		ssize_t n = write(fd, data + *off, len - *off);

		if (n > 0) {
			*off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		/* EPIPE: the child does not want the rest */
		return 1;
	}
	return 1;
}

static void
on_stdin(struct loop *l, struct loop_io *w, unsigned ev)
{
	struct spawn *s = w->data;

	if (pipe_feed(s->in_fd, s->in_data, s->in_len, &s->in_off))
		stop_stdin(s);
}

static void
overflow(struct spawn *s)
{
	if (s->err == 0) {
		s->err = DROVE_EIO;
		if (spawn_max_output % ((size_t)1 << 20) == 0)
			snprintf(s->reason, sizeof(s->reason),
			    "output of '%s' passed %zu MiB, the output cap: "
			    "the command was stopped and its output dropped",
			    s->argv0, spawn_max_output >> 20);
		else
			snprintf(s->reason, sizeof(s->reason),
			    "output of '%s' passed %zu bytes, the output cap: "
			    "the command was stopped and its output dropped",
			    s->argv0, spawn_max_output);
	}
	stop_stdout(s);
	start_kill(s, SIGTERM);
}

/* The copy of stdout: made at the first byte, so a quiet agent leaves no
 * file; a page-cache write; a copy that fails just stops. */
static void
tee_write(struct spawn *s, const char *data, size_t len)
{
	if (s->tee_path != NULL) {
		s->tee_fd = open(s->tee_path, O_WRONLY | O_CREAT | O_TRUNC |
		    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
		/* a link planted there (spawn_tee did not look, on a new
		 * run) is named, as spawn_tee names it */
		if (s->tee_fd < 0 && errno == ELOOP)
			log_warnx("cannot write '%s': %s", s->tee_path,
			    strerror(errno));
		free(s->tee_path);
		s->tee_path = NULL;
	}
	if (s->tee_fd >= 0 && write_all(s->tee_fd, data, len) < 0)
		close_fd(&s->tee_fd);
}

static void
on_stdout(struct loop *l, struct loop_io *w, unsigned ev)
{
	struct spawn *s = w->data;

	for (;;) {
		size_t want = spawn_max_output + 1 - s->out.len;
		ssize_t n;

		if (want > 65536)
			want = 65536;
		buf_grow(&s->out, want);
		n = read(s->out_fd, s->out.data + s->out.len, want);
		if (n > 0) {
			tee_write(s, s->out.data + s->out.len, (size_t)n);
			s->out.len += (size_t)n;
			if (s->out.len > spawn_max_output) {
				s->out.len = spawn_max_output;
				s->out.data[s->out.len] = '\0';
				overflow(s);
				maybe_finish(s);
				return;
			}
			s->out.data[s->out.len] = '\0';
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		stop_stdout(s);
		maybe_finish(s);
		return;
	}
}

static void
on_stderr(struct loop *l, struct loop_io *w, unsigned ev)
{
	struct spawn *s = w->data;
	char chunk[16384];

	for (;;) {
		ssize_t n = read(s->err_fd, chunk, sizeof(chunk));

		if (n > 0) {
			err_write(s, chunk, (size_t)n);
			if (s->err_fd < 0)
				break;	/* the file could not be made */
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break;
	}
	loop_io_stop(l, &s->err_io);
	close_fd(&s->err_fd);
	maybe_finish(s);
}

static void child_failed(struct spawn *);

static void
on_errpipe(struct loop *l, struct loop_io *w, unsigned ev)
{
	struct spawn *s = w->data;
	char *p = (char *)&s->ce;

	for (;;) {
		ssize_t n = read(s->ep_fd, p + s->ce_len,
		    sizeof(s->ce) - s->ce_len);

		if (n > 0) {
			s->ce_len += (size_t)n;
			if (s->ce_len < sizeof(s->ce))
				continue;
			break;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break;
	}
	if (s->ce_len == sizeof(s->ce))
		child_failed(s);
	stop_errpipe(s);
	maybe_finish(s);
}

/* The child reported s->ce: it failed before exec, and says why. */
static void
child_failed(struct spawn *s)
{
	const char *why = strerror(s->ce.errnum);

	/* the child ran out of descriptors opening its stderr: a
	 * start to try again, not a broken command */
	s->err = s->ce.stage != STAGE_EXEC &&
	    out_of_fds(s->ce.errnum) ? DROVE_ENOFD : DROVE_ESPAWN;
	switch (s->ce.stage) {
	case STAGE_STDERR:
		snprintf(s->reason, sizeof(s->reason),
		    "cannot open '%s': %s", s->stderr_path, why);
		break;
	case STAGE_CHDIR:
		snprintf(s->reason, sizeof(s->reason),
		    "cannot change directory to '%s': %s", s->cwd,
		    why);
		break;
	case STAGE_EXEC:
		snprintf(s->reason, sizeof(s->reason),
		    "cannot run '%s': %s", s->argv0, why);
		break;
	default:
		snprintf(s->reason, sizeof(s->reason),
		    "cannot set up '%s': %s", s->argv0, why);
		break;
	}
}

/* Same variable name: "A=1" and "A=2" (or "A"). */
static int
same_name(const char *a, const char *b)
{
	while (*a != '\0' && *a != '=' && *a == *b) {
		a++;
		b++;
	}
	return (*a == '=' || *a == '\0') && (*b == '=' || *b == '\0');
}

/* base (environ when NULL) without the names add overrides, then add (the
 * last of equal names wins).  The array is the caller's; the strings are
 * borrowed. */
static char **
make_env(const char *const *base, const char *const *add)
{
	size_t n = 0, m = 0, k = 0, i, j;
	char **envp;

	if (base == NULL)
		base = (const char *const *)environ;
	while (base != NULL && base[n] != NULL)
		n++;
	while (add != NULL && add[m] != NULL)
		m++;
	envp = xcalloc(n + m + 1, sizeof(*envp));
	for (i = 0; i < n; i++) {
		for (j = 0; j < m; j++)
			if (same_name(base[i], add[j]))
				break;
		if (j == m)
			envp[k++] = (char *)base[i];
	}
	for (i = 0; i < m; i++) {
		for (j = i + 1; j < m; j++)
			if (same_name(add[i], add[j]))
				break;
		if (j == m)
			envp[k++] = (char *)add[i];
	}
	envp[k] = NULL;
	return envp;
}

static const char *
env_path(char *const *envp)
{
	size_t i;

	for (i = 0; envp[i] != NULL; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			return envp[i] + 5;
	return "/usr/local/bin:/usr/bin:/bin";
}

/*
 * Where the child reports a failure before exec: the parent's memory when
 * the child shares it (clone with CLONE_VM | CLONE_VFORK: the parent reads
 * it once the child has gone), else the error pipe ep.
 */
struct child_report {
	int ep;				/* -1 with shared */
	volatile struct child_err *shared;
};

/*
 * The child between fork and exec: async-signal-safe calls only.  Reports
 * the failing stage and errno and exits 127.
 */
static void __attribute__((noreturn))
child_fail(const struct child_report *r, int stage)
{
	struct child_err ce = { stage, errno };

	if (r->shared != NULL) {
		r->shared->errnum = ce.errnum;
		r->shared->stage = ce.stage;
	} else
		(void)!write(r->ep, &ce, sizeof(ce));
	_exit(127);
}

/* Moves fd above the standard descriptors so dup2 cannot clobber it. */
static int
above_std(int fd, const struct child_report *r)
{
	int nfd;

	if (fd > STDERR_FILENO)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	if (nfd < 0)
		child_fail(r, STAGE_SETUP);
	return nfd;
}

/* execvp without a shell fallback, searching path from the new env. */
static void
exec_search(char *const argv[], char *const envp[], const char *path)
{
	const char *file = argv[0], *p, *e;
	char full[PATH_MAX];
	size_t flen = strlen(file), dlen;
	int saved = ENOENT;

	if (flen == 0) {
		errno = ENOENT;
		return;
	}
	if (strchr(file, '/') != NULL) {
		execve(file, argv, envp);
		return;
	}
	for (p = path; p != NULL; p = (*e == ':') ? e + 1 : NULL) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		dlen = (size_t)(e - p);
		if (dlen + 1 + flen + 1 > sizeof(full)) {
			saved = ENAMETOOLONG;
			continue;
		}
		if (dlen == 0) {
			full[0] = '.';
			dlen = 1;
		} else
			memcpy(full, p, dlen);
		full[dlen] = '/';
		memcpy(full + dlen + 1, file, flen + 1);
		execve(full, argv, envp);
		switch (errno) {
		case EACCES:
			saved = EACCES;
			break;
		case ENOENT:
		case ENOTDIR:
		case ESTALE:
		case ELOOP:
		case ENAMETOOLONG:
		case ENODEV:
		case ETIMEDOUT:
			break;
		default:
			return;
		}
	}
	errno = saved;
}

/*
 * Where PATH finds name: looked up in the parent, once per PATH and name
 * (a small cache), so that a child does not try one execve per PATH
 * directory.  NULL when no directory has it (the child's search then says
 * why) or when PATH names a relative directory before it.  The same rule
 * as exec_search: the first regular file we may run.
 */
#define EXE_CACHE 16
struct exe_cache {
	char *key;		/* PATH, NUL, name */
	size_t klen;
	char *full;
};
static struct exe_cache exe_cache[EXE_CACHE];
static unsigned exe_next;

static const char *
resolve_exe(const char *name, const char *path)
{
	size_t plen = strlen(path), nlen = strlen(name), klen, i, dlen;
	const char *p, *e;
	struct exe_cache *c;
	struct stat st;
	char *key, *full;

	if (nlen == 0 || strchr(name, '/') != NULL)
		return NULL;
	klen = plen + 1 + nlen;
	for (i = 0; i < EXE_CACHE; i++)
		if (exe_cache[i].key != NULL && exe_cache[i].klen == klen &&
		    memcmp(exe_cache[i].key, path, plen + 1) == 0 &&
		    memcmp(exe_cache[i].key + plen + 1, name, nlen) == 0)
			return exe_cache[i].full;
	full = NULL;
	for (p = path; p != NULL && full == NULL;
	    p = (*e == ':') ? e + 1 : NULL) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		dlen = (size_t)(e - p);
		/* a relative directory is the child's to resolve, after its
		 * chdir: the child searches PATH itself */
		if (dlen == 0 || *p != '/')
			return NULL;
		full = xasprintf("%.*s/%s", (int)dlen, p, name);
		if (stat(full, &st) < 0 || !S_ISREG(st.st_mode) ||
		    faccessat(AT_FDCWD, full, X_OK, AT_EACCESS) < 0) {
			free(full);
			full = NULL;
		}
	}
	if (full == NULL)
		return NULL;
	key = xmalloc(klen);
	memcpy(key, path, plen + 1);
	memcpy(key + plen + 1, name, nlen);
	c = &exe_cache[exe_next++ % EXE_CACHE];
	free(c->key);
	free(c->full);
	c->key = key;
	c->klen = klen;
	c->full = full;
	return full;
}

static void __attribute__((noreturn))
child(struct loop *l, const struct drove_spawn *req, char *const envp[],
    const char *path, const char *exe, int in, int out, int err,
    struct child_report *r)
{
	sigset_t none;
	int fd = err;

	loop_child_after_fork(l);
	/* no signal blocked: a run blocks SIGINT, SIGTERM and SIGHUP from
	 * its start, and a loop made meanwhile (git's) would pass that on */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* the core ignores SIGPIPE; the child gets the usual default */
	signal(SIGPIPE, SIG_DFL);
	(void)setpgid(0, 0);
	if (r->ep >= 0)
		r->ep = above_std(r->ep, r);
	/* stderr kept: the pipe to the parent, which makes the file */
	if (fd < 0 && (fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		child_fail(r, STAGE_STDERR);
	in = above_std(in, r);
	out = above_std(out, r);
	fd = above_std(fd, r);
	if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
	    dup2(fd, STDERR_FILENO) < 0)
		child_fail(r, STAGE_SETUP);
	if (req->cwd != NULL && chdir(req->cwd) < 0)
		child_fail(r, STAGE_CHDIR);
	if (exe != NULL)
		execve(exe, (char *const *)req->argv, envp);
	/* not found by the parent, or gone since: the search says why */
	exec_search((char *const *)req->argv, envp, path);
	child_fail(r, STAGE_EXEC);
}

#if defined(SPAWN_CLONE)
/*
 * The child shares the parent's memory until it execs (CLONE_VM |
 * CLONE_VFORK, as posix_spawn does): no page tables are copied, and the
 * parent waits the few microseconds until exec.  The child writes only to
 * its own stack and, when it fails before exec, to a struct child_err the
 * parent reads once clone returns: no error pipe.  The loop thread blocks
 * every signal it handles (signalfd), so no handler runs on the shared
 * memory.
 */
#define CHILD_STACK (64 * 1024)

struct child_args {
	struct loop *l;
	const struct drove_spawn *req;
	char *const *envp;
	const char *path, *exe;
	int in, out, err;
	struct child_report r;
};

static int
child_entry(void *arg)
{
	struct child_args *a = arg;

	child(a->l, a->req, a->envp, a->path, a->exe, a->in, a->out, a->err,
	    &a->r);
}
#endif

/*
 * CLOCK_BOOTTIME in the clock ticks of /proc/<pid>/stat's start time
 * (which the kernel takes from the same clock when it makes the process),
 * or 0.  Read before and after a clone, equal values are the child's start
 * time: no /proc read per child.  A read of the vDSO, no system call.
 */
static unsigned long long
boot_ticks(void)
{
#if defined(__linux__)
	static long hz;
	struct timespec ts;

	if (hz == 0)
		hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0 || 1000000000L % hz != 0 ||
	    clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		return 0;
	return (unsigned long long)ts.tv_sec * (unsigned long long)hz +
	    (unsigned long long)ts.tv_nsec / (unsigned long long)(1000000000L /
	    hz);
#else
	return 0;
#endif
}

/* A pipe end drove made: its only status flag is the access mode,
 * which F_SETFL leaves as it is. */
static int
set_nonblock(int fd)
{
	return fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ? -1 : 0;
}

/*
 * The stderr file and the copy of stdout are made at their first byte;
 * what an earlier attempt left in one is emptied now, as an open of it at
 * the start did.  Anything but a regular file is left alone: the first
 * byte's open refuses it then.  0, or -ELOOP for a link.
 */
static int
empty_stale(const char *path)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0)
		return 0;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		return 0;
	fd = open(path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	return 0;
}

static int start(struct loop *, const struct drove_spawn *, int,
    struct spawn **, char *, size_t);

int
spawn_start(struct loop *l, const struct drove_spawn *req, struct spawn **sp,
    char *err, size_t errlen)
{
	return start(l, req, 0, sp, err, errlen);
}

int
spawn_start_fresh(struct loop *l, const struct drove_spawn *req,
    struct spawn **sp, char *err, size_t errlen)
{
	return start(l, req, 1, sp, err, errlen);
}

static int
start(struct loop *l, const struct drove_spawn *req, int fresh,
    struct spawn **sp, char *err, size_t errlen)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, ep[2] = { -1, -1 };
	int er[2] = { -1, -1 };
	struct spawn *s;
	char **envp;
	const char *path, *exe;
	size_t i;
	pid_t pid;
	int rc, e, fail = DROVE_ESPAWN;
	unsigned long long t0 = 0, t1 = 0;
#if defined(SPAWN_CLONE)
	/* the child's stack: the spawning thread waits while it runs, so
	 * one per thread does for every spawn */
	static _Thread_local char *stack;
	/* written by a child that fails before exec */
	volatile struct child_err ce = { 0, 0 };
#endif

	if (req == NULL || !DROVE_HAS(req, arg) || req->argv == NULL ||
	    req->argv[0] == NULL || req->on_exit == NULL) {
		errf(err, errlen, "bad spawn request");
		errno = EINVAL;
		return DROVE_EINVAL;
	}
	for (i = 0; req->env_add != NULL && req->env_add[i] != NULL; i++) {
		const char *eq = strchr(req->env_add[i], '=');

		if (eq == NULL || eq == req->env_add[i]) {
			errf(err, errlen, "bad environment entry '%s'",
			    req->env_add[i]);
			errno = EINVAL;
			return DROVE_EINVAL;
		}
	}
	if (req->stderr_path != NULL && !fresh)
		(void)empty_stale(req->stderr_path);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
#if !defined(SPAWN_CLONE)
	    pipe2(ep, O_CLOEXEC) < 0 || set_nonblock(ep[0]) < 0 ||
#endif
	    set_nonblock(in[1]) < 0 || set_nonblock(out[0]) < 0 ||
	    (req->stderr_path != NULL && (pipe2(er, O_CLOEXEC) < 0 ||
	    set_nonblock(er[0]) < 0))) {
		e = errno;
		rc = out_of_fds(e) ? DROVE_ENOFD : DROVE_ESPAWN;
		errf(err, errlen, "cannot make pipes for '%s': %s",
		    req->argv[0], strerror(e));
		goto fail_pipes;
	}
	envp = make_env(DROVE_HAS(req, env) ? req->env : NULL, req->env_add);
	path = env_path(envp);
	exe = resolve_exe(req->argv[0], path);
#if defined(SPAWN_CLONE)
	{
		struct child_args ca = { l, req, envp, path, exe, in[0],
		    out[1], er[1], { -1, &ce } };

		if (stack == NULL)
			stack = xmalloc(CHILD_STACK);
		if (watch != NULL)
			t0 = boot_ticks();
		pid = clone(child_entry, stack + CHILD_STACK, CLONE_VM |
		    CLONE_VFORK | SIGCHLD, &ca);
		e = errno;
	}
#else
	if (watch != NULL)
		t0 = boot_ticks();
	pid = fork();
	if (pid == 0) {
		struct child_report r = { ep[1], NULL };

		child(l, req, envp, path, exe, in[0], out[1], er[1], &r);
	}
	e = errno;
#endif
	if (watch != NULL && pid > 0)
		t1 = boot_ticks();
	free(envp);
	if (pid < 0) {
		rc = DROVE_ESPAWN;
		errf(err, errlen, "cannot start '%s': fork: %s", req->argv[0],
		    strerror(e));
		goto fail_pipes;
	}
#if !defined(SPAWN_CLONE)
	/* also here, so a kill right away reaches the whole group (a clone
	 * returns once the child has made its group and exec'd) */
	(void)setpgid(pid, pid);
#endif
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&ep[1]);
	close_fd(&er[1]);

	s = xcalloc(1, sizeof(*s));
	s->l = l;
	s->pid = pid;
	s->in_fd = in[1];
	s->out_fd = out[0];
	s->ep_fd = ep[0];
	s->tee_fd = -1;
	s->err_fd = er[0];
	s->err_file = -1;
	s->phase = PHASE_RUN;
	s->fresh = fresh;
	s->argv0 = xstrdup(req->argv[0]);
	s->cwd = req->cwd ? xstrdup(req->cwd) : NULL;
	s->stderr_path = xstrdup(req->stderr_path ? req->stderr_path :
	    "/dev/null");
	s->on_exit = req->on_exit;
	s->arg = req->arg;
	buf_init(&s->out);
	buf_init(&s->err_hold);
#if defined(SPAWN_CLONE)
	if (ce.stage != 0) {
		s->ce.stage = ce.stage;
		s->ce.errnum = ce.errnum;
		child_failed(s);
		close_fd(&s->in_fd);
	}
#endif
	/* stdin is written now, as much as the pipe takes; the loop
	 * writes the rest */
	if (s->in_fd >= 0 && req->stdin_data != NULL && req->stdin_len > 0) {
		size_t off = 0;

		if (pipe_feed(s->in_fd, req->stdin_data, req->stdin_len,
		    &off) == 0) {
			s->in_len = req->stdin_len - off;
			s->in_data = xmalloc(s->in_len);
			memcpy(s->in_data, (const char *)req->stdin_data + off,
			    s->in_len);
		}
	}
	if (s->in_data == NULL)
		stop_stdin(s);

	if ((rc = loop_child_start(l, &s->child, pid, on_child, s)) < 0) {
		e = -rc;
		errf(err, errlen, "cannot watch '%s': %s", s->argv0,
		    strerror(-rc));
		fail = out_of_fds(-rc) ? DROVE_ENOFD : DROVE_ESPAWN;
		goto fail_child;
	}
	if ((rc = loop_io_start(l, &s->out_io, s->out_fd, LOOP_READ,
	    on_stdout, s)) < 0 ||
	    (s->ep_fd >= 0 && (rc = loop_io_start(l, &s->ep_io, s->ep_fd,
	    LOOP_READ, on_errpipe, s)) < 0) ||
	    (s->err_fd >= 0 && (rc = loop_io_start(l, &s->err_io, s->err_fd,
	    LOOP_READ, on_stderr, s)) < 0) ||
	    (s->in_fd >= 0 && (rc = loop_io_start(l, &s->in_io, s->in_fd,
	    LOOP_WRITE, on_stdin, s)) < 0)) {
		e = -rc;
		errf(err, errlen, "cannot watch '%s': %s", s->argv0,
		    strerror(-rc));
		loop_child_stop(l, &s->child);
		goto fail_child;
	}
	if (req->timeout_s > 0)
		loop_timer_start(l, &s->timer, secs_to_ms(req->timeout_s),
		    on_timer, s);

	s->next = live;
	if (live != NULL)
		live->prev = s;
	live = s;
	nlive++;
	*sp = s;
	if (watch != NULL && watch->started != NULL)
		watch->started(watch->arg, (long)pid, t0 == t1 ? t0 : 0);
	return 0;

fail_child:
	/* nobody will reap it through the loop: do it here */
	kill_group(s, SIGKILL);
	for (i = 0; i < 100; i++)
		if (waitpid(pid, NULL, 0) >= 0 || errno != EINTR)
			break;
	stop_stdin(s);
	stop_stdout(s);
	stop_errpipe(s);
	stop_stderr(s);
	spawn_free(s);
	errno = e;
	return fail;

fail_pipes:
	for (i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&out[i]);
		close_fd(&ep[i]);
		close_fd(&er[i]);
	}
	errno = e;
	return rc;
}

int
spawn_tee(struct spawn *s, const char *path)
{
	int rc;

	close_fd(&s->tee_fd);
	free(s->tee_path);
	s->tee_path = NULL;
	if (!s->fresh && (rc = empty_stale(path)) < 0)
		return rc;
	s->tee_path = xstrdup(path);
	return 0;
}

void
spawn_kill(struct spawn *s)
{
	if (s->err == 0)
		s->err = DROVE_ECANCELED;
	start_kill(s, SIGTERM);
}

void
spawn_kill_all(int sig_now)
{
	struct spawn *s;

	for (s = live; s != NULL; s = s->next) {
		if (s->err == 0)
			s->err = DROVE_ECANCELED;
		start_kill(s, sig_now ? sig_now : SIGTERM);
	}
}

size_t
spawn_count(void)
{
	return nlive;
}

void
spawn_set_watch(const struct spawn_watch *w)
{
	watch = w;
}
