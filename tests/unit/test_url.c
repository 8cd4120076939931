/*
 * Unit tests for core/url.c: http and https URLs as the HTTP client and
 * HTTPS_PROXY give them, valid ones field by field and invalid ones with
 * their message.
 */
#include "drove/plugin.h"
#include "t.h"
#include "url.h"

static char err[1024];

struct good {
	const char *in;
	const char *def;	/* default scheme */
	int https;
	const char *user, *pass;	/* NULL: none */
	const char *host, *port, *target;
	int ipv6, default_port;
};

static const struct good goods[] = {
	{ "http://example.com", NULL, 0, NULL, NULL, "example.com", "80",
	    "/", 0, 1 },
	{ "https://example.com", NULL, 1, NULL, NULL, "example.com", "443",
	    "/", 0, 1 },
	{ "HTTPS://Example.COM/", NULL, 1, NULL, NULL, "Example.COM", "443",
	    "/", 0, 1 },
	{ "http://example.com:8080/a/b?x=1&y=2", NULL, 0, NULL, NULL,
	    "example.com", "8080", "/a/b?x=1&y=2", 0, 0 },
	{ "https://example.com:443/v1", NULL, 1, NULL, NULL, "example.com",
	    "443", "/v1", 0, 1 },
	{ "https://example.com:80/", NULL, 1, NULL, NULL, "example.com", "80",
	    "/", 0, 0 },
	{ "http://example.com:443/", NULL, 0, NULL, NULL, "example.com",
	    "443", "/", 0, 0 },
	/* an empty port is the default one */
	{ "http://example.com:/x", NULL, 0, NULL, NULL, "example.com", "80",
	    "/x", 0, 1 },
	{ "http://h:08080", NULL, 0, NULL, NULL, "h", "8080", "/", 0, 0 },
	{ "http://h:1", NULL, 0, NULL, NULL, "h", "1", "/", 0, 0 },
	{ "http://h:65535", NULL, 0, NULL, NULL, "h", "65535", "/", 0, 0 },
	/* a query or fragment without a path */
	{ "http://example.com?q=1", NULL, 0, NULL, NULL, "example.com", "80",
	    "/?q=1", 0, 1 },
	{ "http://example.com/p?q=1#frag", NULL, 0, NULL, NULL,
	    "example.com", "80", "/p?q=1", 0, 1 },
	{ "http://example.com#frag", NULL, 0, NULL, NULL, "example.com",
	    "80", "/", 0, 1 },
	/* the target is sent as given, percent-encoding included */
	{ "http://h/a%20b/%2F?x=%41", NULL, 0, NULL, NULL, "h", "80",
	    "/a%20b/%2F?x=%41", 0, 1 },
	{ "http://127.0.0.1:8443/v1/messages", NULL, 0, NULL, NULL,
	    "127.0.0.1", "8443", "/v1/messages", 0, 0 },
	/* IPv6 literals: brackets dropped from the host */
	{ "https://[::1]:8443/x", NULL, 1, NULL, NULL, "::1", "8443", "/x",
	    1, 0 },
	{ "http://[::1]", NULL, 0, NULL, NULL, "::1", "80", "/", 1, 1 },
	{ "http://[2001:db8::7]/", NULL, 0, NULL, NULL, "2001:db8::7", "80",
	    "/", 1, 1 },
	{ "http://[::ffff:127.0.0.1]:81", NULL, 0, NULL, NULL,
	    "::ffff:127.0.0.1", "81", "/", 1, 0 },
	/* user info, percent-decoded; the last '@' ends it */
	{ "http://user:secret@proxy:3128", NULL, 0, "user", "secret", "proxy",
	    "3128", "/", 0, 0 },
	{ "http://user@proxy", NULL, 0, "user", NULL, "proxy", "80", "/", 0,
	    1 },
	{ "http://us%40er:p%3Ass%2F%25@h/", NULL, 0, "us@er", "p:ss/%", "h",
	    "80", "/", 0, 1 },
	{ "http://a:b@c@h:81", NULL, 0, "a", "b@c", "h", "81", "/", 0, 0 },
	{ "http://:pw@h", NULL, 0, "", "pw", "h", "80", "/", 0, 1 },
	{ "http://u:@h", NULL, 0, "u", "", "h", "80", "/", 0, 1 },
	/* a bad or cut escape is kept as it is */
	{ "http://u%zz%4@h", NULL, 0, "u%zz%4", NULL, "h", "80", "/", 0, 1 },
	{ "https://u:p@[::1]:9/", NULL, 1, "u", "p", "::1", "9", "/", 1, 0 },
	/* '@' after the authority is not user info */
	{ "http://h/a@b", NULL, 0, NULL, NULL, "h", "80", "/a@b", 0, 1 },
	{ "http://h?x=a@b", NULL, 0, NULL, NULL, "h", "80", "/?x=a@b", 0, 1 },
	/* no scheme: the default one, as for HTTPS_PROXY=host:port */
	{ "proxy.local:3128", "http", 0, NULL, NULL, "proxy.local", "3128",
	    "/", 0, 0 },
	{ "proxy.local", "https", 1, NULL, NULL, "proxy.local", "443", "/",
	    0, 1 },
	{ "u:p@[::1]:3128", "http", 0, "u", "p", "::1", "3128", "/", 1, 0 },
	{ "https://h", "http", 1, NULL, NULL, "h", "443", "/", 0, 1 },
	{ NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, 0, 0 },
};

