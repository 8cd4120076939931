/*
 * INI configuration on top of inih.
 *
 * inih in this build hands the handler no line numbers, so the text is fed
 * through our own fgets-style reader.  The reader sees every raw line before
 * inih does, counts lines, and classifies each one the way inih will: blank
 * or comment, section header, key line, or continuation of the previous
 * key.  Headers are parsed here (inih would skip a section with no keys and
 * cut long names); keys and values come from inih through the handler.
 */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "drove/plugin.h"
#include "strmap.h"
#include "util.h"

/* Longest physical line accepted; inih's buffer grows up to this. */
#define CONF_MAX_LINE (1 << 30)

enum line_kind {
	LINE_SKIP,		/* blank or comment */
	LINE_HEADER,
	LINE_KEY,
	LINE_CONT,		/* continuation of the previous key */
};

struct parse {
	char *file;		/* owned by the conf once loaded */
	const char *text;
	size_t len;
	size_t pos;		/* next byte for the reader */
	size_t bol;		/* start of the current line */
	size_t eol;		/* end of the current line, after its '\n' */
	int lineno;
	int at_bol;
	int stop;		/* an error was recorded: end the stream */
	int have_key;		/* a key seen since the last header (inih) */
	enum line_kind kind;
	/* a continuation value must keep every byte, or the file is refused */
	int ind_line;		/* first continuation line of the value, or 0 */
	size_t ind_off;		/* its indentation: text + ind_off, ind_len */
	size_t ind_len;
	int gap_line;		/* blank or comment line after the value */
	const char *gap_what;
	/* a key = <<WORD block */
	char *hd_value;		/* the block of the key line being read */
	int hd_end;		/* last line of the block (its WORD line) */
	int hd_key;		/* line of the key of the last block, or 0 */
	struct conf_section **sec;	/* this file's sections */
	size_t nsec;
	struct strmap idx;	/* type and name -> index in sec */
	struct conf_section *cur;
	char *err;
	size_t errlen;
};

/*
 * Grows an array of n elements for one more.  Its capacity is implied by
 * n: arrays here only grow through this, to the next power of two, so a
 * 10,000-section file reallocates 14 times, not 10,000.
 */
static void *
grow(void *a, size_t n, size_t size)
{
	if (n & (n - 1))
		return a;	/* n is not a power of two: room left */
	return xrealloc(a, (n ? 2 * n : 1) * size);
}

static void
kv_release(struct conf_kv *kv)
{
	free(kv->key);
	free(kv->value);
}

static void
section_free(struct conf_section *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nkv; i++)
		kv_release(&s->kv[i]);
	free(s->kv);
	free(s->type);
	free(s->name);
	free(s);
}

/*
 * A section's key in an index: its type, a NUL, its name.  Uses buf when
 * it fits, else allocates *heap for the caller to free.
 */
static const char *
sec_key(const char *type, const char *name, char *buf, size_t size,
    char **heap, size_t *len)
{
	size_t tl = strlen(type), nl = strlen(name);
	char *k = buf;

	*heap = NULL;
	*len = tl + 1 + nl;
	if (*len > size)
		k = *heap = xmalloc(*len);
	memcpy(k, type, tl + 1);
	memcpy(k + tl + 1, name, nl);
	return k;
}

static int
idx_get(const struct strmap *m, const char *type, const char *name,
    size_t *at)
{
	char buf[256], *heap;
	const char *k;
	size_t len;
	int found;

	k = sec_key(type, name, buf, sizeof(buf), &heap, &len);
	found = strmap_get(m, k, len, at);
	free(heap);
	return found;
}

static void
idx_put(struct strmap *m, const char *type, const char *name, size_t at)
{
	char buf[256], *heap;
	const char *k;
	size_t len;

	k = sec_key(type, name, buf, sizeof(buf), &heap, &len);
	strmap_put(m, k, len, at);
	free(heap);
}

void
conf_init(struct conf *c)
{
	c->files = NULL;
	c->nfiles = 0;
	c->sec = NULL;
	c->nsec = 0;
	strmap_init(&c->idx);
}

