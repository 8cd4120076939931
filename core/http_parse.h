/*
 * HTTP/1.1 response parsing, in the style of picohttpparser: results point
 * into the caller's buffer and nothing here allocates, except struct
 * http_resp, which keeps an incomplete response head until it is whole.
 */
#ifndef DROVE_HTTP_PARSE_H
#define DROVE_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* Outside enum drove_err, so a callback's DROVE_E* code passed up through
 * http_resp_feed is never taken for one of these. */
#define HTTP_PARSE_ERROR (-1000) /* the bytes are not a valid response */
#define HTTP_PARSE_MORE (-1001)	/* valid so far; feed more bytes */

#define HTTP_MAX_HEAD 65536	/* status line, headers and blank line */
#define HTTP_MAX_HEADERS 100
#define HTTP_MAX_CHUNK_LINE 4096 /* chunk size line with its extensions */
#define HTTP_MAX_TRAILERS 65536

struct http_header {
	const char *name;
	size_t name_len;
	const char *value;	/* leading and trailing blanks removed */
	size_t value_len;
};

/*
 * Parses a response head (status line, header fields, blank line) at the
 * start of buf.  On success returns the length of the head (> 0) and fills
 * the outputs, which point into buf; *num_headers is the capacity of
 * headers on entry and the count on return.  Returns HTTP_PARSE_MORE when
 * buf ends before the head does, HTTP_PARSE_ERROR when it cannot be one
 * (including too many headers, obsolete line folding and bare CR).
 */
int http_parse_response(const char *buf, size_t len, int *minor_version,
    int *status, const char **reason, size_t *reason_len,
    struct http_header *headers, size_t *num_headers);

/* Case-insensitive match of a header name. */
int http_header_is(const struct http_header *h, const char *name);
/* True if the comma-separated value of h lists token (case-insensitive). */
int http_header_has_token(const struct http_header *h, const char *token);

/* Incremental chunked transfer-coding decoder. */
struct http_chunked {
	int state;
	uint64_t left;		/* data bytes left in the current chunk */
	size_t line;		/* bytes of the current size or trailer line */
	size_t trailers;	/* bytes of trailer section so far */
	int digits;
	int done;		/* the last chunk and trailers were read */
};

void http_chunked_init(struct http_chunked *d);
/*
 * Decodes from buf without copying.  Consumes framing bytes and at most
 * one run of data, which it reports through *data and *data_len (pointing
 * into buf; *data_len is 0 when there is none).  Returns the number of
 * bytes consumed (call again with the rest), or HTTP_PARSE_ERROR.  After
 * the last chunk and its trailers, d->done is set and nothing more is
 * consumed.
 */
ssize_t http_chunked_decode(struct http_chunked *d, const char *buf,
    size_t len, const char **data, size_t *data_len);

enum http_body_mode {
	HTTP_BODY_NONE,		/* HEAD, 1xx, 204, 304, or length 0 */
	HTTP_BODY_LENGTH,
	HTTP_BODY_CHUNKED,
	HTTP_BODY_CLOSE,	/* delimited by the end of the connection */
};

/*
 * Incremental response reader: buffers the head, skips 1xx responses,
 * works out the body framing and decodes it.  Calls on_head once with the
 * final head, then on_body for each run of body bytes (pointing into the
 * bytes fed, or into the reader's head buffer).  A callback returning
 * non-zero stops the reader: http_resp_feed then returns that value.
 */
struct http_resp;
typedef int (*http_resp_head_fn)(void *arg, struct http_resp *r);
typedef int (*http_resp_body_fn)(void *arg, const char *p, size_t n);

struct http_resp {
	/* set by the caller before feeding */
	int head_request;	/* the request was HEAD: no body */
	int connect_request;	/* CONNECT: a 2xx has no body */
	http_resp_head_fn on_head;
	http_resp_body_fn on_body;
	void *arg;

	/* valid from on_head on */
	int minor_version;
	int status;
	const char *reason;
	size_t reason_len;
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t num_headers;
	enum http_body_mode mode;
	uint64_t length;	/* HTTP_BODY_LENGTH: the declared length */
	int keep_alive;		/* the connection may be reused after */

	/* internal */
	int state;
	struct buf head;
	uint64_t left;
	struct http_chunked chunked;
	uint64_t body_bytes;
	uint64_t fed;		/* bytes fed since the last reset */
};

/* Prepares r; the caller then sets the fields marked above. */
void http_resp_init(struct http_resp *r);
void http_resp_release(struct http_resp *r);
/* Readies r for the next response on the same connection. */
void http_resp_reset(struct http_resp *r);
/*
 * Feeds n bytes.  Returns the number consumed (fewer than n only once the
 * response is complete), HTTP_PARSE_ERROR with a reason in err, or a
 * callback's non-zero return value.
 */
ssize_t http_resp_feed(struct http_resp *r, const char *p, size_t n,
    char *err, size_t errlen);
/*
 * The peer closed the connection.  Returns 0 if that ends the response
 * (close-delimited body), else HTTP_PARSE_ERROR with a reason in err.
 */
int http_resp_eof(struct http_resp *r, char *err, size_t errlen);
/* True once the whole response has been read. */
int http_resp_done(const struct http_resp *r);
/* True once any byte of the final or an interim response was fed. */
int http_resp_started(const struct http_resp *r);
/* Value of the first header called name, or NULL; *len gets its length. */
const char *http_resp_header(const struct http_resp *r, const char *name,
    size_t *len);

#endif /* DROVE_HTTP_PARSE_H */
