/*
 * Open addressing with linear probing over a power-of-two table, at most
 * half full; FNV-1a for the hash.  Nothing is ever removed.
 */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct strmap_ent {
	char *key;		/* NULL: empty slot */
	size_t len;
	uint64_t hash;
	size_t val;
};

static uint64_t
hash_of(const char *key, size_t len)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ULL;
	}
	return h;
}

void
strmap_init(struct strmap *m)
{
	m->ent = NULL;
	m->cap = 0;
	m->n = 0;
}

void
strmap_release(struct strmap *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		free(m->ent[i].key);
	free(m->ent);
	strmap_init(m);
}

static struct strmap_ent *
slot(struct strmap_ent *ent, size_t cap, const char *key, size_t len,
    uint64_t h)
{
	size_t i = (size_t)h & (cap - 1);

	for (;;) {
		struct strmap_ent *e = &ent[i];

		if (e->key == NULL || (e->hash == h && e->len == len &&
		    memcmp(e->key, key, len) == 0))
			return e;
		i = (i + 1) & (cap - 1);
	}
}

int
strmap_get(const struct strmap *m, const char *key, size_t len, size_t *val)
{
	struct strmap_ent *e;

	if (m->cap == 0)
		return 0;
	e = slot(m->ent, m->cap, key, len, hash_of(key, len));
	if (e->key == NULL)
		return 0;
	*val = e->val;
	return 1;
}

static void
grow(struct strmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16, i;
	struct strmap_ent *ent = xcalloc(cap, sizeof(*ent));

	for (i = 0; i < m->cap; i++) {
		struct strmap_ent *o = &m->ent[i];

		if (o->key != NULL)
			*slot(ent, cap, o->key, o->len, o->hash) = *o;
	}
	free(m->ent);
	m->ent = ent;
	m->cap = cap;
}

void
strmap_put(struct strmap *m, const char *key, size_t len, size_t val)
{
	struct strmap_ent *e;
	uint64_t h = hash_of(key, len);

	if ((m->n + 1) * 2 > m->cap)
		grow(m);
	e = slot(m->ent, m->cap, key, len, h);
	if (e->key == NULL) {
		e->key = xmalloc(len + 1);
		memcpy(e->key, key, len);
		e->key[len] = '\0';
		e->len = len;
		e->hash = h;
		m->n++;
	}
	e->val = val;
}
