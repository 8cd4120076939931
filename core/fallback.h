/*
 * Fallback chains of backends: `fallback = OTHER` in a [backend] section
 * names the backend a call moves to when this one cannot answer it (see
 * call.c).  Checked when the file is loaded, linked when the run opens its
 * backends.
 */
#ifndef DROVE_FALLBACK_H
#define DROVE_FALLBACK_H

#include <stddef.h>

#include "conf.h"
#include "drove/plugin.h"

struct backend;

/* Checks every [backend]'s fallback of c: it names a [backend] section and
 * no chain comes back to where it started.  Returns 0, or DROVE_EINVAL with
 * "file:line: ..." in err. */
int fallback_check(const struct conf *c, char *err, size_t errlen);

/* Points each backend of bev (n of them, checked by fallback_check) at its
 * fallback, or NULL. */
void fallback_link(struct backend *bev, size_t n);

/* Whether a failure r may move the call to a fallback: a rate limit (final
 * or not), an overload, a 5xx, a server error event, a connection that
 * failed or dropped, a timeout (connect, TLS handshake, first byte, idle or
 * the call's own), a provider's billing refusal (402). */
int fallback_eligible(const struct drove_result *r);

#endif /* DROVE_FALLBACK_H */
