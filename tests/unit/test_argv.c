/* argv_split: shell-like word splitting without expansion. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "t.h"

#define MAXW 8

struct vec {
	const char *in;
	const char *want[MAXW];	/* NULL-ended */
};

/* Checks one input against the expected words; returns 1 if it matched. */
static int
check_split(const char *in, const char *const *want)
{
	char err[128] = "";
	char **v = argv_split(in, err, sizeof(err));
	size_t i;
	int ok = 1;

	if (v == NULL) {
		fprintf(stderr, "split of [%s] failed: %s\n", in, err);
		t_failures++;
		return 0;
	}
	for (i = 0; want[i] != NULL || v[i] != NULL; i++) {
		if (want[i] == NULL || v[i] == NULL ||
		    strcmp(want[i], v[i]) != 0) {
			fprintf(stderr, "split of [%s]: word %zu is [%s], "
			    "expected [%s]\n", in, i, v[i] ? v[i] : "(end)",
			    want[i] ? want[i] : "(end)");
			t_failures++;
			ok = 0;
			break;
		}
	}
	free(v);
	return ok;
}

static const struct vec plain[] = {
	{ "claude -p", { "claude", "-p" } },
	{ "a", { "a" } },
	{ "  a   b  ", { "a", "b" } },
	{ "a\tb\nc", { "a", "b", "c" } },
	{ "\n\t a \r\n", { "a" } },
	{ "codex exec --full-auto", { "codex", "exec", "--full-auto" } },
	{ NULL, { NULL } },
};

static const struct vec quotes[] = {
	{ "'a b'", { "a b" } },
	{ "\"a b\"", { "a b" } },
	{ "'a \"b\" c'", { "a \"b\" c" } },
	{ "\"it's\"", { "it's" } },
	{ "'\\n\\'", { "\\n\\" } },
	{ "a'b'c\"d\"e", { "abcde" } },
	{ "x='1 2' y", { "x=1 2", "y" } },
	{ "--msg=\"hello world\" --x", { "--msg=hello world", "--x" } },
	{ "'a\nb'", { "a\nb" } },
	{ "\"a\tb\"", { "a\tb" } },
	{ NULL, { NULL } },
};

static const struct vec escapes[] = {
	{ "a\\ b", { "a b" } },
	{ "\\'a\\'", { "'a'" } },
	{ "\\\"", { "\"" } },
	{ "\\\\", { "\\" } },
	{ "\\n", { "n" } },
	{ "\"\\\"\"", { "\"" } },
	{ "\"\\\\\"", { "\\" } },
	{ "\"\\$HOME\"", { "$HOME" } },
	{ "\"\\`x\\`\"", { "`x`" } },
	/* other backslashes inside double quotes stay */
	{ "\"\\n\\t\\a\"", { "\\n\\t\\a" } },
	{ "\"a\\\nb\"", { "ab" } },
	{ "a\\\nb", { "ab" } },
	{ "a \\\n b", { "a", "b" } },
	{ "a\\\tb", { "a\tb" } },
	{ NULL, { NULL } },
};

static const struct vec empties[] = {
	{ "''", { "" } },
	{ "\"\"", { "" } },
	{ "a '' b", { "a", "", "b" } },
	{ "a \"\" ''", { "a", "", "" } },
	{ "''a", { "a" } },
	{ "a''", { "a" } },
	{ "'''' \"\"\"\"", { "", "" } },
	{ NULL, { NULL } },
};

static const struct vec literal[] = {
	{ "echo $HOME", { "echo", "$HOME" } },
	{ "echo ${HOME}x", { "echo", "${HOME}x" } },
	{ "ls *.c ?.h [ab]", { "ls", "*.c", "?.h", "[ab]" } },
	{ "cat ~/x ~", { "cat", "~/x", "~" } },
	{ "a|b;c&d>e<f", { "a|b;c&d>e<f" } },
	{ "a | b", { "a", "|", "b" } },
	{ "echo $(id) `id`", { "echo", "$(id)", "`id`" } },
	{ "x # y", { "x", "#", "y" } },
	{ "\"$HOME\"", { "$HOME" } },
	{ "'$HOME'", { "$HOME" } },
	{ "{a,b}", { "{a,b}" } },
	{ NULL, { NULL } },
};

