/* spawn: real children on a real loop. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drove/plugin.h"
#include "loop.h"
#include "spawn.h"
#include "t.h"
#include "util.h"

struct res {
	int done;
	int status;
	int err;
	char *out;
	size_t len;
	double end;
};

static struct loop *L;
static char tmpdir[PATH_MAX];

static void
on_exit_cb(void *arg, int status, int err, const char *out, size_t len)
{
	struct res *r = arg;

	r->done++;
	r->status = status;
	r->err = err;
	r->out = xmalloc(len + 1);
	memcpy(r->out, out, len);
	r->out[len] = '\0';
	r->len = len;
	r->end = now_mono();
}

static void
res_release(struct res *r)
{
	free(r->out);
	memset(r, 0, sizeof(*r));
}

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/drove-spawn.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	L = loop_new();
	if (L == NULL) {
		perror("loop_new");
		exit(1);
	}
}

/* Removes the flat temp directory and frees the loop. */
static void
teardown(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char p[PATH_MAX + 256];

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
		if (unlink(p) < 0)
			rmdir(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(tmpdir);
	CHECK_INT(spawn_count(), 0);
	loop_free(L);
	L = NULL;
}

static char *
tmp_path(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

static struct drove_spawn
req_of(const char *const *argv, struct res *r)
{
	struct drove_spawn q;

	memset(&q, 0, sizeof(q));
	q.size = sizeof(q);
	q.argv = argv;
	q.on_exit = on_exit_cb;
	q.arg = r;
	return q;
}

/* Starts q, checks on_exit did not run yet, runs the loop to the end. */
static int
run(struct drove_spawn *q)
{
	struct spawn *sp = NULL;
	char err[256] = "";
	struct res *r = q->arg;
	int rc;

	rc = spawn_start(L, q, &sp, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "spawn_start: %s\n", err);
		return rc;
	}
	CHECK(sp != NULL);
	CHECK_INT(r->done, 0);
	CHECK_INT(loop_run(L), 0);
	CHECK_INT(r->done, 1);
	return 0;
}

/* A process is gone when it does not exist or is a zombie nobody reaps. */
static int
gone(pid_t pid)
{
	char p[64], buf[512], *rp;
	FILE *f;
	size_t n;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 1;
	snprintf(p, sizeof(p), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(p, "r")) == NULL)
		return 1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp != NULL && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

static int
wait_gone(pid_t pid)
{
	int i;

	for (i = 0; i < 300; i++) {
		if (gone(pid))
			return 1;
		usleep(10000);
	}
	return 0;
}

static pid_t
read_pid(const char *path)
{
	char *data = NULL;
	size_t len;
	long v = 0;

	if (read_file(path, &data, &len) == 0)
		v = strtol(data, NULL, 10);
	free(data);
	return (pid_t)v;
}

static void
t_echo_stdin(void)
{
	const char *argv[] = { "cat", NULL };
	struct res r = { 0 };
	struct drove_spawn q = req_of(argv, &r);

	setup();
	q.stdin_data = "hello\nworld";
	q.stdin_len = 11;
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.err, 0);
	CHECK_INT(r.status, 0);
	CHECK_INT(r.len, 11);
	CHECK_STR(r.out, "hello\nworld");
	res_release(&r);

	/* no stdin at all: the child reads EOF */
	q = req_of(argv, &r);
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.status, 0);
	CHECK_INT(r.len, 0);
	res_release(&r);
	teardown();
}

/* 1 MiB is far more than a pipe holds: stdin and stdout must interleave. */
static void
t_big_stdin(void)
{
	const char *argv[] = { "cat", NULL };
	const char *wc[] = { "wc", "-c", NULL };
	size_t n = 1 << 20, i;
	char *big = xmalloc(n);
	struct res r = { 0 };
	struct drove_spawn q = req_of(argv, &r);

	setup();
	for (i = 0; i < n; i++)
		big[i] = (char)('a' + (i * 7 + i / 1000) % 26);
	q.stdin_data = big;
	q.stdin_len = n;
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.status, 0);
	CHECK_INT(r.len, n);
	CHECK(r.len == n && memcmp(r.out, big, n) == 0);
	res_release(&r);

	q = req_of(wc, &r);
	q.stdin_data = big;
	q.stdin_len = n;
	CHECK_INT(run(&q), 0);
	CHECK_INT(strtol(r.out, NULL, 10), n);
	res_release(&r);
	free(big);
	teardown();
}

/* stdin_data is borrowed for spawn_start only: what the pipe took at once
 * and the rest the loop writes later are both right after the caller has
 * overwritten and freed its buffer. */
