/*
 * The stream events' fast path (plugins/lib/llm_json.c) against jansson:
 * vectors for every string escape, surrogate pairs, UTF-8 and what it must
 * give up on; then random mutations of event texts, where whatever the
 * fast path accepts jansson must accept too, and read the same.
 */
#include "t.h"

#include <jansson.h>

#include "../../plugins/lib/llm_json.h"

enum { F_A, F_S, F_O, F_OX, F_OT, F_ARR, F_AX, F_AO, F_AOY, F_N };

static const struct lj_field f_ao[] = {
	{ "y", F_AOY, NULL, 0 },
	{ NULL, 0, NULL, 0 },
};
static const struct lj_field f_arr[] = {
	{ "x", F_AX, NULL, 0 },
	{ "o", F_AO, f_ao, 0 },
	{ NULL, 0, NULL, 0 },
};
static const struct lj_field f_o[] = {
	{ "x", F_OX, NULL, 0 },
	{ "t", F_OT, NULL, 0 },
	{ NULL, 0, NULL, 0 },
};
static const struct lj_field f_top[] = {
	{ "a", F_A, NULL, 0 },
	{ "s", F_S, NULL, 0 },
	{ "o", F_O, f_o, 0 },
	{ "arr", F_ARR, f_arr, 1 },
	{ NULL, 0, NULL, 0 },
};

/* 1 when slot v reads as jansson's j (NULL: absent). */
static int
same(const struct lj_val *v, json_t *j)
{
	char buf[4096];
	size_t n;

	if (j == NULL)
		return v->kind == LJ_ABSENT;
	switch (json_typeof(j)) {
	case JSON_NULL: return v->kind == LJ_NULL;
	case JSON_TRUE: return v->kind == LJ_TRUE;
	case JSON_FALSE: return v->kind == LJ_FALSE;
	case JSON_INTEGER:
		return v->kind == LJ_INT && v->i == json_integer_value(j);
	case JSON_REAL: return 0;	/* never accepted */
	case JSON_OBJECT: return v->kind == LJ_OBJECT;
	case JSON_ARRAY:
		return v->kind == LJ_ARRAY && v->count == json_array_size(j);
	case JSON_STRING:
		if (v->kind != LJ_STRING || v->n > sizeof(buf))
			return 0;
		n = lj_decode(v, buf);
		return n == json_string_length(j) &&
		    memcmp(buf, json_string_value(j), n) == 0;
	}
	return 0;
}

/* Compares every slot of fields (under jansson object o) with out. */
static int
same_fields(const struct lj_field *fields, json_t *o, const struct lj_val *out)
{
	const struct lj_field *f;
	json_t *v, *sub;
	int ok = 1;

	for (f = fields; f->key; f++) {
		v = json_is_object(o) ? json_object_get(o, f->key) : NULL;
		if (!same(&out[f->slot], v))
			ok = 0;
		if (f->sub == NULL)
			continue;
		sub = NULL;
		if (!f->array && json_is_object(v))
			sub = v;
		else if (f->array && json_is_array(v) &&
		    json_is_object(json_array_get(v, 0)))
			sub = json_array_get(v, 0);
		if (!same_fields(f->sub, sub, out))
			ok = 0;
	}
	return ok;
}

/* Scans s; if the fast path accepts, jansson must read the same.
 * Returns lj_scan's result. */
static int
differ(const char *s, size_t n, int *bad)
{
	struct lj_val out[F_N];
	json_error_t je;
	json_t *j;
	int rc;

	rc = lj_scan(s, n, f_top, out, F_N);
	if (rc != 0)
		return rc;
	j = json_loadb(s, n, 0, &je);
	if (j == NULL || !same_fields(f_top, j, out)) {
		fprintf(stderr, "fast path and jansson differ on '%.*s'%s%s\n",
		    (int)n, s, j ? "" : ": jansson: ", j ? "" : je.text);
		*bad = 1;
	}
	json_decref(j);
	return rc;
}

struct vec {
	const char *in;
	int ok;			/* 0 accepted, -1 left to jansson */
	const char *s;		/* the decoded "s", when accepted */
	size_t slen;
};

#define OK(in, s) { in, 0, s, sizeof(s) - 1 }
#define NO(in) { in, -1, NULL, 0 }

