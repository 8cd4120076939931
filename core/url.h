/*
 * http:// and https:// URLs: scheme, user info, host (a name, an IPv4
 * literal or a bracketed IPv6 literal), port and request target.
 */
#ifndef DROVE_URL_H
#define DROVE_URL_H

#include <stddef.h>

struct url {
	int https;
	char *user;		/* percent-decoded, or NULL */
	char *pass;		/* percent-decoded, or NULL */
	char *host;		/* without brackets */
	char *port;		/* the given port or the scheme's default */
	char *target;		/* path and query, "/" when empty */
	int ipv6;		/* host is an IPv6 literal */
	int default_port;	/* the port was not given or is the default */
};

/* Parses s into u (allocations the caller frees with url_release).  A
 * missing scheme is an error unless default_scheme is given.  Returns 0 or
 * DROVE_EINVAL with the reason in err. */
int url_parse(const char *s, const char *default_scheme, struct url *u,
    char *err, size_t errlen);
void url_release(struct url *u);
/* True if host is an IPv4 or IPv6 literal. */
int url_host_is_ip(const char *host);

#endif /* DROVE_URL_H */
