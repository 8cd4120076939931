#include "plan.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "loop.h"
#include "util.h"

/* What the backend is told; the goal follows it. */
static const char plan_instructions[] =
    "Split the goal below into tasks for AI agents that drove, a tool "
    "that runs\n"
    "agents in parallel, will run at the same time wherever it can.  Each "
    "agent sees\n"
    "only its own prompt, so write every prompt as a complete, "
    "self-contained\n"
    "instruction.  Prefer independent tasks; make a task wait for another "
    "only when it\n"
    "needs that task's result or files.\n"
    "\n"
    "Answer with an INI file only: no prose, no Markdown, no code fences.  "
    "Format:\n"
    "\n"
    "[task NAME]\n"
    "prompt = the full instruction for this agent; a longer prompt "
    "continues on\n"
    "  the following lines, each indented by two spaces\n"
    "after = OTHER, ANOTHER\n"
    "writes = src/parser.c, tests/**\n"
    "\n"
    "Rules:\n"
    "- one [task NAME] section per task; NAME is unique and made of "
    "[A-Za-z0-9_.-]+\n"
    "- prompt = is required; after = (tasks that must finish first) and "
    "writes =\n"
    "  (the files or globs the task creates or edits; tasks whose globs "
    "overlap run\n"
    "  one after the other) are optional; use no other keys\n"
    "- {{NAME}} inside a prompt inserts task NAME's output there and makes "
    "the task\n"
    "  wait for NAME; write {{ and }} for nothing else\n"
    "- no dependency cycles\n"
    "- no [drove] or [backend] sections and no backend = lines\n"
    "- no line of a prompt may start with ; or # (that would make it a "
    "comment)\n"
    "\n"
    "The goal:\n";

char *
plan_prompt(const char *goal)
{
	return xasprintf("%s%s\n", plan_instructions, goal);
}

char *
plan_retry_prompt(const char *prompt, const char *answer, const char *why)
{
	return xasprintf("%s\n"
	    "Your previous answer was:\n"
	    "%s\n"
	    "\n"
	    "It is not a valid task file: %s\n"
	    "Answer again with the corrected INI file only.\n",
	    prompt, answer, why);
}

/* The line at p (up to its newline or end) starts with s after blanks. */
static int
line_starts(const char *p, const char *end, const char *s)
{
	size_t n = strlen(s);

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return (size_t)(end - p) >= n && memcmp(p, s, n) == 0;
}

static const char *
line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl : end;
}

/* The first line in [p, end) that starts with '[', or NULL. */
static const char *
first_section(const char *p, const char *end)
{
	for (; p < end; p = line_end(p, end) + 1)
		if (line_starts(p, line_end(p, end), "["))
			return p;
	return NULL;
}

/* The body of the first fenced block holding a '[' line: *b to *e. */
static int
fenced_block(const char *p, const char *end, const char **b, const char **e)
{
	const char *body = NULL;

	for (; p < end; p = line_end(p, end) + 1) {
		const char *le = line_end(p, end);

		if (!line_starts(p, le, "```"))
			continue;
		if (body == NULL) {
			body = le < end ? le + 1 : end;
			continue;
		}
		if (first_section(body, p) != NULL) {
			*b = body;
			*e = p;
			return 1;
		}
		body = NULL;
	}
	/* an unclosed fence runs to the end */
	if (body != NULL && first_section(body, end) != NULL) {
		*b = body;
		*e = end;
		return 1;
	}
	return 0;
}

char *
plan_extract(const char *answer, size_t len)
{
	const char *p = answer, *end = answer + len, *q;
	struct buf b = BUF_INIT;

	if (!fenced_block(answer, end, &p, &end))
		p = answer;
	if ((p = first_section(p, end)) == NULL)
		return NULL;
	for (q = p; q < end; q++) {
		if (*q == '\r' && q + 1 < end && q[1] == '\n')
			continue;
		buf_addc(&b, *q);
	}
	while (b.len > 0 && (b.data[b.len - 1] == '\n' ||
	    b.data[b.len - 1] == ' ' || b.data[b.len - 1] == '\t' ||
	    b.data[b.len - 1] == '\r'))
		b.len--;
	buf_addc(&b, '\n');
	return buf_detach(&b, NULL);
}

