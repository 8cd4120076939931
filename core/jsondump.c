/*
 * A compact and an indented JSON serialiser giving json_dumps's bytes
 * (jansson 2.14, dump.c): strings escape '"', '\\' and the controls below
 * 0x20 (\b \f \n \r \t by name, the rest \u00XX, upper-case hex), the rest
 * of valid UTF-8 as it is; integers in decimal; reals as "%.17g" with ".0"
 * added when neither '.' nor 'e' is in it and the exponent's '+' and
 * leading zeros dropped; empty objects and arrays "{}" and "[]"; with
 * JSON_INDENT(n) a newline and n spaces a level, ": " between key and
 * value; compact "," and ":".  Objects in insertion order (jansson's own
 * iteration order since 2.8, the order JSON_PRESERVE_ORDER asks for).
 * Most reals a run writes (times, costs: 0 and 1e-3 to 1e17) are printed
 * without printf, from the double's exact value in 128-bit integers,
 * rounded as glibc rounds; the rest with snprintf.
 * tests/unit/test_jsondump.c compares it with json_dumps byte for byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsondump.h"
#include "util.h"

struct out {
	char *p;
	size_t len, cap;
};

static void
grow(struct out *o, size_t n)
{
	size_t c = o->cap ? o->cap : 256;

	while (c - o->len < n)
		c *= 2;
	o->p = xrealloc(o->p, c);
	o->cap = c;
}

static inline void
put(struct out *o, const void *s, size_t n)
{
	if (o->cap - o->len < n)
		grow(o, n);
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static inline void
putc1(struct out *o, char c)
{
	if (o->cap == o->len)
		grow(o, 1);
	o->p[o->len++] = c;
}

/* jansson's utf8_check_full: the length of the valid sequence at s, else 0 */
static size_t
utf8_seq(const unsigned char *s, size_t left)
{
	unsigned char u = s[0];
	size_t n, i;
	unsigned v;

	if (u >= 0xC2 && u <= 0xDF) {
		n = 2;
		v = u & 0x1F;
	} else if (u >= 0xE0 && u <= 0xEF) {
		n = 3;
		v = u & 0x0F;
	} else if (u >= 0xF0 && u <= 0xF4) {
		n = 4;
		v = u & 0x07;
	} else
		return 0;
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) ||
	    (n == 3 && v < 0x800) || (n == 4 && v < 0x10000))
		return 0;
	return n;
}

/* 1: a byte that needs a look (escape or UTF-8) */
static const unsigned char special[256] = {
	[0 ... 0x1F] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xFF] = 1,
};

static int
str(struct out *o, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s, *end = u + len;
	const unsigned char *run;
	static const char hex[] = "0123456789ABCDEF";

	putc1(o, '"');
	while (u < end) {
		run = u;
		while (u < end && !special[*u])
			u++;
		if (u > run)
			put(o, run, (size_t)(u - run));
		if (u == end)
			break;
		if (*u >= 0x80) {
			size_t n = utf8_seq(u, (size_t)(end - u));

			if (n == 0)
				return -1;
			put(o, u, n);
			u += n;
			continue;
		}
		switch (*u) {
		case '"': put(o, "\\\"", 2); break;
		case '\\': put(o, "\\\\", 2); break;
		case '\b': put(o, "\\b", 2); break;
		case '\f': put(o, "\\f", 2); break;
		case '\n': put(o, "\\n", 2); break;
		case '\r': put(o, "\\r", 2); break;
		case '\t': put(o, "\\t", 2); break;
		default: {
			char e[6] = { '\\', 'u', '0', '0', hex[*u >> 4],
			    hex[*u & 15] };

			put(o, e, 6);
		}
		}
		u++;
	}
	putc1(o, '"');
	return 0;
}

static void
integer(struct out *o, json_int_t v)
{
	char b[24], *p = b + sizeof(b);
	unsigned long long m = v < 0 ? 0ULL - (unsigned long long)v :
	    (unsigned long long)v;

	do {
		*--p = (char)('0' + m % 10);
		m /= 10;
	} while (m != 0);
	if (v < 0)
		*--p = '-';
	put(o, p, (size_t)(b + sizeof(b) - p));
}

#ifdef __SIZEOF_INT128__
/* "%.17g" of v into b (at least 32 bytes) for 0 and 1e-3 <= |v| < 1e17,
 * exactly as glibc prints it; its length, or -1 for the rest */
