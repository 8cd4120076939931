/*
 * What the HTTP API backends (anthropic, openai) share: reading the
 * [backend] section, the key from the environment, the request over
 * host->http_request with the body streamed as Server-Sent Events, and the
 * mapping of HTTP statuses, retry hints and transport errors to one
 * struct drove_result.  The declarations are in llm_common.h.
 *
 * Built into drove once for both backends; a backend built as a .so
 * compiles its own copy (build.sh plugins), with hidden symbols.  Uses the
 * host table, libc and jansson.
 */
#include "llm_common.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../plugin_util.h"

/* Error bodies are kept up to this size; the rest is dropped. */
#define LLM_MAX_ERR_BODY 65536
#define LLM_MAX_HEADERS 32
/* Default cap on the text of one answer (max_output), as exec's output. */
#define LLM_DEFAULT_MAX_OUTPUT ((size_t)64 << 20)
/* Retry hints are clamped to this many seconds before conversion. */
#define LLM_MAX_RETRY_AFTER_S ((int64_t)1 << 31)
/* A cut copy of the key this long or longer is redacted, too. */
#define LLM_KEY_MIN_CUT 8

/* --- small helpers ---------------------------------------------------- */

void
llm_buf_add(const struct drove_host *h, struct llm_buf *b, const char *p,
    size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = h->realloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
llm_buf_add_json(const struct drove_host *h, struct llm_buf *b,
    const struct lj_val *v)
{
	if (b->len + v->n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + v->n + 1)
			cap *= 2;
		b->p = h->realloc(b->p, cap);
		b->cap = cap;
	}
	b->len += lj_decode(v, b->p + b->len);
	b->p[b->len] = '\0';
}

/*
 * Length of the copy of key[from..] that starts at s[0] (at most n bytes),
 * skipping line breaks inside it; *klen gets how many key bytes matched,
 * *open whether the copy ran into the end of s with key bytes still to
 * match (more text could make it longer).
 */
static size_t
llm_key_run(const char *s, size_t n, const char *key, size_t kl,
    size_t from, size_t *klen, int *open)
{
	size_t i = 0, k = from, end = 0;

	while (i < n && k < kl) {
		if (s[i] == key[k]) {
			i++;
			k++;
			end = i;
		} else if ((s[i] == '\n' || s[i] == '\r') && k > from) {
			i++;
		} else {
			break;
		}
	}
	*klen = k - from;
	*open = i == n && k < kl;
	return end;
}

/* The key's positions of each byte value, as linked lists, for
 * llm_redact_scan: none for a key shorter than 4 bytes (never redacted). */
static void
llm_key_table(struct llm_backend *b)
{
	size_t kl = strlen(b->key), j;
	unsigned char c;

	if (kl < 4)
		return;
	b->key_len = kl;
	b->key_next = b->h->alloc(kl * sizeof(*b->key_next));
	for (j = 0; j < 256; j++)
		b->key_head[j] = kl;
	for (j = kl; j-- > 0; ) {
		c = (unsigned char)b->key[j];
		b->key_next[j] = b->key_head[c];
		b->key_head[c] = j;
	}
}

/*
 * Replaces, in place, every copy of the key in s[0..n) by "***": whole,
 * broken by line breaks, or cut (any LLM_KEY_MIN_CUT or more bytes of it in
 * a row).  Server text passes through here before drove writes it
 * anywhere.  With more (the text goes on after n), stops at the first
 * byte whose fate more text could change: a byte that may begin or
 * continue a copy of the key.  *used gets the bytes of s consumed; returns
 * the length of what replaced them (s[0..return)).
 *
 * A stop is a position the scan of the whole text passes too (the scan
 * goes left to right and nothing before the stop depends on what
 * follows), so the pieces of a stream scanned one after the other add up
 * to exactly the scan of the whole.
 */
static size_t
llm_redact_scan(const struct llm_backend *b, char *s, size_t n, int more,
    size_t *used)
{
	const char *key = b->key;
	const size_t *head = b->key_head, *nxt = b->key_next;
	size_t kl = b->key_len, i, o = 0, j, run, best, got;
	int open, held;

	*used = n;
	if (nxt == NULL || n == 0)
		return n;
	for (i = 0; i < n; ) {
		best = 0;
		held = 0;
		for (j = head[(unsigned char)s[i]]; j < kl; j = nxt[j]) {
			run = llm_key_run(s + i, n - i, key, kl, j, &got,
			    &open);
			held |= open;
			/* a short key counts only whole */
			if ((got >= LLM_KEY_MIN_CUT || (j == 0 && got == kl)) &&
			    run > best)
				best = run;
		}
		if (more && held)
			break;
		if (best == 0) {
			s[o++] = s[i++];
			continue;
		}
		memcpy(s + o, "***", 3);
		o += 3;
		i += best;
	}
	*used = i;
	return o;
}

