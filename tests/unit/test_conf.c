/* Unit tests for core/conf.c: INI parsing, errors with file:line, getters. */
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>

#include "conf.h"
#include "drove/plugin.h"
#include "t.h"
#include "util.h"

static char err[1024];

/* Loads text as "tasks.ini" into a fresh conf; returns the rc. */
static int
load(struct conf *c, const char *text)
{
	conf_init(c);
	err[0] = '\0';
	return conf_load_string(c, "tasks.ini", text, err, sizeof(err));
}

/* Expects text to fail with exactly msg. */
static void
expect_error(const char *text, const char *msg)
{
	struct conf c;

	CHECK_INT(load(&c, text), DROVE_EINVAL);
	CHECK_STR(err, msg);
	CHECK(strchr(err, '\n') == NULL);
	conf_release(&c);
}

/* Writes text to a new temporary file; returns its malloc'd path. */
static char *
temp_file(const char *text)
{
	char *path = xstrdup("/tmp/drove-test-conf.XXXXXX");
	int fd = mkstemp(path);

	if (fd < 0 || write_all(fd, text, strlen(text)) < 0) {
		perror("mkstemp");
		exit(1);
	}
	close(fd);
	return path;
}

static void
test_basic(void)
{
	struct conf c;
	struct conf_section *s;
	const struct conf_kv *kv;
	char buf[128];

	CHECK_INT(load(&c,
	    "; comment\n"
	    "# another\n"
	    "[drove]\n"
	    "jobs = 8\n"
	    "\n"
	    "[backend claude]\n"
	    "type=anthropic\n"
	    "[task a]\n"
	    "prompt = hello world  \n"), 0);
	CHECK_STR(err, "");
	CHECK_INT(c.nsec, 3);
	CHECK_INT(c.nfiles, 1);
	CHECK_STR(c.files[0], "tasks.ini");
	s = conf_find(&c, "drove", "");
	CHECK(s != NULL);
	CHECK_STR(conf_get(s, "jobs"), "8");
	CHECK_INT(s->line, 3);
	CHECK_STR(s->file, "tasks.ini");
	s = conf_find(&c, "backend", "claude");
	CHECK(s != NULL);
	CHECK_STR(conf_get(s, "type"), "anthropic");
	CHECK(conf_get(s, "model") == NULL);
	s = conf_find(&c, "task", "a");
	CHECK(s != NULL);
	CHECK_STR(s->type, "task");
	CHECK_STR(s->name, "a");
	kv = conf_get_kv(s, "prompt");
	CHECK(kv != NULL);
	CHECK_STR(kv->value, "hello world");
	CHECK_INT(kv->line, 9);
	CHECK_STR(kv->file, "tasks.ini");
	conf_where(s, "prompt", buf, sizeof(buf));
	CHECK_STR(buf, "tasks.ini:9");
	conf_where(s, "nope", buf, sizeof(buf));
	CHECK_STR(buf, "tasks.ini:8");
	conf_where(s, NULL, buf, sizeof(buf));
	CHECK_STR(buf, "tasks.ini:8");
	conf_label(s, buf, sizeof(buf));
	CHECK_STR(buf, "task 'a'");
	conf_label(conf_find(&c, "backend", "claude"), buf, sizeof(buf));
	CHECK_STR(buf, "backend 'claude'");
	conf_label(conf_find(&c, "drove", ""), buf, sizeof(buf));
	CHECK_STR(buf, "[drove]");
	CHECK(conf_find(&c, "task", "b") == NULL);
	CHECK(conf_find(&c, "backend", "a") == NULL);
	conf_release(&c);
	CHECK_INT(c.nsec, 0);
}

static void
test_empty_section(void)
{
	struct conf c;
	struct conf_section *s;

	CHECK_INT(load(&c, "[task x]\n[task y]\n; nothing\n[task z]"), 0);
	CHECK_INT(c.nsec, 3);
	s = conf_find(&c, "task", "y");
	CHECK(s != NULL);
	if (s) {
		CHECK_INT(s->nkv, 0);
		CHECK_INT(s->line, 2);
	}
	s = conf_find(&c, "task", "z");
	CHECK(s != NULL && s->line == 4);
	conf_release(&c);
}

