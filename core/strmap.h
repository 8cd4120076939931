/*
 * A hash index from strings to array positions: the loader's and the
 * graph's "which section / task is called this", in O(1) instead of a scan.
 */
#ifndef DROVE_STRMAP_H
#define DROVE_STRMAP_H

#include <stddef.h>

struct strmap_ent;
struct strmap_chunk;

struct strmap {
	struct strmap_ent *ent;	/* cap slots, open addressing */
	size_t cap;		/* 0 or a power of two */
	size_t n;
	struct strmap_chunk *keys;	/* the copies of the keys */
};

void strmap_init(struct strmap *m);
/* Frees the table and the copies of the keys. */
void strmap_release(struct strmap *m);
/* Makes room for n keys in all, so that the puts up to n do not grow the
 * table (a load of known size touches one table, not every smaller one). */
void strmap_reserve(struct strmap *m, size_t n);
/*
 * The value of key (borrowed; len bytes, need not end in NUL) in *val;
 * returns 1 if found, 0 if not.
 */
int strmap_get(const struct strmap *m, const char *key, size_t len,
    size_t *val);
/* Sets key (copied) to val, replacing its value if it is there. */
void strmap_put(struct strmap *m, const char *key, size_t len, size_t val);

#endif
