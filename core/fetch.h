/* drove fetch: one HTTP(S) request from the command line. */
#ifndef DROVE_FETCH_H
#define DROVE_FETCH_H

/* argv[0] is "fetch".  Returns the exit code: 0 success, 1 the request
 * failed (one line on stderr names the cause), 2 usage. */
int cmd_fetch(int argc, char **argv);

#endif /* DROVE_FETCH_H */