/* llm_redact_scan of all of s[0..*len): *len shrinks; s stays
 * NUL-terminated when it was. */
static void
llm_redact(const struct llm_backend *b, char *s, size_t *len)
{
	size_t used, o;

	o = llm_redact_scan(b, s, *len, 0, &used);
	if (o < *len)
		s[o] = '\0';
	*len = o;
}

/*
 * Hands the streamed text not shown yet to call_progress, redacted: all
 * of it at the end (more 0), else up to the first byte that could still
 * turn out to be part of a copy of the key, which waits for the next
 * piece.  What goes out adds up to the final redacted text.
 */
static void
llm_stream_out(struct llm_call *lc, int more)
{
	const struct drove_host *h = lc->b->h;
	size_t n = lc->text.len - lc->shown, used, o;
	char *p;

	char small[1024];

	if (n == 0 || h->call_progress == NULL)
		return;
	p = n <= sizeof(small) ? small : h->alloc(n);
	memcpy(p, lc->text.p + lc->shown, n);
	o = llm_redact_scan(lc->b, p, n, more, &used);
	lc->shown += used;
	if (o > 0)
		h->call_progress(lc->call, p, o);
	if (p != small)
		h->free(p);
}

/* Copies server text s into buf on one line: the key redacted first (so a
 * line break inside it still matches), then control bytes become spaces;
 * cut with "..." when longer than the buffer. */
static void
llm_oneline(const struct llm_backend *b, char *buf, size_t size,
    const char *s, size_t n)
{
	size_t i, k;

	if (size == 0)
		return;
	k = n < size - 1 ? n : size - 1;
	memcpy(buf, s, k);
	buf[k] = '\0';
	llm_redact(b, buf, &k);
	for (i = 0; i < k; i++)
		if ((unsigned char)buf[i] < ' ')
			buf[i] = ' ';
	if (n >= size && k >= 3)
		memcpy(buf + k - 3, "...", 4);
}

/* llm_redact for a NUL-terminated string. */
static void
llm_scrub(const struct llm_backend *b, char *s)
{
	size_t n = strlen(s);

	llm_redact(b, s, &n);
}

/*
 * Copies the host of an http:// or https:// URL into buf (brackets of an
 * IPv6 literal removed).  Returns 0, or -1 when the URL has user info
 * ("user@host") or no host that fits.
 */
static int
llm_url_host(const char *url, char *buf, size_t size)
{
	const char *h = strstr(url, "://"), *e;
	size_t n;

	h = h ? h + 3 : url;
	n = strcspn(h, "/?#");
	if (memchr(h, '@', n) != NULL)
		return -1;
	if (*h == '[') {
		h++;
		e = memchr(h, ']', n);
		if (e == NULL)
			return -1;
		n = (size_t)(e - h);
	} else {
		n = strcspn(h, ":/?#");
	}
	if (n == 0 || n >= size)
		return -1;
	memcpy(buf, h, n);
	buf[n] = '\0';
	return 0;
}

/* True for "localhost" and the literals 127.0.0.0/8 and ::1.  A name is
 * only a claim: the HTTP client checks the address it connects to. */
static int
llm_host_is_loopback(const char *host)
{
	unsigned char a[16];
	static const unsigned char v6lo[16] = { [15] = 1 };

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, host, a) == 1)
		return memcmp(a, v6lo, 16) == 0;
	return 0;
}

/* Seconds as a double from a section key; def when absent. */
static int
llm_conf_double(const struct drove_host *h, const struct drove_conf *c,
    const char *key, double def, double min, double max, double *out,
    char *err, size_t errlen)
{
	const char *v = h->conf_get(c, key);
	char *end;
	double d;

	*out = def;
	if (v == NULL)
		return 0;
	d = strtod(v, &end);
	while (*end == ' ' || *end == '\t')
		end++;
	if (end == v || *end != '\0' || !(d >= min && d <= max)) {
		snprintf(err, errlen, "bad value '%.40s' for '%s' (expected "
		    "a number from %g to %g)", v, key, min, max);
		return DROVE_EINVAL;
	}
	*out = d;
	return 0;
}

/* Seconds from a section key, in pu_duration's syntax ("90", "90s",
 * "5m", "1h"); def when absent. */
