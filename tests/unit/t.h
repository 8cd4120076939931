/*
 * A tiny unit-test harness.  A test program lists its cases in a table and
 * calls t_main():
 *   prog --list      prints the case names, one a line (tests/run uses it)
 *   prog NAME        runs one case; exit 0 pass, 1 fail, 77 skip
 *   prog             runs every case in this process
 */
#ifndef DROVE_T_H
#define DROVE_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct t_case {
	const char *name;
	void (*fn)(void);
};

static int t_failures;
static int t_skipped;

#define CHECK(c) do { \
	if (!(c)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #c); \
		t_failures++; \
	} \
} while (0)

#define CHECK_INT(a, b) do { \
	long long t_a_ = (long long)(a), t_b_ = (long long)(b); \
	if (t_a_ != t_b_) { \
		fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
		    __FILE__, __LINE__, #a, t_a_, #b, t_b_); \
		t_failures++; \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *t_a_ = (a), *t_b_ = (b); \
	if (t_a_ == NULL || t_b_ == NULL || strcmp(t_a_, t_b_) != 0) { \
		fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", \
		    __FILE__, __LINE__, #a, t_a_ ? t_a_ : "(null)", \
		    t_b_ ? t_b_ : "(null)"); \
		t_failures++; \
	} \
} while (0)

/* substring check */
#define CHECK_HAS(hay, needle) do { \
	const char *t_h_ = (hay), *t_n_ = (needle); \
	if (t_h_ == NULL || strstr(t_h_, t_n_) == NULL) { \
		fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", \
		    __FILE__, __LINE__, t_h_ ? t_h_ : "(null)", t_n_); \
		t_failures++; \
	} \
} while (0)

#define T_SKIP(why) do { \
	fprintf(stderr, "skip: %s\n", why); \
	t_skipped = 1; \
	return; \
} while (0)

static int
t_main(int argc, char **argv, const struct t_case *cases)
{
	const struct t_case *c;
	int ran = 0;

	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		for (c = cases; c->name; c++)
			printf("%s\n", c->name);
		return 0;
	}
	for (c = cases; c->name; c++) {
		if (argc > 1 && strcmp(argv[1], c->name) != 0)
			continue;
		c->fn();
		ran++;
	}
	if (ran == 0) {
		fprintf(stderr, "no test case '%s'\n", argc > 1 ? argv[1] : "");
		return 2;
	}
	if (t_failures)
		return 1;
	return t_skipped ? 77 : 0;
}

#endif /* DROVE_T_H */
