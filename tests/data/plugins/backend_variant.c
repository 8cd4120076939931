/*
 * A test backend built as a shared object at test time, in deliberately
 * broken variants.  It answers "NAME says: PROMPT" at once.
 *   -DPLUGIN_NAME='"x"'  its type name (default "variant")
 *   -DSMALL_DESC         the descriptor's size is below the minimum
 *   -DNO_ENTRY           no drove_plugin_entry symbol at all
 *   -DOPEN_FAILS         open refuses every [backend] section
 *   -DFAIL_RETRYABLE     every call fails with a retryable "flaky"
 *   -DOLD_RESULT         ... in a result whose size stops before
 *                        `retryable`, as an ABI 1.0 plugin's would not
 *   -DOLD_DESC           the descriptor's size stops before the ABI 1.3
 *                        defaults (else: retries 0, no timeout)
 *   -DAPI_DEFAULTS       default key variable VARIANT_KEY (required) and
 *                        base URL http://127.0.0.1:9/ for drove doctor
 * It is built with -fvisibility=hidden and exports its entry only through
 * DROVE_PLUGIN_ENTRY from drove/plugin.h.
 */
#include <stdio.h>
#include <string.h>

#include "drove/plugin.h"

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "variant"
#endif

static int
v_open(const struct drove_host *h, const struct drove_conf *c, void **state,
    char *err, size_t errlen)
{
#ifdef OPEN_FAILS
	snprintf(err, errlen, "backend '%s' cannot start: no licence",
	    h->conf_name(c));
	return DROVE_EINVAL;
#else
	(void)c;
	(void)err;
	(void)errlen;
	*state = (void *)h;
	return 0;
#endif
}

static void
v_close(void *state)
{
	(void)state;
}

static int
v_start(void *state, struct drove_call *call)
{
	const struct drove_host *h = state;
	struct drove_result r;
	char *out;
	size_t n = strlen(PLUGIN_NAME " says: ") + call->prompt_len;

	out = h->alloc(n + 1);
	snprintf(out, n + 1, "%s says: %.*s", PLUGIN_NAME,
	    (int)call->prompt_len, call->prompt);
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.text = out;
	r.len = strlen(out);
	r.retry_after_ms = -1;
#if defined(FAIL_RETRYABLE) || defined(OLD_RESULT)
	r.status = DROVE_EIO;
	r.text = NULL;
	r.len = 0;
	r.error = "flaky";
	r.retryable = 1;
#endif
#ifdef OLD_RESULT
	r.size = offsetof(struct drove_result, retryable);
#endif
	h->call_done(call, &r);
	h->free(out);
	return 0;
}

static void
v_cancel(void *state, struct drove_call *call)
{
	(void)state;
	(void)call;
}

static const struct drove_backend_ops ops = {
	.size = sizeof(struct drove_backend_ops),
	.open = v_open,
	.close = v_close,
	.start = v_start,
	.cancel = v_cancel,
};

static const char *const keys[] = { "type", NULL };

static const struct drove_plugin plugin = {
	.abi_major = DROVE_ABI_MAJOR,
	.abi_minor = DROVE_ABI_MINOR,
#if defined(SMALL_DESC)
	.size = 12,
#elif defined(OLD_DESC)
	.size = offsetof(struct drove_plugin, default_retries),
#else
	.size = sizeof(struct drove_plugin),
#endif
	.kind = DROVE_PLUGIN_BACKEND,
	.name = PLUGIN_NAME,
	.version = "0.1",
	.description = "test backend in broken variants",
	.keys = keys,
	.backend = &ops,
#ifdef API_DEFAULTS
	.default_retries = 1,
	.key_required = 1,
	.default_key_env = "VARIANT_KEY",
	.default_base_url = "http://127.0.0.1:9/",
#endif
};

#ifdef NO_ENTRY
const struct drove_plugin *
variant_entry(void)
{
	return &plugin;
}
#else
const struct drove_plugin *
DROVE_PLUGIN_ENTRY(void)
{
	return &plugin;
}
#endif
