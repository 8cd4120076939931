/*
 * A test plugin built as a shared object at test time: backend type "upper"
 * answers with the prompt in upper case, after `delay_ms` on a host timer.
 * Built with -DBAD_ABI it claims ABI major 99.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "drove/plugin.h"

struct st {
	const struct drove_host *h;
	double delay;
};

struct pending {
	struct st *s;
	struct drove_call *call;
};

static int
upper_open(const struct drove_host *h, const struct drove_conf *c,
    void **state, char *err, size_t errlen)
{
	struct st *s = h->alloc(sizeof(*s));
	const char *d = h->conf_get(c, "delay_ms");

	(void)err;
	(void)errlen;
	s->h = h;
	s->delay = d ? atof(d) / 1000 : 0;
	*state = s;
	return 0;
}

static void
upper_close(void *state)
{
	struct st *s = state;

	s->h->free(s);
}

static void
fire(void *arg)
{
	struct pending *p = arg;
	const struct drove_host *h = p->s->h;
	char *out = h->alloc(p->call->prompt_len + 1);
	struct drove_result r;

	for (size_t i = 0; i < p->call->prompt_len; i++)
		out[i] = (char)toupper((unsigned char)p->call->prompt[i]);
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.text = out;
	r.len = p->call->prompt_len;
	r.usage.tokens_in = 10;
	r.usage.tokens_out = 20;
	r.retry_after_ms = -1;
	h->call_done(p->call, &r);
	h->free(out);
	h->free(p);
}

static int
upper_start(void *state, struct drove_call *call)
{
	struct st *s = state;
	struct pending *p = s->h->alloc(sizeof(*p));

	p->s = s;
	p->call = call;
	s->h->timer_start(s->delay, fire, p);
	return 0;
}

static const struct drove_backend_ops ops = {
	.size = sizeof(struct drove_backend_ops),
	.open = upper_open,
	.close = upper_close,
	.start = upper_start,
};

static const char *const keys[] = { "type", "delay_ms", "price_in",
	"price_out", NULL };

static const struct drove_plugin plugin = {
#ifdef BAD_ABI
	.abi_major = 99,
#else
	.abi_major = DROVE_ABI_MAJOR,
#endif
	.abi_minor = DROVE_ABI_MINOR,
	.size = sizeof(struct drove_plugin),
	.kind = DROVE_PLUGIN_BACKEND,
	.name = "upper",
	.version = "0.1",
	.description = "test backend: the prompt in upper case",
	.keys = keys,
	.backend = &ops,
};

__attribute__((visibility("default"))) const struct drove_plugin *
drove_plugin_entry(void)
{
	return &plugin;
}
