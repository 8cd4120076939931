/*
 * The environment children get.  See envfilter.h.
 */
#include "envfilter.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

extern char **environ;

/* Names a child does not get unless pass names them: those that look
 * like keys, tokens, passwords and other credentials. */
static const char *const secret_names[] = {
	"*_KEY", "*_KEYS", "*APIKEY*", "*TOKEN*", "*SECRET*", "*PASSWORD*",
	"*PASSWD*", "*CREDENTIAL*", "*_AUTH", "*_PAT", NULL,
};

/* Whether the name s[0..n) matches the glob pat (* and ?), ignoring
 * ASCII case. */
static int
glob_match(const char *pat, const char *s, size_t n)
{
	size_t i = 0;

	for (; *pat != '\0'; pat++) {
		if (*pat == '*') {
			while (pat[1] == '*')
				pat++;
			if (pat[1] == '\0')
				return 1;
			for (; i <= n; i++)
				if (glob_match(pat + 1, s + i, n - i))
					return 1;
			return 0;
		}
		if (i == n)
			return 0;
		if (*pat != '?') {
			char a = *pat, b = s[i];

			if (a >= 'a' && a <= 'z')
				a = (char)(a - 'a' + 'A');
			if (b >= 'a' && b <= 'z')
				b = (char)(b - 'a' + 'A');
			if (a != b)
				return 0;
		}
		i++;
	}
	return i == n;
}

static int
match_any(const char *const *globs, const char *name, size_t n)
{
	for (; globs != NULL && *globs != NULL; globs++)
		if (glob_match(*globs, name, n))
			return 1;
	return 0;
}

int
env_passes(const char *entry, const char *const *pass,
    const char *const *drop)
{
	const char *eq = strchr(entry, '=');
	size_t n = eq ? (size_t)(eq - entry) : strlen(entry);

	if (match_any(drop, entry, n))
		return 0;
	if (match_any(pass, entry, n))
		return 1;
	return !match_any(secret_names, entry, n);
}

const char **
env_filtered(const char *const *pass, const char *const *drop)
{
	const char **v;
	size_t n = 0, k = 0;

	while (environ != NULL && environ[n] != NULL)
		n++;
	v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		if (env_passes(environ[i], pass, drop))
			v[k++] = environ[i];
	v[k] = NULL;
	return v;
}

const char *const *
env_default(void)
{
	static const char **cached;
	static char **from;
	static size_t nfrom;
	size_t n = 0;

	while (environ != NULL && environ[n] != NULL)
		n++;
	/* filtered again only when environ is another array or length */
	if (cached == NULL || from != environ || nfrom != n) {
		free(cached);
		cached = env_filtered(NULL, NULL);
		from = environ;
		nfrom = n;
	}
	return cached;
}
