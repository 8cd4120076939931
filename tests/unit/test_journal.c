/* The run journal: append, replay, a torn last line. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "t.h"
#include "util.h"

static char dir[] = "/tmp/drove-journal.XXXXXX";
static char path[256];

static void
setup(void)
{
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
}

static void
teardown(void)
{
	unlink(path);
	rmdir(dir);
}

struct seen {
	int n;
	char tasks[8][32];
};

static void
collect(json_t *ev, void *arg)
{
	struct seen *s = arg;
	const char *t = json_string_value(json_object_get(ev, "task"));

	if (s->n < 8)
		snprintf(s->tasks[s->n], sizeof(s->tasks[0]), "%s",
		    t ? t : "?");
	s->n++;
}

static void
append(struct journal *j, const char *task)
{
	json_t *ev = json_object();

	json_object_set_new(ev, "ev", json_string("task"));
	json_object_set_new(ev, "task", json_string(task));
	CHECK_INT(journal_append(j, ev, 1), 0);
}

static void
test_roundtrip(void)
{
	struct journal j;
	struct seen s = { 0 };
	int torn = -1;

	setup();
	CHECK_INT(journal_open(&j, path), 0);
	append(&j, "a");
	append(&j, "b\nwith a newline");
	journal_close(&j);
	CHECK_INT(journal_replay(path, collect, &s, &torn), 0);
	CHECK_INT(s.n, 2);
	CHECK_STR(s.tasks[0], "a");
	CHECK_STR(s.tasks[1], "b\nwith a newline");
	CHECK_INT(torn, 0);
	teardown();
}

static void
test_torn_then_append(void)
{
	struct journal j;
	struct seen s = { 0 };
	int torn = 0, fd;

	setup();
	CHECK_INT(journal_open(&j, path), 0);
	append(&j, "a");
	journal_close(&j);
	/* a crash in the middle of a write */
	fd = open(path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0);
	CHECK_INT(write(fd, "{\"ev\":\"task\",\"ta", 16), 16);
	close(fd);
	CHECK_INT(journal_replay(path, collect, &s, &torn), 0);
	CHECK_INT(s.n, 1);
	CHECK_INT(torn, 1);
	/* reopening closes the torn line off: the next event is whole */
	CHECK_INT(journal_open(&j, path), 0);
	append(&j, "c");
	journal_close(&j);
	memset(&s, 0, sizeof(s));
	CHECK_INT(journal_replay(path, collect, &s, &torn), 0);
	CHECK_INT(s.n, 2);
	CHECK_STR(s.tasks[1], "c");
	CHECK_INT(torn, 1);
	teardown();
}

static int syncs, laters;

static void
on_sync(void *arg)
{
	(void)arg;
	syncs++;
}

static void
on_later(void *arg)
{
	(void)arg;
	laters++;
}

static void
append_flags(struct journal *j, const char *task, int flags)
{
	json_t *ev = json_object();

	json_object_set_new(ev, "ev", json_string("task"));
	json_object_set_new(ev, "task", json_string(task));
	CHECK_INT(journal_append(j, ev, flags), 0);
}

static size_t
file_size(void)
{
	char *data;
	size_t len;

	if (read_file(path, &data, &len) < 0)
		return (size_t)-1;
	free(data);
	return len;
}

/* JOURNAL_LATER lines wait, with a group commit, for the next line
 * written now or journal_flush, and go out in order; without one they
 * are written at once. */
static void
test_later(void)
{
	struct journal j;
	struct seen s = { 0 };
	size_t size;

	setup();
	CHECK_INT(journal_open(&j, path), 0);
	/* no group commit: at once */
	append_flags(&j, "a", JOURNAL_LATER);
	size = file_size();
	CHECK(size > 0);
	j.sync = on_sync;
	j.later = on_later;
	syncs = laters = 0;
	append_flags(&j, "b", JOURNAL_LATER);
	append_flags(&j, "c", JOURNAL_LATER | JOURNAL_SYNC);
	CHECK_INT(laters, 1);
	CHECK_INT(syncs, 1);
	CHECK(file_size() == size);
	/* a line written now takes the pending ones first */
	append_flags(&j, "d", 0);
	CHECK_INT(j.npending, 0);
	CHECK_INT(journal_replay(path, collect, &s, NULL), 0);
	CHECK_INT(s.n, 4);
	CHECK_STR(s.tasks[1], "b");
	CHECK_STR(s.tasks[2], "c");
	CHECK_STR(s.tasks[3], "d");
	/* the end of the turn, and the close, write what waits */
	append_flags(&j, "e", JOURNAL_LATER);
	size = file_size();
	CHECK_INT(journal_flush(&j), 0);
	CHECK(file_size() > size);
	append_flags(&j, "f", JOURNAL_LATER);
	journal_close(&j);
	memset(&s, 0, sizeof(s));
	CHECK_INT(journal_replay(path, collect, &s, NULL), 0);
	CHECK_INT(s.n, 6);
	CHECK_STR(s.tasks[4], "e");
	CHECK_STR(s.tasks[5], "f");
	teardown();
}

static void
test_missing(void)
{
	int torn;

	CHECK(journal_replay("/nonexistent/journal.jsonl", collect, NULL,
	    &torn) < 0);
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "roundtrip", test_roundtrip },
		{ "torn_then_append", test_torn_then_append },
		{ "later", test_later },
		{ "missing", test_missing },
		{ NULL, NULL },
	};

	return t_main(argc, argv, cases);
}
