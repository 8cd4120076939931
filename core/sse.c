/*
 * Server-Sent Events: lines end in CRLF, LF or CR; a blank line dispatches
 * the event being built.  Lines are gathered as bytes, so a split inside a
 * CRLF or inside a UTF-8 sequence costs nothing; each whole line is then
 * decoded as UTF-8 with U+FFFD for bad sequences, as the spec's decoder
 * would.
 */
#include "sse.h"

#include <string.h>

#include "drove/plugin.h"

void
sse_init(struct sse_parser *p, sse_event_fn cb, void *arg)
{
	memset(p, 0, sizeof(*p));
	p->cb = cb;
	p->arg = arg;
	p->retry_ms = -1;
	buf_init(&p->line);
	buf_init(&p->data);
	buf_init(&p->event);
	buf_init(&p->id);
	buf_init(&p->scratch);
}

void
sse_release(struct sse_parser *p)
{
	buf_release(&p->line);
	buf_release(&p->data);
	buf_release(&p->event);
	buf_release(&p->id);
	buf_release(&p->scratch);
}

/*
 * Length of the UTF-8 sequence at s (n bytes left).  *ok is 0 when the
 * bytes are a bad sequence's maximal subpart, which decodes to one U+FFFD
 * (the WHATWG decoder's rule).
 */
static size_t
utf8_next(const unsigned char *s, size_t n, int *ok)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	*ok = 1;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		if (s[0] == 0xe0)
			lo = 0xa0;
		if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		if (s[0] == 0xf0)
			lo = 0x90;
		if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		*ok = 0;
		return 1;
	}
	for (i = 1; i <= need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*ok = 0;
			return i;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return need + 1;
}

/* Appends s to b, replacing each bad UTF-8 sequence with U+FFFD. */
static void
add_utf8(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k, start = 0;
	int ok;

	while (i < n) {
		k = utf8_next(u + i, n - i, &ok);
		if (!ok) {
			buf_add(b, s + start, i - start);
			buf_add(b, "\xef\xbf\xbd", 3);
			start = i + k;
		}
		i += k;
	}
	buf_add(b, s + start, n - start);
}

static int
dispatch(struct sse_parser *p)
{
	struct sse_event ev;
	int rc;

	if (p->data.len == 0) {
		p->event.len = 0;
		return 0;
	}
	/* the data buffer ends in LF: drop it */
	p->data.data[--p->data.len] = '\0';
	ev.event = p->event.len ? buf_str(&p->event) : "message";
	ev.data = buf_str(&p->data);
	ev.data_len = p->data.len;
	ev.id = buf_str(&p->id);
	rc = p->cb ? p->cb(p->arg, &ev) : 0;
	p->data.len = 0;
	p->event.len = 0;
	return rc;
}

static void
field(struct sse_parser *p, const char *name, size_t nl, const char *v,
    size_t vl)
{
	size_t i;
	int64_t ms;

	if (nl == 5 && memcmp(name, "event", 5) == 0) {
		p->event.len = 0;
		buf_add(&p->event, v, vl);
	} else if (nl == 4 && memcmp(name, "data", 4) == 0) {
		buf_add(&p->data, v, vl);
		buf_addc(&p->data, '\n');
	} else if (nl == 2 && memcmp(name, "id", 2) == 0) {
		if (memchr(v, '\0', vl) == NULL) {
			p->id.len = 0;
			buf_add(&p->id, v, vl);
			buf_str(&p->id);
		}
	} else if (nl == 5 && memcmp(name, "retry", 5) == 0) {
		ms = 0;
		for (i = 0; i < vl; i++) {
			if (v[i] < '0' || v[i] > '9')
				return;
			if (ms < INT64_MAX / 10 - 10)
				ms = ms * 10 + (v[i] - '0');
		}
		if (vl > 0)
			p->retry_ms = ms;
	}
	/* anything else is ignored */
}

/* Whether s[0..n) is valid UTF-8 (then it is its own decoding). */
static int
utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	int ok;

	uint64_t w;

	while (i < n) {
		/* ASCII eight bytes at a time */
		if (n - i >= 8) {
			memcpy(&w, u + i, 8);
			if ((w & 0x8080808080808080ull) == 0) {
				i += 8;
				continue;
			}
		}
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		i += utf8_next(u + i, n - i, &ok);
		if (!ok)
			return 0;
	}
	return 1;
}

/* One whole line, s[0..n) (the line buffer's, or straight from the
 * bytes fed when the line lies whole in them). */
static int
process_line(struct sse_parser *p, const char *s, size_t n)
{
	struct buf *u = &p->scratch;
	const char *colon, *v;
	size_t vl;
	int rc = 0;

	if (!p->seen_start) {
		/* one leading BOM is part of no line */
		p->seen_start = 1;
		if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
			s += 3, n -= 3;
	}
	if (n == 0) {
		rc = dispatch(p);
		goto out;
	}
	if (s[0] == ':') {
		p->comments++;	/* a keep-alive, as servers send them */
		goto out;
	}
	if (!utf8_valid(s, n)) {
		u->len = 0;
		add_utf8(u, s, n);
		s = u->data;
		n = u->len;
	}
	colon = memchr(s, ':', n);
	if (colon == NULL) {
		field(p, s, n, "", 0);
	} else {
		v = colon + 1;
		vl = n - (size_t)(v - s);
		if (vl > 0 && *v == ' ')
			v++, vl--;
		field(p, s, (size_t)(colon - s), v, vl);
	}
	if (p->data.len > SSE_MAX_EVENT)
		rc = DROVE_EPROTO;
out:
	p->line.len = 0;
	return rc;
}

int
sse_feed(struct sse_parser *p, const char *buf, size_t len)
{
	const char *nl, *cr;
	size_t i = 0, j;
	int rc;

	while (i < len) {
		if (p->after_cr) {
			p->after_cr = 0;
			if (buf[i] == '\n') {
				i++;
				continue;
			}
		}
		/* the line's end: the first LF, or a CR before it */
		nl = memchr(buf + i, '\n', len - i);
		j = nl ? (size_t)(nl - buf) : len;
		cr = memchr(buf + i, '\r', j - i);
		if (cr != NULL)
			j = (size_t)(cr - buf);
		if (p->line.len + (j - i) > SSE_MAX_EVENT)
			return DROVE_EPROTO;
		if (j == len) {
			buf_add(&p->line, buf + i, j - i);
			break;
		}
		if (buf[j] == '\r')
			p->after_cr = 1;
		if (p->line.len == 0) {
			rc = process_line(p, buf + i, j - i);
		} else {
			buf_add(&p->line, buf + i, j - i);
			rc = process_line(p, p->line.data, p->line.len);
		}
		if (rc != 0)
			return rc;
		i = j + 1;
	}
	return 0;
}