static int
llm_conf_duration(const struct drove_host *h, const struct drove_conf *c,
    const char *key, double def, double min, double max, double *out,
    char *err, size_t errlen)
{
	const char *v = h->conf_get(c, key);
	double d;

	*out = def;
	if (v == NULL)
		return 0;
	if (pu_duration(v, &d) < 0 || !(d >= min && d <= max)) {
		snprintf(err, errlen, "bad value '%.40s' for '%s' (expected "
		    "a duration from %.0f to %.0f seconds: 90, 90s, 5m or 1h)",
		    v, key, min, max);
		return DROVE_EINVAL;
	}
	*out = d;
	return 0;
}

/* A byte count from a section key, with an optional K, M or G suffix
 * (powers of 1024); def when absent. */
static int
llm_conf_size(const struct drove_host *h, const struct drove_conf *c,
    const char *key, size_t def, double *out, char *err, size_t errlen)
{
	const char *v = h->conf_get(c, key);
	char *end;
	double d;

	*out = (double)def;
	if (v == NULL)
		return 0;
	d = strtod(v, &end);
	switch (*end) {
	case 'k': case 'K': d *= 1024; end++; break;
	case 'm': case 'M': d *= 1024 * 1024; end++; break;
	case 'g': case 'G': d *= 1024.0 * 1024 * 1024; end++; break;
	}
	while (*end == ' ' || *end == '\t')
		end++;
	if (end == v || *end != '\0' ||
	    !(d >= 1024 && d <= 64.0 * (1u << 30))) {
		snprintf(err, errlen, "bad value '%.40s' for '%s' (expected "
		    "a size from 1K to 64G, like 64M)", v, key);
		return DROVE_EINVAL;
	}
	*out = d;
	return 0;
}

static int
llm_conf_bool(const struct drove_host *h, const struct drove_conf *c,
    const char *key, int *out, char *err, size_t errlen)
{
	const char *v = h->conf_get(c, key);

	*out = 0;
	if (v == NULL || strcmp(v, "false") == 0 || strcmp(v, "no") == 0 ||
	    strcmp(v, "off") == 0 || strcmp(v, "0") == 0)
		return 0;
	if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
	    strcmp(v, "on") == 0 || strcmp(v, "1") == 0) {
		*out = 1;
		return 0;
	}
	snprintf(err, errlen, "bad value '%.40s' for '%s' (expected true or "
	    "false)", v, key);
	return DROVE_EINVAL;
}

/* The header list: "Name: value" lines of the headers key. */
static int
llm_add_header(struct llm_backend *b, char *line, char *err, size_t errlen)
{
	const char *colon = strchr(line, ':');
	const char *p;

	for (p = line; colon && p < colon; p++)
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
			break;
	if (colon == NULL || colon == line || p != colon ||
	    strpbrk(line, "\r\n") != NULL) {
		snprintf(err, errlen, "headers: '%.60s' is not 'Name: value'",
		    line);
		b->h->free(line);
		return DROVE_EINVAL;
	}
	if (b->nheaders + 1 >= LLM_MAX_HEADERS) {
		snprintf(err, errlen, "headers: more than %d", LLM_MAX_HEADERS
		    - 8);
		b->h->free(line);
		return DROVE_EINVAL;
	}
	b->headers[b->nheaders++] = line;
	b->headers[b->nheaders] = NULL;
	return 0;
}

void
llm_close(void *state)
{
	struct llm_backend *b = state;
	const struct drove_host *h;
	size_t i;

	if (b == NULL)
		return;
	h = b->h;
	for (i = 0; i < b->nheaders; i++) {
		/* the auth header holds the key */
		memset(b->headers[i], 0, strlen(b->headers[i]));
		h->free(b->headers[i]);
	}
	h->free(b->headers);
	if (b->key_next != NULL) {
		memset(b->key_next, 0, b->key_len * sizeof(*b->key_next));
		memset(b->key_head, 0, sizeof(b->key_head));
		h->free(b->key_next);
	}
	if (b->key != NULL) {
		memset(b->key, 0, strlen(b->key));
		h->free(b->key);
	}
	h->free(b->key_env);
	h->free(b->url);
	if (b->model)
		h->free(b->model);
	if (b->system)
		h->free(b->system);
	if (b->ca_file)
		h->free(b->ca_file);
	h->free(b);
}

