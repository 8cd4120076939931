/*
 * Admission by memory: a backend with `mem` reserves that much of the
 * machine's memory for each of its calls in flight (an agent process), and
 * a new call of it starts only while the memory available (MemAvailable in
 * /proc/meminfo) less what drove's calls in flight have reserved covers
 * it.  Memory also frees up outside drove, so while a call waits for
 * memory its owner looks again every MEMADMIT_RECHECK_MS besides each time
 * a call ends.
 */
#ifndef DROVE_MEMADMIT_H
#define DROVE_MEMADMIT_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "conf.h"

#define MEMADMIT_RECHECK_MS 1000

/* One pass of a queue over the machine's memory. */
struct memadmit {
	uint64_t avail;		/* available bytes at the last look */
	int fresh;		/* avail was read in this pass */
};

/*
 * The machine's total and available memory in bytes: /proc/meminfo's
 * MemTotal and MemAvailable, else sysconf's physical and available pages.
 * Returns 0, or DROVE_EIO when neither answers.
 */
int memadmit_read(uint64_t *total, uint64_t *avail);

/* A new pass: the next memadmit_allows reads the memory again. */
void memadmit_pass(struct memadmit *m);

/*
 * 1 when a call of b may start by memory: b reserves none, its agents
 * run elsewhere (a `launcher` other than local: the scheduler admits
 * them by mem), or the memory
 * available less what the calls in flight of bev[0..n) reserve covers
 * b's.  Else 0, with that memory (available less reserved) in *room.
 * On a machine whose memory cannot be read every call may start.
 */
int memadmit_allows(struct memadmit *m, const struct backend *bev, size_t n,
    const struct backend *b, uint64_t *room);

/* When the owner looks again, given its other wait (ms; 0: none): the
 * sooner of that and MEMADMIT_RECHECK_MS. */
uint64_t memadmit_wait_ms(uint64_t wait_ms);

/*
 * The load check of section s's `mem` (its backend's plugin named
 * plugin): a valid size, on an exec backend, at most the machine's total
 * memory (else no call of it could ever start).  Returns 0, or
 * DROVE_EINVAL with "file:line: ..." in err.
 */
int memadmit_check(const struct conf_section *s, const char *plugin,
    char *err, size_t errlen);

/* bytes as "1.5G", "512M", "100K" or "12B" (one decimal at most). */
void memadmit_format(uint64_t bytes, char *buf, size_t len);

#endif /* DROVE_MEMADMIT_H */