static void
test_long_line(void)
{
	struct conf c;
	struct buf b = BUF_INIT;
	const struct conf_kv *kv;
	struct conf_section *s;
	size_t i, n = 300 * 1024;

	buf_adds(&b, "[task long]\nprompt = ");
	for (i = 0; i < n; i++)
		buf_addc(&b, (char)('a' + i % 26));
	buf_adds(&b, "\nsystem = ");
	for (i = 0; i < 150000; i++)
		buf_addc(&b, 'x');
	buf_adds(&b, "\n  continued\nmodel = m\n");
	CHECK_INT(load(&c, buf_str(&b)), 0);
	CHECK_STR(err, "");
	s = conf_find(&c, "task", "long");
	kv = conf_get_kv(s, "prompt");
	CHECK(kv != NULL);
	if (kv) {
		CHECK_INT(strlen(kv->value), n);
		CHECK_INT(kv->value[n - 1], 'a' + (n - 1) % 26);
		CHECK_INT(kv->line, 2);
	}
	kv = conf_get_kv(s, "system");
	CHECK(kv != NULL);
	if (kv) {
		CHECK_INT(strlen(kv->value), 150000 + strlen("\ncontinued"));
		CHECK_INT(kv->line, 3);
	}
	/* the line count survives lines read in many chunks */
	kv = conf_get_kv(s, "model");
	CHECK(kv != NULL && kv->line == 5);
	conf_release(&c);
	buf_release(&b);
}

static void
test_semicolon_hash_in_value(void)
{
	struct conf c;
	struct conf_section *s;

	CHECK_INT(load(&c,
	    "[task a]\n"
	    "prompt = use a; then b # not a comment ;x\n"
	    "; a comment line\n"
	    "# also a comment\n"
	    "system = #first\n"
	    "output = x:y=z\n"), 0);
	s = conf_find(&c, "task", "a");
	CHECK_STR(conf_get(s, "prompt"),
	    "use a; then b # not a comment ;x");
	CHECK_STR(conf_get(s, "system"), "#first");
	CHECK_STR(conf_get(s, "output"), "x:y=z");
	CHECK_INT(s->nkv, 3);
	conf_release(&c);
}

static void
test_continuation(void)
{
	struct conf c;
	struct conf_section *s;
	const struct conf_kv *kv;

	CHECK_INT(load(&c,
	    "[task a]\n"
	    "prompt = Write a changelog entry. Report:\n"
	    "  {{tests}}\n"
	    "  and more; with ; and #\n"
	    "  [not a header]\n"
	    "model = m\n"
	    "\n"
	    "[task b]\n"
	    "prompt = x\n"), 0);
	s = conf_find(&c, "task", "a");
	kv = conf_get_kv(s, "prompt");
	CHECK(kv != NULL);
	if (kv) {
		CHECK_STR(kv->value, "Write a changelog entry. Report:\n"
		    "{{tests}}\nand more; with ; and #\n[not a header]");
		CHECK_INT(kv->line, 2);
	}
	CHECK_INT(conf_get_kv(s, "model")->line, 6);
	CHECK_STR(conf_get(conf_find(&c, "task", "b"), "prompt"), "x");
	conf_release(&c);

	/* an indented line before any key of the section is a key */
	CHECK_INT(load(&c, "[task a]\n  prompt = p\n  model = m\n"), 0);
	s = conf_find(&c, "task", "a");
	CHECK_STR(conf_get(s, "prompt"), "p\nmodel = m");
	conf_release(&c);
}

/*
 * A continuation value that would lose text (a blank line, a comment
 * line, deeper indentation) is refused at the line, with the way out.
 */