int
llm_open(const struct llm_proto *proto, const struct drove_host *h,
    const struct drove_conf *c, void **state, char *err, size_t errlen)
{
	struct llm_backend *b;
	const char *v, *base, *env;
	const char *const *ph;
	size_t n;
	int plain_ok = 0;
	int rc;
	char host[256];
	double mo;

	if (!DROVE_HAS(h, http_cancel)) {
		snprintf(err, errlen, "the host is too old for this plugin "
		    "(no HTTP requests)");
		return DROVE_ENOTSUP;
	}
	b = h->alloc(sizeof(*b));
	memset(b, 0, sizeof(*b));
	b->h = h;
	b->proto = proto;
	b->conf = c;
	b->headers = h->alloc(LLM_MAX_HEADERS * sizeof(*b->headers));
	b->headers[0] = NULL;

	base = h->conf_get(c, "base_url");
	if (base == NULL || *base == '\0')
		base = proto->default_base_url;
	if (strncmp(base, "http://", 7) != 0 &&
	    strncmp(base, "https://", 8) != 0) {
		snprintf(err, errlen, "base_url: '%.60s' is not an http:// or "
		    "https:// URL", base);
		rc = DROVE_EINVAL;
		goto fail;
	}
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	b->url = pu_fmt(h, "%.*s%s", (int)n, base, proto->path);

	if ((v = h->conf_get(c, "model")) != NULL && *v != '\0')
		b->model = h->strdup(v);
	if ((v = h->conf_get(c, "system")) != NULL && *v != '\0')
		b->system = h->strdup(v);
	if ((v = h->conf_get(c, "ca_file")) != NULL && *v != '\0')
		b->ca_file = h->strdup(v);
	{
		double mt;

		if ((rc = llm_conf_double(h, c, "max_tokens", 0, 1, 1e7, &mt,
		    err, errlen)) < 0)
			goto fail;
		b->max_tokens = (long)mt;
	}
	b->has_temperature = h->conf_get(c, "temperature") != NULL;
	if ((rc = llm_conf_double(h, c, "temperature", 0, 0, 2,
	    &b->temperature, err, errlen)) < 0 ||
	    (rc = llm_conf_duration(h, c, "connect_timeout", 0, 0, 3600,
	    &b->connect_timeout, err, errlen)) < 0 ||
	    (rc = llm_conf_duration(h, c, "first_byte_timeout", 0, 0, 3600,
	    &b->first_byte_timeout, err, errlen)) < 0 ||
	    (rc = llm_conf_duration(h, c, "idle_timeout", 0, 0, 3600,
	    &b->idle_timeout, err, errlen)) < 0 ||
	    (rc = llm_conf_bool(h, c, "allow_plain_http", &plain_ok, err,
	    errlen)) < 0 ||
	    (rc = llm_conf_size(h, c, "max_output", LLM_DEFAULT_MAX_OUTPUT,
	    &mo, err, errlen)) < 0)
		goto fail;
	b->max_output = (size_t)mo;

	v = h->conf_get(c, "api_key_env");
	b->key_env = h->strdup(v && *v ? v : proto->default_key_env);
	env = getenv(b->key_env);
	if (env != NULL && *env != '\0') {
		if (strpbrk(env, "\r\n") != NULL) {
			snprintf(err, errlen, "the key in $%s holds a line "
			    "break", b->key_env);
			rc = DROVE_EINVAL;
			goto fail;
		}
		b->key = h->strdup(env);
		llm_key_table(b);
	} else if (proto->key_required || (v != NULL && *v != '\0')) {
		snprintf(err, errlen, "no API key: the environment variable "
		    "%s (api_key_env) is not set", b->key_env);
		rc = DROVE_EINVAL;
		goto fail;
	}
	if (llm_url_host(b->url, host, sizeof(host)) != 0) {
		snprintf(err, errlen, "base_url: '%.60s' has user info or no "
		    "host (write the key's variable in api_key_env, not in "
		    "the URL)", base);
		rc = DROVE_EINVAL;
		goto fail;
	}
	if (b->key != NULL && strncmp(b->url, "http://", 7) == 0 &&
	    !plain_ok) {
		if (!llm_host_is_loopback(host)) {
			snprintf(err, errlen, "base_url is plain http:// to a "
			    "host that is not loopback: the key would travel "
			    "unencrypted (use https://, or set "
			    "allow_plain_http = true)");
			rc = DROVE_EINVAL;
			goto fail;
		}
		/* and the address connected to must be loopback, too */
		b->loopback_only = 1;
	}
	if (b->key != NULL)
		b->headers[b->nheaders++] = proto->auth_header(h, b->key);
	b->headers[b->nheaders++] = h->strdup("Content-Type: application/json");
	for (ph = proto->headers; ph && *ph; ph++)
		b->headers[b->nheaders++] = h->strdup(*ph);
	b->headers[b->nheaders] = NULL;
	if ((v = h->conf_get(c, "headers")) != NULL) {
		const char *p = v, *e;

		for (; *p; p = *e ? e + 1 : e) {
			const char *s;

			e = strchr(p, '\n');
			if (e == NULL)
				e = p + strlen(p);
			s = p;
			while (s < e && (*s == ' ' || *s == '\t'))
				s++;
			n = (size_t)(e - s);
			while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
				n--;
			if (n == 0)
				continue;
			if ((rc = llm_add_header(b, pu_fmt(h, "%.*s", (int)n,
			    s), err, errlen)) < 0)
				goto fail;
		}
	}
	*state = b;
	return 0;
fail:
	llm_close(b);
	return rc;
}

