/* The group commit: a turn's results written, flushed once, then their
 * journal lines, after the turn's waiting lines. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commit.h"
#include "journal.h"
#include "loop.h"
#include "t.h"
#include "util.h"

static char adir[] = "/tmp/drove-commit.XXXXXX";
static char bdir[] = "/dev/shm/drove-commit.XXXXXX";
static int ndone, nfail;
static struct loop *L;

static void
on_done(void *arg, int rc)
{
	(void)arg;
	if (rc < 0)
		nfail++;
	if (++ndone == 4)
		loop_stop(L);
}

static void
check_file(const char *path, const char *want)
{
	char *data;
	size_t len;

	CHECK_INT(read_file(path, &data, &len), 0);
	CHECK_INT(len, strlen(want));
	CHECK(memcmp(data, want, len) == 0);
	free(data);
}

static void
later(struct journal *j, const char *what)
{
	json_t *ev = json_object();

	json_object_set_new(ev, "ev", json_string(what));
	CHECK_INT(journal_append(j, ev, JOURNAL_LATER), 0);
}

/* Files in two directories of two file systems, back and forth: each
 * file system is noted once for the flush (the writer looks up a file's
 * only when its directory is not the last one's), every file is whole, and
 * the journal holds the waiting line first, then the records in order. */
static void
test_two_dirs(void)
{
	char a1[128], a2[128], b1[128], a3[128], jp[128], *data, *p;
	struct stat sa, sb;
	struct journal j;
	struct commit cm;
	size_t len;

	if (mkdtemp(adir) == NULL || mkdtemp(bdir) == NULL)
		T_SKIP("no /tmp or /dev/shm");
	if (stat(adir, &sa) < 0 || stat(bdir, &sb) < 0 ||
	    sa.st_dev == sb.st_dev)
		T_SKIP("/tmp and /dev/shm are one file system");
	snprintf(a1, sizeof(a1), "%s/a1.out", adir);
	snprintf(a2, sizeof(a2), "%s/a2.out", adir);
	snprintf(a3, sizeof(a3), "%s/a3.out", adir);
	snprintf(b1, sizeof(b1), "%s/b1.out", bdir);
	snprintf(jp, sizeof(jp), "%s/journal.jsonl", adir);
	L = loop_new();
	CHECK(L != NULL);
	CHECK_INT(journal_open(&j, jp), 0);
	CHECK_INT(commit_start(&cm, L, &j), 0);
	later(&j, "start");
	commit_output(&cm, a1, "one", 3, xstrdup("{\"ev\":\"a1\"}"), NULL,
	    on_done, NULL);
	commit_output(&cm, a2, "two", 3, xstrdup("{\"ev\":\"a2\"}"), NULL,
	    on_done, NULL);
	commit_output(&cm, b1, "three", 5, xstrdup("{\"ev\":\"b1\"}"), NULL,
	    on_done, NULL);
	commit_output(&cm, a3, "", 0, xstrdup("{\"ev\":\"a3\"}"), NULL,
	    on_done, NULL);
	/* nothing written before the end of the turn */
	CHECK_INT(read_file(jp, &data, &len), 0);
	CHECK_INT(len, 0);
	free(data);
	CHECK_INT(loop_run(L), 0);
	CHECK_INT(ndone, 4);
	CHECK_INT(nfail, 0);
	/* the journal's file system (that of a1 and a3) and /dev/shm */
	CHECK_INT(cm.nfs, 2);
	CHECK(cm.flushes >= 1);
	commit_stop(&cm);
	journal_close(&j);
	loop_free(L);
	check_file(a1, "one");
	check_file(a2, "two");
	check_file(b1, "three");
	check_file(a3, "");
	CHECK_INT(read_file(jp, &data, &len), 0);
	p = data;
	CHECK(len > 0 && data[len - 1] == '\n');
	data[len - 1] = '\0';
	CHECK_STR(p, "{\"ev\":\"start\"}\n{\"ev\":\"a1\"}\n{\"ev\":\"a2\"}\n"
	    "{\"ev\":\"b1\"}\n{\"ev\":\"a3\"}");
	free(data);
	unlink(a1);
	unlink(a2);
	unlink(a3);
	unlink(b1);
	unlink(jp);
	rmdir(adir);
	rmdir(bdir);
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "two_dirs", test_two_dirs },
		{ NULL, NULL },
	};

	return t_main(argc, argv, cases);
}
