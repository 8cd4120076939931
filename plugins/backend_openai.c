/*
 * The openai backend: any server that speaks OpenAI's chat completions,
 * streamed (OpenAI, Ollama, llama.cpp server, vLLM and the like).
 *
 *   [backend local]
 *   type = openai
 *   base_url = http://127.0.0.1:11434/v1
 *   model = qwen2.5
 *   api_key_env = OPENAI_API_KEY   ; optional: no key, no Authorization
 *
 * POST {base_url}/chat/completions with "stream": true and
 * stream_options.include_usage; data: chunks until [DONE].  choices may be
 * empty or null; the usage chunk may never come (servers that ignore
 * include_usage).  An error object in the stream fails the attempt.
 * Built against drove/plugin.h, libc and jansson.
 */
#include "lib/llm_common.h"
#include "lib/llm_json.h"
#include "plugin_util.h"

static const char *const openai_keys[] = {
	"type", "model", "api_key_env", "base_url", "system", "max_tokens",
	"temperature", "headers", "ca_file", "allow_plain_http",
	"connect_timeout", "first_byte_timeout", "idle_timeout", "max_output",
	/* handled by the core for every backend */
	"concurrency", "rpm", "tpm", "price_in", "price_out", "retries",
	NULL,
};

static char *
openai_auth(const struct drove_host *h, const char *key)
{
	return pu_fmt(h, "Authorization: Bearer %s", key);
}

static json_t *
openai_msg(const char *role, json_t *content)
{
	json_t *m = json_object();

	json_object_set_new(m, "role", json_string(role));
	json_object_set_new(m, "content", content);
	return m;
}

static json_t *
openai_body(struct llm_call *lc, char *err, size_t errlen)
{
	json_t *j, *msgs, *content, *so;
	const char *sys = llm_system(lc);
	long mt = llm_max_tokens(lc);
	double t;

	content = json_stringn(lc->call->prompt, lc->call->prompt_len);
	if (content == NULL) {
		snprintf(err, errlen, "the prompt is not valid UTF-8");
		return NULL;
	}
	msgs = json_array();
	if (sys != NULL) {
		json_t *js = json_string(sys);

		if (js == NULL) {
			snprintf(err, errlen, "the system prompt is not valid "
			    "UTF-8");
			json_decref(content);
			json_decref(msgs);
			return NULL;
		}
		json_array_append_new(msgs, openai_msg("system", js));
	}
	json_array_append_new(msgs, openai_msg("user", content));
	j = json_object();
	json_object_set_new(j, "model", json_string(llm_model(lc)));
	json_object_set_new(j, "messages", msgs);
	json_object_set_new(j, "stream", json_true());
	so = json_object();
	json_object_set_new(so, "include_usage", json_true());
	json_object_set_new(j, "stream_options", so);
	if (mt > 0)
		json_object_set_new(j, "max_tokens", json_integer(mt));
	if (llm_temperature(lc, &t))
		json_object_set_new(j, "temperature", json_real(t));
	return j;
}

static void
openai_event(struct llm_call *lc, const char *event, json_t *d,
    const char *raw, size_t rawlen)
{
	json_t *choices, *u, *c;
	size_t i;

	(void)event;
	if (d == NULL) {
		if (rawlen == 6 && memcmp(raw, "[DONE]", 6) == 0)
			lc->done = 1;
		return;
	}
	if (json_object_get(d, "error") != NULL &&
	    !json_is_null(json_object_get(d, "error"))) {
		llm_set_error(lc, json_object_get(d, "error"));
		return;
	}
	choices = json_object_get(d, "choices");
	json_array_foreach(choices, i, c) {
		json_t *content = json_object_get(json_object_get(c, "delta"),
		    "content");
		json_t *idx = json_object_get(c, "index");
		const char *fr;

		/* one completion is asked for: index 0 */
		if (json_is_integer(idx) && json_integer_value(idx) != 0)
			continue;
		if (json_is_string(content))
			llm_buf_add(lc->b->h, &lc->text,
			    json_string_value(content),
			    json_string_length(content));
		fr = json_string_value(json_object_get(c, "finish_reason"));
		if (fr != NULL) {
			lc->finish_seen = 1;
			snprintf(lc->stop_reason, sizeof(lc->stop_reason),
			    "%s", fr);
		}
	}
	u = json_object_get(d, "usage");
	if (json_is_object(u)) {
		uint64_t prompt = lc->usage.tokens_in + lc->usage.cache_read;
		uint64_t cached = lc->usage.cache_read;

		llm_get_u64(u, "prompt_tokens", &prompt);
		llm_get_u64(u, "completion_tokens", &lc->usage.tokens_out);
		llm_get_u64(json_object_get(u, "prompt_tokens_details"),
		    "cached_tokens", &cached);
		/* prompt_tokens counts the cached ones too; drove's usage
		 * counts them apart, as Anthropic's does, each at its price */
		if (cached > prompt)
			cached = prompt;
		lc->usage.tokens_in = prompt - cached;
		lc->usage.cache_read = cached;
	}
}

