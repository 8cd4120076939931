/*
 * The timeline of a run as SVG: one lane per slot in use at once, a bar per
 * attempt coloured by its outcome, the wait before a retry (backoff or a
 * rate limit) after it, the critical path's tasks outlined, a time axis
 * with ticks, task names where they fit, and a <title> tooltip on every
 * element.  Lanes shrink as they grow in number.
 */
#ifndef DROVE_SVG_H
#define DROVE_SVG_H

#include <jansson.h>

#include "util.h"

/* Appends the picture of the run whose summary.json is s and whose
 * journal is at journal to o.  Borrows s.  Returns 0, or -errno when the
 * journal cannot be read. */
int svg_render(json_t *s, const char *journal, struct buf *o);

#endif /* DROVE_SVG_H */