static void
test_continuation_lossy(void)
{
	static const char hint[] = "write the value as a '<<END' block "
	    "(see drove(1)) or, for a prompt, in prompt_file";
	char want[512];

	snprintf(want, sizeof(want), "tasks.ini:4: indented line starting "
	    "with '#' after 'prompt' would be dropped as a comment, not kept "
	    "in the value; %s (or, for a comment, start the line with '#')",
	    hint);
	expect_error("[task a]\nprompt = Steps:\n  one\n  # Heading\n"
	    "  two\n", want);
	snprintf(want, sizeof(want), "tasks.ini:3: indented line starting "
	    "with ';' after 'prompt' would be dropped as a comment, not kept "
	    "in the value; %s (or, for a comment, start the line with ';')",
	    hint);
	expect_error("[task a]\nprompt = x\n\t; not a comment\n", want);
	snprintf(want, sizeof(want), "tasks.ini:4: blank line inside the "
	    "multi-line value of 'prompt' would be dropped; %s", hint);
	expect_error("[task a]\nprompt = para one\n  more\n\n  para two\n",
	    want);
	snprintf(want, sizeof(want), "tasks.ini:3: comment line inside the "
	    "multi-line value of 'system' would be dropped; %s", hint);
	expect_error("[task a]\nsystem = s\n# note\n  more\n", want);
	snprintf(want, sizeof(want), "tasks.ini:4: line indented differently "
	    "from line 3 in the multi-line value of 'prompt': continuation "
	    "lines lose their indentation; %s", hint);
	expect_error("[task a]\nprompt = list:\n  - a\n    - a.1\n", want);
	expect_error("[task a]\nprompt = list:\n  - a\n\t- b\n", want);
}

/* Every byte between "key = <<WORD" and the WORD line is the value. */
static void
test_heredoc(void)
{
	static const char body[] =
	    "# Heading\n"
	    "  #include <stdio.h>\n"
	    "; not a comment\n"
	    "\n"
	    "\tindented  \n"
	    "[task b]\n"
	    "key = value\n"
	    "   ENDING\n"
	    "{{a}} and <<END";
	struct conf c;
	struct conf_section *s;
	char *text;

	text = xasprintf("[task a]\nprompt = <<END\n%s\n  END  \n"
	    "model = m\n; comment\nsystem=<<X_1\nX_1\n[task c]\n"
	    "prompt = p\n", body);
	CHECK_INT(load(&c, text), 0);
	CHECK_STR(err, "");
	s = conf_find(&c, "task", "a");
	CHECK(s != NULL && s->nkv == 3);
	CHECK_STR(conf_get(s, "prompt"), body);
	CHECK_INT(conf_get_kv(s, "prompt")->line, 2);
	CHECK_STR(conf_get(s, "model"), "m");
	CHECK_INT(conf_get_kv(s, "model")->line, 13);
	CHECK_STR(conf_get(s, "system"), "");
	CHECK_INT(conf_get_kv(s, "system")->line, 15);
	CHECK(conf_find(&c, "task", "b") == NULL);
	CHECK_INT(conf_find(&c, "task", "c")->line, 17);
	conf_release(&c);
	free(text);

	/* CRLF lines: the newline before the WORD line is not text */
	CHECK_INT(load(&c, "[task a]\r\nprompt = <<E\r\na\r\nb\r\nE\r\n"),
	    0);
	CHECK_STR(conf_get(conf_find(&c, "task", "a"), "prompt"), "a\r\nb");
	conf_release(&c);

	/* errors keep their lines after a block */
	expect_error("[task a]\nprompt = <<END\nx\nEND\nprompt = y\n",
	    "tasks.ini:5: task 'a': duplicate key 'prompt'");
	expect_error("[task a]\nprompt = <<END\nx\nend\n",
	    "tasks.ini:2: '<<END' block is never closed: no line holding "
	    "only 'END' follows");
	expect_error("[task a]\nprompt = <<END\nx\nEND\n  more\n",
	    "tasks.ini:5: indented line after the '<<' block of 'prompt' "
	    "(line 2): it would continue that value; remove the indentation "
	    "or move the text into the block");
	expect_error("[task a]\nprompt = <<END\n=\n[x\nEND\nno equals sign\n",
	    "tasks.ini:6: expected 'key = value', '[section]' or a comment, "
	    "not 'no equals sign'");
	expect_error("[task a]\nprompt = <<END\nEND\n[bad header\n",
	    "tasks.ini:4: unterminated section header '[bad header' "
	    "(missing ']')");
	/* "<<" with something else is plain text */
	CHECK_INT(load(&c, "[task a]\nprompt = <<END x\nsystem = <<\n"), 0);
	CHECK_STR(conf_get(conf_find(&c, "task", "a"), "prompt"), "<<END x");
	CHECK_STR(conf_get(conf_find(&c, "task", "a"), "system"), "<<");
	conf_release(&c);
}

