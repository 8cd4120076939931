/*
 * drove fetch: one HTTP(S) request (or several, one after another, on the
 * same client, so connections and TLS sessions are reused), body to stdout
 * or, with --sse, one JSON line per event.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "drove/plugin.h"
#include "http.h"
#include "loop.h"
#include "util.h"

struct fetch {
	struct loop *loop;
	struct http_client *client;
	int sse;
	int status;
	char location[512];	/* of a redirect */
	int err;
	char errtext[512];
	int out_err;
	int pending;		/* requests in flight */
	int failed;
};

/* Resident set size in KiB, from /proc (0 where there is none). */
static long
rss_kb(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	long kb = 0;

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(fp);
	return kb;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: drove fetch URL... [-H 'Name: value'] [-d BODY] "
	    "[-X METHOD]\n"
	    "                   [--ca-file FILE] [--sse] [--connect-timeout S]"
	    " [--tls-timeout S]\n"
	    "                   [--first-byte-timeout S] [--idle-timeout S] "
	    "[--stats]\n"
	    "                   [-P N]\n"
	    "One HTTP(S) request per URL, in turn: the body goes to stdout, or "
	    "with --sse\none JSON line per event: {\"event\": E, \"data\": D, "
	    "\"id\": I}.\n"
	    "  -H 'Name: value'  a request header (repeatable)\n"
	    "  -d BODY           the request body (a POST unless -X says "
	    "otherwise)\n"
	    "  -X METHOD         the request method (default GET, or POST "
	    "with -d)\n"
	    "  --ca-file FILE    CA bundle (default: $SSL_CERT_FILE, else the "
	    "system's)\n"
	    "  --sse             parse the body as Server-Sent Events\n"
	    "  --connect-timeout S, --tls-timeout S, --first-byte-timeout S,\n"
	    "  --idle-timeout S  durations (90, 90s, 5m) instead of the "
	    "client's defaults\n"
	    "  -P N              N requests at once per URL (1 to 100000)\n"
	    "  --stats           connections, reuses and resumed TLS sessions "
	    "on stderr\n"
	    "exit status: 0 every request succeeded, 1 a request failed, was "
	    "redirected\nor answered 400 or more, 2 usage error.\n");
}

static void
on_head(void *arg, int status, const struct drove_http_header *h, size_t n)
{
	struct fetch *f = arg;
	size_t i;

	if (status > f->status)
		f->status = status;
	if (status / 100 != 3)
		return;
	for (i = 0; i < n; i++)
		if (h[i].name_len == 8 && strncasecmp(h[i].name, "location",
		    8) == 0)
			snprintf(f->location, sizeof(f->location), "%.*s",
			    (int)h[i].value_len, h[i].value);
}

static void
on_body(void *arg, const char *p, size_t n)
{
	struct fetch *f = arg;

	if (!f->out_err && fwrite(p, 1, n, stdout) != n)
		f->out_err = errno ? errno : EIO;
}

static void
on_sse(void *arg, const struct drove_sse_event *ev)
{
	struct fetch *f = arg;
	json_t *o;
	char *s;

	o = json_object();
	json_object_set_new(o, "event", json_texts(ev->event));
	json_object_set_new(o, "data", json_text(ev->data, ev->data_len));
	json_object_set_new(o, "id", json_texts(ev->id));
	s = json_dumps(o, JSON_PRESERVE_ORDER);
	json_decref(o);
	if (s == NULL)
		return;
	if (!f->out_err && (fputs(s, stdout) == EOF || putchar('\n') == EOF ||
	    fflush(stdout) == EOF))
		f->out_err = errno ? errno : EIO;
	free(s);
}

static void
on_done(void *arg, int err, const char *errtext)
{
	struct fetch *f = arg;

	if (err) {
		f->failed++;
		if (f->err == 0)
			snprintf(f->errtext, sizeof(f->errtext), "%s", errtext);
		f->err = err;
	}
	if (--f->pending == 0)
		loop_stop(f->loop);
}

static int
parse_secs(const char *s, double *out)
{
	return parse_duration(s, out) == 0 && *out > 0 ? 0 : -1;
}

