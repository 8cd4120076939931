#include "plan.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
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
    "prompt = <<END\n"
    "the full instruction for this agent, on as many lines as it needs,\n"
    "written exactly as the agent should read it\n"
    "END\n"
    "after = OTHER, ANOTHER\n"
    "writes = src/parser.c, tests/**\n"
    "\n"
    "Rules:\n"
    "- one [task NAME] section per task; NAME is unique, at most 100 "
    "characters,\n"
    "  made of [A-Za-z0-9_.-]+\n"
    "- prompt = is required; the prompt is every line after \"prompt = "
    "<<END\" up to\n"
    "  the line holding only END; a one-line prompt may follow "
    "\"prompt = \" directly\n"
    "- after = (tasks that must finish first) and writes = (the files or "
    "globs the\n"
    "  task creates or edits; tasks whose globs overlap run one after the "
    "other)\n"
    "  are optional; use no other keys\n"
    "- {{NAME}} inside a prompt inserts task NAME's output there and makes "
    "the task\n"
    "  wait for NAME; for a literal {{ write {{{{\n"
    "- no dependency cycles\n"
    "- no [drove] or [backend] sections and no backend = lines\n"
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

int
plan_ask(const struct conf_section *s, const struct drove_plugin *p,
    const char *prompt, int attempt, char **answer, size_t *len, char *err,
    size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	struct host_env host = { 0 };
	struct drove_call call;
	struct call_answer a;
	char *stderr_path;
	char msg[512] = "", where[256];
	void *state = NULL;
	int fd, rc;

	memset(&a, 0, sizeof(a));
	host.loop = loop_new();
	if (host.loop == NULL) {
		errf(err, errlen, "cannot create the event loop");
		return DROVE_EIO;
	}
	host_bind_legacy(&host);
	rc = p->backend->open(host_get(), (const struct drove_conf *)s,
	    &state, msg, sizeof(msg));
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
	memset(&call, 0, sizeof(call));
	call.size = sizeof(call);
	call.task = "plan";
	call.attempt = attempt;
	call.prompt = prompt;
	call.prompt_len = strlen(prompt);
	call.stderr_path = fd >= 0 ? stderr_path : NULL;
	rc = call_once(&host, p, state, &call, 1, &a);
	if (p->backend->close)
		p->backend->close(state);
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
	} else if (a.text == NULL || a.len == 0) {
		errf(err, errlen, "backend '%s': empty answer", s->name);
		rc = DROVE_EPROTO;
	} else {
		*answer = a.text;
		*len = a.len;
		a.text = NULL;
	}
out:
	free(a.text);
	host_env_release(&host);
	loop_free(host.loop);
	return rc;
}