static const struct vec unicode[] = {
	{ "\xc3\xa9t\xc3\xa9 '\xe2\x9c\x93 ok'",
	    { "\xc3\xa9t\xc3\xa9", "\xe2\x9c\x93 ok" } },
	{ "\xf0\x9f\x98\x80\\ \xf0\x9f\x98\x80",
	    { "\xf0\x9f\x98\x80 \xf0\x9f\x98\x80" } },
	/* a UTF-8 non-breaking space is not a separator */
	{ "a\xc2\xa0" "b", { "a\xc2\xa0" "b" } },
	{ NULL, { NULL } },
};

static void
run_table(const struct vec *v)
{
	for (; v->in != NULL; v++)
		check_split(v->in, v->want);
}

static void
t_plain(void)
{
	run_table(plain);
}

static void
t_quotes(void)
{
	run_table(quotes);
}

static void
t_escapes(void)
{
	run_table(escapes);
}

static void
t_empty_words(void)
{
	run_table(empties);
}

static void
t_no_expansion(void)
{
	run_table(literal);
}

static void
t_unicode(void)
{
	run_table(unicode);
}

static void
expect_error(const char *in, const char *why)
{
	char err[128] = "";
	char **v = argv_split(in, err, sizeof(err));

	if (v != NULL) {
		fprintf(stderr, "split of [%s] should fail\n", in);
		t_failures++;
		free(v);
		return;
	}
	CHECK_STR(err, why);
}

static void
t_errors(void)
{
	expect_error("", "empty command");
	expect_error("   \t\n ", "empty command");
	expect_error("\\\n", "empty command");
	expect_error(NULL, "empty command");
	expect_error("'abc", "unterminated single quote");
	expect_error("a 'b\"c", "unterminated single quote");
	expect_error("\"abc", "unterminated double quote");
	expect_error("a \"b'c", "unterminated double quote");
	expect_error("\"a\\\"", "unterminated double quote");
	expect_error("abc\\", "trailing backslash");
	expect_error("\\", "trailing backslash");
	/* a short error buffer is cut, not overrun */
	{
		char err[6];
		char **v = argv_split("'x", err, sizeof(err));

		CHECK(v == NULL);
		CHECK_STR(err, "unter");
	}
}

/* The result is one block: the strings live right after the pointers. */
static void
t_one_block(void)
{
	char **v = argv_split("one 'two three' four", NULL, 0);

	CHECK(v != NULL);
	if (v == NULL)
		return;
	CHECK((char *)v[0] == (char *)(v + 4));
	CHECK(v[1] == v[0] + 4);
	CHECK(v[3] == NULL);
	free(v);
}

/*
 * The same inputs through /bin/sh must give the same words.  Only inputs
 * without anything a shell would expand are compared.
 */
static void
t_agrees_with_sh(void)
{
	static const struct vec *tables[] = { plain, quotes, escapes,
	    empties, unicode };
	size_t i, compared = 0;

	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		const struct vec *v;

		for (v = tables[i]; v->in != NULL; v++) {
			char cmd[512], got[512];
			char **mine;
			size_t n = 0, k, off;
			FILE *f;

			if (strpbrk(v->in, "$`*?[~|;&<>(){}#\r") != NULL)
				continue;
			/* to sh a bare newline ends the command */
			if (strchr(v->in, '\n') != NULL &&
			    strpbrk(v->in, "\\'\"") == NULL)
				continue;
			snprintf(cmd, sizeof(cmd), "printf '%%s\\0' %s",
			    v->in);
			mine = argv_split(v->in, NULL, 0);
			if (mine == NULL)
				continue;
			f = popen(cmd, "r");
			CHECK(f != NULL);
			if (f == NULL) {
				free(mine);
				return;
			}
			n = fread(got, 1, sizeof(got), f);
			pclose(f);
			for (k = 0, off = 0; mine[k] != NULL; k++) {
				size_t len = strlen(mine[k]) + 1;

				if (off + len > n ||
				    memcmp(got + off, mine[k], len) != 0) {
					fprintf(stderr, "sh splits [%s] "
					    "differently at word %zu\n",
					    v->in, k);
					t_failures++;
					break;
				}
				off += len;
			}
			if (mine[k] == NULL)
				CHECK_INT(off, n);
			free(mine);
			compared++;
		}
	}
	CHECK(compared > 20);
}

static const struct t_case cases[] = {
	{ "plain", t_plain },
	{ "quotes", t_quotes },
	{ "escapes", t_escapes },
	{ "empty_words", t_empty_words },
	{ "no_expansion", t_no_expansion },
	{ "unicode", t_unicode },
	{ "errors", t_errors },
	{ "one_block", t_one_block },
	{ "agrees_with_sh", t_agrees_with_sh },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