/* The model, system prompt, output cap and temperature of a call: the
 * task's, else the backend's. */
const char *
llm_model(const struct llm_call *lc)
{
	return lc->call->model ? lc->call->model : lc->b->model;
}

const char *
llm_system(const struct llm_call *lc)
{
	return lc->call->system ? lc->call->system : lc->b->system;
}

long
llm_max_tokens(const struct llm_call *lc)
{
	if (lc->call->max_tokens > 0)
		return (long)lc->call->max_tokens;
	if (lc->b->max_tokens > 0)
		return lc->b->max_tokens;
	return lc->b->proto->needs_max_tokens ? LLM_DEFAULT_MAX_TOKENS : 0;
}

/* Sets *t to the temperature of the call; 0 when there is none. */
int
llm_temperature(const struct llm_call *lc, double *t)
{
	const struct drove_host *h = lc->b->h;
	const char *v = lc->call->task_conf ?
	    h->conf_get(lc->call->task_conf, "temperature") : NULL;

	if (v != NULL) {
		*t = strtod(v, NULL);
		return 1;
	}
	*t = lc->b->temperature;
	return lc->b->has_temperature;
}

/* --- retry hints -------------------------------------------------------- */

static const char *const llm_months[] = { "Jan", "Feb", "Mar", "Apr",
	"May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") as seconds since the
 * epoch, or -1. */
static int64_t
llm_http_date(const char *s)
{
	char mon[4];
	int d, y, hh, mm, ss, m;
	int64_t days;

	if (sscanf(s, "%*3s, %d %3s %d %d:%d:%d GMT", &d, mon, &y, &hh, &mm,
	    &ss) != 6)
		return -1;
	for (m = 0; m < 12; m++)
		if (strcmp(mon, llm_months[m]) == 0)
			break;
	if (m == 12 || d < 1 || d > 31 || y < 1970)
		return -1;
	/* days from civil (Howard Hinnant's algorithm) */
	{
		int mo = m + 1;
		int yy = y - (mo <= 2);
		int era = yy / 400;
		int yoe = yy - era * 400;
		int mp = (mo + 9) % 12;
		int doy = (153 * mp + 2) / 5 + d - 1;
		int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

		days = (int64_t)era * 146097 + doe - 719468;
	}
	return days * 86400 + hh * 3600 + mm * 60 + ss;
}

/* Milliseconds from a retry-after value: seconds or an HTTP date; -1. */
static int64_t
llm_retry_after(const char *v, size_t n)
{
	char buf[64], *end;
	double s;
	int64_t t;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, v, n);
	buf[n] = '\0';
	s = strtod(buf, &end);
	if (end != buf && *end == '\0') {
		/* clamp before converting: 1e300 does not fit an int64 */
		if (!(s > 0))
			return 0;
		return s < LLM_MAX_RETRY_AFTER_S ?
		    (int64_t)(s * 1000) : LLM_MAX_RETRY_AFTER_S * 1000;
	}
	t = llm_http_date(buf);
	if (t < 0)
		return -1;
	t -= (int64_t)time(NULL);
	return t > 0 ? t * 1000 : 0;
}

/* --- the request -------------------------------------------------------- */

static void llm_finish(struct llm_call *lc, int err, const char *errtext);

static void
llm_on_head(void *arg, int status, const struct drove_http_header *hd,
    size_t n)
{
	struct llm_call *lc = arg;
	int64_t ms = -1, s = -1;
	size_t i;

	lc->status = status;
	for (i = 0; i < n; i++) {
		const char *name = hd[i].name, *v = hd[i].value;
		size_t nl = hd[i].name_len, vl = hd[i].value_len;

		if (nl == 14 && strncasecmp(name, "retry-after-ms", 14) == 0) {
			char buf[32], *end;
			double d;

			if (vl > 0 && vl < sizeof(buf)) {
				memcpy(buf, v, vl);
				buf[vl] = '\0';
				d = strtod(buf, &end);
				/* clamp before converting (1e300) */
				if (end != buf && *end == '\0' && d >= 0)
					ms = d < LLM_MAX_RETRY_AFTER_S * 1e3 ?
					    (int64_t)d :
					    LLM_MAX_RETRY_AFTER_S * 1000;
			}
		} else if (nl == 11 && strncasecmp(name, "retry-after",
		    11) == 0) {
			s = llm_retry_after(v, vl);
		} else if (nl == 14 && strncasecmp(name, "x-should-retry",
		    14) == 0) {
			if (vl == 4 && strncasecmp(v, "true", 4) == 0)
				lc->should_retry = 1;
			else if (vl == 5 && strncasecmp(v, "false", 5) == 0)
				lc->should_retry = 0;
		}
	}
	lc->retry_after_ms = ms >= 0 ? ms : s;
}