static void
t_stdin_borrowed(void)
{
	const char *argv[] = { "cat", NULL };
	size_t sizes[] = { 5, 200000 }, n, i, k;
	struct res r = { 0 };
	struct drove_spawn q;
	struct spawn *sp = NULL;
	char err[256] = "", *data, *want;

	setup();
	for (k = 0; k < 2; k++) {
		n = sizes[k];
		data = xmalloc(n);
		want = xmalloc(n);
		for (i = 0; i < n; i++)
			data[i] = want[i] = (char)('a' + i % 23);
		q = req_of(argv, &r);
		q.stdin_data = data;
		q.stdin_len = n;
		CHECK_INT(spawn_start(L, &q, &sp, err, sizeof(err)), 0);
		memset(data, '#', n);
		free(data);
		CHECK_INT(loop_run(L), 0);
		CHECK_INT(r.done, 1);
		CHECK_INT(r.status, 0);
		CHECK_INT(r.len, n);
		CHECK(r.len == n && memcmp(r.out, want, n) == 0);
		res_release(&r);
		free(want);
	}
	teardown();
}

/* The start time spawn_watch gets is the one /proc/<pid>/stat has (the
 * orphan record's pstart), without reading /proc. */
struct starts {
	int n, known, same;
};

static unsigned long long
proc_start(long pid)
{
	char path[64], *data = NULL, *p;
	unsigned long long v = 0;
	size_t len;
	int field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (read_file(path, &data, &len) < 0)
		return 0;
	if ((p = strrchr(data, ')')) != NULL) {
		for (field = 2, p++; field < 22 && *p != '\0'; p++)
			if (*p == ' ')
				field++;
		v = strtoull(p, NULL, 10);
	}
	free(data);
	return v;
}

static void
on_started(void *arg, long pid, unsigned long long start)
{
	struct starts *st = arg;

	st->n++;
	if (start == 0)
		return;
	st->known++;
	st->same += start == proc_start(pid);
}

static void
t_start_time(void)
{
	const char *argv[] = { "sleep", "0.2", NULL };
	struct starts st = { 0, 0, 0 };
	struct spawn_watch w = { on_started, NULL, &st };
	struct res r[20];
	struct drove_spawn q;
	struct spawn *sp;
	char err[256];
	int i;

	if (access("/proc/self/stat", R_OK) < 0)
		return;
	setup();
	memset(r, 0, sizeof(r));
	spawn_set_watch(&w);
	for (i = 0; i < 20; i++) {
		q = req_of(argv, &r[i]);
		CHECK_INT(spawn_start(L, &q, &sp, err, sizeof(err)), 0);
	}
	CHECK_INT(loop_run(L), 0);
	spawn_set_watch(NULL);
	CHECK_INT(st.n, 20);
	/* a start that spans a clock tick leaves it to /proc */
	CHECK(st.known >= 10);
	CHECK_INT(st.same, st.known);
	for (i = 0; i < 20; i++) {
		CHECK_INT(r[i].status, 0);
		res_release(&r[i]);
	}
	teardown();
}

/* A child that exits without reading its input is not an error. */
static void
t_child_ignores_stdin(void)
{
	const char *t[] = { "true", NULL };
	const char *head[] = { "head", "-c", "10", NULL };
	size_t n = 4 << 20;
	char *big = xcalloc(1, n);
	struct res r = { 0 };
	struct drove_spawn q = req_of(t, &r);

	setup();
	memset(big, 'x', n);
	q.stdin_data = big;
	q.stdin_len = n;
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.err, 0);
	CHECK_INT(r.status, 0);
	res_release(&r);

	q = req_of(head, &r);
	q.stdin_data = big;
	q.stdin_len = n;
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.status, 0);
	CHECK_STR(r.out, "xxxxxxxxxx");
	res_release(&r);
	free(big);
	teardown();
}

static void
t_exit_codes(void)
{
	const char *t[] = { "true", NULL };
	const char *f[] = { "false", NULL };
	const char *three[] = { "sh", "-c", "echo partial; exit 3", NULL };
	const char *big[] = { "sh", "-c", "exit 255", NULL };
	struct res r = { 0 };
	struct drove_spawn q;

	setup();
	q = req_of(t, &r);
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.status, 0);
	res_release(&r);
	q = req_of(f, &r);
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.status, 1);
	CHECK_INT(r.err, 0);
	res_release(&r);
	q = req_of(three, &r);
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.status, 3);
	CHECK_INT(r.err, 0);
	CHECK_STR(r.out, "partial\n");
	res_release(&r);
	q = req_of(big, &r);
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.status, 255);
	res_release(&r);
	teardown();
}

