#include "host.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "conf.h"
#include "envfilter.h"
#include "http.h"
#include "launch.h"
#include "spawn.h"
#include "util.h"

/*
 * Legacy path only: the env of the owner driving the loop, for a request
 * that carries no context (a plugin built before ABI 1.4).  Everything
 * else finds its env through the core pointer it is handed.
 */
static struct host_env *host_legacy_env;

void
host_bind_legacy(struct host_env *e)
{
	host_legacy_env = e;
}

struct http_client *
host_env_http(struct host_env *e)
{
	if (e == NULL || e->loop == NULL)
		return NULL;
	if (e->http == NULL)
		e->http = http_client_new(e->loop);
	return e->http;
}

void
host_env_release(struct host_env *e)
{
	if (host_legacy_env == e)
		host_legacy_env = NULL;
	if (e->http != NULL)
		http_client_free(e->http);
	e->http = NULL;
}

/* The env of context core (a call's or a merge's core pointer), or, for
 * a request without one, the legacy env; NULL when there is none. */
static struct host_env *
host_env_of(void *core)
{
	if (core != NULL)
		return ((struct host_ctx *)core)->env;
	return host_legacy_env;
}

static struct loop *
host_loop_of(void *core)
{
	struct host_env *e = host_env_of(core);

	return e != NULL ? e->loop : NULL;
}

static void *
h_alloc(size_t n)
{
	return xmalloc(n);
}

static void *
h_realloc(void *p, size_t n)
{
	return xrealloc(p, n);
}

static void
h_free(void *p)
{
	free(p);
}

static char *
h_strdup(const char *s)
{
	return xstrdup(s);
}

static void
h_log(int level, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	switch (level) {
	case DROVE_LOG_ERROR:
	case DROVE_LOG_WARN:
		log_warnx("%s", buf_str(&b));
		break;
	case DROVE_LOG_INFO:
		log_info("%s", buf_str(&b));
		break;
	default:
		log_debug("%s", buf_str(&b));
		break;
	}
	buf_release(&b);
}

static const char *
h_conf_get(const struct drove_conf *c, const char *key)
{
	return c ? conf_get((const struct conf_section *)c, key) : NULL;
}

static void
h_conf_where(const struct drove_conf *c, const char *key, char *buf,
    size_t len)
{
	if (c == NULL) {
		errf(buf, len, "?");
		return;
	}
	conf_where((const struct conf_section *)c, key, buf, len);
}

static const char *
h_conf_name(const struct drove_conf *c)
{
	return c ? ((const struct conf_section *)c)->name : "";
}

static int
h_spawn(const struct drove_spawn *req, void **handle)
{
	struct drove_spawn r;
	struct host_ctx *ctx;
	struct spawn *sp;
	struct loop *l;
	char err[256];
	int rc;

	if (req == NULL || !DROVE_HAS(req, arg) || (l = host_loop_of(
	    DROVE_HAS(req, core) ? req->core : NULL)) == NULL) {
		errno = EINVAL;
		return DROVE_EINVAL;
	}
	/* read as far as the plugin wrote; without an env of its own the
	 * child gets drove's less what looks like a secret */
	memset(&r, 0, sizeof(r));
	memcpy(&r, req, req->size < sizeof(r) ? req->size : sizeof(r));
	r.size = sizeof(r);
	if (r.env == NULL)
		r.env = env_default();
	ctx = DROVE_HAS(req, core) ? req->core : NULL;
	if (ctx != NULL && ctx->fresh) {
		rc = spawn_start_fresh(l, &r, &sp, err, sizeof(err));
		ctx->fresh = 0;
	} else
		rc = spawn_start(l, &r, &sp, err, sizeof(err));
	if (rc < 0) {
		int e = errno;

		/* out of descriptors: the call waits its turn, no news */
		if (rc != DROVE_ENOFD)
			log_warnx("%s", err);
		errno = e;	/* for the plugin's message */
		return rc;
	}
	/* a task's agent: its output can be followed as it is written */
	if (ctx != NULL && ctx->live_path != NULL) {
		if ((rc = spawn_tee(sp, ctx->live_path)) < 0)
			log_warnx("cannot write '%s': %s", ctx->live_path,
			    strerror(-rc));
		else
			ctx->teed = 1;
	}
	*handle = sp;
	return 0;
}

static void
h_spawn_kill(void *handle)
{
	spawn_kill(handle);
}

static char **
h_split_argv(const char *cmd, char *err, size_t errlen)
{
	return argv_split(cmd, err, errlen);
}

struct htimer {
	struct loop_timer t;
	struct loop *loop;	/* the loop it runs on */
	void (*cb)(void *);
	void *arg;
};

static void
htimer_fire(struct loop *l, struct loop_timer *t)
{
	struct htimer *ht = t->data;
	void (*cb)(void *) = ht->cb;
	void *arg = ht->arg;

	(void)l;
	free(ht);
	cb(arg);
}

static void *
h_timer_start_at(void *core, double after_s, void (*cb)(void *), void *arg)
{
	struct loop *l = host_loop_of(core);
	struct htimer *ht;

	if (l == NULL || cb == NULL)
		return NULL;
	ht = xcalloc(1, sizeof(*ht));
	ht->loop = l;
	ht->cb = cb;
	ht->arg = arg;
	loop_timer_start(l, &ht->t, after_s <= 0 ? 0 :
	    (uint64_t)(after_s * 1000 + 0.5), htimer_fire, ht);
	return ht;
}

