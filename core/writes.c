/*
 * Who writes what: glob intersection, and the ordering edges between tasks
 * whose `writes` globs overlap.  Globs are indexed by their literal prefix
 * (up to the first wildcard), so only pairs whose prefixes can meet are
 * compared, and reachability is searched once per task, not once per pair.
 */
#include "writes.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "util.h"

/*
 * Glob intersection.  A glob is a sequence of tokens: one character from
 * a set (a literal, '?', or [...]), '*' (any run without '/') or '**' (any
 * run).  Two globs share a path when the product of their automata reaches
 * the end of both; states are pairs of token positions, so the search is
 * bounded by (na + 1) * (nb + 1) states.
 */
enum gtok_kind {
	GT_ONE,
	GT_STAR,
	GT_DSTAR,
};

struct gtok {
	enum gtok_kind kind;
	int dirskip;		/* "**" as a whole component may match "" */
	uint64_t set[4];	/* GT_ONE: the characters it matches */
};

static void
set_add(uint64_t *set, unsigned char c)
{
	set[c >> 6] |= (uint64_t)1 << (c & 63);
}

static void
set_all_but_slash(uint64_t *set)
{
	set[0] = set[1] = set[2] = set[3] = ~(uint64_t)0;
	set[0] &= ~(uint64_t)1;			/* NUL */
	set[0] &= ~((uint64_t)1 << '/');
}

/* Parses [...] at p; returns the byte after ']' or NULL if unterminated. */
static const char *
parse_bracket(const char *p, uint64_t *set)
{
	const char *q = p + 1;
	uint64_t in[4] = { 0, 0, 0, 0 };
	int neg = 0, first = 1, k;
	unsigned char lo, hi, c;

	if (*q == '!' || *q == '^') {
		neg = 1;
		q++;
	}
	for (; *q != '\0'; first = 0) {
		if (*q == ']' && !first)
			break;
		if (*q == '\\' && q[1] != '\0')
			q++;
		lo = (unsigned char)*q++;
		hi = lo;
		if (q[0] == '-' && q[1] != ']' && q[1] != '\0') {
			q++;
			if (*q == '\\' && q[1] != '\0')
				q++;
			hi = (unsigned char)*q++;
		}
		for (k = lo; k <= hi; k++)
			set_add(in, (unsigned char)k);
	}
	if (*q != ']')
		return NULL;
	for (k = 0; k < 4; k++)
		set[k] = neg ? ~in[k] : in[k];
	/* never '/' (FNM_PATHNAME) nor NUL */
	c = '/';
	set[c >> 6] &= ~((uint64_t)1 << (c & 63));
	set[0] &= ~(uint64_t)1;
	return q + 1;
}

static int
is_slash(const struct gtok *t)
{
	uint64_t one = (uint64_t)1 << '/';

	return t->kind == GT_ONE && t->set[0] == one && !t->set[1] &&
	    !t->set[2] && !t->set[3];
}

static struct gtok *
tokenize(const char *pat, size_t *ntok)
{
	size_t len = strlen(pat), n = 0;
	struct gtok *t = xcalloc(len + 2, sizeof(*t));
	const char *p = pat, *base, *q;
	int at_start;

	/* "./a" is "a"; "dir/" means everything under dir */
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	base = p;
	while (*p != '\0') {
		memset(&t[n], 0, sizeof(t[n]));
		if (*p == '*') {
			at_start = p == base || p[-1] == '/';
			for (q = p; *q == '*'; q++)
				;
			if (q - p >= 2) {
				t[n].kind = GT_DSTAR;
				t[n].dirskip = at_start && *q == '/';
			} else
				t[n].kind = GT_STAR;
			n++;
			p = q;
			continue;
		}
		t[n].kind = GT_ONE;
		if (*p == '?') {
			set_all_but_slash(t[n].set);
			p++;
		} else if (*p == '[' && (q = parse_bracket(p, t[n].set))) {
			p = q;
		} else {
			if (*p == '\\' && p[1] != '\0')
				p++;
			set_add(t[n].set, (unsigned char)*p);
			p++;
		}
		n++;
	}
	if (n > 0 && is_slash(&t[n - 1])) {
		memset(&t[n], 0, sizeof(t[n]));
		t[n++].kind = GT_DSTAR;
	}
	*ntok = n;
	return t;
}