static void
t_killed_by_signal(void)
{
	const char *k9[] = { "sh", "-c", "kill -9 $$", NULL };
	const char *segv[] = { "sh", "-c", "kill -SEGV $$", NULL };
	struct res r = { 0 };
	struct drove_spawn q;

	setup();
	q = req_of(k9, &r);
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.status, -SIGKILL);
	CHECK_INT(r.err, 0);
	res_release(&r);
	q = req_of(segv, &r);
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.status, -SIGSEGV);
	res_release(&r);
	teardown();
}

static void
t_missing_command(void)
{
	const char *argv[] = { "drove-no-such-command", "x", NULL };
	const char *slash[] = { "/nonexistent/dir/cmd", NULL };
	const char *empty[] = { "", NULL };
	struct res r = { 0 };
	struct drove_spawn q;
	char *noexec;

	setup();
	q = req_of(argv, &r);
	q.stdin_data = "ignored";
	q.stdin_len = 7;
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.err, DROVE_ESPAWN);
	CHECK_INT(r.status, -1);
	CHECK_STR(r.out, "cannot run 'drove-no-such-command': "
	    "No such file or directory");
	res_release(&r);

	q = req_of(slash, &r);
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.err, DROVE_ESPAWN);
	CHECK_HAS(r.out, "No such file or directory");
	res_release(&r);

	q = req_of(empty, &r);
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.err, DROVE_ESPAWN);
	res_release(&r);

	/* a file without execute permission, found through PATH */
	noexec = tmp_path("drove-noexec");
	CHECK_INT(write_file_atomic(noexec, "#!/bin/sh\necho hi\n", 18), 0);
	chmod(noexec, 0644);
	{
		const char *a[] = { "drove-noexec", NULL };
		char *pathvar = xasprintf("PATH=%s", tmpdir);
		const char *env[] = { pathvar, NULL };

		q = req_of(a, &r);
		q.env_add = env;
		CHECK_INT(run(&q), 0);
		CHECK_INT(r.err, DROVE_ESPAWN);
		CHECK_STR(r.out, "cannot run 'drove-noexec': "
		    "Permission denied");
		res_release(&r);

		/* executable now: the PATH from env_add is the one used */
		chmod(noexec, 0755);
		q = req_of(a, &r);
		q.env_add = env;
		CHECK_INT(run(&q), 0);
		CHECK_INT(r.err, 0);
		CHECK_STR(r.out, "hi\n");
		res_release(&r);
		free(pathvar);
	}
	free(noexec);
	teardown();
}

/* PATH found in the parent, once: a relative PATH directory is still the
 * child's, searched after its chdir, before an absolute one later on. */
static void
t_path_lookup(void)
{
	const char *argv[] = { "drove-which", NULL };
	struct res r = { 0 };
	struct drove_spawn q;
	char *rel, *abs, *dir, *pathvar;
	const char *env[2];
	int i;

	setup();
	dir = tmp_path("bin");
	CHECK_INT(mkdir(dir, 0755), 0);
	free(dir);
	dir = tmp_path("abs");
	CHECK_INT(mkdir(dir, 0755), 0);
	rel = tmp_path("bin/drove-which");
	abs = tmp_path("abs/drove-which");
	CHECK_INT(write_file_atomic(rel, "#!/bin/sh\necho rel\n", 19), 0);
	CHECK_INT(write_file_atomic(abs, "#!/bin/sh\necho abs\n", 19), 0);
	chmod(rel, 0755);
	chmod(abs, 0755);
	pathvar = xasprintf("PATH=bin:%s", dir);
	env[0] = pathvar;
	env[1] = NULL;
	for (i = 0; i < 2; i++) {
		q = req_of(argv, &r);
		q.env_add = env;
		q.cwd = tmpdir;
		CHECK_INT(run(&q), 0);
		CHECK_INT(r.err, 0);
		CHECK_STR(r.out, "rel\n");
		res_release(&r);
	}
	/* absolute directories only: the same answer twice (once looked up) */
	free(pathvar);
	pathvar = xasprintf("PATH=%s", dir);
	env[0] = pathvar;
	for (i = 0; i < 2; i++) {
		q = req_of(argv, &r);
		q.env_add = env;
		CHECK_INT(run(&q), 0);
		CHECK_INT(r.err, 0);
		CHECK_STR(r.out, "abs\n");
		res_release(&r);
	}
	/* gone since it was looked up: the child's search says why */
	CHECK_INT(unlink(abs), 0);
	q = req_of(argv, &r);
	q.env_add = env;
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.err, DROVE_ESPAWN);
	CHECK_STR(r.out, "cannot run 'drove-which': No such file or directory");
	res_release(&r);
	unlink(rel);
	free(pathvar);
	free(rel);
	free(abs);
	rmdir(dir);
	free(dir);
	dir = tmp_path("bin");
	rmdir(dir);
	free(dir);
	teardown();
}

