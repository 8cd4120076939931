/* The configured backends of a run (see backend.h). */
#include "backend.h"

#include <stdlib.h>
#include <string.h>

#include "fallback.h"
#include "host.h"
#include "launch.h"
#include "memadmit.h"
#include "util.h"

/* Keys the core reads in every [backend] section, whatever its type. */
static const char *const backend_core_keys[] = {
	"type", "concurrency", "rpm", "tpm", "price_in", "price_out",
	"price_cache_read", "price_cache_write", "bytes_per_token", "retries",
	"timeout", "burst", "mem", "fallback", NULL
};

struct backend *
backend_find(struct backend *bev, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(bev[i].name, name) == 0)
			return &bev[i];
	return NULL;
}

static int
backend_check_section(const struct conf_section *s,
    const struct registry *reg, const struct drove_plugin **pp, char *err,
    size_t errlen)
{
	const char *type = conf_get(s, "type");
	const struct drove_plugin *p;
	char where[256];

	if (type == NULL) {
		conf_where(s, NULL, where, sizeof(where));
		errf(err, errlen, "%s: backend '%s': no 'type' (anthropic, "
		    "openai, exec or a plugin's type)", where, s->name);
		return DROVE_EINVAL;
	}
	p = registry_find(reg, DROVE_PLUGIN_BACKEND, type);
	if (p == NULL) {
		conf_where(s, "type", where, sizeof(where));
		errf(err, errlen, "%s: backend '%s': unknown type '%s' (see "
		    "'drove plugins')", where, s->name, type);
		return DROVE_EINVAL;
	}
	*pp = p;
	if (conf_check_keys(s, err, errlen, backend_core_keys,
	    p->keys ? p->keys : backend_core_keys,
	    (const char *const *)NULL) < 0)
		return DROVE_EINVAL;
	if (memadmit_check(s, p->name, err, errlen) < 0)
		return DROVE_EINVAL;
	return launch_check_conf(s, err, errlen);
}

int
backend_check_all(const struct conf *c, const struct registry *reg,
    char *err, size_t errlen)
{
	for (size_t i = 0; i < c->nsec; i++) {
		const struct drove_plugin *p;
		int rc;

		if (strcmp(c->sec[i]->type, "backend") != 0)
			continue;
		rc = backend_check_section(c->sec[i], reg, &p, err, errlen);
		if (rc < 0)
			return rc;
	}
	return fallback_check(c, err, errlen);
}

/* Reads b's section: plugin, limits, timeout. */
static int
backend_setup(struct backend *b, const struct registry *reg, long jobs_cap,
    char *err, size_t errlen)
{
	int rc;

	rc = backend_check_section(b->sec, reg, &b->p, err, errlen);
	if (rc < 0)
		return rc;
	/* the plugin's defaults: an API call fails transiently often
	 * enough to retry and must not hold a slot for good; a command's
	 * failure is usually its own and it may rightly run for hours */
	rc = quota_be_init(&b->lim, b->sec, registry_default_retries(b->p),
	    jobs_cap, now_mono(), err, errlen);
	if (rc < 0)
		return rc;
	return conf_get_duration(b->sec, "timeout",
	    registry_default_timeout(b->p), 0, 1e9, &b->timeout_s, err,
	    errlen);
}

int
backend_open(struct backend *b, char *err, size_t errlen)
{
	char msg[512] = "";
	int rc;

	if (b->used)
		return 0;
	rc = b->p->backend->open(host_get(),
	    (const struct drove_conf *)b->sec, &b->state, msg, sizeof(msg));
	if (rc < 0) {
		errf(err, errlen, "backend '%s': %s", b->name,
		    msg[0] ? msg : "cannot open");
		return rc;
	}
	b->used = 1;
	return 0;
}

int
backend_open_chain(struct backend *b, char *err, size_t errlen)
{
	int rc = 0;

	/* fallback_check made every chain end */
	for (; rc == 0 && b != NULL; b = b->fallback)
		rc = backend_open(b, err, errlen);
	return rc;
}

int
backend_open_all(const struct conf *c, const struct graph *g,
    const struct registry *reg, long jobs_cap, struct backend **bev,
    size_t *n, char *err, size_t errlen)
{
	struct backend *v = xcalloc(c->nsec + 1, sizeof(*v));
	unsigned char *named = xcalloc(c->nsec + 1, 1);
	size_t nb = 0;
	int rc = 0;

	*bev = v;
	*n = 0;
	for (size_t i = 0; i < c->nsec && rc == 0; i++) {
		const struct conf_section *s = c->sec[i];

		if (strcmp(s->type, "backend") != 0)
			continue;
		v[nb].name = s->name;
		v[nb].sec = s;
		rc = backend_setup(&v[nb++], reg, jobs_cap, err, errlen);
	}
	*n = nb;
	fallback_link(v, nb);
	/* open only what tasks use: an unused API backend without a key
	 * must not stop an offline run */
	for (size_t i = 0; rc == 0 && i < g->n; i++) {
		const struct task *t = &g->tasks[i];

		for (size_t k = 0; k < t->nbackends; k++) {
			struct backend *b = backend_find(v, nb,
			    t->backends[k]);

			/* and the fallbacks it may move to */
			for (; b != NULL; b = b->fallback)
				named[b - v] = 1;
		}
	}
	for (size_t i = 0; rc == 0 && i < nb; i++) {
		char msg[512], where[256];

		if (!named[i])
			continue;
		rc = backend_open(&v[i], msg, sizeof(msg));
		if (rc < 0) {
			conf_where(v[i].sec, NULL, where, sizeof(where));
			errf(err, errlen, "%s: %s", where, msg);
		}
	}
	free(named);
	return rc;
}

void
backend_close_all(struct backend *bev, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (bev[i].used && bev[i].p->backend->close)
			bev[i].p->backend->close(bev[i].state);
		quota_be_release(&bev[i].lim);
	}
	free(bev);
}
