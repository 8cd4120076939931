/*
 * What the HTTP API backends (anthropic, openai) share, in
 * plugins/lib/llm_common.c: each backend supplies a struct llm_proto (its
 * URL path, headers, request body and stream events) and hands llm_open,
 * llm_close, llm_start and llm_cancel to the core as its backend ops.
 * Uses the host table, libc and jansson.
 */
#ifndef DROVE_LLM_COMMON_H
#define DROVE_LLM_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "drove/plugin.h"
#include "llm_json.h"

/* Output cap sent when neither the task nor the backend sets one and the
 * API needs one (the scheduler reserves budgets with the same number). */
#define LLM_DEFAULT_MAX_TOKENS 4096
/* A call's timeout when neither the task nor the backend sets one: an
 * API call that never ends would hold a slot for good. */
#define LLM_DEFAULT_TIMEOUT_S 1800

/* A growable byte string in host allocations. */
struct llm_buf {
	char *p;
	size_t len, cap;
};

struct llm_backend;
struct llm_call;

struct llm_proto {
	const char *name;		/* type = */
	const char *default_base_url;
	const char *path;		/* appended to base_url */
	const char *default_key_env;
	int key_required;		/* no key: open fails */
	int needs_max_tokens;		/* the API requires max_tokens */
	/* "Name: value" auth header for key, as a host allocation */
	char *(*auth_header)(const struct drove_host *h, const char *key);
	/* protocol headers besides auth and content-type, NULL-ended */
	const char *const *headers;
	/* the request body; NULL and a reason in err on failure */
	json_t *(*body)(struct llm_call *lc, char *err, size_t errlen);
	/* one event of a successful response's stream */
	void (*event)(struct llm_call *lc, const char *event,
	    json_t *data, const char *raw, size_t rawlen);
	/* the same without jansson, for the common events (llm_json.h):
	 * returns 1 when it took the event, 0 (having changed nothing) to
	 * leave it to event; may be NULL */
	int (*fast_event)(struct llm_call *lc, const char *event,
	    const char *data, size_t len);
};

struct llm_backend {
	const struct drove_host *h;
	const struct llm_proto *proto;
	const struct drove_conf *conf;
	char *url;		/* base_url + path */
	char *model;
	char *system;
	long max_tokens;	/* 0: unset */
	double temperature;
	int has_temperature;
	char *key;		/* from the environment; never logged */
	/* where each byte value occurs in the key, for the redaction scan:
	 * key_head[c] its first position, key_next[j] the next after j,
	 * key_len for none (made once, when the key is 4 bytes or more) */
	size_t key_len;
	size_t *key_next;
	size_t key_head[256];
	char *key_env;
	char **headers;		/* NULL-ended "Name: value", auth included */
	size_t nheaders;
	char *ca_file;
	double connect_timeout, first_byte_timeout, idle_timeout;
	size_t max_output;	/* bytes of answer text */
	int loopback_only;	/* plain http with a key: loopback only */
};

/* One call in flight. */
struct llm_call {
	struct llm_backend *b;
	struct drove_call *call;
	void *req;		/* the host's HTTP request */
	void *timer;		/* the call's own timeout */
	int timed_out;
	int status;		/* HTTP status, 0 before the head */
	int64_t retry_after_ms;	/* -1: none */
	int should_retry;	/* x-should-retry: -1 absent, 0, 1 */
	int got_body;		/* any byte of a 2xx body */
	struct llm_buf text;	/* the result */
	size_t shown;		/* bytes of text given to call_progress */
	struct llm_buf errbody;	/* a non-2xx body */
	struct drove_usage usage;
	int done;		/* the stream said it is complete */
	int finish_seen;	/* openai: a finish_reason arrived */
	char stop_reason[64];
	/* an error the stream reported */
	int stream_err;
	char err_type[64];
	char err_msg[512];
	char bad_event[128];	/* an event that was not JSON */
	/* the call stopped reading: too much text, a malformed stream */
	int abort_status;
	int abort_retryable;
	char abort_msg[512];
};

/* Appends n bytes of p to b (host allocations; b stays NUL-terminated). */
void llm_buf_add(const struct drove_host *h, struct llm_buf *b,
    const char *p, size_t n);

/* Appends string value v (from lj_scan), decoded, to b. */
void llm_buf_add_json(const struct drove_host *h, struct llm_buf *b,
    const struct lj_val *v);

/* The backend ops: open reads the [backend] section for proto (returns 0,
 * or < 0 with a reason in err); close frees the state; start and cancel
 * run one call as struct drove_backend_ops describes. */
int llm_open(const struct llm_proto *proto, const struct drove_host *h,
    const struct drove_conf *c, void **state, char *err, size_t errlen);
void llm_close(void *state);
int llm_start(void *state, struct drove_call *call);
void llm_cancel(void *state, struct drove_call *call);

/* The model, system prompt and output cap of a call: the task's, else the
 * backend's (max_tokens 0: none to send). */
const char *llm_model(const struct llm_call *lc);
const char *llm_system(const struct llm_call *lc);
long llm_max_tokens(const struct llm_call *lc);
/* Sets *t to the temperature of the call; 0 when there is none. */
int llm_temperature(const struct llm_call *lc, double *t);

/* Records an error object ({"type": T, "message": M} or a string) that
 * the stream reported; the call then fails with it. */
void llm_set_error(struct llm_call *lc, json_t *e);
/* Unsigned integer member key of o into *out, or keep *out. */
void llm_get_u64(json_t *o, const char *key, uint64_t *out);

#endif /* DROVE_LLM_COMMON_H */
