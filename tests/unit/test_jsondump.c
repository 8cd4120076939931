/* Unit tests for jsondump (core/jsondump.c): the same bytes as jansson's
 * json_dumps, for fixed cases and for random trees. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "jsondump.h"
#include "t.h"

static const size_t flagsets[] = {
	JSON_COMPACT | JSON_PRESERVE_ORDER,
	JSON_COMPACT,
	JSON_INDENT(2) | JSON_PRESERVE_ORDER,
	JSON_INDENT(1) | JSON_PRESERVE_ORDER,
	JSON_INDENT(4),
	0,
	JSON_PRESERVE_ORDER,
	JSON_COMPACT | JSON_REAL_PRECISION(5),
	JSON_INDENT(2) | JSON_REAL_PRECISION(17),
	JSON_COMPACT | JSON_INDENT(2),		/* to jansson */
	JSON_COMPACT | JSON_ENSURE_ASCII,	/* to jansson */
	JSON_COMPACT | JSON_SORT_KEYS,		/* to jansson */
	JSON_INDENT(2) | JSON_ENCODE_ANY,	/* to jansson */
};

/* Expects jsondump and jsondump_line to match json_dumps under every flag
 * set; returns the number of mismatches. */
static int
same(const json_t *j)
{
	size_t i, n;
	int bad = 0;

	for (i = 0; i < sizeof(flagsets) / sizeof(flagsets[0]); i++) {
		char *want = json_dumps(j, flagsets[i]);
		char *got = jsondump(j, flagsets[i]);
		char *line = jsondump_line(j, flagsets[i], &n);

		if ((want == NULL) != (got == NULL) || (want != NULL &&
		    strcmp(want, got) != 0)) {
			fprintf(stderr, "flags %#zx\nwant %s\ngot  %s\n",
			    flagsets[i], want ? want : "(null)",
			    got ? got : "(null)");
			bad++;
		}
		if ((want == NULL) != (line == NULL) || (want != NULL &&
		    (n != strlen(want) + 1 || strncmp(want, line, n - 1) != 0 ||
		    line[n - 1] != '\n' || line[n] != '\0'))) {
			fprintf(stderr, "line, flags %#zx\n", flagsets[i]);
			bad++;
		}
		free(want);
		free(got);
		free(line);
	}
	return bad;
}

static void
test_fixed(void)
{
	static const double reals[] = {
		0.0, -0.0, 1.0, -1.0, 0.1, 1.5, 1e17, 1e16, 123456789012345678.0,
		1e-5, 1e-7, 1.25e-300, 5e-324, DBL_MAX, -DBL_MAX, DBL_MIN,
		1e100, 2.5e21, 3.0e-10, 0.30000000000000004, 12.345, 100.0,
		1234567.0, 1e22, 9007199254740993.0,
	};
	static const json_int_t ints[] = {
		0, 1, -1, 9, 10, -10, 1234567890, INT64_MAX, INT64_MIN,
		INT64_MIN + 1,
	};
	json_t *o = json_object(), *a = json_array();
	size_t i;

	for (i = 0; i < sizeof(reals) / sizeof(reals[0]); i++)
		json_array_append_new(a, json_real(reals[i]));
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		json_array_append_new(a, json_integer(ints[i]));
	json_object_set_new(o, "reals and ints", a);
	json_object_set_new(o, "esc", json_string("q\" b\\ s/ \b\f\n\r\t"
	    "\x01\x1f\x7f end"));
	json_object_set_new(o, "nul", json_stringn("a\0b", 3));
	json_object_set_new(o, "utf8", json_string("caf\xc3\xa9 \xe2\x82\xac "
	    "\xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xef\xbf\xbd"));
	json_object_set_new(o, "k\xc3\xa9y \"q\"\n", json_true());
	json_object_set_new(o, "", json_false());
	json_object_set_new(o, "null", json_null());
	json_object_set_new(o, "empty{}", json_object());
	json_object_set_new(o, "empty[]", json_array());
	a = json_array();
	json_array_append_new(a, json_object());
	json_array_append_new(a, json_array());
	json_array_append_new(a, json_pack("{s:[i,{s:s}]}", "x", 1, "y", "z"));
	json_object_set_new(o, "nested", a);
	CHECK(same(o) == 0);
	CHECK(same(json_object_get(o, "nested")) == 0);
	CHECK(same(json_object_get(o, "empty{}")) == 0);
	CHECK(same(json_object_get(o, "empty[]")) == 0);
	CHECK(same(json_object_get(o, "null")) == 0);	/* a bare value */
	json_decref(o);
}