static void
t_bad_request(void)
{
	const char *argv[] = { "true", NULL };
	const char *noargv[] = { NULL };
	const char *badenv[] = { "NOEQUALS", NULL };
	struct res r = { 0 };
	struct spawn *sp = NULL;
	struct drove_spawn q;
	char err[128] = "";

	setup();
	q = req_of(noargv, &r);
	CHECK_INT(spawn_start(L, &q, &sp, err, sizeof(err)), DROVE_EINVAL);
	q = req_of(argv, &r);
	q.env_add = badenv;
	CHECK_INT(spawn_start(L, &q, &sp, err, sizeof(err)), DROVE_EINVAL);
	CHECK_STR(err, "bad environment entry 'NOEQUALS'");
	q = req_of(argv, &r);
	q.size = 8;
	CHECK_INT(spawn_start(L, &q, &sp, err, sizeof(err)), DROVE_EINVAL);
	CHECK_INT(loop_run(L), 0);
	CHECK_INT(r.done, 0);
	CHECK_INT(spawn_count(), 0);
	teardown();
}

static void
t_cwd(void)
{
	const char *argv[] = { "pwd", NULL };
	struct res r = { 0 };
	struct drove_spawn q = req_of(argv, &r);
	char real[PATH_MAX], *want;

	setup();
	CHECK(realpath(tmpdir, real) != NULL);
	q.cwd = real;
	CHECK_INT(run(&q), 0);
	want = xasprintf("%s\n", real);
	CHECK_STR(r.out, want);
	free(want);
	res_release(&r);

	q = req_of(argv, &r);
	q.cwd = "/nonexistent/drove";
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.err, DROVE_ESPAWN);
	CHECK_STR(r.out, "cannot change directory to '/nonexistent/drove': "
	    "No such file or directory");
	res_release(&r);
	teardown();
}

static void
t_env_add(void)
{
	const char *argv[] = { "sh", "-c",
	    "printf '%s|%s|%s|%s' \"$DROVE_T_A\" \"$DROVE_T_PARENT\" "
	    "\"$DROVE_T_OVER\" \"${DROVE_T_EMPTY-unset}\"", NULL };
	const char *env[] = { "DROVE_T_A=1", "DROVE_T_OVER=child",
	    "DROVE_T_A=2=two", "DROVE_T_EMPTY=", NULL };
	struct res r = { 0 };
	struct drove_spawn q = req_of(argv, &r);

	setup();
	setenv("DROVE_T_PARENT", "parent", 1);
	setenv("DROVE_T_OVER", "parent", 1);
	q.env_add = env;
	CHECK_INT(run(&q), 0);
	CHECK_STR(r.out, "2=two|parent|child|");
	res_release(&r);
	/* the parent's own environment is untouched */
	CHECK_STR(getenv("DROVE_T_OVER"), "parent");
	CHECK(getenv("DROVE_T_A") == NULL);
	unsetenv("DROVE_T_PARENT");
	unsetenv("DROVE_T_OVER");
	teardown();
}

static void
t_stderr_file(void)
{
	const char *argv[] = { "sh", "-c",
	    "echo out; echo err1 >&2; echo err2 >&2", NULL };
	struct res r = { 0 };
	struct drove_spawn q = req_of(argv, &r);
	char *path, *data = NULL;
	size_t len;
	struct stat st;

	setup();
	path = tmp_path("stderr.txt");
	CHECK_INT(write_file_atomic(path, "old junk that is long\n", 22), 0);
	q.stderr_path = path;
	CHECK_INT(run(&q), 0);
	CHECK_STR(r.out, "out\n");
	CHECK_INT(read_file(path, &data, &len), 0);
	CHECK_STR(data, "err1\nerr2\n");
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0644 & ~umask(022));
	free(data);
	res_release(&r);

	/* created if missing */
	unlink(path);
	q = req_of(argv, &r);
	q.stderr_path = path;
	CHECK_INT(run(&q), 0);
	data = NULL;
	CHECK_INT(read_file(path, &data, &len), 0);
	CHECK_STR(data, "err1\nerr2\n");
	free(data);
	res_release(&r);
	free(path);

	/* a stderr file that cannot be opened is a spawn failure */
	q = req_of(argv, &r);
	q.stderr_path = "/nonexistent/drove/err.txt";
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.err, DROVE_ESPAWN);
	CHECK_STR(r.out, "cannot open '/nonexistent/drove/err.txt': "
	    "No such file or directory");
	res_release(&r);
	teardown();
}

