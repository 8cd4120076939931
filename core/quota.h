/*
 * Per-backend rate limits and run-wide budgets for the scheduler: rpm and
 * tpm token buckets, an additive-increase / multiplicative-decrease cap on
 * concurrency that reacts to rate limits, and budget_usd / budget_tokens
 * reserved before a call and settled after it.
 *
 * Nothing here schedules: the scheduler asks whether a call may start now,
 * how long until it may, and reports starts and ends.  Times are seconds on
 * the monotonic clock.
 */
#ifndef DROVE_QUOTA_H
#define DROVE_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "drove/plugin.h"

/* A token bucket: cap tokens, refilled at rate per second. */
struct bucket {
	double cap;		/* 0: no limit */
	double level;		/* may go below 0 after a settle (debt) */
	double rate;
	double t;		/* time of the last refill */
};

struct be_limits {
	long concurrency;	/* configured; 0: none */
	double cwnd;		/* AIMD window; 0 until the first rate limit */
	double cwnd_max;	/* where additive increase stops */
	double last_cut;	/* when cwnd was last halved */
	struct bucket rpm, tpm;
	long retries;		/* default task retries for this backend */
	long max_tokens;	/* default output cap, for budget reservations */
	double price_in, price_out;	/* USD per million tokens */
	double price_cache_read, price_cache_write;	/* default price_in */
	uint64_t mem_bytes;	/* `mem`: memory each call in flight
				 * reserves (an agent's); 0: none */
	double bytes_per_token;	/* prompt bytes per estimated token */
	unsigned long rate_limited;	/* rate-limit answers seen */
	/* burst: starts in any one second at most (0: no cap); burst_t
	 * holds the last `burst` start times, burst_i the oldest */
	long burst;
	double *burst_t;
	size_t burst_i;
};

/* What one started call holds until it is settled. */
struct reservation {
	double tokens;		/* budget tokens reserved */
	double usd;		/* budget USD reserved */
	double tpm;		/* tpm tokens taken at the start */
};

struct budget {
	double usd;		/* 0: no cap */
	double tokens;		/* 0: no cap */
	double spent_usd, spent_tokens;
	double held_usd, held_tokens;	/* reserved by calls in flight */
	const char *stopped_by;	/* "budget_usd", "budget_tokens" or NULL */
	char why[256];		/* the sentence the run prints */
};

/*
 * Reads concurrency, rpm, tpm, burst, retries, max_tokens, price_in,
 * price_out, price_cache_read, price_cache_write, mem and bytes_per_token
 * of a [backend] section.  def_retries is the retries default for its
 * type.  Returns 0, or DROVE_EINVAL with "file:line: ..." in err; either
 * way quota_be_release frees what it holds.  The length of the rate window
 * is 60 s, or $DROVE_RATE_WINDOW seconds (for tests); burst's is 1 s.
 */
int quota_be_init(struct be_limits *l, const struct conf_section *s,
    long def_retries, long jobs, double now, char *err, size_t errlen);
/* Frees what quota_be_init allocated (l may be zeroed). */
void quota_be_release(struct be_limits *l);

/* Reads `mem` of a [backend] section into *bytes (0 when absent).
 * Returns 0, or DROVE_EINVAL with "file:line: ..." in err. */
int quota_be_mem(const struct conf_section *s, uint64_t *bytes, char *err,
    size_t errlen);

/* Reads budget_usd and budget_tokens from [drove] (d may be NULL). */
int quota_budget_init(struct budget *b, const struct conf_section *d,
    char *err, size_t errlen);

/* True when inflight calls already fill the backend's concurrency (the
 * configured one, or the AIMD window after a rate limit). */
int quota_be_full(const struct be_limits *l, long inflight);

/*
 * 0 when a call may start now by the rpm and tpm buckets and the burst
 * window, else the milliseconds until it may (at least 1).
 */
uint64_t quota_be_wait_ms(struct be_limits *l, double now);

/*
 * Whether a call may start under the budget: 0 yes (and *res filled with
 * what to reserve), DROVE_EBUDGET no (b->stopped_by and b->why are set).
 * est_in: estimated input tokens; max_tokens: the call's output cap (0: the
 * backend's).
 */
int quota_budget_check(struct budget *b, const struct be_limits *l,
    double est_in, long max_tokens, struct reservation *res);

/* A call starts: take from the buckets, hold the reservation. */
void quota_start(struct be_limits *l, struct budget *b,
    struct reservation *res, double est_in, double now);

/*
 * A call ended with usage u: release the reservation and charge the real
 * usage.  rate_limited: the answer was a rate limit (429 or the like) for a
 * call started at started; otherwise success says whether it succeeded.
 */
void quota_done(struct be_limits *l, struct budget *b,
    struct reservation *res, const struct drove_usage *u, int success,
    int rate_limited, double started, double now);

/* Cost in USD of usage u at the backend's prices: tokens_in, tokens_out,
 * cache_read and cache_write are counted apart, each at its price. */
double quota_cost(const struct be_limits *l, const struct drove_usage *u);

/* The most an input token may cost (USD per million): sent plainly, read
 * from the cache or written to it, whichever is dearest. */
double quota_price_in_max(const struct be_limits *l);

/* Estimated tokens of a prompt: about four bytes a token, rounded up. */
double quota_est_tokens(size_t bytes);

/* Estimated tokens of bytes of prompt sent to the backend: its
 * bytes_per_token (default 4), rounded up. */
double quota_be_tokens(const struct be_limits *l, size_t bytes);

#endif /* DROVE_QUOTA_H */
