/*
 * Unit tests for core/quota.c: rpm and tpm token buckets, the AIMD window
 * on concurrency, budget reservations and their settling, and cost.  Every
 * time is passed in explicitly, so nothing here reads the clock.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "drove/plugin.h"
#include "quota.h"
#include "t.h"

static char err[1024];

/* The [backend b] or [drove] section of text, loaded into c. */
static struct conf_section *
section(struct conf *c, const char *text, const char *type, const char *name)
{
	struct conf_section *s;

	conf_init(c);
	if (conf_load_string(c, "tasks.ini", text, err, sizeof(err)) != 0) {
		fprintf(stderr, "conf: %s\n", err);
		exit(1);
	}
	s = conf_find(c, type, name);
	if (s == NULL) {
		fprintf(stderr, "no [%s %s]\n", type, name);
		exit(1);
	}
	return s;
}

/* Limits of a [backend b] with the given keys, at time now, jobs 8. */
static void
limits(struct be_limits *l, const char *keys, double now)
{
	struct conf c;
	char text[512];

	/* the window is 60 s unless a case sets it */
	snprintf(text, sizeof(text), "[backend b]\ntype = exec\n%s", keys);
	CHECK_INT(quota_be_init(l, section(&c, text, "backend", "b"), 2, 8,
	    now, err, sizeof(err)), 0);
	conf_release(&c);
}

static void
budget(struct budget *b, const char *keys)
{
	struct conf c;
	char text[512];

	snprintf(text, sizeof(text), "[drove]\n%s", keys);
	CHECK_INT(quota_budget_init(b, section(&c, text, "drove", ""), err,
	    sizeof(err)), 0);
	conf_release(&c);
}

static struct drove_usage
usage(uint64_t in, uint64_t out)
{
	struct drove_usage u = { in, out, 0, 0 };

	return u;
}

/* Milliseconds w is within 2 ms of want. */
#define CHECK_MS(w, want) do { \
	uint64_t t_w_ = (w); \
	if (t_w_ + 2 < (uint64_t)(want) || t_w_ > (uint64_t)(want) + 2) { \
		fprintf(stderr, "%s:%d: %s == %llu, expected about %llu\n", \
		    __FILE__, __LINE__, #w, (unsigned long long)t_w_, \
		    (unsigned long long)(want)); \
		t_failures++; \
	} \
} while (0)

static void
test_defaults(void)
{
	struct be_limits l;
	struct conf c;

	unsetenv("DROVE_RATE_WINDOW");
	limits(&l, "", 100);
	CHECK_INT(l.concurrency, 0);
	CHECK_INT(l.retries, 2);
	CHECK_INT(l.max_tokens, 4096);
	CHECK(l.cwnd == 0);
	CHECK(l.cwnd_max == 8);
	/* no limits: never waits, never full below the jobs */
	CHECK_INT(quota_be_wait_ms(&l, 100), 0);
	CHECK(!quota_be_full(&l, 1000));
	limits(&l, "concurrency = 3\nretries = 5\nmax_tokens = 100\n", 100);
	CHECK_INT(l.retries, 5);
	CHECK_INT(l.max_tokens, 100);
	CHECK(l.cwnd_max == 3);
	CHECK(!quota_be_full(&l, 2));
	CHECK(quota_be_full(&l, 3));

	CHECK_INT(quota_be_init(&l, section(&c, "[backend b]\nrpm = -1\n",
	    "backend", "b"), 2, 8, 0, err, sizeof(err)), DROVE_EINVAL);
	CHECK_HAS(err, "tasks.ini:2:");
	CHECK_HAS(err, "rpm");
	conf_release(&c);
}