/* The set a token consumes a character from; *stay: the token repeats. */
static void
tok_set(const struct gtok *t, uint64_t *set, int *stay)
{
	*stay = t->kind != GT_ONE;
	if (t->kind == GT_ONE)
		memcpy(set, t->set, sizeof(t->set));
	else if (t->kind == GT_STAR)
		set_all_but_slash(set);
	else {
		set[0] = set[1] = set[2] = set[3] = ~(uint64_t)0;
		set[0] &= ~(uint64_t)1;
	}
}

int
glob_overlap(const char *a, const char *b)
{
	struct gtok *ta, *tb;
	size_t na, nb, w, sp = 0, i, j, *stack;
	unsigned char *seen;
	uint64_t sa[4], sb[4];
	int found = 0, stay_a, stay_b, k, meet;

	ta = tokenize(a, &na);
	tb = tokenize(b, &nb);
	w = nb + 1;
	seen = xcalloc((na + 1) * w, 1);
	/* every state is pushed at most once */
	stack = xmalloc((na + 1) * w * sizeof(*stack));

#define PUSH(x, y) do { \
	size_t s_ = (x) * w + (y); \
	if (!seen[s_]) { \
		seen[s_] = 1; \
		stack[sp++] = s_; \
	} \
} while (0)

	PUSH(0, 0);
	while (sp > 0 && !found) {
		i = stack[--sp] / w;
		j = stack[sp] % w;
		if (i == na && j == nb) {
			found = 1;
			break;
		}
		/* a star may match nothing */
		if (i < na && ta[i].kind != GT_ONE) {
			PUSH(i + 1, j);
			if (ta[i].dirskip && i + 1 < na && is_slash(&ta[i + 1]))
				PUSH(i + 2, j);
		}
		if (j < nb && tb[j].kind != GT_ONE) {
			PUSH(i, j + 1);
			if (tb[j].dirskip && j + 1 < nb && is_slash(&tb[j + 1]))
				PUSH(i, j + 2);
		}
		if (i == na || j == nb)
			continue;
		/* both consume one character */
		tok_set(&ta[i], sa, &stay_a);
		tok_set(&tb[j], sb, &stay_b);
		meet = 0;
		for (k = 0; k < 4; k++)
			meet |= (sa[k] & sb[k]) != 0;
		if (meet)
			PUSH(stay_a ? i : i + 1, stay_b ? j : j + 1);
	}
#undef PUSH
	free(seen);
	free(stack);
	free(ta);
	free(tb);
	return found;
}

/* --- the writes edges ----------------------------------------------------- */

/*
 * One writes glob of one task.  Every path it matches starts with key
 * (the literal characters before its first wildcard; "./" dropped); when
 * exact, it matches key alone.  So two globs can only overlap when one's
 * key is a prefix of the other's, and two exact ones only when their keys
 * are equal.
 */
struct wpat {
	char *key;
	size_t len;
	size_t task;
	size_t x;		/* index in the task's writes */
	int exact;
};

/* Can a and b overlap at all?  (glob_overlap says whether they do.) */
static int
may_meet(const struct wpat *a, const struct wpat *b)
{
	const struct wpat *s = a->len <= b->len ? a : b;
	const struct wpat *l = s == a ? b : a;

	if (memcmp(s->key, l->key, s->len) != 0)
		return 0;
	/* an exact glob meets a longer key only if both are that key */
	return !s->exact || l->len == s->len;
}

static int
popcount1(const uint64_t *set, unsigned char *c)
{
	int n = 0, k, bit;

	for (k = 0; k < 4; k++) {
		if (set[k] == 0)
			continue;
		if ((set[k] & (set[k] - 1)) != 0)
			return 0;
		for (bit = 0; !((set[k] >> bit) & 1); bit++)
			;
		*c = (unsigned char)(k * 64 + bit);
		n++;
	}
	return n == 1;
}