/* The stderr file is made at the first byte: none for a quiet child, an
 * earlier attempt's emptied, never written through a planted link. */
static void
t_stderr_lazy(void)
{
	const char *quiet[] = { "sh", "-c", "echo out", NULL };
	const char *late[] = { "sh", "-c", "echo out; sleep 0.1; echo late >&2",
	    NULL };
	struct res r = { 0 };
	struct drove_spawn q;
	char *path, *victim, *data = NULL;
	size_t len;
	struct stat st;

	setup();
	path = tmp_path("quiet.err");
	q = req_of(quiet, &r);
	q.stderr_path = path;
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.err, 0);
	CHECK_STR(r.out, "out\n");
	CHECK(lstat(path, &st) < 0 && errno == ENOENT);
	res_release(&r);

	/* an earlier attempt's stderr does not stay beside a quiet one */
	CHECK_INT(write_file_atomic(path, "old\n", 4), 0);
	q = req_of(quiet, &r);
	q.stderr_path = path;
	CHECK_INT(run(&q), 0);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT((int)st.st_size, 0);
	res_release(&r);

	/* made when the first byte comes, however late */
	unlink(path);
	q = req_of(late, &r);
	q.stderr_path = path;
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.err, 0);
	CHECK_INT(read_file(path, &data, &len), 0);
	CHECK_STR(data, "late\n");
	free(data);
	res_release(&r);

	/* a link planted there: the first byte fails the call, the link's
	 * target is untouched */
	victim = tmp_path("victim");
	CHECK_INT(write_file_atomic(victim, "precious\n", 9), 0);
	unlink(path);
	CHECK_INT(symlink(victim, path), 0);
	q = req_of(late, &r);
	q.stderr_path = path;
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.err, DROVE_ESPAWN);
	CHECK(strstr(r.out, "cannot open '") != NULL &&
	    strstr(r.out, "quiet.err': Too many levels of symbolic links") !=
	    NULL);
	data = NULL;
	CHECK_INT(read_file(victim, &data, &len), 0);
	CHECK_STR(data, "precious\n");
	free(data);
	res_release(&r);
	free(victim);
	free(path);
	teardown();
}

/* Starts q with its stdout copied to tee, runs the loop to the end;
 * spawn_tee's result. */
static int
run_tee(struct drove_spawn *q, const char *tee)
{
	struct spawn *sp = NULL;
	char err[256] = "";
	int rc;

	CHECK_INT(spawn_start(L, q, &sp, err, sizeof(err)), 0);
	rc = spawn_tee(sp, tee);
	CHECK_INT(loop_run(L), 0);
	CHECK_INT(((struct res *)q->arg)->done, 1);
	return rc;
}

/* The copy of stdout is made at the first byte, as the stderr file. */
static void
t_tee_lazy(void)
{
	const char *quiet[] = { "true", NULL };
	const char *talk[] = { "sh", "-c", "sleep 0.1; echo live", NULL };
	struct res r = { 0 };
	struct drove_spawn q;
	char *path, *victim, *data = NULL;
	size_t len;
	struct stat st;

	setup();
	path = tmp_path("t.live");
	q = req_of(quiet, &r);
	CHECK_INT(run_tee(&q, path), 0);
	CHECK(lstat(path, &st) < 0 && errno == ENOENT);
	res_release(&r);

	CHECK_INT(write_file_atomic(path, "old\n", 4), 0);
	q = req_of(quiet, &r);
	CHECK_INT(run_tee(&q, path), 0);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT((int)st.st_size, 0);
	res_release(&r);

	q = req_of(talk, &r);
	CHECK_INT(run_tee(&q, path), 0);
	CHECK_STR(r.out, "live\n");
	CHECK_INT(read_file(path, &data, &len), 0);
	CHECK_STR(data, "live\n");
	free(data);
	res_release(&r);

	/* never through a link */
	victim = tmp_path("victim");
	CHECK_INT(write_file_atomic(victim, "precious\n", 9), 0);
	unlink(path);
	CHECK_INT(symlink(victim, path), 0);
	q = req_of(talk, &r);
	CHECK_INT(run_tee(&q, path), -ELOOP);
	CHECK_STR(r.out, "live\n");
	data = NULL;
	CHECK_INT(read_file(victim, &data, &len), 0);
	CHECK_STR(data, "precious\n");
	free(data);
	res_release(&r);
	free(victim);
	free(path);
	teardown();
}