static void
test_rpm_bucket(void)
{
	struct be_limits l;
	struct budget b;
	struct reservation res;
	double t0 = 1000;

	unsetenv("DROVE_RATE_WINDOW");
	limits(&l, "rpm = 2\n", t0);
	budget(&b, "");
	/* a full bucket at start: two calls at once, the third waits for
	 * one token, 60 / 2 = 30 s */
	CHECK_INT(quota_be_wait_ms(&l, t0), 0);
	CHECK_INT(quota_budget_check(&b, &l, 10, 0, &res), 0);
	quota_start(&l, &b, &res, 10, t0);
	CHECK_INT(quota_be_wait_ms(&l, t0), 0);
	quota_start(&l, &b, &res, 10, t0);
	CHECK_MS(quota_be_wait_ms(&l, t0), 30000);
	CHECK(quota_be_wait_ms(&l, t0) >= 1);
	/* it refills at rpm / 60 a second */
	CHECK_MS(quota_be_wait_ms(&l, t0 + 10), 20000);
	CHECK_MS(quota_be_wait_ms(&l, t0 + 29.5), 500);
	/* a moment short of the token is still a wait, never 0 */
	CHECK(quota_be_wait_ms(&l, t0 + 29.99999) >= 1);
	CHECK_INT(quota_be_wait_ms(&l, t0 + 30), 0);
	quota_start(&l, &b, &res, 10, t0 + 30);
	CHECK_MS(quota_be_wait_ms(&l, t0 + 30), 30000);
	/* never above its capacity after a long idle time */
	CHECK_INT(quota_be_wait_ms(&l, t0 + 1000), 0);
	quota_start(&l, &b, &res, 10, t0 + 1000);
	quota_start(&l, &b, &res, 10, t0 + 1000);
	CHECK_MS(quota_be_wait_ms(&l, t0 + 1000), 30000);
}

static void
test_rate_window_env(void)
{
	struct be_limits l;
	struct budget b;
	struct reservation res;

	setenv("DROVE_RATE_WINDOW", "2", 1);
	limits(&l, "rpm = 4\n", 0);
	budget(&b, "");
	memset(&res, 0, sizeof(res));
	for (int i = 0; i < 4; i++)
		quota_start(&l, &b, &res, 0, 0);
	/* 4 per 2 s: one every half second */
	CHECK_MS(quota_be_wait_ms(&l, 0), 500);
	CHECK_MS(quota_be_wait_ms(&l, 0.25), 250);
	/* an unusable window falls back to 60 s */
	setenv("DROVE_RATE_WINDOW", "junk", 1);
	limits(&l, "rpm = 4\n", 0);
	for (int i = 0; i < 4; i++)
		quota_start(&l, &b, &res, 0, 0);
	CHECK_MS(quota_be_wait_ms(&l, 0), 15000);
	unsetenv("DROVE_RATE_WINDOW");
}

static void
test_tpm_settle(void)
{
	struct be_limits l;
	struct budget b;
	struct reservation r1, r2;
	struct drove_usage u;

	unsetenv("DROVE_RATE_WINDOW");
	limits(&l, "tpm = 6000\n", 0);	/* 100 tokens a second */
	budget(&b, "");
	CHECK_INT(quota_budget_check(&b, &l, 4000, 0, &r1), 0);
	quota_start(&l, &b, &r1, 4000, 0);
	CHECK(r1.tpm == 4000);
	/* 2000 tokens left: the next call may start, whatever its size */
	CHECK_INT(quota_be_wait_ms(&l, 0), 0);
	CHECK_INT(quota_budget_check(&b, &l, 3000, 0, &r2), 0);
	quota_start(&l, &b, &r2, 3000, 0);
	/* 1000 tokens of debt: 10 s until the bucket is out of it */
	CHECK_MS(quota_be_wait_ms(&l, 0), 10010);
	CHECK_MS(quota_be_wait_ms(&l, 5), 5010);
	/* the first call really used 4000 in and 1500 out: 1500 more debt
	 * at t = 5, where 500 were refilled */
	u = usage(4000, 1500);
	quota_done(&l, &b, &r1, &u, 1, 0, 0, 5);
	CHECK(r1.tpm == 0);
	CHECK_MS(quota_be_wait_ms(&l, 5), 20010);
	/* the second used less than estimated: the rest comes back */
	u = usage(1000, 500);
	quota_done(&l, &b, &r2, &u, 1, 0, 0, 5);
	CHECK_MS(quota_be_wait_ms(&l, 5), 5010);
	CHECK_INT(quota_be_wait_ms(&l, 5.1 + 5), 0);
}

static void
test_tpm_refund_capped(void)
{
	struct be_limits l;
	struct budget b;
	struct reservation r;
	struct drove_usage u = usage(0, 0);
	int i;

	unsetenv("DROVE_RATE_WINDOW");
	limits(&l, "tpm = 6000\n", 0);
	budget(&b, "");
	/* a call estimated at 5000 fails without using anything after the
	 * bucket refilled: its tokens come back, but the bucket never holds
	 * more than one window's worth */
	CHECK_INT(quota_budget_check(&b, &l, 5000, 0, &r), 0);
	quota_start(&l, &b, &r, 5000, 0);
	quota_done(&l, &b, &r, &u, 0, 0, 0, 120);
	CHECK(l.tpm.level <= l.tpm.cap);
	/* so calls of 2000 tokens: three start at once, not five */
	for (i = 0; i < 10 && quota_be_wait_ms(&l, 120) == 0; i++) {
		CHECK_INT(quota_budget_check(&b, &l, 2000, 0, &r), 0);
		quota_start(&l, &b, &r, 2000, 120);
	}
	CHECK_INT(i, 3);
}

