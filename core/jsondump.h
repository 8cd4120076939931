/*
 * json_dumps, faster: the same bytes as jansson 2.14's json_dumps for the
 * flags drove writes with (JSON_COMPACT or JSON_INDENT(n), with or without
 * JSON_PRESERVE_ORDER, which jansson since 2.8 always keeps), without its
 * per-byte callback and per-character UTF-8 decoding.  Other flags go to
 * json_dumps itself.  NULL where json_dumps gives NULL (invalid UTF-8 in a
 * string made without a check, no memory).  Free the result with free().
 */
#ifndef DROVE_JSONDUMP_H
#define DROVE_JSONDUMP_H

#include <jansson.h>
#include <stddef.h>

char *jsondump(const json_t *j, size_t flags);
/* The same, with a newline after it; *lenp its length with the newline. */
char *jsondump_line(const json_t *j, size_t flags, size_t *lenp);

#endif
