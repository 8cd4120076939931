/*
 * An example backend: type "echo" answers every call with `prefix`, a
 * space and the prompt, after `delay_ms` (default 0) on a host timer, so
 * calls overlap like real agents.  It builds with nothing but the header:
 *
 *	cc -shared -fPIC -I include -o echo.so plugins/examples/backend_echo.c
 *
 * and shows the whole backend contract: open checks the section and makes
 * a state, start begins a call and returns at once, the answer arrives
 * later through host->call_done (exactly once), cancel stops a call early.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drove/plugin.h"

/* One configured [backend NAME] section of type echo. */
struct echo {
	const struct drove_host *h;
	char *prefix;
	double delay_s;
};

/* One call in flight: kept in call->plugin_data until it ends. */
struct pending {
	struct echo *e;
	struct drove_call *call;
	void *timer;
};

static int
echo_open(const struct drove_host *h, const struct drove_conf *c,
    void **state, char *err, size_t errlen)
{
	const char *prefix = h->conf_get(c, "prefix");
	const char *delay = h->conf_get(c, "delay_ms");
	struct echo *e;
	char *end;
	double ms = 0;

	if (delay != NULL) {
		ms = strtod(delay, &end);
		if (end == delay || *end != '\0' || ms < 0 || ms > 600000) {
			/* the core puts file:line and the section in front */
			snprintf(err, errlen, "bad value '%s' for 'delay_ms' "
			    "(expected milliseconds from 0 to 600000)", delay);
			return DROVE_EINVAL;
		}
	}
	e = h->alloc(sizeof(*e));
	e->h = h;
	e->prefix = h->strdup(prefix ? prefix : "echo:");
	e->delay_s = ms / 1000;
	*state = e;
	return 0;
}

static void
echo_close(void *state)
{
	struct echo *e = state;

	e->h->free(e->prefix);
	e->h->free(e);
}

/* Ends the call: status 0 with the answer, or DROVE_ECANCELED. */
static void
finish(struct pending *p, int status)
{
	const struct drove_host *h = p->e->h;
	struct drove_call *call = p->call;
	size_t plen = strlen(p->e->prefix) + 1;
	struct drove_result r;
	char *text;

	text = h->alloc(plen + call->prompt_len + 1);
	memcpy(text, p->e->prefix, plen - 1);
	text[plen - 1] = ' ';
	memcpy(text + plen, call->prompt, call->prompt_len);
	text[plen + call->prompt_len] = '\0';

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);		/* what this plugin filled */
	r.status = status;
	r.text = status == 0 ? text : NULL;
	r.len = status == 0 ? plen + call->prompt_len : 0;
	r.error = status == 0 ? NULL : "cancelled";
	r.usage.tokens_in = (call->prompt_len + 3) / 4;
	r.usage.tokens_out = (r.len + 3) / 4;
	r.retry_after_ms = -1;
	call->plugin_data = NULL;
	h->free(p);
	/* the core copies what it keeps: free our buffers afterwards */
	h->call_done(call, &r);
	h->free(text);
}

static void
on_timer(void *arg)
{
	struct pending *p = arg;

	p->timer = NULL;	/* fired: timer_stop must not be called now */
	finish(p, 0);
}

static int
echo_start(void *state, struct drove_call *call)
{
	struct echo *e = state;
	struct pending *p = e->h->alloc(sizeof(*p));

	p->e = e;
	p->call = call;
	call->plugin_data = p;
	/* answer from a timer, even at 0 ms: start returns at once and the
	 * calls of a run overlap (call_done from start is allowed too) */
	if (DROVE_HAS(e->h, timer_start_at))	/* ABI 1.4 */
		p->timer = e->h->timer_start_at(call->core, e->delay_s,
		    on_timer, p);
	else
		p->timer = e->h->timer_start(e->delay_s, on_timer, p);
	return 0;
}

static void
echo_cancel(void *state, struct drove_call *call)
{
	struct echo *e = state;
	struct pending *p = call->plugin_data;

	if (p == NULL)
		return;		/* already ended */
	if (p->timer != NULL)
		e->h->timer_stop(p->timer);
	finish(p, DROVE_ECANCELED);
}

static const struct drove_backend_ops echo_ops = {
	.size = sizeof(struct drove_backend_ops),
	.open = echo_open,
	.close = echo_close,
	.start = echo_start,
	.cancel = echo_cancel,
};

/* "type" and the keys the core reads in every [backend] (concurrency,
 * rpm, prices, ...) are allowed already; list this backend's own. */
static const char *const echo_keys[] = { "prefix", "delay_ms", NULL };

static const struct drove_plugin echo_plugin = {
	.abi_major = DROVE_ABI_MAJOR,
	.abi_minor = DROVE_ABI_MINOR,
	.size = sizeof(struct drove_plugin),
	.kind = DROVE_PLUGIN_BACKEND,
	.name = "echo",
	.version = "1.0",
	.description = "example: answers with a prefix and the prompt",
	.keys = echo_keys,
	.backend = &echo_ops,
};

const struct drove_plugin *
DROVE_PLUGIN_ENTRY(void)
{
	return &echo_plugin;
}
