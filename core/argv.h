/*
 * Splitting a command line into words the way a POSIX shell splits them,
 * without a shell and without expanding anything.
 */
#ifndef DROVE_ARGV_H
#define DROVE_ARGV_H

#include <stddef.h>

/*
 * Splits cmd into words.  Blanks (space, tab, newline, CR, VT, FF) separate
 * words; 'single quotes' keep everything literal; inside "double quotes" a
 * backslash escapes only \" \\ \$ \` and a newline; outside quotes a
 * backslash escapes the next character, and backslash-newline is removed.
 * Adjacent parts join into one word, '' and "" make an empty word.  $VAR,
 * globs, ~, |, ; and the like are kept literally.
 *
 * cmd is borrowed.  Returns a NULL-ended argv in one malloc'd block (the
 * pointer array followed by the strings): free it with one free().  On
 * error returns NULL and writes the reason into err: "empty command",
 * "unterminated single quote", "unterminated double quote" or "trailing
 * backslash".
 */
char **argv_split(const char *cmd, char *err, size_t errlen);

#endif /* DROVE_ARGV_H */
