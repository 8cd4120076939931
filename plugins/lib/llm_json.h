/*
 * A fast path for the stream events of the API backends: one scan of an
 * event's JSON text, with no allocation, that picks out the few members a
 * backend reads (llm_json.c).  It accepts only text that jansson accepts
 * and reads it as jansson would; whatever is unusual (a real number, a
 * duplicate member that is looked for, an escaped member name where
 * members are looked for, a lone surrogate, \u0000, deep nesting) makes it give up, and
 * the backend parses the event with jansson instead.  Libc only.
 */
#ifndef DROVE_LLM_JSON_H
#define DROVE_LLM_JSON_H

#include <stddef.h>

enum lj_kind {
	LJ_ABSENT = 0,
	LJ_NULL,
	LJ_FALSE,
	LJ_TRUE,
	LJ_INT,
	LJ_STRING,
	LJ_OBJECT,
	LJ_ARRAY,
};

/* A value found, borrowed from the scanned text. */
struct lj_val {
	enum lj_kind kind;
	const char *p;		/* a string's bytes between the quotes, else
				 * the value's text */
	size_t n;
	int esc;		/* a string holds escapes: see lj_decode */
	long long i;		/* LJ_INT */
	size_t count;		/* LJ_ARRAY: its elements */
};

/*
 * A member looked for, in a table ended by a NULL key.  Its value goes to
 * out[slot].  With sub, members of the value are looked for too: of the
 * value itself when it is an object (array 0), or of its first element
 * when it is an array whose first element is an object (array 1).
 */
struct lj_field {
	const char *key;
	int slot;
	const struct lj_field *sub;
	int array;
};

/*
 * Scans s[0..n) as one JSON object (surrounding whitespace allowed),
 * filling out[0..nout) (every slot LJ_ABSENT first).  Returns 0, or -1
 * when the text is not plainly valid JSON of the kind this reads (then
 * parse it with jansson: it may still be valid).
 */
int lj_scan(const char *s, size_t n, const struct lj_field *fields,
    struct lj_val *out, size_t nout);

/* Decodes string value v (found by lj_scan) into dst, which has room for
 * v->n bytes; returns the decoded length (UTF-8, no NUL added). */
size_t lj_decode(const struct lj_val *v, char *dst);

/* Whether string value v, without escapes, is s. */
int lj_is(const struct lj_val *v, const char *s);

#endif /* DROVE_LLM_JSON_H */
