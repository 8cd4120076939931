/* Unit tests for json_text (core/util.c): the one lossy UTF-8 encoder for
 * JSON strings of text drove did not create. */
#include <jansson.h>

#include "t.h"
#include "util.h"

#define FFFD "\xef\xbf\xbd"

/* Expects json_text(in, len) to be the string want (wantlen bytes). */
static void
check(const char *in, size_t len, const char *want, size_t wantlen)
{
	json_t *j = json_text(in, len);

	CHECK(j != NULL && json_is_string(j));
	if (j != NULL && json_is_string(j)) {
		CHECK_INT(json_string_length(j), wantlen);
		if (json_string_length(j) == wantlen)
			CHECK(memcmp(json_string_value(j), want, wantlen) == 0);
		else
			fprintf(stderr, "got '%s', want '%s'\n",
			    json_string_value(j), want);
	}
	json_decref(j);
}

#define CHECK_TEXT(in, want) check(in, sizeof(in) - 1, want, sizeof(want) - 1)

static void
test_valid(void)
{
	CHECK_TEXT("", "");
	CHECK_TEXT("plain ascii", "plain ascii");
	CHECK_TEXT("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf",
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
	/* a NUL inside the text is text too */
	CHECK_TEXT("a\0b", "a\0b");
}

static void
test_invalid(void)
{
	CHECK_TEXT("a\xff" "b", "a" FFFD "b");
	CHECK_TEXT("\xfe\xff", FFFD FFFD);
	CHECK_TEXT("\x80", FFFD);
	/* overlong forms, surrogates, above U+10FFFF, F5 and up */
	CHECK_TEXT("\xc0\x80", FFFD FFFD);
	CHECK_TEXT("\xe0\x80\x80", FFFD FFFD FFFD);
	CHECK_TEXT("\xed\xa0\x80", FFFD FFFD FFFD);
	CHECK_TEXT("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);
	CHECK_TEXT("\xf5\x80", FFFD FFFD);
	/* a cut sequence is one U+FFFD (its maximal subpart) */
	CHECK_TEXT("x\xe2\x82", "x" FFFD);
	CHECK_TEXT("\xf0\x9f\x98" "y", FFFD "y");
	CHECK_TEXT("\xe2\x82\xe2\x82\xac", FFFD "\xe2\x82\xac");
}

static void
test_null(void)
{
	json_t *j = json_text(NULL, 0);

	CHECK(json_is_null(j));
	json_decref(j);
	j = json_texts(NULL);
	CHECK(json_is_null(j));
	json_decref(j);
	j = json_texts("ok \xff");
	CHECK_STR(json_string_value(j), "ok " FFFD);
	json_decref(j);
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "valid", test_valid },
		{ "invalid", test_invalid },
		{ "null", test_null },
		{ NULL, NULL },
	};

	return t_main(argc, argv, cases);
}