static void
check_opt(const char *in, const char *field, const char *got,
    const char *want)
{
	if (got == NULL && want == NULL)
		return;
	if (got == NULL || want == NULL || strcmp(got, want) != 0) {
		fprintf(stderr, "'%s': %s is \"%s\", expected \"%s\"\n", in,
		    field, got ? got : "(null)", want ? want : "(null)");
		t_failures++;
	}
}

static void
test_valid(void)
{
	const struct good *g;
	struct url u;

	for (g = goods; g->in; g++) {
		err[0] = '\0';
		if (url_parse(g->in, g->def, &u, err, sizeof(err)) != 0) {
			fprintf(stderr, "'%s': %s\n", g->in, err);
			t_failures++;
			continue;
		}
		if (u.https != g->https || u.ipv6 != g->ipv6 ||
		    u.default_port != g->default_port) {
			fprintf(stderr, "'%s': https %d ipv6 %d default_port "
			    "%d, expected %d %d %d\n", g->in, u.https, u.ipv6,
			    u.default_port, g->https, g->ipv6,
			    g->default_port);
			t_failures++;
		}
		check_opt(g->in, "user", u.user, g->user);
		check_opt(g->in, "pass", u.pass, g->pass);
		check_opt(g->in, "host", u.host, g->host);
		check_opt(g->in, "port", u.port, g->port);
		check_opt(g->in, "target", u.target, g->target);
		url_release(&u);
		CHECK(u.host == NULL && u.target == NULL);
	}
}

struct bad {
	const char *in;
	const char *def;
	const char *msg;	/* a part of the message */
};