void
conf_release(struct conf *c)
{
	size_t i;

	for (i = 0; i < c->nsec; i++)
		section_free(c->sec[i]);
	free(c->sec);
	for (i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
	strmap_release(&c->idx);
	conf_init(c);
}

void
conf_excerpt(const char *v, char *buf, size_t len)
{
	const size_t max = 60;
	size_t i, n = 0;
	int dots;

	if (len == 0)
		return;
	for (i = 0; v[i] != '\0'; i++) {
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			break;
		n++;
	}
	/* what snprintf "%.*s..." or "%s" would write, without its cost:
	 * this runs for every key read */
	dots = n > max || v[n] != '\0';
	if (n > max)
		n = max;
	if (n > len - 1)
		n = len - 1;
	memcpy(buf, v, n);
	if (dots) {
		i = len - 1 - n < 3 ? len - 1 - n : 3;
		memcpy(buf + n, "...", i);
		n += i;
	}
	buf[n] = '\0';
}

void
conf_label(const struct conf_section *s, char *buf, size_t len)
{
	if (strcmp(s->type, "drove") == 0)
		snprintf(buf, len, "[drove]");
	else
		snprintf(buf, len, "%s '%s'", s->type, s->name);
}

static void
perr(struct parse *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
perr_at(struct parse *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
vperr(struct parse *ps, int line, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;

	if (ps->stop)
		return;
	ps->stop = 1;
	buf_printf(&b, "%s:%d: ", ps->file, line);
	buf_vprintf(&b, fmt, ap);
	errf(ps->err, ps->errlen, "%s", b.data);
	buf_release(&b);
}

/* Records the first error as "file:line: message" and stops the stream. */
static void
perr(struct parse *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(ps, ps->lineno, fmt, ap);
	va_end(ap);
}

/* The same, for another line than the current one. */
static void
perr_at(struct parse *ps, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr(ps, line, fmt, ap);
	va_end(ap);
}

static int
is_comment_char(char c)
{
	return c == ';' || c == '#';
}

/* The header as an error quotes it, made only when there is an error. */
static const char *
header_shown(const char *p, const char *e, char *buf, size_t len)
{
	char *raw = xstrndup(p, (size_t)(e - p));

	conf_excerpt(raw, buf, len);
	free(raw);
	return buf;
}

#define SHOWN() header_shown(p, e, shown, sizeof(shown))

/*
 * Parses the header on [p, e): '[' TYPE [NAME] ']' with optional trailing
 * whitespace and comment.  Appends the section or records an error.
 */
static void
parse_header(struct parse *ps, const char *p, const char *e)
{
	char shown[80], *inner, *type, *name, *extra, *save;
	const char *close, *q;
	struct conf_section *s;
	size_t i;

	close = memchr(p, ']', (size_t)(e - p));
	if (close == NULL) {
		perr(ps, "unterminated section header '%s' (missing ']')",
		    SHOWN());
		return;
	}
	for (q = close + 1; q < e && isspace((unsigned char)*q); q++)
		;
	if (q < e && !is_comment_char(*q)) {
		perr(ps, "unexpected text after ']' in '%s'", SHOWN());
		return;
	}
	inner = xstrndup(p + 1, (size_t)(close - p - 1));
	type = strtok_r(inner, " \t\v\f\r", &save);
	name = type ? strtok_r(NULL, " \t\v\f\r", &save) : NULL;
	extra = name ? strtok_r(NULL, " \t\v\f\r", &save) : NULL;
	if (type == NULL) {
		perr(ps, "empty section header '%s' (expected [drove], "
		    "[backend NAME] or [task NAME])", SHOWN());
		goto out;
	}
	if (strcmp(type, "drove") != 0 && strcmp(type, "backend") != 0 &&
	    strcmp(type, "task") != 0 && strcmp(type, "plugin") != 0) {
		char t[80];

		conf_excerpt(type, t, sizeof(t));
		perr(ps, "unknown section type '%s' in '%s' (expected "
		    "[drove], [backend NAME] or [task NAME])", t, SHOWN());
		goto out;
	}
	if (strcmp(type, "drove") == 0 && name != NULL) {
		perr(ps, "[drove] takes no name: '%s'", SHOWN());
		goto out;
	}
	if (strcmp(type, "drove") != 0 && name == NULL) {
		perr(ps, "section '%s' needs a name: [%s NAME]", SHOWN(), type);
		goto out;
	}
	if (extra != NULL) {
		perr(ps, "bad section header '%s': a %s name cannot contain "
		    "spaces", SHOWN(), type);
		goto out;
	}
	if (name != NULL && !valid_name(name)) {
		char n[80];

		conf_excerpt(name, n, sizeof(n));
		perr(ps, "bad %s name '%s' (names use only A-Z a-z 0-9 _ . -)",
		    type, n);
		goto out;
	}
	if (name == NULL)
		name = "";
	if (idx_get(&ps->idx, type, name, &i)) {
		char label[160];

		s = ps->sec[i];
		conf_label(s, label, sizeof(label));
		perr(ps, "duplicate %s (first declared on line %d)", label,
		    s->line);
		goto out;
	}
	s = xcalloc(1, sizeof(*s));
	s->type = xstrdup(type);
	s->name = xstrdup(name);
	s->file = ps->file;
	s->line = ps->lineno;
	ps->sec = grow(ps->sec, ps->nsec, sizeof(*ps->sec));
	idx_put(&ps->idx, type, name, ps->nsec);
	ps->sec[ps->nsec++] = s;
	ps->cur = s;
out:
	free(inner);
}

#undef SHOWN

/* True while the reader is on the lines of a <<WORD block. */
static int
in_block(const struct parse *ps)
{
	return ps->hd_key != 0 && ps->lineno > ps->hd_key &&
	    ps->lineno <= ps->hd_end;
}

/* The key of the value being read, for messages. */
static const char *
cur_key(const struct parse *ps)
{
	if (ps->cur == NULL || ps->cur->nkv == 0)
		return "?";
	return ps->cur->kv[ps->cur->nkv - 1].key;
}

#define KEEP_HINT "write the value as a '<<END' block (see drove(1)) or, " \
	"for a prompt, in prompt_file"

/*
 * A key line whose value is "<<WORD" starts a block: the lines up to the
 * next line holding only WORD are the value, byte for byte.  [p, e) is the
 * trimmed line.  Sets ps->hd_value and ps->hd_end, or records an error.
 */
static void
heredoc_start(struct parse *ps, const char *p, const char *e)
{
	const char *v, *w, *q, *le, *a, *z, *body, *stop = NULL;
	size_t wlen, n;
	int line = ps->lineno;

	v = p;
	while (v < e && *v != '=' && *v != ':')
		v++;
	if (v == e)
		return;
	for (v++; v < e && isspace((unsigned char)*v); v++)
		;
	if (e - v < 3 || v[0] != '<' || v[1] != '<')
		return;
	w = v + 2;
	wlen = (size_t)(e - w);
	for (q = w; q < e; q++)
		if (!isalnum((unsigned char)*q) && *q != '_')
			return;
	/* find the WORD line; the body is [body, stop) */
	body = ps->text + ps->eol;
	for (q = body; q < ps->text + ps->len; q = le) {
		le = memchr(q, '\n', (size_t)(ps->text + ps->len - q));
		le = le ? le + 1 : ps->text + ps->len;
		line++;
		for (a = q, z = le; a < z && isspace((unsigned char)*a); a++)
			;
		while (z > a && isspace((unsigned char)z[-1]))
			z--;
		if ((size_t)(z - a) == wlen && memcmp(a, w, wlen) == 0) {
			stop = q;
			break;
		}
	}
	if (stop == NULL) {
		perr(ps, "'<<%.*s' block is never closed: no line holding "
		    "only '%.*s' follows", (int)wlen, w, (int)wlen, w);
		return;
	}
	n = (size_t)(stop - body);
	/* the newline before the WORD line ends the block, not the text */
	if (n > 0 && body[n - 1] == '\n')
		n--;
	if (n > 0 && body[n - 1] == '\r')
		n--;
	ps->hd_value = xstrndup(body, n);
	ps->hd_end = line;
	ps->hd_key = ps->lineno;
}

/*
 * An indented line after a key continues its value; inih removes the
 * indentation and drops blank and comment lines, so a value that needs
 * any of them would change without a word.  Refuse it instead.
 */
static void
continuation(struct parse *ps, size_t ind_off, size_t ind_len)
{
	if (ps->hd_key != 0) {
		perr(ps, "indented line after the '<<' block of '%s' (line "
		    "%d): it would continue that value; remove the "
		    "indentation or move the text into the block",
		    cur_key(ps), ps->hd_key);
		return;
	}
	if (ps->gap_line != 0) {
		perr_at(ps, ps->gap_line, "%s inside the multi-line value "
		    "of '%s' would be dropped; %s", ps->gap_what, cur_key(ps),
		    KEEP_HINT);
		return;
	}
	if (ps->ind_line == 0) {
		ps->ind_line = ps->lineno;
		ps->ind_off = ind_off;
		ps->ind_len = ind_len;
		return;
	}
	if (ind_len != ps->ind_len || memcmp(ps->text + ind_off,
	    ps->text + ps->ind_off, ind_len) != 0)
		perr(ps, "line indented differently from line %d in the "
		    "multi-line value of '%s': continuation lines lose their "
		    "indentation; %s", ps->ind_line, cur_key(ps), KEEP_HINT);
}

/*
 * Called at the start of every physical line: finds its end and decides
 * what inih will make of it, mirroring inih's own tests (BOM on line 1,
 * comment prefixes, leading whitespace after a key).
 */
static void
start_line(struct parse *ps)
{
	const char *p, *e, *nl, *s;
	size_t rest = ps->len - ps->pos;

	ps->bol = ps->pos;
	nl = memchr(ps->text + ps->pos, '\n', rest);
	ps->eol = nl ? (size_t)(nl - ps->text) + 1 : ps->len;
	if (in_block(ps)) {
		/* inside a block: inih gets a blank line */
		ps->kind = LINE_SKIP;
		return;
	}
	if (ps->eol - ps->bol > (size_t)CONF_MAX_LINE - 3) {
		perr(ps, "line too long (over %d bytes)", CONF_MAX_LINE - 3);
		return;
	}
	p = ps->text + ps->bol;
	e = ps->text + ps->eol;
	if (ps->lineno == 1 && e - p >= 3 && (unsigned char)p[0] == 0xef &&
	    (unsigned char)p[1] == 0xbb && (unsigned char)p[2] == 0xbf)
		p += 3;
	s = p;
	while (e > p && isspace((unsigned char)e[-1]))
		e--;
	while (p < e && isspace((unsigned char)*p))
		p++;
	if (p == e || is_comment_char(*p)) {
		ps->kind = LINE_SKIP;
		if (ps->have_key && p < e && p > s && ps->hd_key == 0)
			perr(ps, "indented line starting with '%c' after "
			    "'%s' would be dropped as a comment, not kept in "
			    "the value; %s (or, for a comment, start the "
			    "line with '%c')", *p, cur_key(ps), KEEP_HINT,
			    *p);
		else if (ps->have_key && ps->gap_line == 0) {
			ps->gap_line = ps->lineno;
			ps->gap_what = p == e ? "blank line" : "comment line";
		}
		return;
	}
	if (ps->have_key && p > s) {
		ps->kind = LINE_CONT;
		continuation(ps, (size_t)(s - ps->text), (size_t)(p - s));
		return;
	}
	ps->gap_line = 0;
	ps->ind_line = 0;
	ps->hd_key = 0;
	if (*p == '[') {
		ps->kind = LINE_HEADER;
		ps->have_key = 0;
		parse_header(ps, p, e);
	} else {
		ps->kind = LINE_KEY;
		ps->have_key = 1;
		heredoc_start(ps, p, e);
	}
}

/* fgets over the in-memory text; one line may take several calls. */
static char *
conf_reader(char *str, int num, void *stream)
{
	struct parse *ps = stream;
	size_t n;

	if (ps->stop || ps->pos >= ps->len || num < 2)
		return NULL;
	if (ps->at_bol) {
		ps->lineno++;
		ps->at_bol = 0;
		start_line(ps);
		if (ps->stop)
			return NULL;
		if (in_block(ps)) {
			/* a line of a block stands for itself, not for inih */
			ps->pos = ps->eol;
			ps->at_bol = 1;
			strcpy(str, "\n");
			return str;
		}
	}
	n = ps->eol - ps->pos;
	if (n > (size_t)num - 1)
		n = (size_t)num - 1;
	memcpy(str, ps->text + ps->pos, n);
	str[n] = '\0';
	ps->pos += n;
	if (ps->pos == ps->eol)
		ps->at_bol = 1;
	return str;
}

static int
conf_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct parse *ps = user;
	struct conf_section *s = ps->cur;
	struct conf_kv *kv;
	char label[160], shown[80];
	size_t i, n;

	(void)section;
	if (ps->stop)
		return 0;
	if (ps->kind == LINE_CONT) {
		kv = &s->kv[s->nkv - 1];
		n = strlen(kv->value);
		kv->value = xrealloc(kv->value, n + strlen(value) + 2);
		kv->value[n] = '\n';
		strcpy(kv->value + n + 1, value);
		return 1;
	}
	if (ps->kind != LINE_KEY) {
		perr(ps, "cannot parse this line");
		return 0;
	}
	if (s == NULL) {
		conf_excerpt(name, shown, sizeof(shown));
		perr(ps, "key '%s' before any section header", shown);
		return 0;
	}
	if (*name == '\0') {
		conf_label(s, label, sizeof(label));
		perr(ps, "%s: missing key name before '='", label);
		return 0;
	}
	for (i = 0; i < s->nkv; i++) {
		if (strcmp(s->kv[i].key, name) == 0) {
			conf_label(s, label, sizeof(label));
			conf_excerpt(name, shown, sizeof(shown));
			perr(ps, "%s: duplicate key '%s'", label, shown);
			return 0;
		}
	}
	s->kv = grow(s->kv, s->nkv, sizeof(*s->kv));
	kv = &s->kv[s->nkv++];
	kv->key = xstrdup(name);
	if (ps->hd_value != NULL) {
		kv->value = ps->hd_value;
		ps->hd_value = NULL;
	} else
		kv->value = xstrdup(value);
	kv->line = ps->lineno;
	kv->file = ps->file;
	return 1;
}

/* The text of line n, for messages about lines inih rejected. */
static void
line_excerpt(const char *text, int n, char *buf, size_t len)
{
	const char *p = text, *e;
	char *raw;
	int i;

	for (i = 1; i < n && p != NULL; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (p == NULL) {
		snprintf(buf, len, "?");
		return;
	}
	e = strchr(p, '\n');
	raw = e ? xstrndup(p, (size_t)(e - p)) : xstrdup(p);
	conf_excerpt(strtrim(raw), buf, len);
	free(raw);
}

static void
drove_merge(struct conf_section *dst, struct conf_section *src)
{
	struct conf_kv *kv;
	size_t i, j;

	for (i = 0; i < src->nkv; i++) {
		kv = &src->kv[i];
		for (j = 0; j < dst->nkv; j++)
			if (strcmp(dst->kv[j].key, kv->key) == 0)
				break;
		if (j == dst->nkv) {
			dst->kv = grow(dst->kv, dst->nkv, sizeof(*dst->kv));
			dst->nkv++;
		} else
			kv_release(&dst->kv[j]);
		dst->kv[j] = *kv;
	}
	/* the kv strings moved to dst */
	src->nkv = 0;
	section_free(src);
}

/* Moves the sections of one parsed file into c (see conf.h). */
static void
adopt(struct conf *c, struct conf_section **sec, size_t nsec)
{
	struct conf_section *old;
	size_t i, j;

	for (i = 0; i < nsec; i++) {
		old = NULL;
		if (idx_get(&c->idx, sec[i]->type, sec[i]->name, &j))
			old = c->sec[j];
		if (old != NULL && strcmp(old->type, "drove") == 0) {
			drove_merge(old, sec[i]);
		} else if (old != NULL) {
			/* the later file wins; it keeps the earlier place */
			section_free(old);
			c->sec[j] = sec[i];
		} else {
			c->sec = grow(c->sec, c->nsec, sizeof(*c->sec));
			idx_put(&c->idx, sec[i]->type, sec[i]->name, c->nsec);
			c->sec[c->nsec++] = sec[i];
		}
	}
}

static void
set_knobs(void)
{
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = CONF_MAX_LINE;
	ini_allow_inline_comments = false;
	ini_allow_multiline = true;
	ini_allow_bom = true;
	ini_allow_no_value = false;
	ini_stop_on_first_error = true;
	ini_start_comment_prefixes = ";#";
}

int
conf_load_string(struct conf *c, const char *name, const char *text,
    char *err, size_t errlen)
{
	struct parse ps;
	size_t i;
	int rc;

	memset(&ps, 0, sizeof(ps));
	ps.file = xstrdup(name);
	ps.text = text;
	ps.len = strlen(text);
	ps.at_bol = 1;
	ps.err = err;
	ps.errlen = errlen;
	errf(err, errlen, "%s", "");

	set_knobs();
	rc = ini_parse_stream(conf_reader, &ps, conf_handler, &ps);
	if (!ps.stop && rc > 0) {
		char shown[80];

		line_excerpt(text, rc, shown, sizeof(shown));
		errf(err, errlen, "%s:%d: expected 'key = value', "
		    "'[section]' or a comment, not '%s'", name, rc, shown);
	} else if (!ps.stop && rc < 0) {
		errf(err, errlen, "%s: out of memory", name);
	}
	free(ps.hd_value);
	if (ps.stop || rc != 0) {
		for (i = 0; i < ps.nsec; i++)
			section_free(ps.sec[i]);
		free(ps.sec);
		strmap_release(&ps.idx);
		free(ps.file);
		return DROVE_EINVAL;
	}
	c->files = xrealloc(c->files, (c->nfiles + 1) * sizeof(*c->files));
	c->files[c->nfiles++] = ps.file;
	if (c->nsec == 0) {
		/* the first file with sections: they and their index are
		 * the configuration's as they stand, no one-by-one moves */
		free(c->sec);
		strmap_release(&c->idx);
		c->sec = ps.sec;
		c->nsec = ps.nsec;
		c->idx = ps.idx;
		return 0;
	}
	adopt(c, ps.sec, ps.nsec);
	free(ps.sec);
	strmap_release(&ps.idx);
	return 0;
}

int
conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int rc;

	/* a pipe is fine (drove run <(gen)); /dev/zero stops at the cap */
	rc = read_file_max(path, DROVE_FILE_MAX, 0, &text, &len);
	if (rc == -EFBIG) {
		errf(err, errlen, "'%s' is larger than %zu MiB", path,
		    DROVE_FILE_MAX >> 20);
		return DROVE_EINVAL;
	}
	if (rc < 0) {
		errf(err, errlen, "cannot open '%s': %s", path, strerror(-rc));
		return DROVE_EIO;
	}
	if (memchr(text, '\0', len) != NULL) {
		const char *z = memchr(text, '\0', len);
		size_t i;
		int line = 1;

		for (i = 0; text + i < z; i++)
			if (text[i] == '\n')
				line++;
		errf(err, errlen, "%s:%d: NUL byte in a text file", path,
		    line);
		free(text);
		return DROVE_EINVAL;
	}
	rc = conf_load_string(c, path, text, err, errlen);
	free(text);
	return rc;
}

struct conf_section *
conf_find(const struct conf *c, const char *type, const char *name)
{
	size_t i;

	if (idx_get(&c->idx, type, name, &i))
		return c->sec[i];
	return NULL;
}

const struct conf_kv *
conf_get_kv(const struct conf_section *s, const char *key)
{
	size_t i;

	if (s == NULL || key == NULL)
		return NULL;
	/* the first byte settles most misses without a call */
	for (i = 0; i < s->nkv; i++)
		if (s->kv[i].key[0] == key[0] &&
		    strcmp(s->kv[i].key, key) == 0)
			return &s->kv[i];
	return NULL;
}

const char *
conf_get(const struct conf_section *s, const char *key)
{
	const struct conf_kv *kv = conf_get_kv(s, key);

	return kv ? kv->value : NULL;
}

void
conf_where(const struct conf_section *s, const char *key, char *buf,
    size_t len)
{
	const struct conf_kv *kv = conf_get_kv(s, key);

	if (kv != NULL)
		snprintf(buf, len, "%s:%d", kv->file, kv->line);
	else
		snprintf(buf, len, "%s:%d", s->file, s->line);
}

/* "file:line: SECTION: bad value 'v' for 'key' (expected ...)" */
static int
bad_value(const struct conf_section *s, const struct conf_kv *kv,
    char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
bad_value(const struct conf_section *s, const struct conf_kv *kv,
    char *err, size_t errlen, const char *fmt, ...)
{
	char label[160], shown[80], why[160];
	va_list ap;

	conf_label(s, label, sizeof(label));
	conf_excerpt(kv->value, shown, sizeof(shown));
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	errf(err, errlen, "%s:%d: %s: bad value '%s' for '%s' (%s)",
	    kv->file, kv->line, label, shown, kv->key, why);
	return DROVE_EINVAL;
}

int
conf_get_long(const struct conf_section *s, const char *key, long def,
    long min, long max, long *out, char *err, size_t errlen)
{
	const struct conf_kv *kv = conf_get_kv(s, key);
	char *end;
	long v;

	if (kv == NULL) {
		*out = def;
		return 0;
	}
	errno = 0;
	v = strtol(kv->value, &end, 10);
	if (kv->value[0] == '\0' || isspace((unsigned char)kv->value[0]) ||
	    *end != '\0' || errno == ERANGE || v < min || v > max)
		return bad_value(s, kv, err, errlen,
		    "expected an integer from %ld to %ld", min, max);
	*out = v;
	return 0;
}

int
conf_get_double(const struct conf_section *s, const char *key,
    double def, double min, double max, double *out, char *err,
    size_t errlen)
{
	const struct conf_kv *kv = conf_get_kv(s, key);
	char *end;
	double v;

	if (kv == NULL) {
		*out = def;
		return 0;
	}
	errno = 0;
	v = strtod(kv->value, &end);
	if (kv->value[0] == '\0' || isspace((unsigned char)kv->value[0]) ||
	    *end != '\0' || errno == ERANGE || !isfinite(v) || v < min ||
	    v > max)
		return bad_value(s, kv, err, errlen,
		    "expected a number from %g to %g", min, max);
	*out = v;
	return 0;
}

int
conf_get_duration(const struct conf_section *s, const char *key,
    double def, double min, double max, double *out, char *err,
    size_t errlen)
{
	const struct conf_kv *kv = conf_get_kv(s, key);
	double v;

	if (kv == NULL) {
		*out = def;
		return 0;
	}
	if (parse_duration(kv->value, &v) < 0 || v < min || v > max)
		return bad_value(s, kv, err, errlen,
		    "expected a duration from %.0f to %.0f seconds: 90, 90s, "
		    "5m or 1h", min, max);
	*out = v;
	return 0;
}

int
conf_get_size(const struct conf_section *s, const char *key, uint64_t def,
    uint64_t min, uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	const struct conf_kv *kv = conf_get_kv(s, key);
	uint64_t v;

	if (kv == NULL) {
		*out = def;
		return 0;
	}
	if (parse_size(kv->value, &v) < 0 || v < min || v > max)
		return bad_value(s, kv, err, errlen,
		    "expected a size from %llu to %lluT: bytes, or a number "
		    "with K, M, G or T (powers of 1024), like 512M or 1.5G",
		    (unsigned long long)min, (unsigned long long)(max >> 40));
	*out = v;
	return 0;
}

int
conf_get_bool(const struct conf_section *s, const char *key, int def,
    int *out, char *err, size_t errlen)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	const struct conf_kv *kv = conf_get_kv(s, key);
	size_t i;

	if (kv == NULL) {
		*out = def;
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(kv->value, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(kv->value, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return bad_value(s, kv, err, errlen,
	    "expected true or false, yes or no, on or off, 1 or 0");
}

int
conf_check_keys(const struct conf_section *s, char *err, size_t errlen, ...)
{
	const char *const *list;
	char label[160], shown[80];
	size_t i, j;
	va_list ap;
	int found;

	for (i = 0; i < s->nkv; i++) {
		found = 0;
		va_start(ap, errlen);
		while (!found &&
		    (list = va_arg(ap, const char *const *)) != NULL) {
			for (j = 0; list[j] != NULL; j++) {
				if (strcmp(list[j], s->kv[i].key) == 0) {
					found = 1;
					break;
				}
			}
		}
		va_end(ap);
		if (!found) {
			conf_label(s, label, sizeof(label));
			conf_excerpt(s->kv[i].key, shown, sizeof(shown));
			errf(err, errlen, "%s:%d: %s: unknown key '%s'",
			    s->kv[i].file, s->kv[i].line, label, shown);
			return DROVE_EINVAL;
		}
	}
	return 0;
}