static void
wpat_init(struct wpat *w, const char *glob, size_t task, size_t x)
{
	size_t ntok, i;
	struct gtok *t = tokenize(glob, &ntok);
	unsigned char c;

	w->key = xmalloc(ntok + 1);
	for (i = 0; i < ntok && t[i].kind == GT_ONE &&
	    popcount1(t[i].set, &c); i++)
		w->key[i] = (char)c;
	w->key[i] = '\0';
	w->len = i;
	w->exact = i == ntok;
	w->task = task;
	w->x = x;
	free(t);
}

static int
keycmp(const struct wpat *a, const struct wpat *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->key, b->key, n);

	if (c != 0)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* By key, wildcards before exact globs, then declared order. */
static const struct wpat *sort_base;

static int
ord_cmp(const void *pa, const void *pb)
{
	const struct wpat *a = &sort_base[*(const size_t *)pa];
	const struct wpat *b = &sort_base[*(const size_t *)pb];
	int c = keycmp(a, b);

	if (c != 0)
		return c;
	if (a->exact != b->exact)
		return a->exact - b->exact;
	return a < b ? -1 : a > b;
}

static int
desc_cmp(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;

	return a < b ? 1 : a > b ? -1 : 0;
}

struct windex {
	struct wpat *p;		/* every glob, task by task */
	size_t n;
	size_t *first;		/* task i's globs: p[first[i] .. first[i+1]) */
	size_t *ord;		/* p's indices by ord_cmp */
	struct strmap wild;	/* key -> first place in ord of its wildcards */
	struct strmap exact;	/* key -> first place in ord of its exact ones */
	size_t *wlens;		/* the lengths of wildcard keys, ascending */
	size_t nwlens;
};

static void
windex_build(struct windex *ix, const struct graph *g)
{
	size_t i, x, k, n = 0;
	unsigned char *haslen;
	size_t maxlen = 0;

	for (i = 0; i < g->n; i++)
		n += g->tasks[i].nwrites;
	ix->p = xcalloc(n + 1, sizeof(*ix->p));
	ix->first = xmalloc((g->n + 1) * sizeof(*ix->first));
	ix->ord = xmalloc((n + 1) * sizeof(*ix->ord));
	ix->n = 0;
	for (i = 0; i < g->n; i++) {
		ix->first[i] = ix->n;
		for (x = 0; x < g->tasks[i].nwrites; x++) {
			wpat_init(&ix->p[ix->n], g->tasks[i].writes[x], i, x);
			if (ix->p[ix->n].len > maxlen)
				maxlen = ix->p[ix->n].len;
			ix->ord[ix->n] = ix->n;
			ix->n++;
		}
	}
	ix->first[g->n] = ix->n;
	sort_base = ix->p;
	qsort(ix->ord, ix->n, sizeof(*ix->ord), ord_cmp);
	strmap_init(&ix->wild);
	strmap_init(&ix->exact);
	haslen = xcalloc(maxlen + 1, 1);
	for (k = 0; k < ix->n; k++) {
		const struct wpat *w = &ix->p[ix->ord[k]];
		const struct wpat *prev = k ? &ix->p[ix->ord[k - 1]] : NULL;

		if (prev && prev->exact == w->exact && keycmp(prev, w) == 0)
			continue;
		strmap_put(w->exact ? &ix->exact : &ix->wild, w->key, w->len,
		    k);
		if (!w->exact)
			haslen[w->len] = 1;
	}
	ix->wlens = xmalloc((maxlen + 1) * sizeof(*ix->wlens));
	ix->nwlens = 0;
	for (k = 0; k <= maxlen; k++)
		if (haslen[k])
			ix->wlens[ix->nwlens++] = k;
	free(haslen);
}

static void
windex_release(struct windex *ix)
{
	for (size_t k = 0; k < ix->n; k++)
		free(ix->p[k].key);
	free(ix->p);
	free(ix->first);
	free(ix->ord);
	free(ix->wlens);
	strmap_release(&ix->wild);
	strmap_release(&ix->exact);
}

