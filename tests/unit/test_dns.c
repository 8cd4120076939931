/*
 * Unit tests for core/dns.c: a name is looked up once while its answer is
 * fresh, requests during a lookup share it, a cancelled request never
 * hears back, and failures are not kept.
 */
#include <netdb.h>

#include "dns.h"
#include "drove/plugin.h"
#include "loop.h"
#include "t.h"

struct got {
	int calls;
	int err;
	int naddrs;
};

static void
on_answer(void *arg, int err, struct addrinfo *ai, const char *errtext)
{
	struct got *g = arg;
	struct addrinfo *a;

	(void)errtext;
	g->calls++;
	g->err = err;
	for (a = ai; a != NULL; a = a->ai_next)
		g->naddrs++;
	dns_addrs_free(ai);
}

static void
stop_cb(struct loop *l, struct loop_timer *t)
{
	(void)t;
	loop_stop(l);
}

static void
turn(struct loop *l)
{
	struct loop_timer t;

	memset(&t, 0, sizeof(t));
	loop_timer_start(l, &t, 10, stop_cb, NULL);
	loop_run(l);
	loop_timer_stop(l, &t);
}

static int
answered(struct got *g, int n)
{
	for (int i = 0; i < n; i++)
		if (g[i].calls == 0)
			return 0;
	return 1;
}

static void
test_once(void)
{
	struct loop *l = loop_new();
	struct dns *d = dns_new(l);
	struct got g[6];
	struct dns_req *r;
	int i;

	memset(g, 0, sizeof(g));
	/* five at once: one lookup; the third is cancelled */
	for (i = 0; i < 5; i++) {
		r = dns_resolve(d, "localhost", "80", on_answer, &g[i]);
		if (i == 2)
			dns_cancel(r);
	}
	g[2].calls = 1;		/* not expected to change */
	for (i = 0; i < 500 && !answered(g, 5); i++)
		turn(l);
	CHECK(answered(g, 5));
	CHECK_INT(g[2].naddrs, 0);
	for (i = 0; i < 5; i++) {
		CHECK_INT(g[i].calls, 1);
		if (i != 2) {
			CHECK_INT(g[i].err, 0);
			CHECK(g[i].naddrs >= 1);
		}
	}
	CHECK_INT(dns_lookups(d), 1);
	/* answered from what was kept, still never from within resolve */
	dns_resolve(d, "localhost", "80", on_answer, &g[5]);
	CHECK_INT(g[5].calls, 0);
	for (i = 0; i < 500 && !answered(&g[5], 1); i++)
		turn(l);
	CHECK_INT(g[5].calls, 1);
	CHECK_INT(g[5].err, 0);
	CHECK_INT(dns_lookups(d), 1);
	/* another port is another name */
	memset(g, 0, sizeof(g));
	dns_resolve(d, "localhost", "81", on_answer, &g[0]);
	for (i = 0; i < 500 && !answered(g, 1); i++)
		turn(l);
	CHECK_INT(dns_lookups(d), 2);
	dns_free(d);
	loop_free(l);
}

static void
test_failure_not_kept(void)
{
	struct loop *l = loop_new();
	struct dns *d = dns_new(l);
	struct got g[2];
	int i, k;

	memset(g, 0, sizeof(g));
	for (k = 0; k < 2; k++) {
		dns_resolve(d, "bad..name", "80", on_answer, &g[k]);
		for (i = 0; i < 500 && !answered(&g[k], 1); i++)
			turn(l);
		CHECK_INT(g[k].calls, 1);
		CHECK_INT(g[k].err, DROVE_EDNS);
	}
	CHECK_INT(dns_lookups(d), 2);
	dns_free(d);
	loop_free(l);
}

static const struct t_case cases[] = {
	{ "once", test_once },
	{ "failure_not_kept", test_failure_not_kept },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
