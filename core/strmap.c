/*
 * Open addressing with linear probing over a power-of-two table, at most
 * half full; FNV-1a for the hash.  Nothing is ever removed, so the copies
 * of the keys are cut from large chunks instead of one malloc each: a
 * 10,000-task file puts some 50,000 keys.
 */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct strmap_ent {
	char *key;		/* NULL: empty slot */
	size_t val;
	uint32_t hash;		/* the low half of the key's hash */
	uint32_t len;
};

/* keys are never longer than the 16 MiB a file may have */
#define KEY_MAX ((size_t)UINT32_MAX)

struct strmap_chunk {
	struct strmap_chunk *next;
	size_t used, size;
	char data[];
};

#define CHUNK_SIZE ((size_t)16384 - sizeof(struct strmap_chunk))

static uint32_t
hash_of(const char *key, size_t len)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ULL;
	}
	return (uint32_t)(h ^ (h >> 32));
}

void
strmap_init(struct strmap *m)
{
	m->ent = NULL;
	m->cap = 0;
	m->n = 0;
	m->keys = NULL;
}

void
strmap_release(struct strmap *m)
{
	struct strmap_chunk *c, *next;

	for (c = m->keys; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(m->ent);
	strmap_init(m);
}

/* A copy of key with a NUL after it, from the current chunk. */
static char *
key_copy(struct strmap *m, const char *key, size_t len)
{
	struct strmap_chunk *c = m->keys;
	char *k;

	if (c == NULL || c->size - c->used < len + 1) {
		size_t size = len + 1 > CHUNK_SIZE ? len + 1 : CHUNK_SIZE;

		c = xmalloc(sizeof(*c) + size);
		c->used = 0;
		c->size = size;
		/* a big key gets a chunk of its own behind the current
		 * one, which keeps its room */
		if (m->keys != NULL && size > CHUNK_SIZE) {
			c->next = m->keys->next;
			m->keys->next = c;
		} else {
			c->next = m->keys;
			m->keys = c;
		}
	}
	k = c->data + c->used;
	memcpy(k, key, len);
	k[len] = '\0';
	c->used += len + 1;
	return k;
}

static struct strmap_ent *
slot(struct strmap_ent *ent, size_t cap, const char *key, size_t len,
    uint32_t h)
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

	if (m->cap == 0 || len > KEY_MAX)
		return 0;
	e = slot(m->ent, m->cap, key, len, hash_of(key, len));
	if (e->key == NULL)
		return 0;
	*val = e->val;
	return 1;
}

static void
rehash(struct strmap *m, size_t cap)
{
	struct strmap_ent *ent = xcalloc(cap, sizeof(*ent));
	size_t i;

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
strmap_reserve(struct strmap *m, size_t n)
{
	size_t cap = m->cap ? m->cap : 16;

	while (n * 2 > cap)
		cap *= 2;
	if (cap != m->cap)
		rehash(m, cap);
}

void
strmap_put(struct strmap *m, const char *key, size_t len, size_t val)
{
	struct strmap_ent *e;
	uint32_t h;

	if (len > KEY_MAX)
		fatalx("strmap: a key of %zu bytes", len);
	h = hash_of(key, len);
	if ((m->n + 1) * 2 > m->cap)
		rehash(m, m->cap ? m->cap * 2 : 16);
	e = slot(m->ent, m->cap, key, len, h);
	if (e->key == NULL) {
		e->key = key_copy(m, key, len);
		e->len = (uint32_t)len;
		e->hash = h;
		m->n++;
	}
	e->val = val;
}
