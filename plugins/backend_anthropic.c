/*
 * The anthropic backend: the Messages API, streamed.
 *
 *   [backend claude]
 *   type = anthropic
 *   model = claude-sonnet-4-5
 *   api_key_env = ANTHROPIC_API_KEY   ; the key comes only from here
 *   base_url = https://api.anthropic.com
 *
 * POST {base_url}/v1/messages with "stream": true; the answer is a stream
 * of events: message_start (usage), content_block_start / _delta / _stop,
 * message_delta (cumulative usage, stop_reason), message_stop, ping, and
 * error.  The result is the text blocks joined.  Built against
 * drove/plugin.h, libc and jansson.
 */
#include "lib/llm_common.h"
#include "lib/llm_json.h"
#include "plugin_util.h"

#define ANTHROPIC_VERSION "2023-06-01"

static const char *const anthropic_keys[] = {
	"type", "model", "api_key_env", "base_url", "system", "max_tokens",
	"temperature", "headers", "ca_file", "allow_plain_http",
	"connect_timeout", "first_byte_timeout", "idle_timeout", "max_output",
	/* handled by the core for every backend */
	"concurrency", "rpm", "tpm", "price_in", "price_out", "retries",
	NULL,
};

static const char *const anthropic_headers[] = {
	"anthropic-version: " ANTHROPIC_VERSION,
	NULL,
};

static char *
anthropic_auth(const struct drove_host *h, const char *key)
{
	return pu_fmt(h, "x-api-key: %s", key);
}

static json_t *
anthropic_body(struct llm_call *lc, char *err, size_t errlen)
{
	json_t *j = json_object(), *msgs = json_array(), *m = json_object();
	json_t *content;
	const char *sys = llm_system(lc);
	double t;

	content = json_stringn(lc->call->prompt, lc->call->prompt_len);
	if (content == NULL) {
		snprintf(err, errlen, "the prompt is not valid UTF-8");
		goto fail;
	}
	json_object_set_new(j, "model", json_string(llm_model(lc)));
	json_object_set_new(j, "max_tokens", json_integer(llm_max_tokens(lc)));
	json_object_set_new(j, "stream", json_true());
	if (sys != NULL) {
		json_t *js = json_string(sys);

		if (js == NULL) {
			snprintf(err, errlen, "the system prompt is not valid "
			    "UTF-8");
			json_decref(content);
			goto fail;
		}
		json_object_set_new(j, "system", js);
	}
	if (llm_temperature(lc, &t))
		json_object_set_new(j, "temperature", json_real(t));
	json_object_set_new(m, "role", json_string("user"));
	json_object_set_new(m, "content", content);
	json_array_append_new(msgs, m);
	json_object_set_new(j, "messages", msgs);
	return j;
fail:
	json_decref(m);
	json_decref(msgs);
	json_decref(j);
	return NULL;
}

/* Usage members present in u overwrite ours: the API's numbers are
 * cumulative. */
static void
anthropic_usage(struct llm_call *lc, json_t *u)
{
	if (!json_is_object(u))
		return;
	llm_get_u64(u, "input_tokens", &lc->usage.tokens_in);
	llm_get_u64(u, "output_tokens", &lc->usage.tokens_out);
	llm_get_u64(u, "cache_creation_input_tokens", &lc->usage.cache_write);
	llm_get_u64(u, "cache_read_input_tokens", &lc->usage.cache_read);
}

static void
anthropic_text(struct llm_call *lc, json_t *s)
{
	const char *p = json_string_value(s);

	if (p != NULL)
		llm_buf_add(lc->b->h, &lc->text, p, json_string_length(s));
}