static void
test_crlf(void)
{
	struct conf c;
	struct conf_section *s;

	CHECK_INT(load(&c,
	    "[drove]\r\n"
	    "jobs = 4\r\n"
	    "\r\n"
	    "[task a]\r\n"
	    "prompt = one\r\n"
	    "  two\r\n"
	    "model = m\r\n"), 0);
	s = conf_find(&c, "drove", "");
	CHECK(s != NULL);
	CHECK_STR(conf_get(s, "jobs"), "4");
	s = conf_find(&c, "task", "a");
	CHECK(s != NULL);
	CHECK_STR(conf_get(s, "prompt"), "one\ntwo");
	CHECK_STR(conf_get(s, "model"), "m");
	CHECK_INT(conf_get_kv(s, "model")->line, 7);
	conf_release(&c);
	expect_error("[task a]\r\nbad\r\n",
	    "tasks.ini:2: expected 'key = value', '[section]' or a comment, "
	    "not 'bad'");
}

static void
test_bom(void)
{
	struct conf c;
	struct conf_section *s;

	CHECK_INT(load(&c, "\xef\xbb\xbf[drove]\njobs = 2\n"), 0);
	s = conf_find(&c, "drove", "");
	CHECK(s != NULL);
	CHECK_STR(conf_get(s, "jobs"), "2");
	conf_release(&c);
	CHECK_INT(load(&c, "\xef\xbb\xbf; comment\n[task a]\n"), 0);
	CHECK(conf_find(&c, "task", "a") != NULL);
	conf_release(&c);
}

static void
test_bad_headers(void)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "[task a]\nprompt = p\n[task b\n",
		  "tasks.ini:3: unterminated section header '[task b' "
		  "(missing ']')" },
		{ "[task]\n",
		  "tasks.ini:1: section '[task]' needs a name: [task NAME]" },
		{ "\n[backend ]\n",
		  "tasks.ini:2: section '[backend ]' needs a name: "
		  "[backend NAME]" },
		{ "[foo bar]\n",
		  "tasks.ini:1: unknown section type 'foo' in '[foo bar]' "
		  "(expected [drove], [backend NAME] or [task NAME])" },
		{ "[task a b]\n",
		  "tasks.ini:1: bad section header '[task a b]': a task name "
		  "cannot contain spaces" },
		{ "[task a/b]\n",
		  "tasks.ini:1: bad task name 'a/b' (names use only A-Z a-z "
		  "0-9 _ . -)" },
		{ "[backend caf\xc3\xa9]\n",
		  "tasks.ini:1: bad backend name 'caf\xc3\xa9' (names use "
		  "only A-Z a-z 0-9 _ . -)" },
		{ "[drove x]\n",
		  "tasks.ini:1: [drove] takes no name: '[drove x]'" },
		{ "[]\n",
		  "tasks.ini:1: empty section header '[]' (expected [drove], "
		  "[backend NAME] or [task NAME])" },
		{ "[task a] trailing\n",
		  "tasks.ini:1: unexpected text after ']' in "
		  "'[task a] trailing'" },
		{ "[Task a]\n",
		  "tasks.ini:1: unknown section type 'Task' in '[Task a]' "
		  "(expected [drove], [backend NAME] or [task NAME])" },
	};
	struct conf c;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		expect_error(cases[i].text, cases[i].msg);

	/* a comment may follow the header */
	CHECK_INT(load(&c, "[drove]   ; run-wide\n[task a] # x\n"), 0);
	CHECK(conf_find(&c, "task", "a") != NULL);
	conf_release(&c);
}

