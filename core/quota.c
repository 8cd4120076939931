#include "quota.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Output cap assumed for a budget reservation when neither the task nor the
 * backend sets max_tokens; the API plugins default to the same. */
#define DEFAULT_MAX_TOKENS 4096

static double
rate_window(void)
{
	const char *v = getenv("DROVE_RATE_WINDOW");
	double w;

	if (v == NULL || *v == '\0')
		return 60;
	w = strtod(v, NULL);
	return w > 0 && w <= 3600 ? w : 60;
}

static void
bucket_init(struct bucket *b, double per_window, double now)
{
	b->cap = per_window;
	b->level = per_window;
	b->rate = per_window / rate_window();
	b->t = now;
}

static void
bucket_refill(struct bucket *b, double now)
{
	if (b->cap <= 0)
		return;
	if (now > b->t) {
		b->level += (now - b->t) * b->rate;
		if (b->level > b->cap)
			b->level = b->cap;
	}
	b->t = now;
}

/* Seconds until the bucket holds need tokens (0: now). */
static double
bucket_wait(struct bucket *b, double need, double now)
{
	bucket_refill(b, now);
	if (b->cap <= 0 || b->level >= need)
		return 0;
	return (need - b->level) / b->rate;
}

int
quota_be_init(struct be_limits *l, const struct conf_section *s,
    long def_retries, long jobs, double now, char *err, size_t errlen)
{
	long rpm, tpm;

	memset(l, 0, sizeof(*l));
	if (conf_get_long(s, "burst", 0, 0, 100000, &l->burst, err,
	    errlen) < 0)
		return DROVE_EINVAL;
	if (l->burst > 0) {
		/* as if the last starts were long ago: the first second
		 * may take `burst` at once */
		l->burst_t = xcalloc((size_t)l->burst, sizeof(*l->burst_t));
		for (long i = 0; i < l->burst; i++)
			l->burst_t[i] = now - 2;
	}
	if (conf_get_long(s, "concurrency", 0, 0, 1000000, &l->concurrency,
	    err, errlen) < 0 ||
	    conf_get_long(s, "rpm", 0, 0, 100000000, &rpm, err, errlen) < 0 ||
	    conf_get_long(s, "tpm", 0, 0, 1000000000000L, &tpm, err,
	    errlen) < 0 ||
	    conf_get_long(s, "retries", def_retries, 0, 100, &l->retries, err,
	    errlen) < 0 ||
	    conf_get_long(s, "max_tokens", DEFAULT_MAX_TOKENS, 1, 10000000,
	    &l->max_tokens, err, errlen) < 0 ||
	    conf_get_double(s, "price_in", 0, 0, 1e9, &l->price_in, err,
	    errlen) < 0 ||
	    conf_get_double(s, "price_out", 0, 0, 1e9, &l->price_out, err,
	    errlen) < 0 ||
	    quota_be_mem(s, &l->mem_bytes, err, errlen) < 0 ||
	    conf_get_double(s, "bytes_per_token", 4, 0.5, 64,
	    &l->bytes_per_token, err, errlen) < 0)
		return DROVE_EINVAL;
	/* a cache token unpriced costs what an input token does, so a budget
	 * never takes it for free */
	if (conf_get_double(s, "price_cache_read", l->price_in, 0, 1e9,
	    &l->price_cache_read, err, errlen) < 0 ||
	    conf_get_double(s, "price_cache_write", l->price_in, 0, 1e9,
	    &l->price_cache_write, err, errlen) < 0)
		return DROVE_EINVAL;
	bucket_init(&l->rpm, (double)rpm, now);
	bucket_init(&l->tpm, (double)tpm, now);
	l->cwnd_max = (double)(l->concurrency > 0 ? l->concurrency : jobs);
	if (l->cwnd_max < 1)
		l->cwnd_max = 1;
	l->last_cut = -1;
	return 0;
}

void
quota_be_release(struct be_limits *l)
{
	free(l->burst_t);
	l->burst_t = NULL;
	l->burst = 0;
}

int
quota_be_mem(const struct conf_section *s, uint64_t *bytes, char *err,
    size_t errlen)
{
	/* up to 1024T: more memory than any machine holds */
	return conf_get_size(s, "mem", 0, 0, (uint64_t)1 << 50, bytes, err,
	    errlen);
}

int
quota_budget_init(struct budget *b, const struct conf_section *d,
    char *err, size_t errlen)
{
	memset(b, 0, sizeof(*b));
	if (d == NULL)
		return 0;
	if (conf_get_double(d, "budget_usd", 0, 0, 1e12, &b->usd, err,
	    errlen) < 0 ||
	    conf_get_double(d, "budget_tokens", 0, 0, 1e15, &b->tokens, err,
	    errlen) < 0)
		return DROVE_EINVAL;
	return 0;
}

int
quota_be_full(const struct be_limits *l, long inflight)
{
	if (l->concurrency > 0 && inflight >= l->concurrency)
		return 1;
	/* after a rate limit the window rules; it never blocks the last
	 * call, so the backend keeps making progress */
	return l->cwnd > 0 && inflight >= (long)l->cwnd;
}