static void
anthropic_event(struct llm_call *lc, const char *event, json_t *d,
    const char *raw, size_t rawlen)
{
	const char *type = d ? json_string_value(json_object_get(d, "type")) :
	    NULL;
	json_t *x;

	(void)raw;
	(void)rawlen;
	if (type == NULL)
		type = event;
	if (strcmp(type, "message_start") == 0) {
		anthropic_usage(lc, json_object_get(json_object_get(d,
		    "message"), "usage"));
	} else if (strcmp(type, "content_block_start") == 0) {
		x = json_object_get(d, "content_block");
		if (strcmp(json_string_value(json_object_get(x, "type")) ?
		    json_string_value(json_object_get(x, "type")) : "",
		    "text") == 0)
			anthropic_text(lc, json_object_get(x, "text"));
	} else if (strcmp(type, "content_block_delta") == 0) {
		x = json_object_get(d, "delta");
		type = json_string_value(json_object_get(x, "type"));
		/* thinking_delta, signature_delta and input_json_delta
		 * belong to blocks that are not the text result */
		if (type != NULL && strcmp(type, "text_delta") == 0)
			anthropic_text(lc, json_object_get(x, "text"));
	} else if (strcmp(type, "message_delta") == 0) {
		const char *sr;

		anthropic_usage(lc, json_object_get(d, "usage"));
		sr = json_string_value(json_object_get(json_object_get(d,
		    "delta"), "stop_reason"));
		if (sr != NULL)
			snprintf(lc->stop_reason, sizeof(lc->stop_reason),
			    "%s", sr);
	} else if (strcmp(type, "message_stop") == 0) {
		lc->done = 1;
	} else if (strcmp(type, "error") == 0) {
		llm_set_error(lc, d ? json_object_get(d, "error") : NULL);
	}
	/* ping, content_block_stop and types added later: nothing to do */
}

/* What the fast path reads. */
enum {
	A_TYPE, A_DELTA, A_DTYPE, A_DTEXT, A_DSTOP, A_BLOCK, A_BTYPE, A_BTEXT,
	A_MSG, A_USAGE, A_IN, A_OUT, A_CWRITE, A_CREAD,
	A_MUSAGE, A_MIN, A_MOUT, A_MCWRITE, A_MCREAD, A_N
};

static const struct lj_field anthropic_delta_fields[] = {
	{ "type", A_DTYPE, NULL, 0 },
	{ "text", A_DTEXT, NULL, 0 },
	{ "stop_reason", A_DSTOP, NULL, 0 },
	{ NULL, 0, NULL, 0 },
};

static const struct lj_field anthropic_block_fields[] = {
	{ "type", A_BTYPE, NULL, 0 },
	{ "text", A_BTEXT, NULL, 0 },
	{ NULL, 0, NULL, 0 },
};

static const struct lj_field anthropic_usage_fields[] = {
	{ "input_tokens", A_IN, NULL, 0 },
	{ "output_tokens", A_OUT, NULL, 0 },
	{ "cache_creation_input_tokens", A_CWRITE, NULL, 0 },
	{ "cache_read_input_tokens", A_CREAD, NULL, 0 },
	{ NULL, 0, NULL, 0 },
};

static const struct lj_field anthropic_musage_fields[] = {
	{ "input_tokens", A_MIN, NULL, 0 },
	{ "output_tokens", A_MOUT, NULL, 0 },
	{ "cache_creation_input_tokens", A_MCWRITE, NULL, 0 },
	{ "cache_read_input_tokens", A_MCREAD, NULL, 0 },
	{ NULL, 0, NULL, 0 },
};

static const struct lj_field anthropic_msg_fields[] = {
	{ "usage", A_MUSAGE, anthropic_musage_fields, 0 },
	{ NULL, 0, NULL, 0 },
};

static const struct lj_field anthropic_fields[] = {
	{ "type", A_TYPE, NULL, 0 },
	{ "delta", A_DELTA, anthropic_delta_fields, 0 },
	{ "content_block", A_BLOCK, anthropic_block_fields, 0 },
	{ "message", A_MSG, anthropic_msg_fields, 0 },
	{ "usage", A_USAGE, anthropic_usage_fields, 0 },
	{ NULL, 0, NULL, 0 },
};

/* anthropic_usage on the four slots from first: an integer >= 0 counts,
 * as llm_get_u64 reads it. */
static void
anthropic_fast_usage(struct llm_call *lc, const struct lj_val *v)
{
	uint64_t *to[4] = { &lc->usage.tokens_in, &lc->usage.tokens_out,
	    &lc->usage.cache_write, &lc->usage.cache_read };
	int i;

	for (i = 0; i < 4; i++)
		if (v[i].kind == LJ_INT && v[i].i >= 0)
			*to[i] = (uint64_t)v[i].i;
}