static void
llm_on_body(void *arg, const char *p, size_t n)
{
	struct llm_call *lc = arg;

	if (lc->errbody.len + n > LLM_MAX_ERR_BODY)
		n = LLM_MAX_ERR_BODY - lc->errbody.len;
	if (n > 0)
		llm_buf_add(lc->b->h, &lc->errbody, p, n);
}

/* Stops reading the answer: the call ends with status and msg (from a
 * request callback, so on_done follows when it returns). */
static void
llm_abort(struct llm_call *lc, int status, int retryable, const char *msg)
{
	if (lc->abort_status != 0)
		return;
	lc->abort_status = status;
	lc->abort_retryable = retryable;
	snprintf(lc->abort_msg, sizeof(lc->abort_msg), "%s", msg);
	if (lc->req != NULL)
		lc->b->h->http_cancel(lc->req);
}

static void
llm_on_sse(void *arg, const struct drove_sse_event *ev)
{
	struct llm_call *lc = arg;
	json_error_t je;
	json_t *data = NULL;
	char msg[512];

	lc->got_body = 1;
	if (lc->done || lc->stream_err || lc->abort_status)
		return;
	if (ev->data_len > 0 && lc->b->proto->fast_event != NULL &&
	    lc->b->proto->fast_event(lc, ev->event, ev->data, ev->data_len))
		goto out;	/* a common event, read without jansson */
	if (ev->data_len > 0) {
		data = json_loadb(ev->data, ev->data_len, 0, &je);
		/* OpenAI ends its stream with a bare [DONE] */
		if (data == NULL && !(ev->data_len == 6 &&
		    memcmp(ev->data, "[DONE]", 6) == 0)) {
			llm_oneline(lc->b, lc->bad_event,
			    sizeof(lc->bad_event),
			    ev->data, ev->data_len);
			snprintf(msg, sizeof(msg), "malformed event in the "
			    "stream (not JSON: %.80s): %s", je.text,
			    lc->bad_event);
			llm_abort(lc, DROVE_EPROTO, 1, msg);
			return;
		}
	}
	lc->b->proto->event(lc, ev->event, data, ev->data, ev->data_len);
	if (data)
		json_decref(data);
out:
	/* the live view and tasks/TASK.live get what has streamed so far */
	llm_stream_out(lc, 1);
	if (lc->text.len > lc->b->max_output) {
		snprintf(msg, sizeof(msg), "the answer is larger than "
		    "max_output (%zu bytes): stopped reading it",
		    lc->b->max_output);
		llm_abort(lc, DROVE_EIO, 0, msg);
	}
}

/* Error codes that say the money or the quota is gone: waiting will not
 * cure them. */
static const char *const llm_final_codes[] = { "insufficient_quota",
    "billing_hard_limit_reached", "billing_not_active", "billing_error",
    NULL };

static int
llm_code_final(const char *code)
{
	for (size_t i = 0; llm_final_codes[i]; i++)
		if (strcmp(code, llm_final_codes[i]) == 0)
			return 1;
	return 0;
}

/* Records an error object ({"type": T, "message": M} or a string); a
 * final code wins over the type. */
void
llm_set_error(struct llm_call *lc, json_t *e)
{
	const char *type = NULL, *msg = NULL, *code = NULL;

	if (json_is_string(e)) {
		msg = json_string_value(e);
	} else if (json_is_object(e)) {
		type = json_string_value(json_object_get(e, "type"));
		msg = json_string_value(json_object_get(e, "message"));
		code = json_string_value(json_object_get(e, "code"));
	}
	lc->stream_err = 1;
	snprintf(lc->err_type, sizeof(lc->err_type), "%s",
	    code && (!type || llm_code_final(code)) ? code :
	    type ? type : "error");
	llm_oneline(lc->b, lc->err_msg, sizeof(lc->err_msg), msg ? msg : "",
	    msg ? strlen(msg) : 0);
}

static int
llm_type_is(const struct llm_call *lc, const char *t)
{
	return strcmp(lc->err_type, t) == 0;
}

/* Whether s holds w, case ignored. */
static int
llm_has_word(const char *s, const char *w)
{
	size_t n = strlen(w);

	for (; *s; s++)
		if (strncasecmp(s, w, n) == 0)
			return 1;
	return 0;
}

