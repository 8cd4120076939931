#include "doctor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "argv.h"
#include "call.h"
#include "host.h"
#include "launch.h"
#include "http.h"
#include "loop.h"
#include "tls.h"
#include "util.h"

/* Seconds each network step of a check may take. */
#define DOCTOR_TIMEOUT_S 10

struct check {
	struct loop *loop;
	struct host_env host;	/* the loop's HTTP client, for plugins too */
	int done;
	int err;
	int status;
	char errtext[512];
};

/* The key variable and base URL an API backend uses by default, from its
 * descriptor; 0 when it names neither (not an API backend). */
static int
api_defaults(const struct drove_plugin *p, const char **key_env,
    const char **url, int *key_required)
{
	*key_env = registry_default_key_env(p, key_required);
	*url = registry_default_base_url(p);
	return *key_env != NULL && *url != NULL;
}

static void
on_head(void *arg, int status, const struct drove_http_header *h, size_t n)
{
	struct check *ck = arg;

	(void)h;
	(void)n;
	ck->status = status;
}

static void
on_done(void *arg, int err, const char *errtext)
{
	struct check *ck = arg;

	ck->done = 1;
	ck->err = err;
	if (err)
		errf(ck->errtext, sizeof(ck->errtext), "%s", errtext);
	loop_stop(ck->loop);
}

/* Which step a connection error belongs to. */
static const char *
step_of(int err)
{
	switch (err) {
	case DROVE_EDNS:
		return "DNS";
	case DROVE_ETLS:
		return "TLS";
	case DROVE_ECONNREFUSED:
		return "TCP";
	case DROVE_ETIMEDOUT:
		return "connect";
	default:
		return "HTTP";
	}
}

/* DNS, TCP and TLS to url: any HTTP answer means all three work. */
static int
check_connect(struct check *ck, const char *url, const char *ca_file,
    char *msg, size_t len)
{
	struct drove_http_req req;
	struct http_req *q;
	char err[512];

	memset(&req, 0, sizeof(req));
	req.size = sizeof(req);
	req.method = "GET";
	req.url = url;
	req.ca_file = ca_file;
	req.connect_timeout_s = DOCTOR_TIMEOUT_S;
	req.tls_timeout_s = DOCTOR_TIMEOUT_S;
	req.first_byte_timeout_s = DOCTOR_TIMEOUT_S;
	req.idle_timeout_s = DOCTOR_TIMEOUT_S;
	req.on_head = on_head;
	req.on_done = on_done;
	req.arg = ck;
	ck->done = 0;
	ck->status = 0;
	if (http_request(host_env_http(&ck->host), &req, &q, err,
	    sizeof(err)) < 0) {
		errf(msg, len, "%s", err);
		return -1;
	}
	while (!ck->done)
		loop_run(ck->loop);
	if (ck->err && ck->status == 0) {
		errf(msg, len, "%s: %s", step_of(ck->err), ck->errtext);
		return -1;
	}
	return 0;
}

/* A one-token call through the backend plugin itself. */
static int
check_probe(struct check *ck, const struct conf_section *s,
    const struct drove_plugin *p, char *msg, size_t len)
{
	struct drove_call call;
	struct call_answer a;
	void *state = NULL;
	char err[512] = "";
	int rc;

	rc = p->backend->open(host_get(), (const struct drove_conf *)s,
	    &state, err, sizeof(err));
	if (rc < 0) {
		errf(msg, len, "probe: %s", err);
		return -1;
	}
	memset(&call, 0, sizeof(call));
	call.size = sizeof(call);
	call.task = "doctor";
	call.attempt = 1;
	call.prompt = "Reply with the single word: ok";
	call.prompt_len = strlen(call.prompt);
	call.max_tokens = 1;
	call.timeout_s = 60;
	rc = call_once(&ck->host, p, state, &call, 0, &a);
	free(a.text);
	if (p->backend->close)
		p->backend->close(state);
	if (rc < 0) {
		errf(msg, len, "probe: the call could not start");
		return -1;
	}
	if (a.status != 0) {
		errf(msg, len, "probe: %s", a.err);
		return -1;
	}
	return 0;
}

