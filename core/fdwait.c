#include "fdwait.h"

#include "util.h"

int
fdwait_hold(struct fdwait *w, long running, int quiet)
{
	if (running <= 0)
		return 0;
	w->cap = running;
	if (!w->told && !quiet)
		log_info("out of file descriptors (ulimit -n): %ld agents at "
		    "a time for now; the rest wait their turn", running);
	w->told = 1;
	return 1;
}

int
fdwait_allows(const struct fdwait *w, long running)
{
	return w->cap == 0 || running < w->cap;
}

void
fdwait_ended(struct fdwait *w)
{
	/* a descriptor freed elsewhere is found again, one call at a time */
	if (w->cap > 0)
		w->cap++;
}
