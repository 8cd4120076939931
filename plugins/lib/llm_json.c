/*
 * The stream events' fast path (llm_json.h): a strict recursive-descent
 * scan of one JSON object, to jansson's rules where it accepts (RFC 8259
 * grammar; strings of valid UTF-8 with no raw control byte; \u escapes
 * with surrogates in pairs and no \u0000; whitespace is space, tab, CR and
 * LF) and giving up wherever jansson's reading could differ from a plain
 * one (real numbers, integers past 18 digits, a member looked for twice,
 * an escaped name where members are looked for, nesting deeper than
 * LJ_MAX_DEPTH).  Libc only.
 */
#include "llm_json.h"

#include <string.h>

#define LJ_MAX_DEPTH 32

struct lj {
	const unsigned char *p, *e;
	struct lj_val *out;
	size_t nout;
	int depth;
};

static void
lj_ws(struct lj *j)
{
	while (j->p < j->e && (*j->p == ' ' || *j->p == '\n' ||
	    *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

static int
lj_hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0, d;
	int i;

	for (i = 0; i < 4; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			d = p[i] - '0';
		else if (p[i] >= 'a' && p[i] <= 'f')
			d = p[i] - 'a' + 10;
		else if (p[i] >= 'A' && p[i] <= 'F')
			d = p[i] - 'A' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

/* Length of the valid UTF-8 sequence (2 to 4 bytes) at p, or 0: no
 * overlong form, no surrogate, nothing past U+10FFFF. */
static size_t
lj_utf8(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		need = 1;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 2;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 3;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (need >= n)
		return 0;
	for (i = 1; i <= need; i++) {
		if (p[i] < lo || p[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
	}
	return need + 1;
}

/* The bytes a string holds as they are: printable ASCII but the quote
 * and the backslash. */
#define LJ_R4(x) x, x, x, x
#define LJ_R16(x) LJ_R4(x), LJ_R4(x), LJ_R4(x), LJ_R4(x)
static const unsigned char lj_plain[256] = {
	LJ_R16(0), LJ_R16(0),				/* 0x00-0x1f */
	1, 1, 0, 1, LJ_R4(1), LJ_R4(1), LJ_R4(1),	/* 0x20-0x2f: '"' */
	LJ_R16(1),					/* 0x30-0x3f */
	LJ_R16(1),					/* 0x40-0x4f */
	LJ_R4(1), LJ_R4(1), LJ_R4(1), 0, 1, 1, 1,	/* 0x50-0x5f: '\\' */
	LJ_R16(1), LJ_R16(1),				/* 0x60-0x7f */
	LJ_R16(0), LJ_R16(0), LJ_R16(0), LJ_R16(0),	/* 0x80-0xbf */
	LJ_R16(0), LJ_R16(0), LJ_R16(0), LJ_R16(0),	/* 0xc0-0xff */
};

/* A string at j->p (a quote). */
static int
lj_string(struct lj *j, struct lj_val *v)
{
	const unsigned char *p = j->p + 1, *e = j->e;
	unsigned u, u2;
	size_t k;
	int esc = 0;

	v->p = (const char *)p;
	for (;;) {
		/* the plain bytes, the common case, first */
		while (p < e && lj_plain[*p])
			p++;
		if (p >= e || *p < 0x20)
			return -1;
		if (*p == '"')
			break;
		if (*p >= 0x80) {
			if ((k = lj_utf8(p, (size_t)(e - p))) == 0)
				return -1;
			p += k;
			continue;
		}
		/* a backslash */
		esc = 1;
		if (e - p < 2)
			return -1;
		switch (p[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n':
		case 'r': case 't':
			p += 2;
			continue;
		case 'u':
			break;
		default:
			return -1;
		}
		if (e - p < 6 || lj_hex4(p + 2, &u) != 0 || u == 0 ||
		    (u >= 0xdc00 && u <= 0xdfff))
			return -1;
		if (u < 0xd800 || u > 0xdbff) {
			p += 6;
			continue;
		}
		if (e - p < 12 || p[6] != '\\' || p[7] != 'u' ||
		    lj_hex4(p + 8, &u2) != 0 || u2 < 0xdc00 || u2 > 0xdfff)
			return -1;
		p += 12;
	}
	v->kind = LJ_STRING;
	v->n = (size_t)(p - (const unsigned char *)v->p);
	v->esc = esc;
	j->p = p + 1;
	return 0;
}

/* An integer of at most 18 digits; anything else gives up. */
static int
lj_number(struct lj *j, struct lj_val *v)
{
	const unsigned char *p = j->p, *e = j->e, *d;
	long long x = 0;
	int neg = 0;

	v->p = (const char *)p;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	d = p;
	if (p < e && *p == '0') {
		p++;
	} else {
		while (p < e && *p >= '0' && *p <= '9')
			x = x * 10 + (*p++ - '0');
		if (p == d || p - d > 18)
			return -1;
	}
	if (p < e && (*p == '.' || *p == 'e' || *p == 'E' ||
	    (*p >= '0' && *p <= '9')))
		return -1;	/* a real (jansson's), or "01" (invalid) */
	v->kind = LJ_INT;
	v->i = neg ? -x : x;
	v->n = (size_t)(p - (const unsigned char *)v->p);
	j->p = p;
	return 0;
}

static int
lj_literal(struct lj *j, struct lj_val *v, const char *lit, enum lj_kind k)
{
	size_t n = strlen(lit);

	if ((size_t)(j->e - j->p) < n || memcmp(j->p, lit, n) != 0)
		return -1;
	v->kind = k;
	v->p = (const char *)j->p;
	v->n = n;
	j->p += n;
	return 0;
}

static int lj_value(struct lj *j, const struct lj_field *sub, int array,
    struct lj_val *v);

static int
lj_object(struct lj *j, const struct lj_field *fields, struct lj_val *v)
{
	const struct lj_field *f;
	struct lj_val key, tmp, *dst;

	v->p = (const char *)j->p;
	j->p++;
	lj_ws(j);
	if (j->p < j->e && *j->p == '}') {
		j->p++;
		goto done;
	}
	for (;;) {
		lj_ws(j);
		if (j->p >= j->e || *j->p != '"' || lj_string(j, &key) != 0)
			return -1;
		f = NULL;
		if (fields != NULL) {
			/* an escaped name could be one looked for */
			if (key.esc)
				return -1;
			/* (a name holds no NUL: no raw control byte) */
			for (f = fields; f->key != NULL; f++)
				if (strncmp(f->key, key.p, key.n) == 0 &&
				    f->key[key.n] == '\0')
					break;
			if (f->key == NULL)
				f = NULL;
		}
		lj_ws(j);
		if (j->p >= j->e || *j->p != ':')
			return -1;
		j->p++;
		dst = &tmp;
		if (f != NULL) {
			if (f->slot < 0 || (size_t)f->slot >= j->nout)
				return -1;
			dst = &j->out[f->slot];
			/* jansson keeps the last: give it the choice */
			if (dst->kind != LJ_ABSENT)
				return -1;
		}
		if (lj_value(j, f ? f->sub : NULL, f ? f->array : 0,
		    dst) != 0)
			return -1;
		lj_ws(j);
		if (j->p >= j->e)
			return -1;
		if (*j->p == '}') {
			j->p++;
			break;
		}
		if (*j->p != ',')
			return -1;
		j->p++;
	}
done:
	v->kind = LJ_OBJECT;
	v->n = (size_t)(j->p - (const unsigned char *)v->p);
	return 0;
}

static int
lj_array(struct lj *j, const struct lj_field *sub, struct lj_val *v)
{
	struct lj_val tmp;

	v->p = (const char *)j->p;
	v->count = 0;
	j->p++;
	lj_ws(j);
	if (j->p < j->e && *j->p == ']') {
		j->p++;
		goto done;
	}
	for (;;) {
		/* only the first element's members are looked for */
		if (lj_value(j, v->count == 0 ? sub : NULL, 0, &tmp) != 0)
			return -1;
		v->count++;
		lj_ws(j);
		if (j->p >= j->e)
			return -1;
		if (*j->p == ']') {
			j->p++;
			break;
		}
		if (*j->p != ',')
			return -1;
		j->p++;
	}
done:
	v->kind = LJ_ARRAY;
	v->n = (size_t)(j->p - (const unsigned char *)v->p);
	return 0;
}

/* A value; sub applies to an object's members, or with array to an
 * array's first element's. */
static int
lj_value(struct lj *j, const struct lj_field *sub, int array,
    struct lj_val *v)
{
	int rc;

	lj_ws(j);
	if (j->p >= j->e)
		return -1;
	switch (*j->p) {
	case '{':
		if (++j->depth > LJ_MAX_DEPTH)
			return -1;
		rc = lj_object(j, array ? NULL : sub, v);
		j->depth--;
		return rc;
	case '[':
		if (++j->depth > LJ_MAX_DEPTH)
			return -1;
		rc = lj_array(j, array ? sub : NULL, v);
		j->depth--;
		return rc;
	case '"':
		return lj_string(j, v);
	case 't':
		return lj_literal(j, v, "true", LJ_TRUE);
	case 'f':
		return lj_literal(j, v, "false", LJ_FALSE);
	case 'n':
		return lj_literal(j, v, "null", LJ_NULL);
	default:
		if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
			return lj_number(j, v);
		return -1;
	}
}

int
lj_scan(const char *s, size_t n, const struct lj_field *fields,
    struct lj_val *out, size_t nout)
{
	struct lj j;
	struct lj_val top;

	memset(out, 0, nout * sizeof(*out));
	memset(&top, 0, sizeof(top));
	j.p = (const unsigned char *)s;
	j.e = j.p + n;
	j.out = out;
	j.nout = nout;
	j.depth = 0;
	lj_ws(&j);
	if (j.p >= j.e || *j.p != '{' || lj_value(&j, fields, 0, &top) != 0)
		return -1;
	lj_ws(&j);
	return j.p == j.e ? 0 : -1;
}

static size_t
lj_put_utf8(char *d, unsigned c)
{
	if (c < 0x80) {
		d[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		d[0] = (char)(0xc0 | c >> 6);
		d[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		d[0] = (char)(0xe0 | c >> 12);
		d[1] = (char)(0x80 | (c >> 6 & 0x3f));
		d[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | c >> 18);
	d[1] = (char)(0x80 | (c >> 12 & 0x3f));
	d[2] = (char)(0x80 | (c >> 6 & 0x3f));
	d[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

size_t
lj_decode(const struct lj_val *v, char *dst)
{
	const unsigned char *p = (const unsigned char *)v->p, *e = p + v->n;
	const unsigned char *q;
	size_t o = 0;
	unsigned u, u2;

	if (!v->esc) {
		memcpy(dst, v->p, v->n);
		return v->n;
	}
	while (p < e) {
		q = memchr(p, '\\', (size_t)(e - p));
		if (q == NULL)
			q = e;
		memcpy(dst + o, p, (size_t)(q - p));
		o += (size_t)(q - p);
		p = q;
		if (p >= e)
			break;
		/* lj_string checked every escape */
		switch (p[1]) {
		case 'b': dst[o++] = '\b'; p += 2; continue;
		case 'f': dst[o++] = '\f'; p += 2; continue;
		case 'n': dst[o++] = '\n'; p += 2; continue;
		case 'r': dst[o++] = '\r'; p += 2; continue;
		case 't': dst[o++] = '\t'; p += 2; continue;
		case 'u': break;
		default: dst[o++] = (char)p[1]; p += 2; continue;
		}
		(void)lj_hex4(p + 2, &u);
		p += 6;
		if (u >= 0xd800 && u <= 0xdbff) {
			(void)lj_hex4(p + 2, &u2);
			p += 6;
			u = 0x10000 + ((u - 0xd800) << 10) + (u2 - 0xdc00);
		}
		o += lj_put_utf8(dst + o, u);
	}
	return o;
}

int
lj_is(const struct lj_val *v, const char *s)
{
	return v->kind == LJ_STRING && !v->esc &&
	    strncmp(v->p, s, v->n) == 0 && s[v->n] == '\0';
}
