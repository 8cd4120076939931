/*
 * HTTP/1.1 response parsing: the head parser, the chunked decoder and an
 * incremental reader that combines them (RFC 9112).
 */
#include "http_parse.h"
#include "util.h"

#include <string.h>
#include <strings.h>

/* tchar of RFC 9110 5.6.2: the characters of a header name. */
static int
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field value characters: VCHAR, obs-text, SP and HTAB. */
static int
is_vchar(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/*
 * Finds the end of the line starting at p: returns the index of the
 * terminating LF (the line is CRLF or LF terminated), HTTP_PARSE_MORE if
 * buf ends first, HTTP_PARSE_ERROR on a CR not followed by LF.
 * *content gets the length without the line end.
 */
static ssize_t
line_end(const char *p, size_t len, size_t *content)
{
	const char *lf;

	lf = memchr(p, '\n', len);
	if (lf == NULL) {
		/* A CR anywhere but at the very end cannot become CRLF. */
		const char *cr = memchr(p, '\r', len);

		if (cr != NULL && cr != p + len - 1)
			return HTTP_PARSE_ERROR;
		return HTTP_PARSE_MORE;
	}
	*content = (size_t)(lf - p);
	if (*content > 0 && p[*content - 1] == '\r')
		(*content)--;
	if (memchr(p, '\r', *content) != NULL)
		return HTTP_PARSE_ERROR;
	return lf - p;
}

static int
parse_status_line(const char *p, size_t n, int *minor_version, int *status,
    const char **reason, size_t *reason_len)
{
	size_t i;

	if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' ||
	    p[7] > '9' || p[8] != ' ')
		return HTTP_PARSE_ERROR;
	*minor_version = p[7] - '0';
	for (i = 9; i < 12; i++)
		if (p[i] < '0' || p[i] > '9')
			return HTTP_PARSE_ERROR;
	*status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (*status < 100)
		return HTTP_PARSE_ERROR;
	/* RFC 9112 wants "SP reason"; accept a missing reason too. */
	if (n == 12) {
		*reason = p + 12;
		*reason_len = 0;
		return 0;
	}
	if (p[12] != ' ')
		return HTTP_PARSE_ERROR;
	for (i = 13; i < n; i++)
		if (!is_vchar((unsigned char)p[i]))
			return HTTP_PARSE_ERROR;
	*reason = p + 13;
	*reason_len = n - 13;
	return 0;
}