static const struct bad bads[] = {
	/* scheme */
	{ "example.com/x", NULL, "has no http:// or https://" },
	{ "ftp://example.com/", NULL, "unsupported URL scheme" },
	{ "ftp://example.com/", "http", "unsupported URL scheme" },
	{ "httpx://h/", NULL, "unsupported URL scheme" },
	{ "ws://h/", NULL, "unsupported URL scheme" },
	{ "://h/", NULL, "unsupported URL scheme" },
	/* host */
	{ "http://", NULL, "bad host or port" },
	{ "http:///path", NULL, "bad host or port" },
	{ "http://:8080/", NULL, "bad host or port" },
	{ "http://user:pw@/", NULL, "bad host or port" },
	{ "http://user@:80", NULL, "bad host or port" },
	{ "http://[::1/", NULL, "bad host or port" },
	{ "http://[]/", NULL, "bad host or port" },
	{ "http://[not-v6]/", NULL, "bad host or port" },
	{ "http://[127.0.0.1]/", NULL, "bad host or port" },
	{ "http://[::1]x/", NULL, "bad host or port" },
	{ "http://::1/", NULL, "bad host or port" },
	/* port */
	{ "http://h:0/", NULL, "bad host or port" },
	{ "http://h:65536/", NULL, "bad host or port" },
	{ "http://h:-1/", NULL, "bad host or port" },
	{ "http://h:+80/", NULL, "bad host or port" },
	{ "http://h:80a/", NULL, "bad host or port" },
	{ "http://h:8:80/", NULL, "bad host or port" },
	{ "http://h:http/", NULL, "bad host or port" },
	{ "http://h:99999999999999999999999/", NULL, "bad host or port" },
	{ "http://[::1]:99999/", NULL, "bad host or port" },
	/* blanks and control characters anywhere */
	{ "http://h/a b", NULL, "blank or a control character" },
	{ "http://h\r\nX-Injected: 1/", NULL, "blank or a control" },
	{ "http://h/\x7f", NULL, "blank or a control character" },
	{ "http://h/\t", NULL, "blank or a control character" },
	{ " http://h/", NULL, "" },
	{ NULL, NULL, NULL },
};

static void
test_invalid(void)
{
	const struct bad *b;
	struct url u;
	int rc;

	for (b = bads; b->in; b++) {
		err[0] = '\0';
		rc = url_parse(b->in, b->def, &u, err, sizeof(err));
		if (rc != DROVE_EINVAL) {
			fprintf(stderr, "'%s': returned %d, expected "
			    "DROVE_EINVAL\n", b->in, rc);
			t_failures++;
			if (rc == 0)
				url_release(&u);
			continue;
		}
		if (strstr(err, b->msg) == NULL || err[0] == '\0') {
			fprintf(stderr, "'%s': message \"%s\" lacks \"%s\"\n",
			    b->in, err, b->msg);
			t_failures++;
		}
		/* nothing is left allocated on failure */
		CHECK(u.user == NULL && u.pass == NULL && u.host == NULL &&
		    u.port == NULL && u.target == NULL);
	}
}

/* A very long URL parses whole, or is refused with a message that fits
 * err; either way nothing overflows. */
static void
test_overlong(void)
{
	size_t n = 100000, i;
	char *s = malloc(n + 1), small[64];
	struct url u;

	memcpy(s, "http://h/", 9);
	for (i = 9; i < n; i++)
		s[i] = 'a';
	s[n] = '\0';
	CHECK_INT(url_parse(s, NULL, &u, err, sizeof(err)), 0);
	CHECK_INT(strlen(u.target), n - 8);
	url_release(&u);

	/* a host far longer than DNS allows is refused by the resolver,
	 * not here; a bad port in a long URL cuts the message */
	memcpy(s, "http://", 7);
	for (i = 7; i < n; i++)
		s[i] = 'h';
	memcpy(s + n - 4, ":0/x", 4);
	CHECK_INT(url_parse(s, NULL, &u, small, sizeof(small)), DROVE_EINVAL);
	CHECK(strlen(small) < sizeof(small));
	CHECK_HAS(small, "bad host or port");
	/* a long bad scheme too */
	memcpy(s, "gopher://", 9);
	CHECK_INT(url_parse(s, NULL, &u, small, sizeof(small)), DROVE_EINVAL);
	CHECK_HAS(small, "unsupported URL scheme");
	free(s);
}

static void
test_host_is_ip(void)
{
	CHECK(url_host_is_ip("127.0.0.1"));
	CHECK(url_host_is_ip("::1"));
	CHECK(url_host_is_ip("2001:db8::7"));
	CHECK(!url_host_is_ip("[::1]"));
	CHECK(!url_host_is_ip("localhost"));
	CHECK(!url_host_is_ip("1.2.3"));
	CHECK(!url_host_is_ip("256.1.1.1"));
	CHECK(!url_host_is_ip(""));
}

static const struct t_case cases[] = {
	{ "valid", test_valid },
	{ "invalid", test_invalid },
	{ "overlong", test_overlong },
	{ "host_is_ip", test_host_is_ip },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
