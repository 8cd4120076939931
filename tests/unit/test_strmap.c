/* Unit tests for core/strmap.c: the string index of the loader and graph. */
#include <stdio.h>

#include "strmap.h"
#include "t.h"

static void
test_put_get(void)
{
	struct strmap m;
	char k[32];
	size_t v, i;
	int n;

	strmap_init(&m);
	CHECK(!strmap_get(&m, "a", 1, &v));
	for (i = 0; i < 20000; i++) {
		n = snprintf(k, sizeof(k), "key%zu", i);
		strmap_put(&m, k, (size_t)n, i * 3);
	}
	CHECK_INT(m.n, 20000);
	for (i = 0; i < 20000; i++) {
		n = snprintf(k, sizeof(k), "key%zu", i);
		v = 0;
		CHECK(strmap_get(&m, k, (size_t)n, &v));
		CHECK_INT(v, i * 3);
	}
	CHECK(!strmap_get(&m, "key20000", 8, &v));
	CHECK(!strmap_get(&m, "key", 3, &v));
	/* put of a key that is there replaces its value */
	strmap_put(&m, "key5", 4, 77);
	CHECK_INT(m.n, 20000);
	CHECK(strmap_get(&m, "key5", 4, &v));
	CHECK_INT(v, 77);
	strmap_release(&m);
	CHECK(!strmap_get(&m, "key5", 4, &v));
}

static void
test_binary_keys(void)
{
	struct strmap m;
	size_t v = 0;

	/* the loader's keys are "type\0name": the NUL is part of the key */
	strmap_init(&m);
	strmap_put(&m, "task\0a", 6, 1);
	strmap_put(&m, "backend\0a", 9, 2);
	strmap_put(&m, "", 0, 3);
	CHECK(strmap_get(&m, "task\0a", 6, &v));
	CHECK_INT(v, 1);
	CHECK(strmap_get(&m, "backend\0a", 9, &v));
	CHECK_INT(v, 2);
	CHECK(strmap_get(&m, "", 0, &v));
	CHECK_INT(v, 3);
	CHECK(!strmap_get(&m, "task", 4, &v));
	CHECK(!strmap_get(&m, "task\0b", 6, &v));
	strmap_release(&m);
}

/* a reserved table does not grow; keys longer than a chunk, mixed with
 * short ones, keep their bytes */
static void
test_reserve_long_keys(void)
{
	static char big[3][40000];
	struct strmap m;
	char k[32];
	size_t v, i, cap;
	int n;

	strmap_init(&m);
	strmap_reserve(&m, 5000);
	cap = m.cap;
	CHECK(cap >= 10000);
	for (i = 0; i < 5000; i++) {
		n = snprintf(k, sizeof(k), "task%zu", i);
		strmap_put(&m, k, (size_t)n, i);
		if (i % 1000 == 0) {
			size_t b = i / 1000 % 3;

			memset(big[b], 'a' + (int)b, sizeof(big[b]));
			big[b][i % 7] = 'Z';
			strmap_put(&m, big[b], sizeof(big[b]) - (i % 5), i + 1);
		}
	}
	CHECK_INT(m.cap, cap);
	for (i = 0; i < 5000; i++) {
		n = snprintf(k, sizeof(k), "task%zu", i);
		CHECK(strmap_get(&m, k, (size_t)n, &v) && v == i);
	}
	for (i = 0; i < 5000; i += 1000) {
		size_t b = i / 1000 % 3;

		memset(big[b], 'a' + (int)b, sizeof(big[b]));
		big[b][i % 7] = 'Z';
		CHECK(strmap_get(&m, big[b], sizeof(big[b]) - (i % 5), &v) &&
		    v == i + 1);
		big[b][i % 7] = 'Y';
		CHECK(!strmap_get(&m, big[b], sizeof(big[b]) - (i % 5), &v));
	}
	strmap_release(&m);
}

static const struct t_case cases[] = {
	{ "put_get", test_put_get },
	{ "binary_keys", test_binary_keys },
	{ "reserve_long_keys", test_reserve_long_keys },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
