/* Files the core writes: temporary names nobody can plant a link at. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "journal.h"
#include "t.h"
#include "util.h"

static char dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/drove-files.XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
}

static void
teardown(void)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	(void)!system(cmd);
	free(cmd);
}

static int
count_entries(void)
{
	char *cmd = xasprintf("ls -A '%s' | wc -l", dir);
	FILE *p = popen(cmd, "r");
	int n = -1;

	if (p != NULL) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	free(cmd);
	return n;
}

/* A link at the old predictable name "<path>.tmp.<pid>" is not followed:
 * its target keeps its bytes and the output lands at path. */
static void
test_atomic_planted_tmp(void)
{
	char *victim, *out, *planted, *data = NULL;
	size_t len = 0;
	struct stat st;

	setup();
	victim = xasprintf("%s/victim", dir);
	out = xasprintf("%s/a.out", dir);
	planted = xasprintf("%s.tmp.%ld", out, (long)getpid());
	CHECK_INT(write_file_atomic(victim, "precious\n", 9), 0);
	CHECK_INT(symlink(victim, planted), 0);
	CHECK_INT(write_file_atomic(out, "result\n", 7), 0);
	CHECK_INT(read_file(victim, &data, &len), 0);
	CHECK_STR(data, "precious\n");
	free(data);
	data = NULL;
	CHECK_INT(read_file(out, &data, &len), 0);
	CHECK_STR(data, "result\n");
	free(data);
	/* the planted link is still a link, and no temporary is left */
	CHECK_INT(lstat(planted, &st), 0);
	CHECK(S_ISLNK(st.st_mode));
	CHECK_INT(count_entries(), 3);
	free(victim);
	free(out);
	free(planted);
	teardown();
}

/* A link at the output's own name is replaced, not written through. */
static void
test_atomic_link_at_path(void)
{
	char *victim, *out, *data = NULL;
	size_t len = 0;
	struct stat st;

	setup();
	victim = xasprintf("%s/victim", dir);
	out = xasprintf("%s/a.out", dir);
	CHECK_INT(write_file_atomic(victim, "precious\n", 9), 0);
	CHECK_INT(symlink(victim, out), 0);
	CHECK_INT(write_file_atomic(out, "result\n", 7), 0);
	CHECK_INT(read_file(victim, &data, &len), 0);
	CHECK_STR(data, "precious\n");
	free(data);
	CHECK_INT(lstat(out, &st), 0);
	CHECK(S_ISREG(st.st_mode));
	free(victim);
	free(out);
	teardown();
}

/* Two temporary names for one path differ, and each is created fresh. */
static void
test_tmp_names_unpredictable(void)
{
	char *out, *t1 = NULL, *t2 = NULL;
	int fd1, fd2;

	setup();
	out = xasprintf("%s/x", dir);
	fd1 = open_tmp_beside(out, &t1);
	fd2 = open_tmp_beside(out, &t2);
	CHECK(fd1 >= 0);
	CHECK(fd2 >= 0);
	CHECK(t1 != NULL && t2 != NULL && strcmp(t1, t2) != 0);
	CHECK(t1 != NULL && strncmp(t1, out, strlen(out)) == 0);
	CHECK(fcntl(fd1, F_GETFD) & FD_CLOEXEC);
	close(fd1);
	close(fd2);
	free(t1);
	free(t2);
	free(out);
	teardown();
}

/* The journal and a resumed task's output are not opened through links. */
static void
test_nofollow_reads(void)
{
	char *victim, *link, *data = NULL;
	struct journal j;
	size_t len = 0;

	setup();
	victim = xasprintf("%s/victim", dir);
	link = xasprintf("%s/journal.jsonl", dir);
	CHECK_INT(write_file_atomic(victim, "precious\n", 9), 0);
	CHECK_INT(symlink(victim, link), 0);
	CHECK_INT(journal_open(&j, link), -ELOOP);
	CHECK_INT(read_file_nofollow(link, &data, &len), -ELOOP);
	CHECK_INT(read_file(victim, &data, &len), 0);
	CHECK_STR(data, "precious\n");
	free(data);
	free(victim);
	free(link);
	teardown();
}