static int
parse_header_line(const char *p, size_t n, struct http_header *h)
{
	size_t i, e;

	for (i = 0; i < n && p[i] != ':'; i++)
		if (!is_tchar((unsigned char)p[i]))
			return HTTP_PARSE_ERROR;
	if (i == 0 || i == n)
		return HTTP_PARSE_ERROR;
	h->name = p;
	h->name_len = i;
	for (i++; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	for (e = n; e > i && (p[e - 1] == ' ' || p[e - 1] == '\t'); e--)
		;
	h->value = p + i;
	h->value_len = e - i;
	for (; i < e; i++)
		if (!is_vchar((unsigned char)p[i]))
			return HTTP_PARSE_ERROR;
	return 0;
}

int
http_parse_response(const char *buf, size_t len, int *minor_version,
    int *status, const char **reason, size_t *reason_len,
    struct http_header *headers, size_t *num_headers)
{
	size_t off = 0, n, cap = *num_headers, count = 0;
	ssize_t e;

	*num_headers = 0;
	e = line_end(buf, len, &n);
	if (e < 0)
		return (int)e;
	if (parse_status_line(buf, n, minor_version, status, reason,
	    reason_len) != 0)
		return HTTP_PARSE_ERROR;
	off = (size_t)e + 1;
	for (;;) {
		if (off >= len)
			return HTTP_PARSE_MORE;
		if (off > HTTP_MAX_HEAD)
			return HTTP_PARSE_ERROR;
		e = line_end(buf + off, len - off, &n);
		if (e < 0)
			return (int)e;
		if (n == 0) {
			off += (size_t)e + 1;
			break;
		}
		/* obs-fold: a line starting with a blank continues the last */
		if (buf[off] == ' ' || buf[off] == '\t')
			return HTTP_PARSE_ERROR;
		if (count == cap)
			return HTTP_PARSE_ERROR;
		if (parse_header_line(buf + off, n, &headers[count]) != 0)
			return HTTP_PARSE_ERROR;
		count++;
		off += (size_t)e + 1;
	}
	if (off > HTTP_MAX_HEAD)
		return HTTP_PARSE_ERROR;
	*num_headers = count;
	return (int)off;
}

int
http_header_is(const struct http_header *h, const char *name)
{
	return strlen(name) == h->name_len &&
	    strncasecmp(h->name, name, h->name_len) == 0;
}

int
http_header_has_token(const struct http_header *h, const char *token)
{
	size_t tl = strlen(token), i = 0, s, e;

	while (i < h->value_len) {
		while (i < h->value_len && (h->value[i] == ' ' ||
		    h->value[i] == '\t' || h->value[i] == ','))
			i++;
		s = i;
		while (i < h->value_len && h->value[i] != ',')
			i++;
		e = i;
		while (e > s && (h->value[e - 1] == ' ' ||
		    h->value[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(h->value + s, token, tl) == 0)
			return 1;
	}
	return 0;
}

/* Chunked decoder states. */
enum {
	CH_SIZE,	/* hex digits of the chunk size */
	CH_EXT,		/* after the size: blanks, extensions, up to CR LF */
	CH_SIZE_LF,	/* after CR of the size line */
	CH_DATA,
	CH_DATA_CR,	/* the CRLF after the data */
	CH_DATA_LF,
	CH_TRAILER,	/* a trailer line, or the blank line */
	CH_TRAILER_LF,
	CH_DONE,
};

void
http_chunked_init(struct http_chunked *d)
{
	memset(d, 0, sizeof(*d));
	d->state = CH_SIZE;
}

/* The size line ended: either data follows or the trailers do. */
static void
size_line_done(struct http_chunked *d)
{
	d->line = 0;
	d->state = d->left > 0 ? CH_DATA : CH_TRAILER;
}

ssize_t
http_chunked_decode(struct http_chunked *d, const char *buf, size_t len,
    const char **data, size_t *data_len)
{
	size_t i = 0, take;
	unsigned char c;
	int v;

	*data = NULL;
	*data_len = 0;
	while (i < len && d->state != CH_DONE) {
		if (d->state == CH_DATA) {
			take = len - i;
			if (take > d->left)
				take = (size_t)d->left;
			*data = buf + i;
			*data_len = take;
			d->left -= take;
			if (d->left == 0)
				d->state = CH_DATA_CR;
			return (ssize_t)(i + take);
		}
		c = (unsigned char)buf[i++];
		switch (d->state) {
		case CH_SIZE:
			if (++d->line > HTTP_MAX_CHUNK_LINE)
				return HTTP_PARSE_ERROR;
			v = hex_digit(c);
			if (v >= 0) {
				if (d->left > (UINT64_MAX >> 4) ||
				    (d->left << 4) > (uint64_t)INT64_MAX)
					return HTTP_PARSE_ERROR;
				d->left = (d->left << 4) | (uint64_t)v;
				d->digits++;
				break;
			}
			if (d->digits == 0)
				return HTTP_PARSE_ERROR;
			if (c == '\r')
				d->state = CH_SIZE_LF;
			else if (c == '\n')
				size_line_done(d);
			else if (c == ' ' || c == '\t' || c == ';')
				d->state = CH_EXT;
			else
				return HTTP_PARSE_ERROR;
			break;
		case CH_EXT:
			if (++d->line > HTTP_MAX_CHUNK_LINE)
				return HTTP_PARSE_ERROR;
			if (c == '\r')
				d->state = CH_SIZE_LF;
			else if (c == '\n')
				size_line_done(d);
			else if (!is_vchar(c))
				return HTTP_PARSE_ERROR;
			break;
		case CH_SIZE_LF:
			if (c != '\n')
				return HTTP_PARSE_ERROR;
			size_line_done(d);
			break;
		case CH_DATA_CR:
			if (c == '\r')
				d->state = CH_DATA_LF;
			else if (c == '\n')
				d->state = CH_SIZE, d->digits = 0;
			else
				return HTTP_PARSE_ERROR;
			break;
		case CH_DATA_LF:
			if (c != '\n')
				return HTTP_PARSE_ERROR;
			d->state = CH_SIZE;
			d->digits = 0;
			break;
		case CH_TRAILER:
			if (++d->trailers > HTTP_MAX_TRAILERS)
				return HTTP_PARSE_ERROR;
			if (c == '\r') {
				d->state = CH_TRAILER_LF;
			} else if (c == '\n') {
				if (d->line == 0)
					d->state = CH_DONE;
				d->line = 0;
			} else if (!is_vchar(c) ||
			    (d->line == 0 && (c == ' ' || c == '\t'))) {
				return HTTP_PARSE_ERROR;
			} else {
				d->line++;
			}
			break;
		case CH_TRAILER_LF:
			if (c != '\n')
				return HTTP_PARSE_ERROR;
			if (d->line == 0)
				d->state = CH_DONE;
			else
				d->state = CH_TRAILER;
			d->line = 0;
			break;
		}
	}
	if (d->state == CH_DONE)
		d->done = 1;
	return (ssize_t)i;
}

/* Reader states. */
enum {
	R_HEAD,
	R_BODY,
	R_DONE,
};

void
http_resp_init(struct http_resp *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->head);
	http_resp_reset(r);
}

void
http_resp_release(struct http_resp *r)
{
	buf_release(&r->head);
}

void
http_resp_reset(struct http_resp *r)
{
	r->state = R_HEAD;
	r->head.len = 0;
	r->num_headers = 0;
	r->status = 0;
	r->mode = HTTP_BODY_NONE;
	r->length = 0;
	r->keep_alive = 0;
	r->left = 0;
	r->body_bytes = 0;
	r->fed = 0;
	http_chunked_init(&r->chunked);
}

int
http_resp_done(const struct http_resp *r)
{
	return r->state == R_DONE;
}

int
http_resp_started(const struct http_resp *r)
{
	return r->fed > 0;
}

const char *
http_resp_header(const struct http_resp *r, const char *name, size_t *len)
{
	size_t i;

	for (i = 0; i < r->num_headers; i++)
		if (http_header_is(&r->headers[i], name)) {
			if (len)
				*len = r->headers[i].value_len;
			return r->headers[i].value;
		}
	return NULL;
}

/* Parses one Content-Length value list; all members must agree. */
static int
parse_length(const struct http_header *h, int *have, uint64_t *len)
{
	size_t i = 0;
	uint64_t v;
	int digits;

	if (h->value_len == 0)
		return -1;
	while (i < h->value_len) {
		while (i < h->value_len && (h->value[i] == ' ' ||
		    h->value[i] == '\t'))
			i++;
		v = 0;
		digits = 0;
		while (i < h->value_len && h->value[i] >= '0' &&
		    h->value[i] <= '9') {
			if (v > (UINT64_MAX - 9) / 10 ||
			    v * 10 + (uint64_t)(h->value[i] - '0') >
			    (uint64_t)INT64_MAX)
				return -1;
			v = v * 10 + (uint64_t)(h->value[i] - '0');
			digits++;
			i++;
		}
		while (i < h->value_len && (h->value[i] == ' ' ||
		    h->value[i] == '\t'))
			i++;
		if (digits == 0)
			return -1;
		if (i < h->value_len) {
			if (h->value[i] != ',')
				return -1;
			i++;
			if (i == h->value_len)
				return -1;
		}
		if (*have && *len != v)
			return -1;
		*have = 1;
		*len = v;
	}
	return 0;
}

/* Works out the body framing of the final response (RFC 9112 6.3). */
static int
frame_body(struct http_resp *r, char *err, size_t errlen)
{
	const struct http_header *te = NULL, *h;
	int have_len = 0, close = 0, ka = 0;
	uint64_t len = 0;
	size_t i;

	for (i = 0; i < r->num_headers; i++) {
		h = &r->headers[i];
		if (http_header_is(h, "content-length")) {
			if (parse_length(h, &have_len, &len) != 0) {
				errf(err, errlen, "invalid or conflicting "
				    "Content-Length");
				return HTTP_PARSE_ERROR;
			}
		} else if (http_header_is(h, "transfer-encoding")) {
			if (te != NULL) {
				errf(err, errlen, "repeated "
				    "Transfer-Encoding");
				return HTTP_PARSE_ERROR;
			}
			te = h;
		} else if (http_header_is(h, "connection")) {
			if (http_header_has_token(h, "close"))
				close = 1;
			if (http_header_has_token(h, "keep-alive"))
				ka = 1;
		}
	}
	r->keep_alive = !close && (r->minor_version >= 1 || ka);
	if (r->head_request || r->status == 204 || r->status == 304 ||
	    (r->connect_request && r->status / 100 == 2)) {
		r->mode = HTTP_BODY_NONE;
		return 0;
	}
	if (te != NULL) {
		/* Transfer-Encoding overrides Content-Length; such a
		 * message is suspect, so the connection is not reused. */
		if (have_len)
			r->keep_alive = 0;
		if (te->value_len == 7 &&
		    strncasecmp(te->value, "chunked", 7) == 0) {
			r->mode = HTTP_BODY_CHUNKED;
			return 0;
		}
		if (http_header_has_token(te, "chunked")) {
			errf(err, errlen, "unsupported Transfer-Encoding "
			    "'%.*s'", (int)te->value_len, te->value);
			return HTTP_PARSE_ERROR;
		}
		r->mode = HTTP_BODY_CLOSE;
		r->keep_alive = 0;
		return 0;
	}
	if (have_len) {
		r->length = len;
		r->left = len;
		r->mode = len ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
		return 0;
	}
	r->mode = HTTP_BODY_CLOSE;
	r->keep_alive = 0;
	return 0;
}

/*
 * Adds bytes to the head buffer and parses it.  Returns how many of the
 * n bytes belong to the head (the head is then complete), or
 * HTTP_PARSE_MORE (all n taken), or HTTP_PARSE_ERROR.
 */
static ssize_t
feed_head(struct http_resp *r, const char *p, size_t n, char *err,
    size_t errlen)
{
	size_t old = r->head.len, cap = HTTP_MAX_HEADERS, take;
	int rc;

	/* Never buffer more than a head can hold. */
	take = n;
	if (take > HTTP_MAX_HEAD + 1 - old)
		take = HTTP_MAX_HEAD + 1 - old;
	buf_add(&r->head, p, take);
	/* Only a new line end can complete the head or reveal an error. */
	if (memchr(p, '\n', take) == NULL && r->head.len <= HTTP_MAX_HEAD)
		return HTTP_PARSE_MORE;
	rc = http_parse_response(r->head.data, r->head.len, &r->minor_version,
	    &r->status, &r->reason, &r->reason_len, r->headers, &cap);
	if (rc == HTTP_PARSE_MORE && r->head.len <= HTTP_MAX_HEAD)
		return HTTP_PARSE_MORE;
	if (rc < 0) {
		if (r->head.len > HTTP_MAX_HEAD)
			errf(err, errlen, "response head larger than %d bytes",
			    HTTP_MAX_HEAD);
		else
			errf(err, errlen, "malformed response head");
		return HTTP_PARSE_ERROR;
	}
	r->num_headers = cap;
	r->head.len = (size_t)rc;
	return (ssize_t)((size_t)rc - old);
}

ssize_t
http_resp_feed(struct http_resp *r, const char *p, size_t n, char *err,
    size_t errlen)
{
	size_t off = 0, take;
	ssize_t k;
	const char *data;
	size_t dlen;
	int rc;

	if (r->state != R_DONE)
		r->fed += n;
	while (off < n && r->state != R_DONE) {
		if (r->state == R_HEAD) {
			k = feed_head(r, p + off, n - off, err, errlen);
			if (k == HTTP_PARSE_MORE)
				return (ssize_t)n;
			if (k < 0)
				return k;
			off += (size_t)k;
			if (r->status / 100 == 1) {
				if (r->status == 101) {
					errf(err, errlen, "unexpected 101 "
					    "Switching Protocols");
					return HTTP_PARSE_ERROR;
				}
				/* interim response: skip it */
				r->head.len = 0;
				r->num_headers = 0;
				continue;
			}
			if (frame_body(r, err, errlen) != 0)
				return HTTP_PARSE_ERROR;
			r->state = r->mode == HTTP_BODY_NONE ? R_DONE : R_BODY;
			if (r->on_head && (rc = r->on_head(r->arg, r)) != 0)
				return rc;
			continue;
		}
		switch (r->mode) {
		case HTTP_BODY_LENGTH:
			take = n - off;
			if (take > r->left)
				take = (size_t)r->left;
			r->left -= take;
			if (r->left == 0)
				r->state = R_DONE;
			data = p + off;
			dlen = take;
			off += take;
			break;
		case HTTP_BODY_CHUNKED:
			k = http_chunked_decode(&r->chunked, p + off, n - off,
			    &data, &dlen);
			if (k < 0) {
				errf(err, errlen, "malformed chunked body");
				return HTTP_PARSE_ERROR;
			}
			off += (size_t)k;
			if (r->chunked.done)
				r->state = R_DONE;
			break;
		default:
			data = p + off;
			dlen = n - off;
			off = n;
			break;
		}
		r->body_bytes += dlen;
		if (dlen > 0 && r->on_body &&
		    (rc = r->on_body(r->arg, data, dlen)) != 0)
			return rc;
	}
	return (ssize_t)off;
}

int
http_resp_eof(struct http_resp *r, char *err, size_t errlen)
{
	if (r->state == R_DONE)
		return 0;
	if (r->state == R_BODY && r->mode == HTTP_BODY_CLOSE) {
		r->state = R_DONE;
		return 0;
	}
	if (r->state == R_HEAD)
		errf(err, errlen, r->head.len ? "connection closed inside "
		    "the response head" : "connection closed before a "
		    "response");
	else
		errf(err, errlen, "connection closed after %llu body bytes, "
		    "before the body ended",
		    (unsigned long long)r->body_bytes);
	return HTTP_PARSE_ERROR;
}