static void
test_duplicates(void)
{
	expect_error("[task x]\nprompt = a\nmodel = m\nprompt = b\n",
	    "tasks.ini:4: task 'x': duplicate key 'prompt'");
	expect_error("[task x]\nprompt = a\n[task y]\n[task x]\n",
	    "tasks.ini:4: duplicate task 'x' (first declared on line 1)");
	expect_error("[drove]\n[backend b]\n[drove]\n",
	    "tasks.ini:3: duplicate [drove] (first declared on line 1)");
}

/* The section index: many sections, the same name in two types, files. */
static void
test_index(void)
{
	struct buf b = BUF_INIT;
	struct conf c;
	struct conf_section *s;
	int i;

	for (i = 0; i < 5000; i++)
		buf_printf(&b, "[task t%d]\nprompt = %d\n", i, i);
	buf_printf(&b, "[backend t7]\ntype = exec\n[task t4999]\n");
	CHECK_INT(load(&c, buf_str(&b)), DROVE_EINVAL);
	CHECK_STR(err, "tasks.ini:10003: duplicate task 't4999' (first "
	    "declared on line 9999)");
	conf_release(&c);

	buf_release(&b);
	for (i = 0; i < 5000; i++)
		buf_printf(&b, "[task t%d]\nprompt = %d\n", i, i);
	buf_printf(&b, "[backend t7]\ntype = exec\n");
	CHECK_INT(load(&c, buf_str(&b)), 0);
	CHECK_INT(c.nsec, 5001);
	CHECK_STR(conf_get(conf_find(&c, "task", "t7"), "prompt"), "7");
	CHECK_STR(conf_get(conf_find(&c, "backend", "t7"), "type"), "exec");
	CHECK(conf_find(&c, "task", "t5000") == NULL);
	CHECK(conf_find(&c, "plugin", "t7") == NULL);
	/* a later file's section replaces the earlier one in its place */
	CHECK_INT(conf_load_string(&c, "more.ini", "[task t3]\nprompt = new\n"
	    "[task z]\nprompt = z\n", err, sizeof(err)), 0);
	CHECK_INT(c.nsec, 5002);
	s = conf_find(&c, "task", "t3");
	CHECK(s == c.sec[3]);
	CHECK_STR(conf_get(s, "prompt"), "new");
	CHECK_STR(s->file, "more.ini");
	CHECK(conf_find(&c, "task", "z") == c.sec[5001]);
	conf_release(&c);
	buf_release(&b);
}

static void
test_key_outside_section(void)
{
	expect_error("; top\njobs = 4\n[drove]\n",
	    "tasks.ini:2: key 'jobs' before any section header");
	expect_error("[task a]\n= x\n",
	    "tasks.ini:2: task 'a': missing key name before '='");
}

static void
test_inih_error_line(void)
{
	struct conf c;

	expect_error("[task a]\nprompt = p\n\n; c\nthis line has no equals\n"
	    "[task b]\n",
	    "tasks.ini:5: expected 'key = value', '[section]' or a comment, "
	    "not 'this line has no equals'");
	/* nothing of a failed load is kept */
	CHECK_INT(load(&c, "[task a]\nprompt = p\n"), 0);
	CHECK_INT(conf_load_string(&c, "more.ini", "[task b]\nx\n", err,
	    sizeof(err)), DROVE_EINVAL);
	CHECK_STR(err, "more.ini:2: expected 'key = value', '[section]' or "
	    "a comment, not 'x'");
	CHECK_INT(c.nsec, 1);
	CHECK_INT(c.nfiles, 1);
	CHECK(conf_find(&c, "task", "b") == NULL);
	conf_release(&c);
}