static const struct vec vecs[] = {
	OK("{\"s\":\"plain\"}", "plain"),
	OK(" \t\r\n{ \"s\" : \"sp\" } \n", "sp"),
	OK("{\"s\":\"q\\\"b\\\\s\\/n\\nt\\tr\\rb\\bf\\f\"}",
	    "q\"b\\s/n\nt\tr\rb\bf\f"),
	OK("{\"s\":\"\\u00e9\\u00E9\\u4e2d\\u20ac\"}",
	    "\xc3\xa9\xc3\xa9\xe4\xb8\xad\xe2\x82\xac"),
	OK("{\"s\":\"\\u0001\\u001f\\u007f\\u2028\"}",
	    "\x01\x1f\x7f\xe2\x80\xa8"),
	OK("{\"s\":\"\\ud83d\\ude00!\\uD83D\\uDE80\"}",
	    "\xf0\x9f\x98\x80!\xf0\x9f\x9a\x80"),
	OK("{\"s\":\"\\udbff\\udfff\"}", "\xf4\x8f\xbf\xbf"),
	OK("{\"s\":\"raw \xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\"}",
	    "raw \xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80"),
	OK("{\"s\":\"\"}", ""),
	OK("{\"a\":1,\"o\":{\"t\":\"x\",\"z\":[1,{\"q\":null}]},\"s\":\"y\"}",
	    "y"),
	OK("{\"arr\":[{\"x\":\"a\"},{\"x\":\"b\"}],\"s\":\"z\"}", "z"),
	OK("{\"o\":[1],\"arr\":{\"x\":1},\"s\":\"k\"}", "k"),
	NO("{\"\\u0073\\u0073\":1,\"s\":\"e\"}"),	/* any, where looked */
	NO("{\"o\":{\"\\u0078\\u0078\":1},\"s\":\"-\"}"),
	OK("{\"a\":-0,\"s\":\"n\",\"o\":{\"x\":123456789012345678}}", "n"),
	OK("{\"a\":true,\"z\":false,\"y\":null,\"s\":\"l\"}", "l"),
	NO("{\"s\":\"\\ud83d\"}"),		/* lone high surrogate */
	NO("{\"s\":\"\\ud83dx\"}"),
	NO("{\"s\":\"\\ud83d\\u0041\"}"),
	NO("{\"s\":\"\\ude00\"}"),		/* lone low surrogate */
	NO("{\"s\":\"\\u0000\"}"),
	NO("{\"s\":\"\\u00g0\"}"),
	NO("{\"s\":\"\\u00e\"}"),
	NO("{\"s\":\"\\x41\"}"),
	NO("{\"s\":\"\\'\"}"),
	NO("{\"s\":\"tab\there\"}"),		/* a raw control byte */
	NO("{\"s\":\"nl\nhere\"}"),
	NO("{\"s\":\"\xc0\x80\"}"),		/* overlong */
	NO("{\"s\":\"\xe0\x80\xaf\"}"),
	NO("{\"s\":\"\xed\xa0\x80\"}"),		/* a surrogate in UTF-8 */
	NO("{\"s\":\"\xf4\x90\x80\x80\"}"),	/* past U+10FFFF */
	NO("{\"s\":\"\xf5\x80\x80\x80\"}"),
	NO("{\"s\":\"\xc3\"}"),			/* cut */
	NO("{\"s\":\"\x80\"}"),
	NO("{\"s\":\"a\",\"s\":\"b\"}"),	/* jansson keeps the last */
	NO("{\"o\":{\"x\":1,\"x\":2}}"),
	NO("{\"o\":{},\"o\":{\"x\":1}}"),
	NO("{\"\\u0073\":\"escaped name\"}"),
	NO("{\"o\":{\"\\u0078\":1}}"),
	NO("{\"a\":1.5}"),			/* reals are jansson's */
	NO("{\"a\":1e3}"),
	NO("{\"z\":-2E-1}"),
	NO("{\"a\":1234567890123456789}"),	/* 19 digits */
	NO("{\"a\":01}"),
	NO("{\"a\":-}"),
	NO("{\"a\":+1}"),
	NO("{\"a\":tru}"),
	NO("{\"a\":truex}"),
	NO("{\"a\":nul}"),
	NO("{\"s\":\"x\"}x"),
	NO("{\"s\":\"x\"}{}"),
	NO("{\"s\":\"x\""),
	NO("{\"s\":\"x"),
	NO("{\"s\" \"x\"}"),
	NO("{\"s\":\"x\",}"),
	NO("{,}"),
	NO("{\"a\":[1,]}"),
	NO("{\"a\":[,1]}"),
	NO("{'s':'x'}"),
	NO("{s:\"x\"}"),
	NO("[{\"s\":\"x\"}]"),
	NO("\"s\""),
	NO(""),
	NO("   "),
	NO("[DONE]"),
	NO("{\"s\":\"x\"}\v"),			/* not JSON whitespace */
	NO("\xef\xbb\xbf{\"s\":\"x\"}"),		/* a BOM */
	NO("{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"),
};