/* An exec backend: its command can be found. */
static int
check_exec(const struct conf_section *s, char *msg, size_t len)
{
	const char *cmd = conf_get(s, "command");
	char err[256], **av, *path, *p, *dir;
	int found = 0;

	if (cmd == NULL) {
		errf(msg, len, "no 'command'");
		return -1;
	}
	av = argv_split(cmd, err, sizeof(err));
	if (av == NULL || av[0] == NULL) {
		errf(msg, len, "command: %s", av ? "empty" : err);
		free(av);
		return -1;
	}
	if (strchr(av[0], '/')) {
		found = access(av[0], X_OK) == 0;
	} else {
		path = xstrdup(getenv("PATH") ? getenv("PATH") :
		    "/usr/bin:/bin");
		for (p = path; !found && (dir = strsep(&p, ":")) != NULL;) {
			char *f = xasprintf("%s/%s", *dir ? dir : ".", av[0]);

			found = access(f, X_OK) == 0;
			free(f);
		}
		free(path);
	}
	if (found)
		errf(msg, len, "command '%s' found", av[0]);
	else
		errf(msg, len, "command '%s' not found in PATH (%s)", av[0],
		    getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	free(av);
	return found ? 0 : -1;
}

static int
check_backend(struct check *ck, const struct conf_section *s,
    const struct registry *reg, int probe)
{
	const char *type = conf_get(s, "type");
	const char *key_env, *url, *v, *ca;
	const struct drove_plugin *p;
	struct tls_ctx *tctx;
	struct buf b = BUF_INIT;
	char msg[768], err[512];
	int key_required, rc = 0;

	if (type == NULL) {
		errf(msg, sizeof(msg), "no 'type'");
		rc = -1;
		goto out;
	}
	p = registry_find(reg, DROVE_PLUGIN_BACKEND, type);
	if (p == NULL) {
		errf(msg, sizeof(msg), "unknown type '%s'", type);
		rc = -1;
		goto out;
	}
	if (strcmp(type, "exec") == 0) {
		int checked;

		/* a launcher that runs agents elsewhere checks that place
		 * (slurm: sinfo, the partition, a step that sees the
		 * working directory); the command is looked up there */
		rc = launch_check((const struct drove_conf *)s,
		    conf_get(s, "cwd"), &checked, msg, sizeof(msg));
		if (!checked)
			rc = check_exec(s, msg, sizeof(msg));
		else if (rc < 0)
			rc = -1;
		goto out;
	}
	if (!api_defaults(p, &key_env, &url, &key_required)) {
		if (probe)
			rc = check_probe(ck, s, p, msg, sizeof(msg));
		if (rc == 0)
			errf(msg, sizeof(msg), "plugin type '%s'%s", type,
			    probe ? ", probe answered" : " (nothing else to "
			    "check without --probe)");
		goto out;
	}
	if ((v = conf_get(s, "api_key_env")) != NULL && *v)
		key_env = v;
	if ((v = conf_get(s, "base_url")) != NULL && *v)
		url = v;
	if (getenv(key_env) && *getenv(key_env))
		buf_printf(&b, "key in %s", key_env);
	else if (key_required || conf_get(s, "api_key_env")) {
		errf(msg, sizeof(msg), "no key: %s is not set", key_env);
		rc = -1;
		goto out;
	} else
		buf_printf(&b, "no key (%s not set)", key_env);
	ca = conf_get(s, "ca_file");
	if (strncmp(url, "https://", 8) == 0) {
		if (tls_ctx_new(ca, &tctx, err, sizeof(err)) < 0) {
			errf(msg, sizeof(msg), "%s; CA bundle: %s",
			    buf_str(&b), err);
			rc = -1;
			goto out;
		}
		buf_printf(&b, ", CA bundle %s", tls_ctx_ca_file(tctx));
		tls_ctx_free(tctx);
	}
	if (check_connect(ck, url, ca, err, sizeof(err)) < 0) {
		errf(msg, sizeof(msg), "%s; %s", buf_str(&b), err);
		rc = -1;
		goto out;
	}
	buf_adds(&b, strncmp(url, "https://", 8) == 0 ? ", DNS, TCP and "
	    "TLS connect ok" : ", DNS and TCP connect ok");
	if (probe) {
		if (check_probe(ck, s, p, err, sizeof(err)) < 0) {
			errf(msg, sizeof(msg), "%s; %s", buf_str(&b), err);
			rc = -1;
			goto out;
		}
		buf_adds(&b, ", probe answered");
	}
	errf(msg, sizeof(msg), "%s", buf_str(&b));
out:
	printf("%-16s %-10s %s: %s\n", s->name, type ? type : "?",
	    rc == 0 ? "ok" : "FAILED", msg);
	fflush(stdout);
	buf_release(&b);
	return rc;
}

int
doctor_run(const struct conf *c, const struct registry *reg, int probe)
{
	struct check ck;
	size_t n = 0;
	int bad = 0;

	memset(&ck, 0, sizeof(ck));
	ck.loop = loop_new();
	if (ck.loop == NULL) {
		log_warn("cannot create the event loop");
		return 1;
	}
	ck.host.loop = ck.loop;
	host_bind_legacy(&ck.host);
	/* plugin files that did not load: each is a failed line */
	for (size_t i = 0; i < reg->nfail; i++) {
		printf("%-16s %-10s FAILED: %s\n", *reg->fail[i].name ?
		    reg->fail[i].name : "-", "plugin", reg->fail[i].reason);
		bad++;
	}
	for (size_t i = 0; i < c->nsec; i++) {
		if (strcmp(c->sec[i]->type, "backend") != 0)
			continue;
		n++;
		if (check_backend(&ck, c->sec[i], reg, probe) < 0)
			bad++;
	}
	host_env_release(&ck.host);
	loop_free(ck.loop);
	if (n == 0) {
		printf("no [backend] sections: nothing to check\n");
		return 1;
	}
	return bad ? 1 : 0;
}
