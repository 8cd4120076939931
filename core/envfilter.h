/*
 * The environment drove's children get: drove's own less the variables
 * whose names look like secrets (*_KEY, *TOKEN*, *SECRET*, *PASSWORD*,
 * ...), so an agent, a score command or a hook never gets the API keys
 * drove holds unless it was given them.  One filter for every child: the
 * exec backend (with its env_pass and env_drop), the host's spawn for
 * other plugins (merge score commands), and git.
 */
#ifndef DROVE_ENVFILTER_H
#define DROVE_ENVFILTER_H

#include <stddef.h>

/*
 * Whether a child gets the environment entry "NAME=VALUE" (or "NAME"):
 * not when a glob of drop matches NAME; yes when one of pass does; else
 * yes unless NAME looks like a secret.  pass and drop are NULL-ended glob
 * lists (* and ?, ASCII case ignored), or NULL.
 */
int env_passes(const char *entry, const char *const *pass,
    const char *const *drop);

/* environ, filtered by env_passes: a new NULL-ended array of environ's
 * own strings (free the array only, before environ changes). */
const char **env_filtered(const char *const *pass, const char *const *drop);

/* env_filtered(NULL, NULL), made once and kept (made again if environ
 * becomes another array): what a child without an env of its own gets.
 * Not to be freed. */
const char *const *env_default(void);

#endif /* DROVE_ENVFILTER_H */