/* The tasks before task j with a glob that may meet one of j's. */
struct cands {
	size_t *v;
	size_t n, cap;
	size_t *mark;		/* mark[i] == j + 1: i is in v */
};

static void
cand_add(struct cands *c, const struct windex *ix, size_t k, size_t j)
{
	size_t i = ix->p[ix->ord[k]].task;

	if (i >= j || c->mark[i] == j + 1)
		return;
	c->mark[i] = j + 1;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n++] = i;
}

/* Adds every entry of ord from k on with w's key and exactness. */
static void
cand_group(struct cands *c, const struct windex *ix, size_t k,
    const struct wpat *w, size_t len, int exact, size_t j)
{
	for (; k < ix->n; k++) {
		const struct wpat *q = &ix->p[ix->ord[k]];

		if (q->exact != exact || q->len != len ||
		    memcmp(q->key, w->key, len) != 0)
			break;
		cand_add(c, ix, k, j);
	}
}

static void
cands_of(struct cands *c, const struct windex *ix, size_t j)
{
	size_t x, k, lo, hi, m;

	c->n = 0;
	for (x = ix->first[j]; x < ix->first[j + 1]; x++) {
		const struct wpat *w = &ix->p[x];

		/* wildcard globs whose key is a prefix of w's */
		for (m = 0; m < ix->nwlens && ix->wlens[m] <= w->len; m++)
			if (strmap_get(&ix->wild, w->key, ix->wlens[m], &k))
				cand_group(c, ix, k, w, ix->wlens[m], 0, j);
		if (w->exact) {
			if (strmap_get(&ix->exact, w->key, w->len, &k))
				cand_group(c, ix, k, w, w->len, 1, j);
			continue;
		}
		/* w is a wildcard: every glob whose key starts with w's */
		lo = 0;
		hi = ix->n;
		while (lo < hi) {
			m = lo + (hi - lo) / 2;
			if (keycmp(&ix->p[ix->ord[m]], w) < 0)
				lo = m + 1;
			else
				hi = m;
		}
		for (k = lo; k < ix->n; k++) {
			const struct wpat *q = &ix->p[ix->ord[k]];

			if (q->len < w->len ||
			    memcmp(q->key, w->key, w->len) != 0)
				break;
			cand_add(c, ix, k, j);
		}
	}
}

/*
 * Whether task j and another are ordered, while j gains edges.  Forward:
 * what j reaches, searched only as far as a question needs and grown with
 * each new edge of j's.  Backward: what reaches j, searched once (j's new
 * edges lead away from j, so they never change it).
 */
struct reach {
	const struct graph *g;
	size_t j;
	size_t *fmark, *bmark;	/* == j + 1: reached */
	size_t *stack, sp;	/* the forward search's frontier */
	size_t *bstack;
	int bdone;
	size_t **radj;		/* who waits for each task, so far */
	size_t *nradj;
};

static void
radj_add(struct reach *r, size_t to, size_t from)
{
	size_t n = r->nradj[to];

	/* capacity: powers of two */
	if ((n & (n - 1)) == 0)
		r->radj[to] = xrealloc(r->radj[to], (n ? 2 * n : 1) *
		    sizeof(**r->radj));
	r->radj[to][r->nradj[to]++] = from;
}

static void
reach_init(struct reach *r, const struct graph *g)
{
	size_t i, k;

	r->g = g;
	r->fmark = xcalloc(g->n, sizeof(*r->fmark));
	r->bmark = xcalloc(g->n, sizeof(*r->bmark));
	r->stack = xmalloc((g->n + 1) * sizeof(*r->stack));
	r->bstack = xmalloc((g->n + 1) * sizeof(*r->bstack));
	r->radj = xcalloc(g->n, sizeof(*r->radj));
	r->nradj = xcalloc(g->n, sizeof(*r->nradj));
	for (i = 0; i < g->n; i++)
		for (k = 0; k < g->tasks[i].ndeps; k++)
			radj_add(r, g->tasks[i].deps[k].task, i);
}

static void
reach_release(struct reach *r)
{
	for (size_t i = 0; i < r->g->n; i++)
		free(r->radj[i]);
	free(r->radj);
	free(r->nradj);
	free(r->fmark);
	free(r->bmark);
	free(r->stack);
	free(r->bstack);
}

