/* plan_extract: the INI file in a backend's answer; plan_prompt. */
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "t.h"

static char *
extract(const char *s)
{
	return plan_extract(s, strlen(s));
}

/* Checks one answer, and the same answer fed with every shorter length
 * (which must never read past it). */
static void
check_extract(const char *in, const char *want)
{
	char *got = extract(in);

	if (want == NULL)
		CHECK(got == NULL);
	else
		CHECK_STR(got, want);
	free(got);
	for (size_t n = 0; n < strlen(in); n++) {
		char *cut = malloc(n ? n : 1);

		memcpy(cut, in, n);
		free(plan_extract(cut, n));
		free(cut);
	}
}

static void
t_plain(void)
{
	check_extract("[task a]\nprompt = x\n", "[task a]\nprompt = x\n");
	check_extract("[task a]\nprompt = x", "[task a]\nprompt = x\n");
	check_extract("[task a]\nprompt = x\n\n\n  \n",
	    "[task a]\nprompt = x\n");
}

static void
t_prose_before(void)
{
	check_extract("Here you go:\n\n[task a]\nprompt = x\n",
	    "[task a]\nprompt = x\n");
	check_extract("Sure [not a header]\n  [task a]\nprompt = x\n",
	    "  [task a]\nprompt = x\n");
}

static void
t_fences(void)
{
	check_extract("Plan:\n```ini\n[task a]\nprompt = x\n```\nDone.\n",
	    "[task a]\nprompt = x\n");
	check_extract("```\n[task a]\nprompt = x\n```",
	    "[task a]\nprompt = x\n");
	/* a fence with no section is skipped for the next one */
	check_extract("```sh\necho hi\n```\nthen\n```ini\n; c\n[task b]\n"
	    "prompt = y\n```\n[task z]\n", "[task b]\nprompt = y\n");
	/* unclosed */
	check_extract("ok\n```ini\n[task a]\nprompt = x\n",
	    "[task a]\nprompt = x\n");
	/* no fence: to the end */
	check_extract("[task a]\nprompt = x\n  more\n", "[task a]\nprompt = "
	    "x\n  more\n");
}

static void
t_crlf(void)
{
	check_extract("Hi\r\n```\r\n[task a]\r\nprompt = x\r\n```\r\n",
	    "[task a]\nprompt = x\n");
}

static void
t_none(void)
{
	check_extract("", NULL);
	check_extract("I cannot do that.\n", NULL);
	check_extract("```\nno sections\n```\n", NULL);
}

static void
t_prompt(void)
{
	const char *goal = "  a \"goal\"\n; with $HOME and {{x}} ";
	char *p = plan_prompt(goal);
	char *r = plan_retry_prompt(p, "[task a]\nbad = 1\n",
	    "x.ini:2: task 'a': unknown key 'bad'");
	size_t n = strlen(p), g = strlen(goal);

	CHECK(n > g + 1 && memcmp(p + n - g - 1, goal, g) == 0);
	CHECK(p[n - 1] == '\n' && p[n - g - 2] == '\n');
	CHECK_HAS(p, "[task NAME]");
	CHECK_HAS(r, p);
	CHECK_HAS(r, "bad = 1");
	CHECK_HAS(r, "unknown key 'bad'");
	free(p);
	free(r);
}

static const struct t_case cases[] = {
	{ "plain", t_plain },
	{ "prose_before", t_prose_before },
	{ "fences", t_fences },
	{ "crlf", t_crlf },
	{ "none", t_none },
	{ "prompt", t_prompt },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