/* One call in flight, and how it ended. */
struct ask {
	struct loop *loop;
	const struct drove_plugin *p;
	void *state;
	struct drove_call call;
	int done;
	int status;
	int interrupted;
	struct buf text;
	char err[512];
};

/* host_set_call_done takes no argument: the one call in flight. */
static struct ask *ask_cur;

static void
ask_done(struct drove_call *call, const struct drove_result *r)
{
	struct ask *a = ask_cur;

	(void)call;
	a->done = 1;
	a->status = r->status;
	if (r->status == 0)
		buf_add(&a->text, r->text ? r->text : "", r->text ? r->len : 0);
	else
		errf(a->err, sizeof(a->err), "%s", r->error ? r->error :
		    "the call failed");
	loop_stop(a->loop);
}

static void
ask_signal(struct loop *l, struct loop_signal *s, int signo)
{
	struct ask *a = s->data;

	(void)l;
	(void)signo;
	if (a->interrupted++ == 0 && !a->done && a->p->backend->cancel)
		a->p->backend->cancel(a->state, &a->call);
	else if (a->interrupted > 1)
		_exit(130);
}

int
plan_ask(const struct conf_section *s, const struct drove_plugin *p,
    const char *prompt, int attempt, char **answer, size_t *len, char *err,
    size_t errlen)
{
	struct loop_signal sigint, sigterm;
	const char *tmp = getenv("TMPDIR");
	char *stderr_path;
	char msg[512] = "", where[256];
	struct ask a;
	int fd, rc;

	memset(&a, 0, sizeof(a));
	memset(&sigint, 0, sizeof(sigint));
	memset(&sigterm, 0, sizeof(sigterm));
	a.p = p;
	a.loop = loop_new();
	if (a.loop == NULL) {
		errf(err, errlen, "cannot create the event loop");
		return DROVE_EIO;
	}
	host_set_loop(a.loop);
	rc = p->backend->open(host_get(), (const struct drove_conf *)s,
	    &a.state, msg, sizeof(msg));
	if (rc < 0) {
		conf_where(s, NULL, where, sizeof(where));
		errf(err, errlen, "%s: backend '%s': %s", where, s->name,
		    msg[0] ? msg : "cannot open");
		goto out;
	}
	/* a command's stderr ends up in the error message */
	stderr_path = xasprintf("%s/drove-plan.XXXXXX", tmp && *tmp ? tmp :
	    "/tmp");
	fd = mkstemp(stderr_path);
	if (fd >= 0)
		close(fd);
	a.call.size = sizeof(a.call);
	a.call.task = "plan";
	a.call.attempt = attempt;
	a.call.prompt = prompt;
	a.call.prompt_len = strlen(prompt);
	a.call.stderr_path = fd >= 0 ? stderr_path : NULL;
	loop_signal_start(a.loop, &sigint, SIGINT, ask_signal, &a);
	loop_signal_start(a.loop, &sigterm, SIGTERM, ask_signal, &a);
	ask_cur = &a;
	host_set_call_done(ask_done);
	rc = p->backend->start(a.state, &a.call);
	if (rc == 0)
		while (!a.done)
			loop_run(a.loop);
	host_set_call_done(NULL);
	ask_cur = NULL;
	loop_signal_stop(a.loop, &sigint);
	loop_signal_stop(a.loop, &sigterm);
	if (p->backend->close)
		p->backend->close(a.state);
	if (fd >= 0)
		unlink(stderr_path);
	free(stderr_path);
	if (rc < 0) {
		errf(err, errlen, "backend '%s': the call could not start",
		    s->name);
	} else if (a.interrupted) {
		errf(err, errlen, "interrupted");
		rc = DROVE_ECANCELED;
	} else if (a.status != 0) {
		errf(err, errlen, "backend '%s': %s", s->name, a.err);
		rc = a.status;
	} else {
		*answer = buf_detach(&a.text, len);
		if (*answer == NULL || *len == 0) {
			free(*answer);
			*answer = NULL;
			errf(err, errlen, "backend '%s': empty answer",
			    s->name);
			rc = DROVE_EPROTO;
		}
	}
out:
	buf_release(&a.text);
	host_set_loop(NULL);
	loop_free(a.loop);
	return rc;
}
