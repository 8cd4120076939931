/*
 * URL parsing for the HTTP client (RFC 3986, only what http and https
 * need).
 */
#include "url.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drove/plugin.h"
#include "util.h"

static char *
pct_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hex_digit(s[i + 1]) >= 0 &&
		    hex_digit(s[i + 2]) >= 0) {
			*o++ = (char)(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

int
url_host_is_ip(const char *host)
{
	unsigned char b[16];

	return inet_pton(AF_INET, host, b) == 1 ||
	    inet_pton(AF_INET6, host, b) == 1;
}

int
url_parse(const char *s, const char *default_scheme, struct url *u,
    char *err, size_t errlen)
{
	const char *p, *auth, *auth_end, *at, *hp, *colon, *host_end;
	size_t i;
	char *end;
	long port;

	memset(u, 0, sizeof(*u));
	p = strstr(s, "://");
	if (p != NULL) {
		if ((size_t)(p - s) == 4 && strncasecmp(s, "http", 4) == 0)
			u->https = 0;
		else if ((size_t)(p - s) == 5 &&
		    strncasecmp(s, "https", 5) == 0)
			u->https = 1;
		else {
			errf(err, errlen, "unsupported URL scheme in '%s'",
			    s);
			return DROVE_EINVAL;
		}
		auth = p + 3;
	} else if (default_scheme != NULL) {
		u->https = strcasecmp(default_scheme, "https") == 0;
		auth = s;
	} else {
		errf(err, errlen, "URL '%s' has no http:// or https://", s);
		return DROVE_EINVAL;
	}
	auth_end = auth + strcspn(auth, "/?#");
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f) {
			errf(err, errlen, "URL '%s' contains a blank or a "
			    "control character", s);
			return DROVE_EINVAL;
		}
	/* user info: everything up to the last '@' of the authority */
	hp = auth;
	at = NULL;
	for (p = auth; p < auth_end; p++)
		if (*p == '@')
			at = p;
	if (at != NULL) {
		colon = memchr(auth, ':', (size_t)(at - auth));
		if (colon) {
			u->user = pct_decode(auth, (size_t)(colon - auth));
			u->pass = pct_decode(colon + 1,
			    (size_t)(at - colon - 1));
		} else {
			u->user = pct_decode(auth, (size_t)(at - auth));
		}
		hp = at + 1;
	}
	if (*hp == '[') {
		host_end = memchr(hp, ']', (size_t)(auth_end - hp));
		if (host_end == NULL)
			goto bad;
		u->host = xstrndup(hp + 1, (size_t)(host_end - hp - 1));
		u->ipv6 = 1;
		{
			unsigned char b[16];

			if (inet_pton(AF_INET6, u->host, b) != 1)
				goto bad;
		}
		p = host_end + 1;
	} else {
		p = hp;
		while (p < auth_end && *p != ':')
			p++;
		u->host = xstrndup(hp, (size_t)(p - hp));
	}
	if (u->host[0] == '\0')
		goto bad;
	if (p < auth_end && *p == ':') {
		p++;
		if (p == auth_end) {
			u->port = NULL;
		} else {
			port = strtol(p, &end, 10);
			if (end != auth_end || port < 1 || port > 65535 ||
			    *p < '0' || *p > '9')
				goto bad;
			u->port = xasprintf("%ld", port);
		}
	} else if (p != auth_end) {
		goto bad;
	}
	if (u->port == NULL)
		u->port = xstrdup(u->https ? "443" : "80");
	u->default_port = strcmp(u->port, u->https ? "443" : "80") == 0;
	/* the fragment is never sent */
	i = strcspn(auth_end, "#");
	if (i == 0 || auth_end[0] != '/')
		u->target = xasprintf("/%.*s", (int)i, auth_end);
	else
		u->target = xstrndup(auth_end, i);
	return 0;
bad:
	errf(err, errlen, "bad host or port in URL '%s'", s);
	url_release(u);
	return DROVE_EINVAL;
}

void
url_release(struct url *u)
{
	free(u->user);
	free(u->pass);
	free(u->host);
	free(u->port);
	free(u->target);
	memset(u, 0, sizeof(*u));
}