int
cmd_fetch(int argc, char **argv)
{
	struct drove_http_req r;
	struct fetch f;
	struct http_req *h;
	struct http_stats st;
	const char **headers;
	const char **urls;
	size_t nh = 0, nu = 0;
	int i, j, rc = 0, stats = 0;
	long par = 1, rss0 = 0, rss1 = 0;
	double t0 = 0, t1 = 0;
	struct http_stats pst;
	double *to;
	char err[512];

	memset(&r, 0, sizeof(r));
	memset(&f, 0, sizeof(f));
	r.size = sizeof(r);
	headers = xcalloc((size_t)argc + 1, sizeof(*headers));
	urls = xcalloc((size_t)argc + 1, sizeof(*urls));
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		to = NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			rc = 0;
			goto out;
		} else if (strcmp(a, "--sse") == 0) {
			r.sse = 1;
		} else if (strcmp(a, "--stats") == 0) {
			stats = 1;
		} else if (i + 1 >= argc && a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "drove: fetch: option '%s' needs a "
			    "value or is unknown\n", a);
			rc = 2;
			goto out;
		} else if (strcmp(a, "-H") == 0) {
			headers[nh++] = argv[++i];
		} else if (strcmp(a, "-d") == 0) {
			r.body = argv[++i];
			r.body_len = strlen(argv[i]);
		} else if (strcmp(a, "-P") == 0) {
			par = strtol(argv[++i], NULL, 10);
			if (par < 1 || par > 100000) {
				fprintf(stderr, "drove: fetch: bad -P '%s'\n",
				    argv[i]);
				rc = 2;
				goto out;
			}
		} else if (strcmp(a, "-X") == 0) {
			r.method = argv[++i];
		} else if (strcmp(a, "--ca-file") == 0) {
			r.ca_file = argv[++i];
		} else if (strcmp(a, "--connect-timeout") == 0) {
			to = &r.connect_timeout_s;
		} else if (strcmp(a, "--tls-timeout") == 0) {
			to = &r.tls_timeout_s;
		} else if (strcmp(a, "--first-byte-timeout") == 0) {
			to = &r.first_byte_timeout_s;
		} else if (strcmp(a, "--idle-timeout") == 0) {
			to = &r.idle_timeout_s;
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "drove: fetch: unknown option '%s'\n",
			    a);
			rc = 2;
			goto out;
		} else {
			urls[nu++] = a;
		}
		if (to != NULL && parse_secs(argv[++i], to) != 0) {
			fprintf(stderr, "drove: fetch: bad duration '%s' for %s "
			    "(expected more than 0 seconds: 90, 90s, 5m or "
			    "1h)\n", argv[i], a);
			rc = 2;
			goto out;
		}
	}
	if (nu == 0) {
		usage(stderr);
		rc = 2;
		goto out;
	}
	r.headers = nh ? headers : NULL;
	r.on_head = on_head;
	r.on_body = on_body;
	r.on_sse = on_sse;
	r.on_done = on_done;
	r.arg = &f;
	if ((f.loop = loop_new()) == NULL ||
	    (f.client = http_client_new(f.loop)) == NULL) {
		fprintf(stderr, "drove: fetch: cannot start the event loop: "
		    "%s\n", strerror(errno));
		rc = 1;
		goto out;
	}
	for (i = 0; i < (int)nu && rc == 0; i++) {
		r.url = urls[i];
		f.status = 0;
		f.location[0] = '\0';
		f.err = 0;
		f.failed = 0;
		rss0 = rss_kb();
		t0 = now_mono();
		for (j = 0; j < par; j++) {
			if (http_request(f.client, &r, &h, err,
			    sizeof(err)) != 0) {
				fprintf(stderr, "drove: fetch: %s\n", err);
				rc = 2;
				goto out;
			}
			f.pending++;
		}
		loop_run(f.loop);
		t1 = now_mono();
		/* the connections are still open, in the pool */
		rss1 = rss_kb();
		http_client_stats(f.client, &pst);
		fflush(stdout);
		if (f.err) {
			fprintf(stderr, "drove: fetch: %s\n", f.errtext);
			rc = 1;
		} else if (f.out_err) {
			fprintf(stderr, "drove: fetch: cannot write the "
			    "output: %s\n", strerror(f.out_err));
			rc = 1;
		} else if (f.status / 100 == 3 && f.status != 304) {
			/* an empty body and exit 0 would pass for success */
			fprintf(stderr, "drove: fetch: '%s': the server "
			    "answered HTTP %d, redirecting to '%s' (fetch does "
			    "not follow redirects: fetch that URL)\n", urls[i],
			    f.status, f.location[0] ? f.location :
			    "(no Location)");
			rc = 1;
		} else if (f.status >= 400) {
			fprintf(stderr, "drove: fetch: '%s': the server "
			    "answered HTTP %d\n", urls[i], f.status);
			rc = 1;
		}
	}
	if (stats) {
		http_client_stats(f.client, &st);
		fprintf(stderr, "connects=%lu reuses=%lu resumed=%lu "
		    "retries=%lu\n", st.connects, st.reuses, st.resumed,
		    st.retries);
		if (par > 1)
			fprintf(stderr, "parallel=%ld failed=%d wall_s=%.3f "
			    "open_conns=%lu peak_conns=%lu rss_before_kb=%ld "
			    "rss_after_kb=%ld\n", par, f.failed, t1 - t0,
			    pst.open_conns, pst.peak_conns, rss0, rss1);
	}
out:
	if (f.client)
		http_client_free(f.client);
	if (f.loop)
		loop_free(f.loop);
	free(headers);
	free(urls);
	return rc;
}