/* Before ABI 1.4: no context, the legacy env's loop. */
static void *
h_timer_start(double after_s, void (*cb)(void *), void *arg)
{
	return h_timer_start_at(NULL, after_s, cb, arg);
}

static void
h_timer_stop(void *timer)
{
	struct htimer *ht = timer;

	if (ht == NULL)
		return;
	loop_timer_stop(ht->loop, &ht->t);
	free(ht);
}

char *
host_expand_output(const char *tmpl, const char *name, int replica)
{
	struct buf b = BUF_INIT;
	const char *p = tmpl;

	while (*p) {
		if (strncmp(p, "{{name}}", 8) == 0) {
			buf_adds(&b, name);
			p += 8;
		} else if (strncmp(p, "{{replica}}", 11) == 0) {
			buf_printf(&b, "%d", replica);
			p += 11;
		} else {
			buf_addc(&b, *p++);
		}
	}
	return buf_detach(&b, NULL);
}

static int
h_http_request(const struct drove_http_req *req, void **handle)
{
	struct http_client *cl;
	struct http_req *q;
	char err[512];
	int rc;

	if (req == NULL)
		return DROVE_EINVAL;
	cl = host_env_http(host_env_of(DROVE_HAS(req, core) ? req->core :
	    NULL));
	if (cl == NULL)
		return DROVE_EINVAL;
	rc = http_request(cl, req, &q, err, sizeof(err));
	if (rc < 0) {
		/* the plugin gets the line drove fetch prints (ABI 1.3);
		 * it is not logged here: it may quote a header, and headers
		 * carry keys */
		if (req != NULL && DROVE_HAS(req, errlen) &&
		    req->errbuf != NULL && req->errlen > 0)
			snprintf(req->errbuf, req->errlen, "%s", err);
		log_debug("http request not started (error %d)", rc);
		return rc;
	}
	*handle = q;
	return 0;
}

static void
h_http_cancel(void *handle)
{
	http_cancel(handle);
}

static void
h_call_progress(struct drove_call *c, const char *text, size_t len)
{
	struct host_call *hc = c->core;

	if (hc != NULL && hc->progress != NULL)
		hc->progress(hc, text, len);
}

static void
h_call_done(struct drove_call *c, const struct drove_result *r)
{
	struct host_call *hc = c->core;
	struct drove_result res;

	/* read the plugin's result only as far as its size says it wrote:
	 * an older plugin's is shorter, and the rest is the defaults */
	memset(&res, 0, sizeof(res));
	res.retry_after_ms = -1;
	if (r != NULL && DROVE_HAS(r, status)) {
		memcpy(&res, r, r->size < sizeof(res) ? r->size : sizeof(res));
	} else {
		res.status = DROVE_EPROTO;
		res.error = "the backend reported a malformed result";
	}
	res.size = sizeof(res);
	hc->done(hc, &res);
}

static int
h_write_output(struct drove_merge_call *m, const char *path,
    const void *data, size_t len, char *err, size_t errlen)
{
	struct host_merge *hm = m->core;

	return hm->ops->write_output(hm, path, data, len, err, errlen);
}

static void
h_merge_done(struct drove_merge_call *m, int outcome, const char *text,
    size_t len, const char *error)
{
	struct host_merge *hm = m->core;

	hm->ops->done(hm, outcome, text, len, error);
}

static int
h_backend_call(struct drove_merge_call *m, const char *backend,
    const char *prompt, const char *system,
    void (*done)(void *arg, const struct drove_result *r), void *arg,
    void **handle)
{
	struct host_merge *hm;

	if (m == NULL || (hm = m->core) == NULL || backend == NULL ||
	    done == NULL || handle == NULL)
		return DROVE_EINVAL;
	return hm->ops->backend_call(hm, backend, prompt, system, done, arg,
	    handle);
}

static void
h_backend_call_cancel(void *handle)
{
	struct host_handle *h = handle;

	if (h != NULL)
		h->cancel(h);
}

static int
h_merge_note(struct drove_merge_call *m, const char *key, const char *json)
{
	struct host_merge *hm;

	if (m == NULL || (hm = m->core) == NULL || key == NULL || json == NULL)
		return DROVE_EINVAL;
	return hm->ops->note(hm, key, json);
}

static const struct drove_host host_table = {
	.abi_major = DROVE_ABI_MAJOR,
	.abi_minor = DROVE_ABI_MINOR,
	.size = sizeof(struct drove_host),
	.alloc = h_alloc,
	.realloc = h_realloc,
	.free = h_free,
	.strdup = h_strdup,
	.log = h_log,
	.conf_get = h_conf_get,
	.conf_where = h_conf_where,
	.conf_name = h_conf_name,
	.spawn = h_spawn,
	.spawn_kill = h_spawn_kill,
	.split_argv = h_split_argv,
	.timer_start = h_timer_start,
	.timer_stop = h_timer_stop,
	.call_progress = h_call_progress,
	.call_done = h_call_done,
	.write_output = h_write_output,
	.expand_output = host_expand_output,
	.merge_done = h_merge_done,
	.http_request = h_http_request,
	.http_cancel = h_http_cancel,
	/* merges: calls to backends */
	.backend_call = h_backend_call,
	.backend_call_cancel = h_backend_call_cancel,
	.merge_note = h_merge_note,
	.timer_start_at = h_timer_start_at,
	.env_passes = env_passes,
	.utf8_lossy = utf8_lossy,
	.launch_open = launch_open,
	.launch_close = launch_close,
	.launch = launch_start,
	.launch_cancel = launch_cancel,
	.launch_state = launch_state,
};

const struct drove_host *
host_get(void)
{
	return &host_table;
}