/* Strings made without a check: invalid UTF-8 gives NULL, as jansson. */
static void
test_invalid_utf8(void)
{
	static const char *bad[] = {
		"\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80",
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xc3",
		"\xe2\x82", "\xf0\x9f\x98", "ok \xc3\x28",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *o = json_object();

		json_object_set_new(o, "v", json_stringn_nocheck(bad[i],
		    strlen(bad[i])));
		CHECK(same(o) == 0);
		json_decref(o);
	}
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static json_t *
rstring(int check)
{
	static const char *pieces[] = {
		"a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f",
		"\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "plain",
		"\xc3", "\xed\xa0\x80", "\x80",
	};
	char b[64];
	size_t n = 0, k = rnd() % 8, i;

	for (i = 0; i < k; i++) {
		const char *p = pieces[rnd() % (check ? 15 : 18)];
		size_t l = strlen(p);

		memcpy(b + n, p, l);
		n += l;
	}
	if (rnd() % 20 == 0)
		b[n++] = '\0';
	return check ? json_stringn(b, n) : json_stringn_nocheck(b, n);
}

static json_t *
rtree(int depth, int check)
{
	uint64_t u;
	double d;

	switch (rnd() % (depth > 3 ? 6 : 8)) {
	case 0: return json_null();
	case 1: return json_boolean(rnd() & 1);
	case 2:
		u = rnd();
		return json_integer((json_int_t)(rnd() % 3 == 0 ? u :
		    u % 2000) - (rnd() % 3 == 0 ? 1000 : 0));
	case 3:
		u = rnd();
		memcpy(&d, &u, sizeof(d));
		if (!isfinite(d) || rnd() % 2)
			d = (double)(int64_t)(rnd() % 100000) /
			    (double)(1 + rnd() % 1000);
		return json_real(d);
	case 4:
	case 5: return rstring(check);
	case 6: {
		json_t *a = json_array();
		size_t i, n = rnd() % 5;

		for (i = 0; i < n; i++)
			json_array_append_new(a, rtree(depth + 1, check));
		return a;
	}
	default: {
		json_t *o = json_object();
		size_t i, n = rnd() % 5;

		for (i = 0; i < n; i++) {
			json_t *k = rstring(1);

			json_object_setn_new(o, json_string_value(k),
			    json_string_length(k), rtree(depth + 1, check));
			json_decref(k);
		}
		return o;
	}
	}
}

static void
test_random(void)
{
	int i, bad = 0;

	for (i = 0; i < 3000 && bad < 5; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "t", rtree(0, i % 4 != 0));
		bad += same(o);
		bad += same(json_object_get(o, "t"));
		json_decref(o);
	}
	CHECK(bad == 0);
}

/* the next double toward +inf (dir 1) or 0 (dir -1), for positive v */
static double
step(double v, int dir)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	u += (uint64_t)(int64_t)dir;
	memcpy(&v, &u, sizeof(v));
	return v;
}

/* 10^(h/100): a spread over the magnitudes, no libm */
static double
spread(int h)
{
	double v = 1.0;
	int i;

	for (i = 0; i < h / 100; i++)
		v *= 10;
	for (i = 0; i < h % 100; i++)
		v *= 1.0232929922807541;	/* 10^0.01 */
	return v;
}

/* Reals, the most of them in the range printed without printf: the same
 * digits as "%.17g", rounded alike, at the powers of ten and between. */
static void
test_reals(void)
{
	json_t *a = json_array();
	double v, p = 1e-6;
	uint64_t u;
	int i, j;

	for (i = 0; i < 25; i++, p *= 10) {
		v = p;
		for (j = 0; j < 20; j++)
			v = step(v, -1);
		for (j = 0; j < 40; j++, v = step(v, 1)) {
			json_array_append_new(a, json_real(v));
			json_array_append_new(a, json_real(-v));
		}
	}
	for (i = 0; i < 200000; i++) {
		switch (i % 5) {
		case 0:
			u = rnd();
			memcpy(&v, &u, sizeof(v));
			if (!isfinite(v))
				v = 1.0;
			break;
		case 1:
			v = spread((int)(rnd() % 2200)) / 10000;
			break;
		case 2:
			v = (double)(rnd() % 100000000) /
			    (double)(1 + rnd() % 100000);
			break;
		case 3:
			v = (double)(rnd() % (1ULL << 53));
			break;
		default:
			v = (double)(rnd() % (1ULL << 53)) /
			    (double)(1ULL << (rnd() % 64));
		}
		json_array_append_new(a, json_real(v));
		if (json_array_size(a) >= 2000) {
			CHECK(same(a) == 0);
			json_array_clear(a);
		}
	}
	json_array_append_new(a, json_real(0.0));
	json_array_append_new(a, json_real(-0.0));
	json_array_append_new(a, json_real(99999999999999999.0));
	json_array_append_new(a, json_real(9.9999999999999995e16));
	json_array_append_new(a, json_real(0.5));
	json_array_append_new(a, json_real(0.001));
	CHECK(same(a) == 0);
	json_decref(a);
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "fixed", test_fixed },
		{ "invalid_utf8", test_invalid_utf8 },
		{ "random", test_random },
		{ "reals", test_reals },
		{ NULL, NULL },
	};

	return t_main(argc, argv, cases);
}