/*
 * A 429 that waiting will not cure: the provider's code says the money or
 * the quota is gone (OpenAI's insufficient_quota and billing codes), or
 * the answer gives no retry hint and its message speaks of a spend limit,
 * credit or quota (Anthropic's "Extra usage is required ...").  A rate
 * limit proper always comes with a hint or a message about rates.
 */
static int
llm_final_429(const struct llm_call *lc)
{
	static const char *const words[] = { "quota", "billing", "credit",
	    "spend", "usage limit", "extra usage", NULL };

	if (llm_code_final(lc->err_type))
		return 1;
	if (lc->retry_after_ms >= 0 || lc->should_retry == 1)
		return 0;
	for (size_t i = 0; words[i]; i++)
		if (llm_has_word(lc->err_msg, words[i]))
			return 1;
	return 0;
}

/* Fills the result of a non-2xx answer. */
static void
llm_http_error(struct llm_call *lc, struct drove_result *r, char *msg,
    size_t size)
{
	int st = lc->status;
	json_t *j = NULL, *e = NULL;
	json_error_t je;
	char excerpt[200];

	if (lc->errbody.len > 0)
		j = json_loadb(lc->errbody.p, lc->errbody.len, 0, &je);
	if (j != NULL)
		e = json_object_get(j, "error");
	if (e != NULL) {
		llm_set_error(lc, e);
		lc->stream_err = 0;
		snprintf(msg, size, "HTTP %d: %s: %s", st, lc->err_type,
		    lc->err_msg);
	} else {
		llm_oneline(lc->b, excerpt, sizeof(excerpt), lc->errbody.p ?
		    lc->errbody.p : "", lc->errbody.len);
		snprintf(msg, size, "HTTP %d%s%s", st, excerpt[0] ? ": " : "",
		    excerpt);
	}
	if (j)
		json_decref(j);
	r->status = DROVE_EHTTP;
	r->retryable = st == 408 || st == 409 || st == 429 || st >= 500;
	if (st == 429) {
		if (e != NULL && llm_final_429(lc))
			r->retryable = 0;	/* no money, not a rate */
		else
			r->status = DROVE_ERATELIMIT;
	}
	if (lc->should_retry == 1)
		r->retryable = 1;
	else if (lc->should_retry == 0) {
		r->retryable = 0;
		if (r->status == DROVE_ERATELIMIT)
			r->status = DROVE_EHTTP;
	}
	r->retry_after_ms = lc->retry_after_ms;
}

static void
llm_call_free(struct llm_call *lc)
{
	const struct drove_host *h = lc->b->h;

	if (lc->text.p)
		h->free(lc->text.p);
	if (lc->errbody.p)
		h->free(lc->errbody.p);
	h->free(lc);
}

static void
llm_on_done(void *arg, int err, const char *errtext)
{
	struct llm_call *lc = arg;

	lc->req = NULL;
	llm_finish(lc, err, errtext);
}

/* Builds the result and ends the call: call_done, then lc is freed. */
static void
llm_finish(struct llm_call *lc, int err, const char *errtext)
{
	const struct drove_host *h = lc->b->h;
	struct drove_call *call = lc->call;
	struct drove_result r;
	char msg[1024];

	if (lc->timer != NULL) {
		h->timer_stop(lc->timer);
		lc->timer = NULL;
	}
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.retry_after_ms = -1;
	r.http_status = lc->status;
	r.usage = lc->usage;
	msg[0] = '\0';
	if (lc->timed_out) {
		r.status = DROVE_ETIMEDOUT;
		r.retryable = 1;
		snprintf(msg, sizeof(msg), "%s: no complete answer within "
		    "%gs", lc->b->proto->name, call->timeout_s);
	} else if (lc->abort_status != 0) {
		r.status = lc->abort_status;
		r.retryable = lc->abort_retryable;
		snprintf(msg, sizeof(msg), "%s", lc->abort_msg);
	} else if (err == DROVE_ECANCELED) {
		r.status = DROVE_ECANCELED;
		snprintf(msg, sizeof(msg), "cancelled");
	} else if (lc->status != 0 && lc->status / 100 != 2) {
		llm_http_error(lc, &r, msg, sizeof(msg));
	} else if (lc->stream_err) {
		snprintf(msg, sizeof(msg), "error event in the stream: %s: %s",
		    lc->err_type, lc->err_msg);
		r.status = DROVE_EAPI;
		if (llm_type_is(lc, "rate_limit_error") ||
		    llm_type_is(lc, "rate_limit_exceeded")) {
			r.status = DROVE_ERATELIMIT;
		} else {
			r.retryable = llm_type_is(lc, "overloaded_error") ||
			    llm_type_is(lc, "api_error") ||
			    llm_type_is(lc, "server_error") ||
			    llm_type_is(lc, "timeout_error");
		}
	} else if (err < 0) {
		if (lc->got_body)
			snprintf(msg, sizeof(msg), "connection lost "
			    "mid-stream: %s", errtext ? errtext : "error");
		else
			snprintf(msg, sizeof(msg), "%s", errtext ? errtext :
			    "request failed");
		r.status = err;
		/* a certificate that does not verify will not start to */
		r.retryable = err != DROVE_ETLS && err != DROVE_EINVAL;
	} else if (!lc->done && !lc->finish_seen) {
		snprintf(msg, sizeof(msg), "connection closed mid-stream: the "
		    "answer is incomplete");
		r.status = DROVE_ECONNRESET;
		r.retryable = 1;
	} else {
		r.status = 0;
		llm_stream_out(lc, 0);
		if (lc->text.p != NULL)
			llm_redact(lc->b, lc->text.p, &lc->text.len);
		r.text = lc->text.p ? lc->text.p : "";
		r.len = lc->text.len;
	}
	if (r.status != 0) {
		llm_scrub(lc->b, msg);
		r.error = msg;
	}
	call->plugin_data = NULL;
	h->call_done(call, &r);
	llm_call_free(lc);
}