static int
g17(char *b, double v)
{
	static const uint64_t p10[20] = {
		1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
		10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
		100000000000ULL, 1000000000000ULL, 10000000000000ULL,
		100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
		100000000000000000ULL, 1000000000000000000ULL,
		10000000000000000000ULL,
	};
	uint64_t bits, mant, q, ip, fp;
	unsigned __int128 n, rem, half;
	int neg, e2, x, k, s, len = 0, i;
	double a;
	char d[20];

	memcpy(&bits, &v, sizeof(bits));
	neg = (int)(bits >> 63);
	a = neg ? -v : v;
	if (a == 0) {
		if (neg)
			b[len++] = '-';
		b[len++] = '0';
		b[len] = '\0';
		return len;
	}
	if (!(a >= 1e-3 && a < 1e17))
		return -1;
	e2 = (int)((bits >> 52) & 0x7FF);
	mant = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
	e2 -= 1075;		/* a = mant * 2^e2, a normal number here */
	/* x: the decimal exponent of a, from a first guess */
	s = e2 + 52;		/* 2^s <= a < 2^(s+1): x is near s log10 2 */
	x = s >= 0 ? (s * 1233) >> 12 : -((-s * 1233 + 4095) >> 12);
	if (x < -3)
		x = -3;		/* a >= 1e-3 */
	for (i = 0; i < 3; i++) {
		k = 16 - x;
		if (k < 0 || k > 19)
			return -1;
		n = (unsigned __int128)mant * p10[k];
		if (e2 >= 0) {
			q = (uint64_t)(n << e2);
			rem = 0;
			half = 1;
		} else {
			s = -e2;
			if (s >= 127)
				return -1;
			if ((n >> s) >> 64)
				q = UINT64_MAX;
			else
				q = (uint64_t)(n >> s);
			rem = n & (((unsigned __int128)1 << s) - 1);
			half = (unsigned __int128)1 << (s - 1);
		}
		if (q < p10[16])
			x--;
		else if (q >= p10[17])
			x++;
		else
			break;
	}
	if (i == 3)
		return -1;
	/* to nearest, a tie to even, as glibc in the default mode */
	if (rem > half || (rem == half && e2 < 0 && (q & 1)))
		q++;
	if (q == p10[17])
		return -1;	/* 1e17 and up: %g goes to e-notation */
	/* 17 digits, x the exponent, -3 <= x <= 16: fixed notation with
	 * 16 - x decimals, trailing zeros and a bare point dropped */
	k = 16 - x;
	ip = q / p10[k];
	fp = q % p10[k];
	if (neg)
		b[len++] = '-';
	i = 0;
	do {
		d[i++] = (char)('0' + ip % 10);
		ip /= 10;
	} while (ip != 0);
	while (i > 0)
		b[len++] = d[--i];
	if (fp != 0) {
		while (fp % 10 == 0) {
			fp /= 10;
			k--;
		}
		b[len++] = '.';
		for (i = k - 1; i >= 0; i--) {
			b[len + i] = (char)('0' + fp % 10);
			fp /= 10;
		}
		len += k;
	}
	b[len] = '\0';
	return len;
}
#else
static int
g17(char *b, double v)
{
	(void)b;
	(void)v;
	return -1;
}
#endif

/* jansson's jsonp_dtostr at precision 17, in the C locale drove keeps */
static int
real(struct out *o, double v, int prec)
{
	char b[100], *start, *end;
	int r = prec == 17 ? g17(b, v) : -1;
	size_t len;

	if (r < 0)
		r = snprintf(b, sizeof(b), "%.*g", prec, v);

	if (r < 0 || (size_t)r >= sizeof(b))
		return -1;
	len = (size_t)r;
	if (strchr(b, '.') == NULL && strchr(b, 'e') == NULL) {
		if (len + 3 >= sizeof(b))
			return -1;
		b[len++] = '.';
		b[len++] = '0';
		b[len] = '\0';
	}
	if ((start = strchr(b, 'e')) != NULL) {
		start++;
		end = start + 1;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, len - (size_t)(end - b));
			len -= (size_t)(end - start);
		}
	}
	put(o, b, len);
	return 0;
}