/* write_file_new: a name planted beside path (a directory at the old
 * predictable "<path>.new.<pid>") does not stop it; an existing path is
 * kept. */
static void
test_new_file_planted(void)
{
	char *out, *planted, *data = NULL;
	size_t len = 0;

	setup();
	out = xasprintf("%s/plan.ini", dir);
	planted = xasprintf("%s.new.%ld", out, (long)getpid());
	CHECK_INT(mkdir(planted, 0700), 0);
	CHECK_INT(write_file_new(out, "[task a]\n", 9), 0);
	CHECK_INT(read_file(out, &data, &len), 0);
	CHECK_STR(data, "[task a]\n");
	free(data);
	CHECK_INT(write_file_new(out, "other\n", 6), -EEXIST);
	CHECK_INT(read_file(out, &data, &len), 0);
	CHECK_STR(data, "[task a]\n");
	free(data);
	/* the planted directory and the output; no temporary file left */
	CHECK_INT(count_entries(), 2);
	free(out);
	free(planted);
	teardown();
}

/* fs_copy_into never writes through a link in the destination: not one
 * at the file, not one at a directory on its way, not into a file with
 * other hard links, not into a FIFO (without hanging). */
static void
test_copy_into_links(void)
{
	char *src, *wt, *out, *victim, *p, *data = NULL;
	size_t len = 0;

	setup();
	src = xasprintf("%s/src.env", dir);
	wt = xasprintf("%s/wt", dir);
	out = xasprintf("%s/outside", dir);
	CHECK_INT(write_file_atomic(src, "SECRET=1\n", 9), 0);
	CHECK_INT(mkdir(wt, 0700), 0);
	CHECK_INT(mkdir(out, 0700), 0);
	victim = xasprintf("%s/victim", out);
	CHECK_INT(write_file_atomic(victim, "keep\n", 5), 0);

	/* a plain copy, parents made */
	CHECK_INT(fs_copy_into(src, wt, "a/b/c.env"), 0);
	p = xasprintf("%s/a/b/c.env", wt);
	CHECK_INT(read_file(p, &data, &len), 0);
	CHECK_STR(data, "SECRET=1\n");
	free(data);
	free(p);

	/* a link at the file */
	p = xasprintf("%s/.env", wt);
	CHECK_INT(symlink(victim, p), 0);
	CHECK_INT(fs_copy_into(src, wt, ".env"), -ELOOP);
	free(p);

	/* a link at a directory on the way */
	p = xasprintf("%s/conf", wt);
	CHECK_INT(symlink(out, p), 0);
	free(p);
	CHECK_INT(fs_copy_into(src, wt, "conf/app.env"), -ELOOP);
	CHECK_INT(fs_copy_into(src, wt, "conf/x/app.env"), -ELOOP);

	/* a hard link to a file outside */
	p = xasprintf("%s/hard.env", wt);
	CHECK_INT(link(victim, p), 0);
	CHECK_INT(fs_copy_into(src, wt, "hard.env"), -EMLINK);
	free(p);

	/* a FIFO */
	p = xasprintf("%s/fifo.env", wt);
	CHECK_INT(mkfifo(p, 0600), 0);
	CHECK_INT(fs_copy_into(src, wt, "fifo.env"), -EEXIST);
	free(p);

	CHECK_INT(read_file(victim, &data, &len), 0);
	CHECK_STR(data, "keep\n");
	free(data);
	free(victim);
	p = xasprintf("%s/app.env", out);
	CHECK_INT(access(p, F_OK) < 0 && errno == ENOENT, 1);
	free(p);
	free(src);
	free(wt);
	free(out);
	teardown();
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "atomic_planted_tmp", test_atomic_planted_tmp },
		{ "atomic_link_at_path", test_atomic_link_at_path },
		{ "tmp_names_unpredictable", test_tmp_names_unpredictable },
		{ "nofollow_reads", test_nofollow_reads },
		{ "new_file_planted", test_new_file_planted },
		{ "copy_into_links", test_copy_into_links },
		{ NULL, NULL },
	};

	return t_main(argc, argv, cases);
}