static void
test_getters(void)
{
	struct conf c;
	struct conf_section *s;
	long l = -1;
	double d = -1;
	int b = -1;

	CHECK_INT(load(&c,
	    "[task b]\n"
	    "replicas = 5\n"
	    "neg = -3\n"
	    "big = 99999999999999999999999\n"
	    "t = 2.5\n"
	    "yes = Yes\n"
	    "off = off\n"
	    "one = 1\n"
	    "retries = abc\n"
	    "hundred1 = 101\n"
	    "frac = 1.5\n"
	    "multi = 1\n  2\n"
	    "nan = nan\n"
	    "maybe = maybe\n"
	    "empty =\n"), 0);
	s = conf_find(&c, "task", "b");
	CHECK_INT(conf_get_long(s, "replicas", 1, 1, 1000, &l, err,
	    sizeof(err)), 0);
	CHECK_INT(l, 5);
	CHECK_INT(conf_get_long(s, "absent", 7, 1, 10, &l, err,
	    sizeof(err)), 0);
	CHECK_INT(l, 7);
	CHECK_INT(conf_get_long(s, "neg", 0, -10, 10, &l, err,
	    sizeof(err)), 0);
	CHECK_INT(l, -3);
	CHECK_INT(conf_get_long(s, "retries", 0, 0, 100, &l, err,
	    sizeof(err)), DROVE_EINVAL);
	CHECK_STR(err, "tasks.ini:9: task 'b': bad value 'abc' for 'retries' "
	    "(expected an integer from 0 to 100)");
	CHECK_INT(conf_get_long(s, "hundred1", 0, 0, 100, &l, err,
	    sizeof(err)), DROVE_EINVAL);
	CHECK_STR(err, "tasks.ini:10: task 'b': bad value '101' for "
	    "'hundred1' (expected an integer from 0 to 100)");
	CHECK_INT(conf_get_long(s, "frac", 0, 0, 100, &l, err,
	    sizeof(err)), DROVE_EINVAL);
	CHECK_INT(conf_get_long(s, "big", 0, 0, 100, &l, err,
	    sizeof(err)), DROVE_EINVAL);
	CHECK_INT(conf_get_long(s, "empty", 0, 0, 100, &l, err,
	    sizeof(err)), DROVE_EINVAL);
	CHECK_HAS(err, "tasks.ini:16: task 'b': bad value '' for 'empty'");
	/* a joined value is shown on one line */
	CHECK_INT(conf_get_long(s, "multi", 0, 0, 100, &l, err,
	    sizeof(err)), DROVE_EINVAL);
	CHECK_STR(err, "tasks.ini:12: task 'b': bad value '1...' for 'multi' "
	    "(expected an integer from 0 to 100)");

	CHECK_INT(conf_get_double(s, "t", 0, 0, 10, &d, err, sizeof(err)), 0);
	CHECK(d == 2.5);
	CHECK_INT(conf_get_double(s, "absent", 1.25, 0, 10, &d, err,
	    sizeof(err)), 0);
	CHECK(d == 1.25);
	CHECK_INT(conf_get_double(s, "t", 0, 0, 2, &d, err, sizeof(err)),
	    DROVE_EINVAL);
	CHECK_STR(err, "tasks.ini:5: task 'b': bad value '2.5' for 't' "
	    "(expected a number from 0 to 2)");
	CHECK_INT(conf_get_double(s, "nan", 0, -1e9, 1e9, &d, err,
	    sizeof(err)), DROVE_EINVAL);
	CHECK_INT(conf_get_double(s, "retries", 0, 0, 1, &d, err,
	    sizeof(err)), DROVE_EINVAL);

	CHECK_INT(conf_get_bool(s, "yes", 0, &b, err, sizeof(err)), 0);
	CHECK_INT(b, 1);
	CHECK_INT(conf_get_bool(s, "off", 1, &b, err, sizeof(err)), 0);
	CHECK_INT(b, 0);
	CHECK_INT(conf_get_bool(s, "one", 0, &b, err, sizeof(err)), 0);
	CHECK_INT(b, 1);
	CHECK_INT(conf_get_bool(s, "absent", 1, &b, err, sizeof(err)), 0);
	CHECK_INT(b, 1);
	CHECK_INT(conf_get_bool(s, "maybe", 0, &b, err, sizeof(err)),
	    DROVE_EINVAL);
	CHECK_HAS(err, "tasks.ini:15: task 'b': bad value 'maybe' for "
	    "'maybe' (expected true or false");
	conf_release(&c);
}

