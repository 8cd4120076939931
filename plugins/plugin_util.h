/*
 * Small helpers the built-in plugins share: a growable string in host
 * memory, printf into a host allocation, the duration syntax (which the
 * core takes from here too).  Header-only and static, so
 * each plugin, built in or as a .so, carries its own copy and still links
 * against nothing but libc and the host table.
 */
#ifndef DROVE_PLUGIN_UTIL_H
#define DROVE_PLUGIN_UTIL_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drove/plugin.h"

#define PU_FN static __attribute__((unused))

/*
 * A duration, the one syntax of every duration drove reads (the core's
 * parse_duration is this too): seconds, digits with at most one point,
 * and an optional unit s, m, h or d: "90", "90s", "1.5m", "5m", "1h",
 * "7d".  0 and the seconds in *out, or -1 (empty, blanks, a sign, an
 * exponent, an unknown unit, not finite).
 */
PU_FN int
pu_duration(const char *s, double *out)
{
	size_t n = strspn(s, "0123456789."), digits = strspn(s, "0123456789");
	const char *u = s + n;
	double v, mul;
	char *end;

	/* at least one digit, at most one point */
	if (n == 0 || (n > digits && (n == 1 ||
	    memchr(s + digits + 1, '.', n - digits - 1) != NULL)))
		return -1;
	switch (*u) {
	case '\0':
	case 's':
		mul = 1;
		break;
	case 'm':
		mul = 60;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'd':
		mul = 86400;
		break;
	default:
		return -1;
	}
	if (*u != '\0' && u[1] != '\0')
		return -1;
	v = strtod(s, &end);
	if (end != u || !isfinite(v * mul))
		return -1;
	*out = v * mul;
	return 0;
}

/* A growing host allocation, NUL-terminated once anything was added. */
struct pbuf {
	const struct drove_host *h;
	char *p;
	size_t len, cap;
};

PU_FN void
pbuf_add(struct pbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = b->h->realloc(b->p, b->cap);
	}
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

PU_FN void
pbuf_adds(struct pbuf *b, const char *s)
{
	pbuf_add(b, s, strlen(s));
}

PU_FN char *
pu_fmt(const struct drove_host *h, const char *f, ...)
    __attribute__((format(printf, 2, 3)));

/* printf into a new host allocation (free with h->free). */
PU_FN char *
pu_fmt(const struct drove_host *h, const char *f, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, f);
	n = vsnprintf(NULL, 0, f, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	p = h->alloc((size_t)n + 1);
	va_start(ap, f);
	vsnprintf(p, (size_t)n + 1, f, ap);
	va_end(ap);
	return p;
}

/* Reports to the core that call failed with status and msg (borrowed). */
PU_FN void
pu_call_failed(const struct drove_host *h, struct drove_call *call,
    int status, const char *msg)
{
	struct drove_result r;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.status = status;
	r.error = msg;
	r.retry_after_ms = -1;
	call->plugin_data = NULL;
	h->call_done(call, &r);
}

#ifdef JANSSON_H
/* A JSON string of text from agents (answers, errors, reasons): with a host
 * of ABI 1.5 or later invalid UTF-8 becomes U+FFFD, as in the core's JSON,
 * instead of the value vanishing; an older host gets json_string.  NULL s
 * gives JSON null. */
PU_FN json_t *
pu_json_text(const struct drove_host *h, const char *s)
{
	json_t *j;
	size_t n;
	char *t;

	if (s == NULL)
		return json_null();
	if (!DROVE_HAS(h, utf8_lossy))
		return json_string(s);
	t = h->utf8_lossy(s, strlen(s), &n);
	j = json_stringn(t, n);
	h->free(t);
	return j;
}
#endif

#endif /* DROVE_PLUGIN_UTIL_H */