static void
reach_start(struct reach *r, size_t j)
{
	r->j = j;
	r->sp = 0;
	r->stack[r->sp++] = j;
	r->bdone = 0;
}

static void
fwd_mark(struct reach *r, size_t v)
{
	if (r->fmark[v] != r->j + 1) {
		r->fmark[v] = r->j + 1;
		r->stack[r->sp++] = v;
	}
}

/* True if j depends on i, or i on j. */
static int
ordered(struct reach *r, size_t i)
{
	const struct graph *g = r->g;
	size_t stamp = r->j + 1, u, k, sp;

	while (r->fmark[i] != stamp && r->sp > 0) {
		u = r->stack[--r->sp];
		for (k = 0; k < g->tasks[u].ndeps; k++)
			fwd_mark(r, g->tasks[u].deps[k].task);
	}
	if (r->fmark[i] == stamp)
		return 1;
	if (!r->bdone) {
		r->bdone = 1;
		sp = 0;
		r->bstack[sp++] = r->j;
		while (sp > 0) {
			u = r->bstack[--sp];
			for (k = 0; k < r->nradj[u]; k++) {
				size_t v = r->radj[u][k];

				if (r->bmark[v] != stamp) {
					r->bmark[v] = stamp;
					r->bstack[sp++] = v;
				}
			}
		}
	}
	return r->bmark[i] == stamp;
}

/* The first pair of j's and i's globs, in declared order, that overlap. */
static int
first_overlap(const struct graph *g, const struct windex *ix, size_t j,
    size_t i, size_t *px, size_t *py)
{
	size_t x, y;

	for (x = ix->first[j]; x < ix->first[j + 1]; x++)
		for (y = ix->first[i]; y < ix->first[i + 1]; y++)
			if (may_meet(&ix->p[x], &ix->p[y]) &&
			    glob_overlap(g->tasks[j].writes[ix->p[x].x],
			    g->tasks[i].writes[ix->p[y].x])) {
				*px = ix->p[x].x;
				*py = ix->p[y].x;
				return 1;
			}
	return 0;
}

/*
 * For each task j in declared order, each earlier task i whose writes may
 * meet j's, nearest first: unless one already reaches the other, j waits
 * for i when a pair of their globs overlaps.  So a chain of three writers
 * becomes a -> b -> c without a redundant c -> a, and no edge closes a
 * cycle.  The same edges, in the same order, as comparing every pair.
 */
void
writes_edges(struct graph *g)
{
	struct windex ix;
	struct cands c = { NULL, 0, 0, NULL };
	struct reach r;
	size_t j, k, i, x, y;
	struct task *t;

	if (g->n < 2)
		return;
	windex_build(&ix, g);
	if (ix.n == 0) {
		windex_release(&ix);
		return;
	}
	c.mark = xcalloc(g->n, sizeof(*c.mark));
	reach_init(&r, g);
	for (j = 1; j < g->n; j++) {
		t = &g->tasks[j];
		if (t->nwrites == 0)
			continue;
		cands_of(&c, &ix, j);
		if (c.n == 0)
			continue;
		qsort(c.v, c.n, sizeof(*c.v), desc_cmp);
		reach_start(&r, j);
		for (k = 0; k < c.n; k++) {
			i = c.v[k];
			if (ordered(&r, i) || !first_overlap(g, &ix, j, i, &x,
			    &y))
				continue;
			t->deps = xrealloc(t->deps, (t->ndeps + 1) *
			    sizeof(*t->deps));
			t->deps[t->ndeps].task = i;
			t->deps[t->ndeps].kind = EDGE_WRITES;
			t->deps[t->ndeps].line = 0;
			t->deps[t->ndeps].detail = xasprintf("%s ~ %s",
			    t->writes[x], g->tasks[i].writes[y]);
			t->ndeps++;
			radj_add(&r, i, j);
			fwd_mark(&r, i);
		}
	}
	reach_release(&r);
	free(c.v);
	free(c.mark);
	windex_release(&ix);
}