static void
indent(struct out *o, size_t ind, size_t depth, int space, int compact)
{
	size_t n;

	if (ind > 0) {
		n = ind * depth;
		if (o->cap - o->len < n + 1)
			grow(o, n + 1);
		o->p[o->len++] = '\n';
		memset(o->p + o->len, ' ', n);
		o->len += n;
	} else if (space && !compact)
		putc1(o, ' ');
}

static int
dump(struct out *o, const json_t *j, size_t ind, int cp, int prec,
    size_t depth)
{
	switch (json_typeof(j)) {
	case JSON_NULL:
		put(o, "null", 4);
		return 0;
	case JSON_TRUE:
		put(o, "true", 4);
		return 0;
	case JSON_FALSE:
		put(o, "false", 5);
		return 0;
	case JSON_INTEGER:
		integer(o, json_integer_value(j));
		return 0;
	case JSON_REAL:
		return real(o, json_real_value(j), prec);
	case JSON_STRING:
		return str(o, json_string_value(j), json_string_length(j));
	case JSON_ARRAY: {
		size_t i, n = json_array_size(j);

		if (n == 0) {
			put(o, "[]", 2);
			return 0;
		}
		putc1(o, '[');
		indent(o, ind, depth + 1, 0, cp);
		for (i = 0; i < n; i++) {
			if (dump(o, json_array_get(j, i), ind, cp,
			    prec, depth + 1) < 0)
				return -1;
			if (i + 1 < n) {
				putc1(o, ',');
				indent(o, ind, depth + 1, 1, cp);
			} else
				indent(o, ind, depth, 0, cp);
		}
		putc1(o, ']');
		return 0;
	}
	case JSON_OBJECT: {
		void *it = json_object_iter((json_t *)j), *next;

		if (it == NULL) {
			put(o, "{}", 2);
			return 0;
		}
		putc1(o, '{');
		indent(o, ind, depth + 1, 0, cp);
		while (it != NULL) {
			next = json_object_iter_next((json_t *)j, it);
			if (str(o, json_object_iter_key(it),
			    json_object_iter_key_len(it)) < 0)
				return -1;
			if (!cp)
				put(o, ": ", 2);
			else
				putc1(o, ':');
			if (dump(o, json_object_iter_value(it), ind, cp,
			    prec, depth + 1) < 0)
				return -1;
			if (next != NULL) {
				putc1(o, ',');
				indent(o, ind, depth + 1, 1, cp);
			} else
				indent(o, ind, depth, 0, cp);
			it = next;
		}
		putc1(o, '}');
		return 0;
	}
	}
	return -1;
}

#define KNOWN_FLAGS (JSON_MAX_INDENT | JSON_COMPACT | JSON_PRESERVE_ORDER | \
	JSON_REAL_PRECISION(31))

static char *
fallback(const json_t *j, size_t flags, size_t *lenp, int nl)
{
	char *s = json_dumps(j, flags);
	size_t n;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	if (nl) {
		s = xrealloc(s, n + 2);
		s[n++] = '\n';
		s[n] = '\0';
	}
	if (lenp != NULL)
		*lenp = n;
	return s;
}

static char *
run(const json_t *j, size_t flags, size_t *lenp, int nl)
{
	struct out o = { NULL, 0, 0 };
	size_t ind = flags & JSON_MAX_INDENT;
	int prec = (int)((flags >> 11) & 0x1F);

	if (j == NULL)
		return NULL;
	/* what this does not do (ascii, sorted keys, a bare value, a loop
	 * check of a self-holding tree) goes to jansson */
	if ((flags & ~(size_t)KNOWN_FLAGS) != 0 || !(json_is_object(j) ||
	    json_is_array(j)) || ((flags & JSON_COMPACT) && ind > 0))
		return fallback(j, flags, lenp, nl);
	if (dump(&o, j, ind, (flags & JSON_COMPACT) != 0, prec == 0 ? 17 :
	    prec, 0) < 0) {
		/* invalid UTF-8 in a string made unchecked: what jansson
		 * does with it (NULL for a value, its partial key) */
		free(o.p);
		return fallback(j, flags, lenp, nl);
	}
	if (nl)
		putc1(&o, '\n');
	putc1(&o, '\0');
	if (lenp != NULL)
		*lenp = o.len - 1;
	return o.p;
}

char *
jsondump(const json_t *j, size_t flags)
{
	return run(j, flags, NULL, 0);
}

char *
jsondump_line(const json_t *j, size_t flags, size_t *lenp)
{
	return run(j, flags, lenp, 1);
}
