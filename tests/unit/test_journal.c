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
		{ "missing", test_missing },
		{ NULL, NULL },
	};

	return t_main(argc, argv, cases);
}