static void
test_aimd(void)
{
	struct be_limits l;
	struct budget b;
	struct reservation r;
	struct drove_usage u = usage(0, 0);
	int i;

	limits(&l, "concurrency = 8\n", 0);
	budget(&b, "");
	memset(&r, 0, sizeof(r));
	CHECK(!quota_be_full(&l, 7));
	CHECK(quota_be_full(&l, 8));

	/* the first rate limit halves the configured concurrency */
	quota_done(&l, &b, &r, &u, 0, 1, 1, 2);
	CHECK(l.cwnd == 4);
	CHECK_INT(l.rate_limited, 1);
	CHECK(!quota_be_full(&l, 3));
	CHECK(quota_be_full(&l, 4));
	/* calls sent before that cut say nothing new: no second halving */
	quota_done(&l, &b, &r, &u, 0, 1, 1.5, 3);
	quota_done(&l, &b, &r, &u, 0, 1, 1.9, 3);
	CHECK(l.cwnd == 4);
	CHECK_INT(l.rate_limited, 3);
	/* one sent after it does cut again */
	quota_done(&l, &b, &r, &u, 0, 1, 2.5, 4);
	CHECK(l.cwnd == 2);
	quota_done(&l, &b, &r, &u, 0, 1, 4, 5);
	CHECK(l.cwnd == 1);
	/* never below one, and one call in flight is always allowed */
	quota_done(&l, &b, &r, &u, 0, 1, 5, 6);
	CHECK(l.cwnd == 1);
	CHECK(!quota_be_full(&l, 0));
	CHECK(quota_be_full(&l, 1));

	/* failures that are not rate limits change nothing */
	quota_done(&l, &b, &r, &u, 0, 0, 6, 7);
	CHECK(l.cwnd == 1);

	/* additive increase: about one more per window of successes */
	quota_done(&l, &b, &r, &u, 1, 0, 6, 7);
	CHECK(l.cwnd == 2);
	quota_done(&l, &b, &r, &u, 1, 0, 6, 7);
	CHECK(l.cwnd == 2.5);
	quota_done(&l, &b, &r, &u, 1, 0, 6, 7);
	CHECK(l.cwnd == 3);
	CHECK(quota_be_full(&l, 3));
	CHECK(!quota_be_full(&l, 2));
	/* it climbs back to the cap and then the window is dropped */
	for (i = 0; i < 100 && l.cwnd > 0; i++) {
		CHECK(l.cwnd < l.cwnd_max);
		quota_done(&l, &b, &r, &u, 1, 0, 6, 7);
	}
	CHECK(l.cwnd == 0);
	CHECK(i > 10);	/* 3 to 8: several windows of successes */
	CHECK(!quota_be_full(&l, 7));
	CHECK(quota_be_full(&l, 8));
	/* a later rate limit halves from the cap again */
	quota_done(&l, &b, &r, &u, 0, 1, 8, 9);
	CHECK(l.cwnd == 4);
}

static void
test_aimd_jobs(void)
{
	struct be_limits l;
	struct budget b;
	struct reservation r;
	struct drove_usage u = usage(0, 0);

	/* no concurrency set: the window starts from the jobs */
	limits(&l, "", 0);
	budget(&b, "");
	memset(&r, 0, sizeof(r));
	CHECK(!quota_be_full(&l, 100));
	quota_done(&l, &b, &r, &u, 0, 1, 0, 1);
	CHECK(l.cwnd == 4);
	CHECK(quota_be_full(&l, 4));
	CHECK(!quota_be_full(&l, 3));
}