/*
 * Every event of a usual answer, without jansson, read as
 * anthropic_event reads it: the deltas (nearly all of a stream),
 * message_start, content_block_start and _stop, message_delta,
 * message_stop and ping.  An error, an unknown type or any event lj_scan
 * gives up on is anthropic_event's.
 */
static int
anthropic_fast_event(struct llm_call *lc, const char *event,
    const char *data, size_t len)
{
	struct lj_val v[A_N];
	const struct lj_val *t = &v[A_TYPE];

	(void)event;
	if (lj_scan(data, len, anthropic_fields, v, A_N) != 0)
		return 0;
	/* a type jansson would compare after decoding escapes: its call */
	if ((v[A_DTYPE].kind == LJ_STRING && v[A_DTYPE].esc) ||
	    (v[A_BTYPE].kind == LJ_STRING && v[A_BTYPE].esc))
		return 0;
	if (lj_is(t, "content_block_delta")) {
		/* thinking_delta, signature_delta and input_json_delta
		 * belong to blocks that are not the text result */
		if (lj_is(&v[A_DTYPE], "text_delta") &&
		    v[A_DTEXT].kind == LJ_STRING)
			llm_buf_add_json(lc->b->h, &lc->text, &v[A_DTEXT]);
	} else if (lj_is(t, "content_block_start")) {
		if (lj_is(&v[A_BTYPE], "text") &&
		    v[A_BTEXT].kind == LJ_STRING)
			llm_buf_add_json(lc->b->h, &lc->text, &v[A_BTEXT]);
	} else if (lj_is(t, "message_start")) {
		anthropic_fast_usage(lc, &v[A_MIN]);
	} else if (lj_is(t, "message_delta")) {
		const struct lj_val *sr = &v[A_DSTOP];

		if (sr->kind == LJ_STRING && sr->n >= sizeof(lc->stop_reason))
			return 0;	/* snprintf's cut is anthropic_event's */
		anthropic_fast_usage(lc, &v[A_IN]);
		if (sr->kind == LJ_STRING)
			lc->stop_reason[lj_decode(sr, lc->stop_reason)] = '\0';
	} else if (lj_is(t, "message_stop")) {
		lc->done = 1;
	} else if (!lj_is(t, "ping") && !lj_is(t, "content_block_stop")) {
		return 0;
	}
	return 1;
}

#define ANTHROPIC_BASE_URL "https://api.anthropic.com"
#define ANTHROPIC_KEY_ENV "ANTHROPIC_API_KEY"

static const struct llm_proto anthropic_proto = {
	.name = "anthropic",
	.default_base_url = ANTHROPIC_BASE_URL,
	.path = "/v1/messages",
	.default_key_env = ANTHROPIC_KEY_ENV,
	.key_required = 1,
	.needs_max_tokens = 1,
	.auth_header = anthropic_auth,
	.headers = anthropic_headers,
	.body = anthropic_body,
	.event = anthropic_event,
	.fast_event = anthropic_fast_event,
};

static int
anthropic_open(const struct drove_host *h, const struct drove_conf *c,
    void **state, char *err, size_t errlen)
{
	return llm_open(&anthropic_proto, h, c, state, err, errlen);
}

static const struct drove_backend_ops anthropic_ops = {
	sizeof(struct drove_backend_ops),
	anthropic_open,
	llm_close,
	llm_start,
	llm_cancel,
};

static const struct drove_plugin anthropic_plugin = {
	DROVE_ABI_MAJOR,
	DROVE_ABI_MINOR,
	sizeof(struct drove_plugin),
	DROVE_PLUGIN_BACKEND,
	"anthropic",
	"1.0",
	"Anthropic Messages API, streamed over HTTPS",
	anthropic_keys,
	&anthropic_ops,
	NULL,
	2,			/* retries: API calls fail transiently */
	1,			/* the API needs a key */
	LLM_DEFAULT_TIMEOUT_S,
	ANTHROPIC_KEY_ENV,
	ANTHROPIC_BASE_URL,
	NULL,			/* not a launcher */
};

__attribute__((visibility("default"))) const struct drove_plugin *
DROVE_PLUGIN_ENTRY(void)
{
	return &anthropic_plugin;
}
