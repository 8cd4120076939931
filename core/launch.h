/*
 * Launchers (ABI 1.6): where an exec backend's agents run.  `launcher =
 * local` (the default) starts them as children of drove through spawn.c;
 * `slurm` (plugins/launcher_slurm.c) or a launcher plugin runs them
 * elsewhere.  This module is the host side: it reads a backend section's
 * launcher keys, opens the launcher, wraps each launch so the calls hear
 * of its job (journal, events, summary.json), ends the jobs a dead drove
 * left on a resume, and runs the launcher's checks for drove doctor.
 */
#ifndef DROVE_LAUNCH_H
#define DROVE_LAUNCH_H

#include <stddef.h>

#include "drove/plugin.h"

struct conf;
struct conf_section;
struct journal;
struct registry;

/* The registry launcher names are looked up in; borrowed for the life of
 * the process (setup.c sets it once the plugins are loaded). */
void launch_use_registry(const struct registry *r);

/* The load check of section s's launcher keys (any backend type):
 * a known launcher, the scheduler's keys only with one, valid values.
 * Returns 0, or DROVE_EINVAL with "file:line: backend 'x': ..." in err. */
int launch_check_conf(const struct conf_section *s, char *err,
    size_t errlen);

/* The host table's launch_open, launch_close, launch, launch_cancel and
 * launch_state (see drove/plugin.h). */
int launch_open(const struct drove_conf *backend, struct drove_launcher **l,
    char *err, size_t errlen);
void launch_close(struct drove_launcher *l);
int launch_start(struct drove_launcher *l, const struct drove_spawn *req,
    void **handle);
void launch_cancel(void *handle);
void launch_state(void *token, const char *job, const char *pending);

/*
 * Before a resume starts anything: the jobs j records as started
 * ({"ev":"job"}) and not ended ({"ev":"job_end"}) are ended through their
 * backend's launcher (c's section of that name), their end journaled, and
 * stderr told how many and whose (owner: the dead drove's pid, or 0).
 * Returns how many, or < 0 with a reason in err: the run must not go on.
 */
int launch_end_orphans(struct journal *j, const struct conf *c, long owner,
    char *err, size_t errlen);

/*
 * drove doctor: whether backend section c's launcher is one that checks
 * (not local) and, if so, its check's verdict.  Returns 0 when there is
 * nothing to check (*checked 0) or the check passed, < 0 when it failed;
 * msg says what was checked or why it failed.
 */
int launch_check(const struct drove_conf *c, const char *workdir,
    int *checked, char *msg, size_t msglen);

#endif /* DROVE_LAUNCH_H */