static void
test_budget_tokens(void)
{
	struct be_limits l;
	struct budget b;
	struct reservation r1, r2, r3;
	struct drove_usage u;

	limits(&l, "max_tokens = 1000\n", 0);
	budget(&b, "budget_tokens = 4000\n");
	/* a reservation is the estimated input plus the output cap */
	CHECK_INT(quota_budget_check(&b, &l, 1000, 0, &r1), 0);
	CHECK(r1.tokens == 2000);
	quota_start(&l, &b, &r1, 1000, 0);
	CHECK(b.held_tokens == 2000);
	/* exactly filling the budget is allowed */
	CHECK_INT(quota_budget_check(&b, &l, 1000, 0, &r2), 0);
	quota_start(&l, &b, &r2, 1000, 0);
	CHECK(b.stopped_by == NULL);
	/* nothing more fits, not even a tiny call */
	CHECK_INT(quota_budget_check(&b, &l, 1, 0, &r3), DROVE_EBUDGET);
	CHECK_STR(b.stopped_by, "budget_tokens");
	CHECK_HAS(b.why, "budget_tokens = 4000 reached");
	CHECK_HAS(b.why, "4000 reserved by calls in flight");
	CHECK(r3.tokens == 0 && r3.usd == 0);
	/* settling releases what the call did not use */
	u = usage(1000, 200);
	quota_done(&l, &b, &r1, &u, 1, 0, 0, 1);
	CHECK(b.spent_tokens == 1200);
	CHECK(b.held_tokens == 2000);
	CHECK(r1.tokens == 0);
	CHECK_INT(quota_budget_check(&b, &l, 1, 0, &r3), DROVE_EBUDGET);
	CHECK_HAS(b.why, "1200 tokens used");
	u = usage(500, 100);
	quota_done(&l, &b, &r2, &u, 1, 0, 0, 1);
	CHECK(b.spent_tokens == 1800);
	CHECK(b.held_tokens == 0);
	/* 2200 left: a call with a smaller output cap fits, the default
	 * does not */
	CHECK_INT(quota_budget_check(&b, &l, 1500, 0, &r3), DROVE_EBUDGET);
	CHECK_INT(quota_budget_check(&b, &l, 1500, 700, &r3), 0);
	CHECK(r3.tokens == 2200);
}

static void
test_budget_usd(void)
{
	struct be_limits l;
	struct budget b;
	struct reservation r1, r2;
	struct drove_usage u;

	/* $3 and $15 per million tokens */
	limits(&l, "max_tokens = 1000\nprice_in = 3\nprice_out = 15\n", 0);
	budget(&b, "budget_usd = 0.05\n");
	CHECK_INT(quota_budget_check(&b, &l, 1000, 0, &r1), 0);
	CHECK(fabs(r1.usd - 0.018) < 1e-12);
	quota_start(&l, &b, &r1, 1000, 0);
	CHECK_INT(quota_budget_check(&b, &l, 1000, 0, &r2), 0);
	quota_start(&l, &b, &r2, 1000, 0);
	/* 0.036 held, a third 0.018 does not fit in 0.05 */
	CHECK_INT(quota_budget_check(&b, &l, 1000, 0, &r2), DROVE_EBUDGET);
	CHECK_STR(b.stopped_by, "budget_usd");
	CHECK_HAS(b.why, "budget_usd = 0.05 reached");
	CHECK_HAS(b.why, "$0.0360 reserved");
	CHECK_HAS(b.why, "needs up to $0.0180");
	/* one ends having used 1000 in, 100 out: $0.0045 spent */
	u = usage(1000, 100);
	quota_done(&l, &b, &r1, &u, 1, 0, 0, 1);
	CHECK(fabs(b.spent_usd - 0.0045) < 1e-12);
	CHECK(fabs(b.held_usd - 0.018) < 1e-12);
	/* 0.0045 + 0.018 + 0.018 fits now */
	CHECK_INT(quota_budget_check(&b, &l, 1000, 0, &r1), 0);
	/* no token budget was set: tokens never refuse */
	CHECK_INT(quota_budget_check(&b, &l, 0, 1, &r1), 0);
}

/* burst = 3: three starts in one second, the fourth waits until the
 * first is a second old, whatever rpm says; the window slides */
static void
test_burst(void)
{
	struct be_limits l;
	struct budget b;
	struct reservation res;
	double t0 = 500;

	unsetenv("DROVE_RATE_WINDOW");
	limits(&l, "burst = 3\nrpm = 1000\n", t0);
	budget(&b, "");
	CHECK_INT(l.burst, 3);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(quota_be_wait_ms(&l, t0 + 0.1 * i), 0);
		CHECK_INT(quota_budget_check(&b, &l, 1, 0, &res), 0);
		quota_start(&l, &b, &res, 1, t0 + 0.1 * i);
	}
	CHECK_MS(quota_be_wait_ms(&l, t0 + 0.25), 750);
	CHECK_INT(quota_be_wait_ms(&l, t0 + 1), 0);
	quota_start(&l, &b, &res, 1, t0 + 1);
	/* now the oldest of the last three is the one at t0 + 0.1 */
	CHECK_MS(quota_be_wait_ms(&l, t0 + 1), 100);
	CHECK_INT(quota_be_wait_ms(&l, t0 + 1.1), 0);
	quota_be_release(&l);
	CHECK(l.burst_t == NULL);
	/* bounds are a load error naming the line */
	struct conf c;

	CHECK_INT(quota_be_init(&l, section(&c, "[backend b]\nburst = -2\n",
	    "backend", "b"), 2, 8, 0, err, sizeof(err)), DROVE_EINVAL);
	CHECK_HAS(err, "tasks.ini:2:");
	CHECK_HAS(err, "burst");
	conf_release(&c);
	quota_be_release(&l);
}