static void
test_check_keys(void)
{
	static const char *const base[] = { "prompt", "model", NULL };
	static const char *const extra[] = { "weights", NULL };
	struct conf c;
	struct conf_section *s;

	CHECK_INT(load(&c, "[task x]\nprompt = p\nweights = 1\nmodel = m\n"
	    "[backend y]\nprompt = p\npromt = q\n"), 0);
	s = conf_find(&c, "task", "x");
	CHECK_INT(conf_check_keys(s, err, sizeof(err), base, extra, NULL), 0);
	CHECK_INT(conf_check_keys(s, err, sizeof(err), base, NULL),
	    DROVE_EINVAL);
	CHECK_STR(err, "tasks.ini:3: task 'x': unknown key 'weights'");
	s = conf_find(&c, "backend", "y");
	CHECK_INT(conf_check_keys(s, err, sizeof(err), base, extra, NULL),
	    DROVE_EINVAL);
	CHECK_STR(err, "tasks.ini:7: backend 'y': unknown key 'promt'");
	conf_release(&c);
}

static void
test_load_file(void)
{
	struct conf c;
	char *path = temp_file("[task a]\nprompt = p\n\n[task b\n");
	char want[512];
	int rc;

	conf_init(&c);
	rc = conf_load(&c, path, err, sizeof(err));
	CHECK_INT(rc, DROVE_EINVAL);
	snprintf(want, sizeof(want), "%s:4: unterminated section header "
	    "'[task b' (missing ']')", path);
	CHECK_STR(err, want);
	unlink(path);
	rc = conf_load(&c, path, err, sizeof(err));
	CHECK_INT(rc, DROVE_EIO);
	snprintf(want, sizeof(want), "cannot open '%s': %s", path,
	    strerror(ENOENT));
	CHECK_STR(err, want);
	conf_release(&c);
	free(path);

	/* a NUL byte would cut the text short: refuse it */
	path = temp_file("[task a]\nprompt = p\n");
	{
		FILE *f = fopen(path, "a");

		fputs("model = m", f);
		fputc('\0', f);
		fputs("x\n", f);
		fclose(f);
	}
	conf_init(&c);
	CHECK_INT(conf_load(&c, path, err, sizeof(err)), DROVE_EINVAL);
	snprintf(want, sizeof(want), "%s:3: NUL byte in a text file", path);
	CHECK_STR(err, want);
	CHECK_INT(c.nsec, 0);
	conf_release(&c);
	unlink(path);
	free(path);

	path = temp_file("[task a]\nprompt = p\n");
	conf_init(&c);
	CHECK_INT(conf_load(&c, path, err, sizeof(err)), 0);
	CHECK_INT(c.nfiles, 1);
	CHECK_STR(c.files[0], path);
	CHECK(conf_find(&c, "task", "a") != NULL);
	if (conf_find(&c, "task", "a"))
		CHECK_STR(conf_find(&c, "task", "a")->file, path);
	conf_release(&c);
	unlink(path);
	free(path);
}

static void
test_replace_and_merge(void)
{
	struct conf c;
	struct conf_section *s;
	const struct conf_kv *kv;
	char buf[64];

	CHECK_INT(load(&c,
	    "[drove]\n"
	    "jobs = 8\n"
	    "budget_usd = 5\n"
	    "[backend claude]\n"
	    "type = anthropic\n"
	    "model = old\n"
	    "[backend local]\n"
	    "type = openai\n"), 0);
	CHECK_INT(conf_load_string(&c, "tasks2.ini",
	    "[backend claude]\n"
	    "type = exec\n"
	    "[drove]\n"
	    "jobs = 2\n"
	    "plugin_dir = /x\n"
	    "[task t]\n"
	    "prompt = p\n", err, sizeof(err)), 0);
	CHECK_INT(c.nfiles, 2);
	CHECK_INT(c.nsec, 4);
	/* the later backend replaces the earlier one entirely */
	s = conf_find(&c, "backend", "claude");
	CHECK_STR(conf_get(s, "type"), "exec");
	CHECK(conf_get(s, "model") == NULL);
	CHECK_STR(s->file, "tasks2.ini");
	CHECK_INT(s->line, 1);
	CHECK(c.sec[1] == s);
	CHECK_STR(conf_get(conf_find(&c, "backend", "local"), "type"),
	    "openai");
	/* [drove] merges key by key */
	s = conf_find(&c, "drove", "");
	CHECK_STR(conf_get(s, "jobs"), "2");
	CHECK_STR(conf_get(s, "budget_usd"), "5");
	CHECK_STR(conf_get(s, "plugin_dir"), "/x");
	kv = conf_get_kv(s, "jobs");
	CHECK_STR(kv->file, "tasks2.ini");
	CHECK_INT(kv->line, 4);
	conf_where(s, "budget_usd", buf, sizeof(buf));
	CHECK_STR(buf, "tasks.ini:3");
	conf_where(s, "plugin_dir", buf, sizeof(buf));
	CHECK_STR(buf, "tasks2.ini:5");
	CHECK(conf_find(&c, "task", "t") != NULL);
	conf_release(&c);
}