/* The timeout kills the whole group: the grandchild goes too. */
static void
t_timeout_kills_group(void)
{
	char *pidf, *script;
	const char *argv[] = { "sh", "-c", NULL, NULL };
	struct res r = { 0 };
	struct drove_spawn q;
	pid_t gpid;
	double t0;

	setup();
	pidf = tmp_path("grandchild.pid");
	script = xasprintf("sleep 30 & echo $! > '%s'; echo started; "
	    "sleep 30", pidf);
	argv[2] = script;
	q = req_of(argv, &r);
	q.timeout_s = 0.3;
	t0 = now_mono();
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.err, DROVE_ETIMEDOUT);
	CHECK_INT(r.status, -SIGTERM);
	CHECK_STR(r.out, "started\n");
	CHECK(r.end - t0 >= 0.29);
	CHECK(r.end - t0 < 1.5);
	gpid = read_pid(pidf);
	CHECK(gpid > 0);
	if (gpid > 0) {
		CHECK(wait_gone(gpid));
		if (!gone(gpid))
			kill(gpid, SIGKILL);
	}
	res_release(&r);
	free(script);
	free(pidf);
	teardown();
}

/* A group that ignores SIGTERM is killed after the grace period. */
static void
t_timeout_grace_kill(void)
{
	const char *argv[] = { "sh", "-c", "trap '' TERM; sleep 30; sleep 30",
	    NULL };
	struct res r = { 0 };
	struct drove_spawn q = req_of(argv, &r);
	double saved = spawn_grace_s, t0;

	setup();
	spawn_grace_s = 0.2;
	q.timeout_s = 0.2;
	t0 = now_mono();
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.err, DROVE_ETIMEDOUT);
	CHECK_INT(r.status, -SIGKILL);
	CHECK(r.end - t0 >= 0.39);
	CHECK(r.end - t0 < 2.0);
	spawn_grace_s = saved;
	res_release(&r);
	teardown();
}

struct killer {
	struct loop_timer t;
	struct spawn *sp;
	int all;
	size_t count_before;
};

static void
kill_cb(struct loop *l, struct loop_timer *t)
{
	struct killer *k = t->data;

	k->count_before = spawn_count();
	if (k->all)
		spawn_kill_all(k->all);
	else
		spawn_kill(k->sp);
}

static void
t_spawn_kill(void)
{
	const char *argv[] = { "sleep", "30", NULL };
	struct res r = { 0 };
	struct drove_spawn q = req_of(argv, &r);
	struct killer k;
	char err[128];
	double t0;

	setup();
	memset(&k, 0, sizeof(k));
	t0 = now_mono();
	CHECK_INT(spawn_start(L, &q, &k.sp, err, sizeof(err)), 0);
	CHECK_INT(spawn_count(), 1);
	loop_timer_start(L, &k.t, 100, kill_cb, &k);
	CHECK_INT(loop_run(L), 0);
	CHECK_INT(r.done, 1);
	CHECK_INT(r.err, DROVE_ECANCELED);
	CHECK_INT(r.status, -SIGTERM);
	CHECK(r.end - t0 < 1.5);
	CHECK_INT(k.count_before, 1);
	res_release(&r);
	teardown();
}

static void
t_kill_all(void)
{
	const char *argv[] = { "sh", "-c", "trap '' TERM; sleep 30", NULL };
	struct res r[3];
	struct drove_spawn q;
	struct spawn *sp;
	struct killer k;
	char err[128];
	double t0;
	int i;

	setup();
	memset(r, 0, sizeof(r));
	memset(&k, 0, sizeof(k));
	t0 = now_mono();
	for (i = 0; i < 3; i++) {
		q = req_of(argv, &r[i]);
		CHECK_INT(spawn_start(L, &q, &sp, err, sizeof(err)), 0);
	}
	k.all = SIGKILL;
	loop_timer_start(L, &k.t, 100, kill_cb, &k);
	CHECK_INT(loop_run(L), 0);
	CHECK_INT(k.count_before, 3);
	for (i = 0; i < 3; i++) {
		CHECK_INT(r[i].done, 1);
		CHECK_INT(r[i].err, DROVE_ECANCELED);
		CHECK_INT(r[i].status, -SIGKILL);
		CHECK(r[i].end - t0 < 1.5);
		res_release(&r[i]);
	}
	teardown();
}