static void
llm_timeout(void *arg)
{
	struct llm_call *lc = arg;

	lc->timer = NULL;
	lc->timed_out = 1;
	if (lc->req != NULL)
		lc->b->h->http_cancel(lc->req);
}

/* Ends a call that could not start: call_done now; start returns 0. */
static int
llm_fail_now(struct llm_call *lc, int status, const char *msg)
{
	struct drove_call *call = lc->call;
	const struct drove_host *h = lc->b->h;

	llm_call_free(lc);
	pu_call_failed(h, call, status, msg);
	return 0;
}

int
llm_start(void *state, struct drove_call *call)
{
	struct llm_backend *b = state;
	const struct drove_host *h = b->h;
	struct drove_http_req req;
	struct llm_call *lc;
	char err[1024], why[512], *body;
	json_t *j;
	int rc;

	lc = h->alloc(sizeof(*lc));
	memset(lc, 0, sizeof(*lc));
	lc->b = b;
	lc->call = call;
	lc->retry_after_ms = -1;
	lc->should_retry = -1;
	call->plugin_data = lc;
	if (llm_model(lc) == NULL) {
		snprintf(err, sizeof(err), "no model: set 'model' in the "
		    "backend or the task");
		return llm_fail_now(lc, DROVE_EINVAL, err);
	}
	err[0] = '\0';
	j = b->proto->body(lc, err, sizeof(err));
	if (j == NULL)
		return llm_fail_now(lc, DROVE_EINVAL, err[0] ? err :
		    "cannot build the request");
	body = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (body == NULL)
		return llm_fail_now(lc, DROVE_ENOMEM, "cannot build the "
		    "request");
	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.method = "POST";
	req.url = b->url;
	req.headers = (const char *const *)b->headers;
	req.body = body;
	req.body_len = strlen(body);
	req.sse = 1;
	req.ca_file = b->ca_file;
	req.connect_timeout_s = b->connect_timeout;
	req.tls_timeout_s = b->connect_timeout;
	req.first_byte_timeout_s = b->first_byte_timeout;
	req.idle_timeout_s = b->idle_timeout;
	req.loopback_only = b->loopback_only;
	req.on_head = llm_on_head;
	req.on_body = llm_on_body;
	req.on_sse = llm_on_sse;
	req.on_done = llm_on_done;
	req.arg = lc;
	why[0] = '\0';
	req.errbuf = why;
	req.errlen = sizeof(why);
	req.core = call->core;		/* the call's context (ABI 1.4) */
	rc = h->http_request(&req, &lc->req);
	free(body);
	if (rc < 0) {
		/* the host's reason may quote a header: no key in it */
		llm_scrub(b, why);
		snprintf(err, sizeof(err), "cannot start the request to '%s': "
		    "%s", b->url, why[0] ? why : "unknown error");
		return llm_fail_now(lc, rc, err);
	}
	if (call->timeout_s > 0)
		lc->timer = h->timer_start_at(call->core, call->timeout_s,
		    llm_timeout, lc);
	return 0;
}

void
llm_cancel(void *state, struct drove_call *call)
{
	struct llm_backend *b = state;
	struct llm_call *lc = call->plugin_data;

	if (lc != NULL && lc->req != NULL)
		b->h->http_cancel(lc->req);
}

/* Unsigned integer member of o, or keep *out. */
void
llm_get_u64(json_t *o, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		*out = (uint64_t)json_integer_value(v);
}