static void
test_excerpt(void)
{
	char buf[128];
	char longv[200];

	conf_excerpt("plain", buf, sizeof(buf));
	CHECK_STR(buf, "plain");
	conf_excerpt("two\nlines", buf, sizeof(buf));
	CHECK_STR(buf, "two...");
	memset(longv, 'x', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	conf_excerpt(longv, buf, sizeof(buf));
	CHECK_INT(strlen(buf), 63);
	CHECK(strcmp(buf + 60, "...") == 0);
}

static void
test_duration(void)
{
	static const struct { const char *s; double want; } good[] = {
		{ "90", 90 }, { "90s", 90 }, { "5m", 300 }, { "1h", 3600 },
		{ "1.5m", 90 }, { "0", 0 }, { "0.5", 0.5 }, { "7d", 604800 },
		{ ".5", 0.5 }, { "5.", 5 }, { "0.25h", 900 }, { "2d", 172800 },
	};
	static const char *const bad[] = {
		"", " 5", "5 ", "-1", "5x", "5ms", "m", "1hh", "inf", "nan",
		"1e999", "s", "d", "1dd", "1e3", "0x10", "+5", ".", "..",
		"1.2.3", "5.m.", "1 d", "9e9999d",
	};
	double d;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		d = -1;
		CHECK_INT(parse_duration(good[i].s, &d), 0);
		CHECK(d == good[i].want);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (parse_duration(bad[i], &d) != -1) {
			fprintf(stderr, "'%s' taken as a duration\n", bad[i]);
			t_failures++;
		}
	}
}

static void
test_size(void)
{
	static const struct { const char *s; uint64_t want; } good[] = {
		{ "0", 0 }, { "1048576", 1048576 }, { "2k", 2048 },
		{ "512M", 512ULL << 20 }, { "1G", 1ULL << 30 },
		{ "1.5G", 3ULL << 29 }, { "2T", 2ULL << 40 }, { "100.7", 100 },
	};
	static const char *const bad[] = {
		"", " 5", "5 ", "-1", "5x", "12MB", "G", "1e9", "0x10", "inf",
		".5G", "1.5.5G", "99999999999999999999T",
	};
	uint64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		v = 1;
		CHECK_INT(parse_size(good[i].s, &v), 0);
		CHECK(v == good[i].want);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (parse_size(bad[i], &v) != -1) {
			fprintf(stderr, "'%s' taken as a size\n", bad[i]);
			t_failures++;
		}
	}
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "basic", test_basic },
		{ "empty_section", test_empty_section },
		{ "long_line", test_long_line },
		{ "semicolon_hash_in_value", test_semicolon_hash_in_value },
		{ "continuation", test_continuation },
		{ "continuation_lossy", test_continuation_lossy },
		{ "heredoc", test_heredoc },
		{ "crlf", test_crlf },
		{ "bom", test_bom },
		{ "bad_headers", test_bad_headers },
		{ "duplicates", test_duplicates },
		{ "index", test_index },
		{ "key_outside_section", test_key_outside_section },
		{ "inih_error_line", test_inih_error_line },
		{ "getters", test_getters },
		{ "check_keys", test_check_keys },
		{ "load_file", test_load_file },
		{ "replace_and_merge", test_replace_and_merge },
		{ "excerpt", test_excerpt },
		{ "duration", test_duration },
		{ "size", test_size },
		{ NULL, NULL },
	};

	return t_main(argc, argv, cases);
}