static void
t_parallel(void)
{
	enum { N = 20 };
	const char *argv[] = { "sh", "-c", "sleep 0.5; cat", NULL };
	struct res r[N];
	char in[N][32];
	struct drove_spawn q;
	struct spawn *sp;
	char err[128];
	double t0;
	int i;

	setup();
	memset(r, 0, sizeof(r));
	t0 = now_mono();
	for (i = 0; i < N; i++) {
		snprintf(in[i], sizeof(in[i]), "child %d", i);
		q = req_of(argv, &r[i]);
		q.stdin_data = in[i];
		q.stdin_len = strlen(in[i]);
		CHECK_INT(spawn_start(L, &q, &sp, err, sizeof(err)), 0);
	}
	CHECK_INT(spawn_count(), N);
	CHECK_INT(loop_run(L), 0);
	for (i = 0; i < N; i++) {
		CHECK_INT(r[i].done, 1);
		CHECK_INT(r[i].status, 0);
		CHECK_STR(r[i].out, in[i]);
		/* one after another would take 10 s */
		CHECK(r[i].end - t0 < 3.0);
		res_release(&r[i]);
	}
	teardown();
}

/* Shell syntax in a prompt reaches the child byte for byte. */
static void
t_no_shell(void)
{
	char *marker, *prompt, *envv;
	const char *arg[] = { "printf", "%s", NULL, NULL };
	const char *cat[] = { "cat", NULL };
	const char *penv[] = { "printenv", "DROVE_PROMPT", NULL };
	const char *env[] = { NULL, NULL };
	struct res r = { 0 };
	struct drove_spawn q;

	setup();
	marker = tmp_path("pwned");
	prompt = xasprintf("$(touch %s) `touch %s` ;rm -rf %s; "
	    "'single' \"double\" \\ $HOME * ~ | && > %s.2\n\ttab",
	    marker, marker, marker, marker);
	arg[2] = prompt;
	q = req_of(arg, &r);
	CHECK_INT(run(&q), 0);
	CHECK_STR(r.out, prompt);
	res_release(&r);

	q = req_of(cat, &r);
	q.stdin_data = prompt;
	q.stdin_len = strlen(prompt);
	CHECK_INT(run(&q), 0);
	CHECK_STR(r.out, prompt);
	res_release(&r);

	envv = xasprintf("DROVE_PROMPT=%s", prompt);
	env[0] = envv;
	q = req_of(penv, &r);
	q.env_add = env;
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.len, strlen(prompt) + 1);
	CHECK(strncmp(r.out, prompt, strlen(prompt)) == 0);
	res_release(&r);

	CHECK(access(marker, F_OK) < 0);
	free(envv);
	free(prompt);
	free(marker);
	teardown();
}

/* A grandchild that keeps stdout open does not hold the result back. */
static void
t_grandchild_holds_stdout(void)
{
	char *pidf, *script;
	const char *argv[] = { "sh", "-c", NULL, NULL };
	struct res r = { 0 };
	struct drove_spawn q;
	pid_t gpid;
	double t0;

	setup();
	pidf = tmp_path("bg.pid");
	script = xasprintf("sleep 30 & echo $! > '%s'; echo hi", pidf);
	argv[2] = script;
	q = req_of(argv, &r);
	t0 = now_mono();
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.err, 0);
	CHECK_INT(r.status, 0);
	CHECK_STR(r.out, "hi\n");
	CHECK(r.end - t0 < spawn_drain_s + 1.0);
	gpid = read_pid(pidf);
	CHECK(gpid > 0);
	if (gpid > 0) {
		kill(gpid, SIGKILL);
		CHECK(wait_gone(gpid));
	}
	res_release(&r);
	free(script);
	free(pidf);
	teardown();
}

static void
t_output_cap(void)
{
	const char *argv[] = { "head", "-c", "1000000", "/dev/zero", NULL };
	const char *fits[] = { "head", "-c", "100000", "/dev/zero", NULL };
	size_t saved = spawn_max_output;
	struct res r = { 0 };
	struct drove_spawn q;

	setup();
	spawn_max_output = 100000;
	q = req_of(argv, &r);
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.err, DROVE_EIO);
	CHECK_STR(r.out, "output of 'head' passed 100000 bytes, the output "
	    "cap: the command was stopped and its output dropped");
	res_release(&r);

	q = req_of(fits, &r);
	CHECK_INT(run(&q), 0);
	CHECK_INT(r.err, 0);
	CHECK_INT(r.len, 100000);
	res_release(&r);

	/* fits in the pipe: the child may be reaped before the overflow;
	 * the result must not wait for the drain timer then */
	{
		const char *small[] = { "head", "-c", "50000", "/dev/zero",
		    NULL };
		double drain = spawn_drain_s, t0;

		spawn_drain_s = 5;
		spawn_max_output = 10000;
		q = req_of(small, &r);
		t0 = now_mono();
		CHECK_INT(run(&q), 0);
		CHECK_INT(r.err, DROVE_EIO);
		CHECK(r.end - t0 < 2.0);
		res_release(&r);
		spawn_drain_s = drain;
	}
	spawn_max_output = saved;
	teardown();
}