uint64_t
quota_be_wait_ms(struct be_limits *l, double now)
{
	double w, w2;

	w = bucket_wait(&l->rpm, 1, now);
	/* tpm: start when the bucket is out of debt; the call's own tokens
	 * are charged as it starts and settled when it ends */
	w2 = bucket_wait(&l->tpm, 1, now);
	if (w2 > w)
		w = w2;
	/* burst: the start `burst` starts ago must be a second old */
	if (l->burst > 0) {
		w2 = l->burst_t[l->burst_i] + 1 - now;
		if (w2 > w)
			w = w2;
	}
	if (w <= 0)
		return 0;
	return (uint64_t)(w * 1000) + 1;
}

double
quota_est_tokens(size_t bytes)
{
	return (double)((bytes + 3) / 4);
}

double
quota_be_tokens(const struct be_limits *l, size_t bytes)
{
	double bpt = l->bytes_per_token > 0 ? l->bytes_per_token : 4;
	double q = (double)bytes / bpt, whole = (double)(uint64_t)q;

	return whole < q ? whole + 1 : whole;
}

double
quota_cost(const struct be_limits *l, const struct drove_usage *u)
{
	return ((double)u->tokens_in * l->price_in +
	    (double)u->tokens_out * l->price_out +
	    (double)u->cache_read * l->price_cache_read +
	    (double)u->cache_write * l->price_cache_write) / 1e6;
}

double
quota_price_in_max(const struct be_limits *l)
{
	double p = l->price_in;

	if (l->price_cache_read > p)
		p = l->price_cache_read;
	if (l->price_cache_write > p)
		p = l->price_cache_write;
	return p;
}

int
quota_budget_check(struct budget *b, const struct be_limits *l,
    double est_in, long max_tokens, struct reservation *res)
{
	double out = (double)(max_tokens > 0 ? max_tokens : l->max_tokens);
	double tok = est_in + out;
	double usd = (est_in * quota_price_in_max(l) + out * l->price_out) /
	    1e6;

	memset(res, 0, sizeof(*res));
	if (b->tokens > 0 &&
	    b->spent_tokens + b->held_tokens + tok > b->tokens) {
		b->stopped_by = "budget_tokens";
		snprintf(b->why, sizeof(b->why), "budget_tokens = %.0f "
		    "reached: %.0f tokens used, %.0f reserved by calls in "
		    "flight, the next call needs up to %.0f", b->tokens,
		    b->spent_tokens, b->held_tokens, tok);
		return DROVE_EBUDGET;
	}
	if (b->usd > 0 && b->spent_usd + b->held_usd + usd > b->usd) {
		b->stopped_by = "budget_usd";
		snprintf(b->why, sizeof(b->why), "budget_usd = %g reached: "
		    "$%.4f spent, $%.4f reserved by calls in flight, the next "
		    "call needs up to $%.4f", b->usd, b->spent_usd,
		    b->held_usd, usd);
		return DROVE_EBUDGET;
	}
	res->tokens = tok;
	res->usd = usd;
	return 0;
}

void
quota_start(struct be_limits *l, struct budget *b, struct reservation *res,
    double est_in, double now)
{
	if (l->rpm.cap > 0) {
		bucket_refill(&l->rpm, now);
		l->rpm.level -= 1;
	}
	if (l->tpm.cap > 0) {
		bucket_refill(&l->tpm, now);
		l->tpm.level -= est_in;
		res->tpm = est_in;
	}
	if (l->burst > 0) {
		l->burst_t[l->burst_i] = now;
		l->burst_i = (l->burst_i + 1) % (size_t)l->burst;
	}
	b->held_tokens += res->tokens;
	b->held_usd += res->usd;
}

void
quota_done(struct be_limits *l, struct budget *b, struct reservation *res,
    const struct drove_usage *u, int success, int rate_limited,
    double started, double now)
{
	double used = (double)(u->tokens_in + u->tokens_out);

	b->held_tokens -= res->tokens;
	b->held_usd -= res->usd;
	if (b->held_tokens < 1e-9)
		b->held_tokens = 0;
	if (b->held_usd < 1e-12)
		b->held_usd = 0;
	b->spent_tokens += used;
	b->spent_usd += quota_cost(l, u);
	if (l->tpm.cap > 0) {
		bucket_refill(&l->tpm, now);
		l->tpm.level -= used - res->tpm;
		/* a refund never lifts the bucket above one window's worth */
		if (l->tpm.level > l->tpm.cap)
			l->tpm.level = l->tpm.cap;
	}
	memset(res, 0, sizeof(*res));
	if (rate_limited) {
		l->rate_limited++;
		/* one cut per round: calls that started before the last cut
		 * were sent at the old rate and say nothing new */
		if (started < l->last_cut)
			return;
		if (l->cwnd <= 0)
			l->cwnd = l->cwnd_max;
		l->cwnd = (double)(long)(l->cwnd / 2);
		if (l->cwnd < 1)
			l->cwnd = 1;
		l->last_cut = now;
		return;
	}
	if (success && l->cwnd > 0) {
		/* additive: about one more call per window of successes */
		l->cwnd += 1 / (double)(long)l->cwnd;
		if (l->cwnd >= l->cwnd_max)
			l->cwnd = 0;	/* back to the configured cap */
	}
}
