/* Admission by memory (see memadmit.h). */
#include "memadmit.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "quota.h"
#include "util.h"

/* /proc/meminfo's MemTotal and MemAvailable in bytes; -1 when it has
 * not both (no /proc, a kernel before 3.14). */
static int
read_meminfo(uint64_t *total, uint64_t *avail)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	unsigned long long kb;
	int have = 0;

	if (f == NULL)
		return -1;
	while (have != 3 && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) {
			*total = (uint64_t)kb * 1024;
			have |= 1;
		} else if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
			*avail = (uint64_t)kb * 1024;
			have |= 2;
		}
	}
	fclose(f);
	return have == 3 ? 0 : -1;
}

int
memadmit_read(uint64_t *total, uint64_t *avail)
{
	long pages, psize;

	if (read_meminfo(total, avail) == 0)
		return 0;
	pages = sysconf(_SC_PHYS_PAGES);
	psize = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || psize <= 0)
		return DROVE_EIO;
	*total = (uint64_t)pages * (uint64_t)psize;
	*avail = *total;
#ifdef _SC_AVPHYS_PAGES
	pages = sysconf(_SC_AVPHYS_PAGES);
	if (pages > 0)
		*avail = (uint64_t)pages * (uint64_t)psize;
#endif
	return 0;
}

void
memadmit_pass(struct memadmit *m)
{
	m->fresh = 0;
}

/* Whether section s's agents run on this machine: not when a launcher
 * runs them elsewhere (launch.c), where mem is the scheduler's to admit
 * (slurm's --mem). */
static int
runs_here(const struct conf_section *s)
{
	const char *l = s != NULL ? conf_get(s, "launcher") : NULL;

	return l == NULL || *l == '\0' || strcmp(l, "local") == 0;
}

int
memadmit_allows(struct memadmit *m, const struct backend *bev, size_t n,
    const struct backend *b, uint64_t *room)
{
	uint64_t held = 0, total;

	if (b->lim.mem_bytes == 0 || !runs_here(b->sec))
		return 1;
	/* one look a pass: the agents started in it have not taken their
	 * memory yet, their reservations stand for it */
	if (!m->fresh) {
		if (memadmit_read(&total, &m->avail) < 0)
			m->avail = UINT64_MAX;
		m->fresh = 1;
	}
	for (size_t i = 0; i < n; i++)
		if (runs_here(bev[i].sec))
			held += (uint64_t)bev[i].inflight *
			    bev[i].lim.mem_bytes;
	*room = m->avail > held ? m->avail - held : 0;
	return *room >= b->lim.mem_bytes;
}

uint64_t
memadmit_wait_ms(uint64_t wait_ms)
{
	return wait_ms > 0 && wait_ms < MEMADMIT_RECHECK_MS ? wait_ms :
	    MEMADMIT_RECHECK_MS;
}

void
memadmit_format(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "BKMGT";
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) - 1) {
		v /= 1024;
		u++;
	}
	if (u == 0 || v >= 100 || v == (double)(uint64_t)v)
		snprintf(buf, len, "%.0f%c", v, units[u]);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
}

int
memadmit_check(const struct conf_section *s, const char *plugin, char *err,
    size_t errlen)
{
	uint64_t mem, total, avail;
	char where[256], label[160], want[32], have[32];
	int rc;

	rc = quota_be_mem(s, &mem, err, errlen);
	if (rc < 0 || mem == 0)
		return rc;
	conf_where(s, "mem", where, sizeof(where));
	conf_label(s, label, sizeof(label));
	if (strcmp(plugin, "exec") != 0) {
		errf(err, errlen, "%s: %s: 'mem' is for exec backends, whose "
		    "agents run as processes here; a '%s' backend's calls "
		    "take no memory of this machine", where, label, plugin);
		return DROVE_EINVAL;
	}
	if (runs_here(s) && memadmit_read(&total, &avail) == 0 &&
	    mem > total) {
		memadmit_format(mem, want, sizeof(want));
		memadmit_format(total, have, sizeof(have));
		errf(err, errlen, "%s: %s: mem = %s is more than this "
		    "machine's memory (%s): none of its agents could ever "
		    "start", where, label, want, have);
		return DROVE_EINVAL;
	}
	return 0;
}