/* Other children's pipes are not inherited. */
static void
t_fds_not_inherited(void)
{
	const char *slp[] = { "sleep", "30", NULL };
	const char *ls[] = { "ls", "/proc/self/fd", NULL };
	struct res rs = { 0 }, r = { 0 };
	struct drove_spawn q;
	struct spawn *sp;
	char err[128], *p, *save = NULL;
	struct killer k;
	int extra = 0;

	setup();
	if (access("/proc/self/fd", F_OK) < 0) {
		teardown();
		T_SKIP("no /proc/self/fd");
	}
	q = req_of(slp, &rs);
	CHECK_INT(spawn_start(L, &q, &sp, err, sizeof(err)), 0);
	q = req_of(ls, &r);
	q.stdin_data = "x";
	q.stdin_len = 1;
	CHECK_INT(spawn_start(L, &q, &sp, err, sizeof(err)), 0);
	/* ls ends long before the sleeper is killed */
	memset(&k, 0, sizeof(k));
	k.all = SIGKILL;
	loop_timer_start(L, &k.t, 500, kill_cb, &k);
	CHECK_INT(loop_run(L), 0);
	CHECK_INT(rs.err, DROVE_ECANCELED);
	CHECK_INT(r.done, 1);
	for (p = strtok_r(r.out, "\n", &save); p != NULL;
	    p = strtok_r(NULL, "\n", &save)) {
		int fd = atoi(p), fl;

		if (fd <= 2)
			continue;
		/* ls's own directory fd, or one this test got without
		 * close-on-exec from whoever started it */
		fl = fcntl(fd, F_GETFD);
		if (fl >= 0 && !(fl & FD_CLOEXEC))
			continue;
		extra++;
	}
	CHECK(extra <= 1);
	res_release(&r);
	res_release(&rs);
	teardown();
}

/* The core ignores SIGPIPE and the loop blocks signals; children must
 * start with neither. */
static void
t_child_signal_state(void)
{
	const char *argv[] = { "cat", "/proc/self/status", NULL };
	struct res r = { 0 };
	struct drove_spawn q = req_of(argv, &r);
	struct loop_signal sig;
	unsigned long long ign = ~0ULL, blk = ~0ULL;
	const char *p;

	setup();
	if (access("/proc/self/status", R_OK) < 0) {
		teardown();
		T_SKIP("no /proc/self/status");
	}
	memset(&sig, 0, sizeof(sig));
	CHECK_INT(loop_signal_start(L, &sig, SIGUSR1, NULL, NULL), 0);
	CHECK_INT(run(&q), 0);
	loop_signal_stop(L, &sig);
	if ((p = strstr(r.out, "SigIgn:")) != NULL)
		ign = strtoull(p + 7, NULL, 16);
	if ((p = strstr(r.out, "SigBlk:")) != NULL)
		blk = strtoull(p + 7, NULL, 16);
	CHECK((ign & (1ULL << (SIGPIPE - 1))) == 0);
	CHECK((blk & (1ULL << (SIGUSR1 - 1))) == 0);
	CHECK((blk & (1ULL << (SIGCHLD - 1))) == 0);
	res_release(&r);
	teardown();
}

static const struct t_case cases[] = {
	{ "echo_stdin", t_echo_stdin },
	{ "big_stdin", t_big_stdin },
	{ "stdin_borrowed", t_stdin_borrowed },
	{ "start_time", t_start_time },
	{ "child_ignores_stdin", t_child_ignores_stdin },
	{ "exit_codes", t_exit_codes },
	{ "killed_by_signal", t_killed_by_signal },
	{ "missing_command", t_missing_command },
	{ "path_lookup", t_path_lookup },
	{ "bad_request", t_bad_request },
	{ "cwd", t_cwd },
	{ "env_add", t_env_add },
	{ "stderr_file", t_stderr_file },
	{ "stderr_lazy", t_stderr_lazy },
	{ "tee_lazy", t_tee_lazy },
	{ "timeout_kills_group", t_timeout_kills_group },
	{ "timeout_grace_kill", t_timeout_grace_kill },
	{ "spawn_kill", t_spawn_kill },
	{ "kill_all", t_kill_all },
	{ "parallel", t_parallel },
	{ "no_shell", t_no_shell },
	{ "grandchild_holds_stdout", t_grandchild_holds_stdout },
	{ "output_cap", t_output_cap },
	{ "fds_not_inherited", t_fds_not_inherited },
	{ "child_signal_state", t_child_signal_state },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return t_main(argc, argv, cases);
}