static void
test_vectors(void)
{
	struct lj_val out[F_N];
	char buf[256];
	size_t i, n;
	int bad = 0, rc;

	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];

		rc = differ(v->in, strlen(v->in), &bad);
		if (rc != v->ok) {
			fprintf(stderr, "vector %zu '%s': %d, expected %d\n",
			    i, v->in, rc, v->ok);
			t_failures++;
			continue;
		}
		if (rc != 0)
			continue;
		(void)lj_scan(v->in, strlen(v->in), f_top, out, F_N);
		CHECK_INT(out[F_S].kind, LJ_STRING);
		n = lj_decode(&out[F_S], buf);
		CHECK(n <= out[F_S].n);
		if (n != v->slen || memcmp(buf, v->s, n) != 0) {
			fprintf(stderr, "vector %zu: decoded '%.*s'\n", i,
			    (int)n, buf);
			t_failures++;
		}
	}
	CHECK_INT(bad, 0);
}

/* The slots the vectors' shapes fill. */
static void
test_slots(void)
{
	static const char s[] = "{\"arr\":[{\"o\":{\"y\":\"deep\"},\"x\":7},"
	    "{\"x\":8}],\"o\":{\"t\":null,\"x\":[]},\"a\":{\"s\":1}}";
	struct lj_val out[F_N];

	CHECK_INT(lj_scan(s, sizeof(s) - 1, f_top, out, F_N), 0);
	CHECK_INT(out[F_ARR].kind, LJ_ARRAY);
	CHECK_INT(out[F_ARR].count, 2);
	CHECK_INT(out[F_AX].kind, LJ_INT);
	CHECK_INT(out[F_AX].i, 7);		/* the first element's */
	CHECK(lj_is(&out[F_AOY], "deep"));
	CHECK_INT(out[F_OT].kind, LJ_NULL);
	CHECK_INT(out[F_OX].kind, LJ_ARRAY);
	CHECK_INT(out[F_OX].count, 0);
	CHECK_INT(out[F_A].kind, LJ_OBJECT);
	CHECK_INT(out[F_S].kind, LJ_ABSENT);	/* a's member is not "s" */
}

/* The events of both APIs, as the servers send them, mutated at random. */
static const char *const seeds[] = {
	"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
	"{\"type\":\"text_delta\",\"text\":\"He said \\\"hi\\\" \\\\ \\ud83d"
	"\\ude00 caf\\u00e9\\n\"}}",
	"{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
	"\"created\":1700000000,\"model\":\"gpt\",\"choices\":[{\"index\":0,"
	"\"delta\":{\"content\":\"a\\tb \\u4e2d\"},\"logprobs\":null,"
	"\"finish_reason\":null}],\"usage\":null}",
	"{ \"s\" : \"x\\u0041\\/\" , \"a\" : [ 1 , -2 , true , { } ] , "
	"\"o\" : { \"x\" : \"\xc3\xa9\xf0\x9f\x98\x80\" } }",
	"{\"arr\":[{\"x\":\"\\ud800\\udc00\",\"o\":{\"y\":[null,false]}}],"
	"\"s\":\"\\b\\f\\r\"}",
};

static const char alphabet[] = "\"\\u0dD8eEfF{}[]:, \t\n1-.xns\x01\x7f"
    "\xc3\xa9\xed\xa0\xf0\x9f";

static void
test_mutations(void)
{
	char buf[512];
	size_t i, n, at, k, seed;
	unsigned long long r = 0x9e3779b97f4a7c15ull;
	int bad = 0, accepted = 0, mutated = 0;

	for (seed = 0; seed < sizeof(seeds) / sizeof(seeds[0]); seed++) {
		n = strlen(seeds[seed]);
		if (differ(seeds[seed], n, &bad) != 0) {
			fprintf(stderr, "seed %zu not accepted\n", seed);
			t_failures++;
		}
	}
	for (i = 0; i < 200000; i++) {
		seed = i % (sizeof(seeds) / sizeof(seeds[0]));
		n = strlen(seeds[seed]);
		memcpy(buf, seeds[seed], n);
		for (k = 0; k < 1 + i % 3; k++) {
			r ^= r << 13;
			r ^= r >> 7;
			r ^= r << 17;
			at = (size_t)(r % n);
			switch ((r >> 32) % 3) {
			case 0:		/* replace */
				buf[at] = alphabet[(r >> 40) %
				    (sizeof(alphabet) - 1)];
				break;
			case 1:		/* insert */
				if (n + 1 >= sizeof(buf))
					break;
				memmove(buf + at + 1, buf + at, n - at);
				buf[at] = alphabet[(r >> 40) %
				    (sizeof(alphabet) - 1)];
				n++;
				break;
			default:	/* delete */
				if (n < 2)
					break;
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
				break;
			}
		}
		if (differ(buf, n, &bad) == 0)
			accepted++;
		mutated++;
	}
	CHECK_INT(bad, 0);
	fprintf(stderr, "%d of %d mutations accepted\n", accepted, mutated);
	/* both sides of the line were crossed often */
	CHECK(accepted > mutated / 20);
	CHECK(accepted < mutated - mutated / 20);
}

static const struct t_case cases[] = {
	{ "vectors", test_vectors },
	{ "slots", test_slots },
	{ "mutations", test_mutations },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