static void
test_cost(void)
{
	struct be_limits l;
	struct drove_usage u;

	limits(&l, "price_in = 3\nprice_out = 15\n", 0);
	u = usage(1000000, 2000000);
	CHECK(fabs(quota_cost(&l, &u) - 33) < 1e-9);
	u = usage(1234, 0);
	CHECK(fabs(quota_cost(&l, &u) - 0.003702) < 1e-12);
	limits(&l, "", 0);
	CHECK(quota_cost(&l, &u) == 0);

	CHECK(quota_est_tokens(0) == 0);
	CHECK(quota_est_tokens(1) == 1);
	CHECK(quota_est_tokens(4) == 1);
	CHECK(quota_est_tokens(5) == 2);
	CHECK(quota_est_tokens(4000) == 1000);
}

/* Cache tokens at their own prices, price_in when unset; a reservation
 * prices the input at the dearest of the three. */
static void
test_cache_prices(void)
{
	struct be_limits l;
	struct budget b;
	struct reservation r;
	struct drove_usage u = { 10, 5, 100, 20 };

	limits(&l, "price_in = 3\nprice_out = 15\n", 0);
	/* 10 * 3 + 5 * 15 + 120 * 3 */
	CHECK(fabs(quota_cost(&l, &u) - 465e-6) < 1e-12);
	CHECK(quota_price_in_max(&l) == 3);
	limits(&l, "price_in = 3\nprice_out = 15\nprice_cache_read = 0.3\n"
	    "price_cache_write = 3.75\n", 0);
	/* 10 * 3 + 5 * 15 + 100 * 0.3 + 20 * 3.75 */
	CHECK(fabs(quota_cost(&l, &u) - 210e-6) < 1e-12);
	CHECK(quota_price_in_max(&l) == 3.75);
	budget(&b, "budget_usd = 1\n");
	CHECK_INT(quota_budget_check(&b, &l, 1000, 100, &r), 0);
	/* 1000 * 3.75 + 100 * 15 */
	CHECK(fabs(r.usd - 5250e-6) < 1e-12);
}

/* bytes_per_token: the default is quota_est_tokens' four, a backend's own
 * ratio rounds up the same way, and a ratio out of range is refused. */
static void
test_bytes_per_token(void)
{
	struct be_limits l;
	struct conf c;

	limits(&l, "", 0);
	CHECK(quota_be_tokens(&l, 0) == 0);
	CHECK(quota_be_tokens(&l, 5) == 2);
	CHECK(quota_be_tokens(&l, 4000) == 1000);
	limits(&l, "bytes_per_token = 2.5\n", 0);
	CHECK(quota_be_tokens(&l, 10) == 4);
	CHECK(quota_be_tokens(&l, 11) == 5);
	CHECK_INT(quota_be_init(&l, section(&c, "[backend b]\ntype = exec\n"
	    "bytes_per_token = 0.1\n", "backend", "b"), 2, 8, 0, err,
	    sizeof(err)), DROVE_EINVAL);
	CHECK(strstr(err, "tasks.ini:3:") != NULL);
	conf_release(&c);
}

static const struct t_case cases[] = {
	{ "defaults", test_defaults },
	{ "rpm_bucket", test_rpm_bucket },
	{ "rate_window_env", test_rate_window_env },
	{ "tpm_settle", test_tpm_settle },
	{ "tpm_refund_capped", test_tpm_refund_capped },
	{ "aimd", test_aimd },
	{ "aimd_jobs", test_aimd_jobs },
	{ "budget_tokens", test_budget_tokens },
	{ "budget_usd", test_budget_usd },
	{ "cost", test_cost },
	{ "burst", test_burst },
	{ "bytes_per_token", test_bytes_per_token },
	{ "cache_prices", test_cache_prices },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
