/* Fallback chains of backends (see fallback.h). */
#include "fallback.h"

#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "util.h"

int
fallback_check(const struct conf *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->nsec; i++) {
		const struct conf_section *s = c->sec[i], *cur = s;
		char where[256], chain[512];
		size_t len;

		if (strcmp(s->type, "backend") != 0 ||
		    conf_get(s, "fallback") == NULL)
			continue;
		len = (size_t)snprintf(chain, sizeof(chain), "%s", s->name);
		/* a chain longer than the sections has come round */
		for (size_t k = 0; k <= c->nsec; k++) {
			const char *name = conf_get(cur, "fallback");
			const struct conf_section *next;

			if (name == NULL)
				break;
			next = conf_find(c, "backend", name);
			if (next == NULL) {
				conf_where(cur, "fallback", where,
				    sizeof(where));
				errf(err, errlen, "%s: backend '%s': fallback "
				    "'%s' is not a [backend] section", where,
				    cur->name, name);
				return DROVE_EINVAL;
			}
			if (len < sizeof(chain))
				len += (size_t)snprintf(chain + len,
				    sizeof(chain) - len, " -> %s", name);
			if (next == s) {
				conf_where(s, "fallback", where,
				    sizeof(where));
				errf(err, errlen, "%s: backend '%s': fallback "
				    "chain %s is a cycle", where, s->name,
				    chain);
				return DROVE_EINVAL;
			}
			cur = next;
		}
	}
	return 0;
}

void
fallback_link(struct backend *bev, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *name = conf_get(bev[i].sec, "fallback");

		bev[i].fallback = name ? backend_find(bev, n, name) : NULL;
	}
}

int
fallback_eligible(const struct drove_result *r)
{
	switch (r->status) {
	case DROVE_ERATELIMIT:
	case DROVE_ECONNREFUSED:
	case DROVE_ECONNRESET:
	case DROVE_EDNS:
		return 1;
	case DROVE_ETIMEDOUT:
	case DROVE_EIO:
		/* a connect, handshake or answer that did not come in time,
		 * a network that could not be reached: the backend is not
		 * answering, another may */
		return r->retryable;
	case DROVE_EHTTP:
		return r->http_status == 429 || r->http_status == 402 ||
		    r->http_status >= 500;
	case DROVE_EAPI:
		/* an error event in the stream: overloaded_error,
		 * api_error, server_error are the retryable ones */
		return r->retryable;
	default:
		return 0;
	}
}
