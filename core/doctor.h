/*
 * drove doctor: one line per configured backend saying whether it can
 * work: key present (never shown), CA bundle found, DNS, TCP and TLS
 * connect, and with probe a one-token request through the backend itself.
 */
#ifndef DROVE_DOCTOR_H
#define DROVE_DOCTOR_H

#include "conf.h"
#include "registry.h"

/* Checks every [backend] of c; prints to stdout.  Returns 0 when every
 * line is ok, else 1.  Borrows everything. */
int doctor_run(const struct conf *c, const struct registry *reg, int probe);

#endif /* DROVE_DOCTOR_H */
