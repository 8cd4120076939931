#include "argv.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/*
 * One scan of the command line.  The first pass runs with argv and out NULL
 * and only counts; the second fills the block sized by the first.
 */
struct split {
	char **argv;
	char *out;
	size_t nwords;
	size_t nbytes;
};

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f';
}

static void
put(struct split *sp, char c)
{
	if (sp->out != NULL)
		sp->out[sp->nbytes] = c;
	sp->nbytes++;
}

/* Characters a backslash escapes inside double quotes (POSIX 2.2.3). */
static int
dq_escapable(char c)
{
	return c == '"' || c == '\\' || c == '$' || c == '`' || c == '\n';
}

/* Returns NULL, or the reason the command line cannot be split. */
static const char *
scan(const char *p, struct split *sp)
{
	int inword = 0;

	sp->nwords = sp->nbytes = 0;
	while (*p != '\0') {
		if (is_blank(*p)) {
			if (inword)
				put(sp, '\0');
			inword = 0;
			p++;
			continue;
		}
		/* a line continuation neither starts nor ends a word */
		if (p[0] == '\\' && p[1] == '\n') {
			p += 2;
			continue;
		}
		if (!inword) {
			if (sp->argv != NULL)
				sp->argv[sp->nwords] = sp->out + sp->nbytes;
			sp->nwords++;
			inword = 1;
		}
		switch (*p) {
		case '\'':
			for (p++; *p != '\''; p++) {
				if (*p == '\0')
					return "unterminated single quote";
				put(sp, *p);
			}
			p++;
			break;
		case '"':
			for (p++; *p != '"'; p++) {
				if (*p == '\0')
					return "unterminated double quote";
				if (p[0] == '\\' && p[1] != '\0' &&
				    dq_escapable(p[1])) {
					p++;
					if (*p == '\n')
						continue;
				}
				put(sp, *p);
			}
			p++;
			break;
		case '\\':
			if (p[1] == '\0')
				return "trailing backslash";
			put(sp, p[1]);
			p += 2;
			break;
		default:
			put(sp, *p);
			p++;
			break;
		}
	}
	if (inword)
		put(sp, '\0');
	if (sp->argv != NULL)
		sp->argv[sp->nwords] = NULL;
	return NULL;
}

char **
argv_split(const char *cmd, char *err, size_t errlen)
{
	struct split sp = { NULL, NULL, 0, 0 };
	const char *why;
	size_t ptrs;
	char **argv;

	if (cmd == NULL) {
		errf(err, errlen, "empty command");
		return NULL;
	}
	if ((why = scan(cmd, &sp)) != NULL) {
		errf(err, errlen, "%s", why);
		return NULL;
	}
	if (sp.nwords == 0) {
		errf(err, errlen, "empty command");
		return NULL;
	}
	ptrs = (sp.nwords + 1) * sizeof(char *);
	argv = xmalloc(ptrs + sp.nbytes);
	sp.argv = argv;
	sp.out = (char *)argv + ptrs;
	(void)scan(cmd, &sp);
	return argv;
}