/* What the fast path reads: error, usage, and of the first choice its
 * index, delta.content and finish_reason. */
enum { O_ERROR, O_CHOICES, O_INDEX, O_DELTA, O_CONTENT, O_FINISH, O_USAGE,
	O_N };

static const struct lj_field openai_delta_fields[] = {
	{ "content", O_CONTENT, NULL, 0 },
	{ NULL, 0, NULL, 0 },
};

static const struct lj_field openai_choice_fields[] = {
	{ "index", O_INDEX, NULL, 0 },
	{ "delta", O_DELTA, openai_delta_fields, 0 },
	{ "finish_reason", O_FINISH, NULL, 0 },
	{ NULL, 0, NULL, 0 },
};

static const struct lj_field openai_fields[] = {
	{ "error", O_ERROR, NULL, 0 },
	{ "choices", O_CHOICES, openai_choice_fields, 1 },
	{ "usage", O_USAGE, NULL, 0 },
	{ NULL, 0, NULL, 0 },
};

/*
 * The chunks of every answer, without jansson: [DONE], and a chunk with
 * at most one choice, no error and no usage object, read as openai_event
 * reads them.  Anything else is openai_event's.
 */
static int
openai_fast_event(struct llm_call *lc, const char *event, const char *data,
    size_t len)
{
	struct lj_val v[O_N];
	const struct lj_val *fr = &v[O_FINISH];

	(void)event;
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		lc->done = 1;
		return 1;
	}
	if (lj_scan(data, len, openai_fields, v, O_N) != 0 ||
	    (v[O_ERROR].kind != LJ_ABSENT && v[O_ERROR].kind != LJ_NULL) ||
	    v[O_USAGE].kind == LJ_OBJECT ||
	    (v[O_CHOICES].kind == LJ_ARRAY && v[O_CHOICES].count > 1) ||
	    (fr->kind == LJ_STRING && fr->n >= sizeof(lc->stop_reason)))
		return 0;
	/* one completion is asked for: index 0 */
	if (v[O_INDEX].kind == LJ_INT && v[O_INDEX].i != 0)
		return 1;
	if (v[O_CONTENT].kind == LJ_STRING)
		llm_buf_add_json(lc->b->h, &lc->text, &v[O_CONTENT]);
	if (fr->kind == LJ_STRING) {
		lc->finish_seen = 1;
		lc->stop_reason[lj_decode(fr, lc->stop_reason)] = '\0';
	}
	return 1;
}

#define OPENAI_BASE_URL "https://api.openai.com/v1"
#define OPENAI_KEY_ENV "OPENAI_API_KEY"

static const struct llm_proto openai_proto = {
	.name = "openai",
	.default_base_url = OPENAI_BASE_URL,
	.path = "/chat/completions",
	.default_key_env = OPENAI_KEY_ENV,
	.key_required = 0,
	.needs_max_tokens = 0,
	.auth_header = openai_auth,
	.headers = NULL,
	.body = openai_body,
	.event = openai_event,
	.fast_event = openai_fast_event,
};

static int
openai_open(const struct drove_host *h, const struct drove_conf *c,
    void **state, char *err, size_t errlen)
{
	return llm_open(&openai_proto, h, c, state, err, errlen);
}

static const struct drove_backend_ops openai_ops = {
	sizeof(struct drove_backend_ops),
	openai_open,
	llm_close,
	llm_start,
	llm_cancel,
};

static const struct drove_plugin openai_plugin = {
	DROVE_ABI_MAJOR,
	DROVE_ABI_MINOR,
	sizeof(struct drove_plugin),
	DROVE_PLUGIN_BACKEND,
	"openai",
	"1.0",
	"OpenAI-compatible chat completions, streamed (OpenAI, Ollama, "
	"llama.cpp)",
	openai_keys,
	&openai_ops,
	NULL,
	2,			/* retries: API calls fail transiently */
	0,			/* no key needed (Ollama, llama.cpp) */
	LLM_DEFAULT_TIMEOUT_S,
	OPENAI_KEY_ENV,
	OPENAI_BASE_URL,
	NULL,			/* not a launcher */
};

__attribute__((visibility("default"))) const struct drove_plugin *
DROVE_PLUGIN_ENTRY(void)
{
	return &openai_plugin;
}
