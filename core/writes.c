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
	size_t id;		/* the same glob text, the same id */
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

/*
 * The literal characters before the first wildcard, as tokenize reads
 * them ("./" dropped, "\\x" is x).  A '[' ends the key even when it is
 * literal or one character: a shorter key only makes more candidates.
 * Exact: no wildcard and no trailing '/' (everything under a dir).
 */
static void
wpat_init(struct wpat *w, const char *glob, size_t task, size_t x)
{
	const char *p = glob;
	size_t n = 0;

	while (p[0] == '.' && p[1] == '/')
		p += 2;
	w->key = xmalloc(strlen(p) + 1);
	w->exact = 1;
	for (; *p != '\0'; p++) {
		if (*p == '*' || *p == '?' || *p == '[') {
			w->exact = 0;
			break;
		}
		if (*p == '\\' && p[1] != '\0')
			p++;
		w->key[n++] = *p;
	}
	if (w->exact && n > 0 && w->key[n - 1] == '/')
		w->exact = 0;
	w->key[n] = '\0';
	w->len = n;
	w->task = task;
	w->x = x;
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
	unsigned char *self;	/* by id: the glob matches some path */
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
	for (k = 0, x = 0; k < ix->n; k++)
		x += (size_t)ix->p[k].exact;
	strmap_reserve(&ix->exact, x);
	strmap_reserve(&ix->wild, ix->n - x);
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
	/* ids: an exact glob is its key; a wildcard one its text */
	ix->self = xmalloc(ix->n + 1);
	{
		struct strmap ids;
		size_t nid = 0;

		strmap_init(&ids);
		for (k = 0; k < ix->n; k++) {
			struct wpat *w = &ix->p[ix->ord[k]];
			const struct wpat *prev = k ? &ix->p[ix->ord[k - 1]] :
			    NULL;
			const char *s = g->tasks[w->task].writes[w->x];

			if (w->exact) {
				if (prev && prev->exact && keycmp(prev, w) == 0)
					w->id = prev->id;
				else {
					w->id = nid;
					ix->self[nid++] = 1;
				}
			} else if (!strmap_get(&ids, s, strlen(s), &w->id)) {
				w->id = nid;
				ix->self[nid++] = (unsigned char)glob_overlap(s,
				    s);
				strmap_put(&ids, s, strlen(s), w->id);
			}
		}
		strmap_release(&ids);
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
	free(ix->self);
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
 * Whether two tasks are ordered, while edges are added.  Every task has a
 * level above that of each task it waits for (the longest chain below it
 * at first), so a search for a path from u to v only visits tasks above
 * v's level: the band between the two, not the whole graph.  A new edge
 * that breaks the rule lifts its task and what waits for it.  When every
 * edge leads to an earlier task, as writes edges do, no task reaches a
 * later one, and that half of the question needs no search.
 */
struct reach {
	const struct graph *g;
	size_t *level;
	size_t *mark, stamp;	/* mark[u] == stamp: seen in this search */
	size_t *stack;
	/* what j reaches, searched highest level first, only as deep as a
	 * question needs, and kept while j gains edges */
	size_t j;
	size_t *fmark;		/* == j + 1: j reaches it */
	struct hent { size_t level, task; } *heap;
	size_t nheap;
	size_t *lift, nlift;	/* tasks to lift; one may come up again */
	size_t **radj;		/* who waits for each task, so far */
	size_t *nradj;
	int backward;		/* every edge leads to an earlier task */
	/* when backward and the graph is small enough: a row of bits per
	 * task, bit u of row t set when t (transitively) waits for u, so
	 * the question is one bit and no search */
	uint64_t *anc;
	size_t *off;		/* row t: anc + off[t], t / 64 + 1 words */
};

size_t writes_anc_max_bytes = (size_t)32 << 20;

static uint64_t *
anc_row(const struct reach *r, size_t t)
{
	return r->anc + r->off[t];
}

/* t now waits for u and for all u waits for; u < t. */
static void
anc_add(struct reach *r, size_t t, size_t u)
{
	uint64_t *rt = anc_row(r, t);
	const uint64_t *ru = anc_row(r, u);
	size_t w, top = u / 64;

	/* u's row has no bit at u or above */
	for (w = 0; w <= top; w++)
		rt[w] |= ru[w];
	rt[top] |= (uint64_t)1 << (u % 64);
}

/* Row t from t's edges, all to earlier tasks whose rows are done. */
static void
anc_task(struct reach *r, size_t t)
{
	const struct task *tk = &r->g->tasks[t];

	for (size_t k = 0; k < tk->ndeps; k++)
		anc_add(r, t, tk->deps[k].task);
}

static int
anc_has(const struct reach *r, size_t t, size_t u)
{
	return (anc_row(r, t)[u / 64] >> (u % 64)) & 1;
}

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
	size_t i, k, u, head = 0, tail = 0, *left;

	r->g = g;
	r->level = xcalloc(g->n, sizeof(*r->level));
	r->mark = xcalloc(g->n, sizeof(*r->mark));
	r->stamp = 0;
	r->stack = xmalloc((g->n + 1) * sizeof(*r->stack));
	r->fmark = xcalloc(g->n, sizeof(*r->fmark));
	r->heap = xmalloc((g->n + 1) * sizeof(*r->heap));
	r->nheap = 0;
	r->lift = NULL;
	r->nlift = 0;
	r->radj = xcalloc(g->n, sizeof(*r->radj));
	r->nradj = xcalloc(g->n, sizeof(*r->nradj));
	r->backward = 1;
	left = xmalloc(g->n * sizeof(*left));
	for (i = 0; i < g->n; i++) {
		left[i] = g->tasks[i].ndeps;
		if (left[i] == 0)
			r->stack[tail++] = i;
		for (k = 0; k < g->tasks[i].ndeps; k++) {
			radj_add(r, g->tasks[i].deps[k].task, i);
			if (g->tasks[i].deps[k].task >= i)
				r->backward = 0;
		}
	}
	/* levels in dependency order (the graph has no cycle) */
	while (head < tail) {
		u = r->stack[head++];
		for (k = 0; k < r->nradj[u]; k++) {
			i = r->radj[u][k];
			if (r->level[i] < r->level[u] + 1)
				r->level[i] = r->level[u] + 1;
			if (--left[i] == 0)
				r->stack[tail++] = i;
		}
	}
	free(left);
	r->anc = NULL;
	r->off = NULL;
	if (!r->backward)
		return;
	/* a row only has bits below its task: a triangle, n * n / 128
	 * words */
	r->off = xmalloc(g->n * sizeof(*r->off));
	for (i = 0, k = 0; i < g->n; i++) {
		r->off[i] = k;
		k += i / 64 + 1;
	}
	if (k <= writes_anc_max_bytes / sizeof(*r->anc))
		r->anc = xcalloc(k, sizeof(*r->anc));
	else {
		free(r->off);
		r->off = NULL;
	}
}

static void
reach_release(struct reach *r)
{
	for (size_t i = 0; i < r->g->n; i++)
		free(r->radj[i]);
	free(r->radj);
	free(r->nradj);
	free(r->level);
	free(r->mark);
	free(r->stack);
	free(r->fmark);
	free(r->heap);
	free(r->lift);
	free(r->anc);
	free(r->off);
}

/* True if u (transitively) waits for v. */
static int
reaches(struct reach *r, size_t u, size_t v)
{
	const struct graph *g = r->g;
	size_t sp = 0, k, w;

	if (r->level[u] <= r->level[v])
		return 0;
	r->stamp++;
	r->stack[sp++] = u;
	while (sp > 0) {
		u = r->stack[--sp];
		for (k = 0; k < g->tasks[u].ndeps; k++) {
			w = g->tasks[u].deps[k].task;
			if (w == v)
				return 1;
			if (r->level[w] > r->level[v] &&
			    r->mark[w] != r->stamp) {
				r->mark[w] = r->stamp;
				r->stack[sp++] = w;
			}
		}
	}
	return 0;
}

static void
heap_push(struct reach *r, size_t task)
{
	struct hent e = { r->level[task], task };
	size_t k = r->nheap++, up;

	while (k > 0 && r->heap[up = (k - 1) / 2].level < e.level) {
		r->heap[k] = r->heap[up];
		k = up;
	}
	r->heap[k] = e;
}

static size_t
heap_pop(struct reach *r)
{
	size_t top = r->heap[0].task, k = 0, c;
	struct hent e = r->heap[--r->nheap];

	for (;;) {
		c = 2 * k + 1;
		if (c >= r->nheap)
			break;
		if (c + 1 < r->nheap && r->heap[c + 1].level > r->heap[c].level)
			c++;
		if (r->heap[c].level <= e.level)
			break;
		r->heap[k] = r->heap[c];
		k = c;
	}
	if (r->nheap > 0)
		r->heap[k] = e;
	return top;
}

static void
fwd_start(struct reach *r, size_t j)
{
	r->j = j;
	r->nheap = 0;
	heap_push(r, j);
}

static void
fwd_mark(struct reach *r, size_t v)
{
	if (r->fmark[v] != r->j + 1) {
		r->fmark[v] = r->j + 1;
		heap_push(r, v);
	}
}

/* True if j (transitively) waits for i: what is above i's level is
 * searched; the levels below cannot lead to i. */
static int
fwd_reaches(struct reach *r, size_t i)
{
	const struct graph *g = r->g;
	size_t u, k;

	while (r->fmark[i] != r->j + 1 && r->nheap > 0 &&
	    r->heap[0].level > r->level[i]) {
		u = heap_pop(r);
		for (k = 0; k < g->tasks[u].ndeps; k++)
			fwd_mark(r, g->tasks[u].deps[k].task);
	}
	return r->fmark[i] == r->j + 1;
}

/* True if j (transitively) waits for i or i for j; i < j. */
static int
ordered(struct reach *r, size_t j, size_t i)
{
	if (r->anc != NULL)
		return anc_has(r, j, i);
	return fwd_reaches(r, i) || (!r->backward && reaches(r, i, j));
}

static void
lift_push(struct reach *r, size_t *sp, size_t u)
{
	if (*sp == r->nlift) {
		r->nlift = r->nlift ? 2 * r->nlift : 64;
		r->lift = xrealloc(r->lift, r->nlift * sizeof(*r->lift));
	}
	r->lift[(*sp)++] = u;
}

/* j now waits for i: j goes above i, and what waits for j above j. */
static void
reach_edge(struct reach *r, size_t j, size_t i)
{
	size_t sp = 0, u, k, a;

	radj_add(r, i, j);
	if (r->level[j] > r->level[i])
		return;
	r->level[j] = r->level[i] + 1;
	lift_push(r, &sp, j);
	while (sp > 0) {
		u = r->lift[--sp];
		for (k = 0; k < r->nradj[u]; k++) {
			a = r->radj[u][k];
			if (r->level[a] <= r->level[u]) {
				r->level[a] = r->level[u] + 1;
				lift_push(r, &sp, a);
			}
		}
	}
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

/* cover[id] == j + 1: j reaches a task with glob id (one that matches
 * some path) */
static void
cover_task(const struct windex *ix, size_t *cover, size_t i, size_t j)
{
	for (size_t y = ix->first[i]; y < ix->first[i + 1]; y++)
		if (ix->self[ix->p[y].id])
			cover[ix->p[y].id] = j + 1;
}

static int
covered(const struct windex *ix, const size_t *cover, size_t i, size_t j)
{
	for (size_t y = ix->first[i]; y < ix->first[i + 1]; y++)
		if (cover[ix->p[y].id] == j + 1)
			return 1;
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
	size_t j, k, i, x, y, *cover;
	struct task *t;

	if (g->n < 2)
		return;
	windex_build(&ix, g);
	if (ix.n == 0) {
		windex_release(&ix);
		return;
	}
	c.mark = xcalloc(g->n, sizeof(*c.mark));
	cover = xcalloc(ix.n, sizeof(*cover));
	reach_init(&r, g);
	for (j = 1; j < g->n; j++) {
		t = &g->tasks[j];
		if (r.anc != NULL)
			anc_task(&r, j);
		if (t->nwrites == 0)
			continue;
		cands_of(&c, &ix, j);
		if (c.n == 0)
			continue;
		qsort(c.v, c.n, sizeof(*c.v), desc_cmp);
		if (r.anc == NULL)
			fwd_start(&r, j);
		for (k = 0; k < c.n; k++) {
			i = c.v[k];
			/* an earlier task with a glob of one j reaches was
			 * ordered below that one when it came (only edges to
			 * earlier tasks: "ordered" means "reaches") */
			if (r.backward && covered(&ix, cover, i, j))
				continue;
			if (ordered(&r, j, i)) {
				cover_task(&ix, cover, i, j);
				continue;
			}
			if (!first_overlap(g, &ix, j, i, &x, &y))
				continue;
			t->deps = xrealloc(t->deps, (t->ndeps + 1) *
			    sizeof(*t->deps));
			t->deps[t->ndeps].task = i;
			t->deps[t->ndeps].kind = EDGE_WRITES;
			t->deps[t->ndeps].line = 0;
			t->deps[t->ndeps].detail = xasprintf("%s ~ %s",
			    t->writes[x], g->tasks[i].writes[y]);
			t->ndeps++;
			if (r.anc != NULL)
				anc_add(&r, j, i);
			else {
				reach_edge(&r, j, i);
				fwd_mark(&r, i);
			}
			cover_task(&ix, cover, i, j);
		}
	}
	free(cover);
	reach_release(&r);
	free(c.v);
	free(c.mark);
	windex_release(&ix);
}
