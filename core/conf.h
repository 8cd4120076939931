/*
 * INI configuration: sections of key = value pairs, each remembered with
 * its file and line.  Parsing goes through inih with the runtime knobs set
 * for long lines, no inline comments and joined continuation lines.
 *
 * Section headers: [drove], [backend NAME], [task NAME], [plugin NAME].
 * Anything else is a load error with file:line.
 */
#ifndef DROVE_CONF_H
#define DROVE_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "strmap.h"

struct conf_kv {
	char *key;
	char *value;		/* continuation lines joined with "\n" */
	int line;		/* line of the key */
	const char *file;	/* file of the key (borrowed from struct conf);
				 * differs from the section's in a merged
				 * [drove] */
};

struct conf_section {
	char *type;		/* "drove", "backend", "task", "plugin" */
	char *name;		/* "" for [drove] */
	const char *file;	/* borrowed from struct conf */
	int line;		/* line of the header */
	struct conf_kv *kv;
	size_t nkv;
};

struct conf {
	char **files;		/* every file loaded, in order */
	size_t nfiles;
	struct conf_section **sec; /* in load order */
	size_t nsec;
	struct strmap idx;	/* type, NUL, name -> index in sec */
};

void conf_init(struct conf *c);
void conf_release(struct conf *c);

/*
 * Parses the INI file at path and appends its sections.  A section with the
 * type and name of one from an earlier file replaces it (the later file
 * wins); the same section twice in one file, the same key twice in one
 * section, a key before any section, and a malformed header are errors.
 * [drove] sections from several files merge key by key, later files winning.
 * On error returns DROVE_EINVAL (or DROVE_EIO when the file cannot be read)
 * and writes "file:line: message" into err.
 */
int conf_load(struct conf *c, const char *path, char *err, size_t errlen);
/* Same, from a string; name is used in messages as the file name. */
int conf_load_string(struct conf *c, const char *name, const char *text,
    char *err, size_t errlen);

/* The section of that type and name, or NULL.  name "" for [drove]. */
struct conf_section *conf_find(const struct conf *c, const char *type,
    const char *name);
/* Value of key or NULL; the kv (with its line) or NULL. */
const char *conf_get(const struct conf_section *s, const char *key);
const struct conf_kv *conf_get_kv(const struct conf_section *s,
    const char *key);
/* "file:line" for key (or the header when key is NULL or absent). */
void conf_where(const struct conf_section *s, const char *key, char *buf,
    size_t len);

/*
 * Typed lookups.  When the key is absent *out = def and 0 is returned.  A
 * value that is not a number in [min, max] gives DROVE_EINVAL with
 * "file:line: SECTION: bad value 'v' for 'key' (...)" in err.
 */
int conf_get_long(const struct conf_section *s, const char *key, long def,
    long min, long max, long *out, char *err, size_t errlen);
int conf_get_double(const struct conf_section *s, const char *key,
    double def, double min, double max, double *out, char *err,
    size_t errlen);
/* Seconds: "90", "90s", "5m", "1h" (parse_duration) in [min, max]. */
int conf_get_duration(const struct conf_section *s, const char *key,
    double def, double min, double max, double *out, char *err,
    size_t errlen);
/* Bytes: "1048576", "512M", "1.5G" (parse_size) in [min, max]. */
int conf_get_size(const struct conf_section *s, const char *key,
    uint64_t def, uint64_t min, uint64_t max, uint64_t *out, char *err,
    size_t errlen);
/* true/false, yes/no, on/off, 1/0 */
int conf_get_bool(const struct conf_section *s, const char *key, int def,
    int *out, char *err, size_t errlen);

/* Checks every key of s is in allowed (NULL-ended; several lists may be
 * given, the last argument NULL).  Error: "file:line: task 'x': unknown
 * key 'y'". */
int conf_check_keys(const struct conf_section *s, char *err, size_t errlen,
    ...);

/* "task 'x'", "backend 'y'" or "[drove]": how messages name a section. */
void conf_label(const struct conf_section *s, char *buf, size_t len);

/* Copies v into buf for quoting in a one-line message: cut at the first
 * control character (a newline of a joined value) or after 60 bytes, with
 * "..." when shortened. */
void conf_excerpt(const char *v, char *buf, size_t len);

#endif /* DROVE_CONF_H */
