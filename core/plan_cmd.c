/*
 * drove plan: pick the planning backend, ask it (plan.c), check the
 * answer as untrusted input, and write the task file.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "drove/plugin.h"
#include "plan.h"
#include "sched.h"
#include "setup.h"
#include "util.h"

static int
exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int
in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

/* The backend named name, else [drove] backend, else the only one. */
static const struct conf_section *
plan_pick_backend(const struct conf *c, const char *name, char *err,
    size_t errlen)
{
	const struct conf_section *d = conf_find(c, "drove", ""), *only = NULL;
	const char *how = "-b";
	struct buf names = BUF_INIT;
	size_t n = 0;

	if (name == NULL && d != NULL && conf_get(d, "backend") != NULL) {
		name = conf_get(d, "backend");
		how = "[drove] backend";
	}
	for (size_t i = 0; i < c->nsec; i++) {
		if (strcmp(c->sec[i]->type, "backend") != 0)
			continue;
		if (name != NULL && strcmp(c->sec[i]->name, name) == 0) {
			buf_release(&names);
			return c->sec[i];
		}
		buf_printf(&names, "%s%s", n ? ", " : "", c->sec[i]->name);
		only = c->sec[i];
		n++;
	}
	if (n == 0)
		errf(err, errlen, "plan: no backend is configured: define a "
		    "[backend NAME] section in drove.ini (or name a "
		    "configuration with -c)");
	else if (name != NULL)
		errf(err, errlen, "plan: unknown backend '%s' (from %s); the "
		    "configured ones: %s", name, how, buf_str(&names));
	else if (n > 1)
		errf(err, errlen, "plan: %zu backends are configured (%s): "
		    "say which plans with -b NAME", n, buf_str(&names));
	buf_release(&names);
	return name == NULL && n == 1 ? only : NULL;
}

/*
 * A planned file holds only what the planning prompt asks for: [task]
 * sections with prompt, after and writes.  No file to read or write, no
 * command, no backend: checked on the answer alone, before anything of it
 * is loaded.  Returns 0, or -1 with "file:line: ..." in err.
 */
static int
plan_check_answer(const char *name, const char *text, char *err,
    size_t errlen)
{
	static const char *const plan_keys[] = { "prompt", "after", "writes",
		NULL };
	const struct conf_section *sec;
	const struct conf_kv *kv;
	char label[160], shown[80];
	struct conf c;
	int rc = 0;

	conf_init(&c);
	if (conf_load_string(&c, name, text, err, errlen) < 0)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < c.nsec; i++) {
		sec = c.sec[i];
		if (strcmp(sec->type, "task") != 0) {
			errf(err, errlen, "%s:%d: [%s%s%s]: only [task NAME] "
			    "sections belong in the file", sec->file,
			    sec->line, sec->type, *sec->name ? " " : "",
			    sec->name);
			rc = -1;
			break;
		}
		for (size_t k = 0; k < sec->nkv; k++) {
			kv = &sec->kv[k];
			if (in_list(plan_keys, kv->key))
				continue;
			conf_label(sec, label, sizeof(label));
			conf_excerpt(kv->key, shown, sizeof(shown));
			errf(err, errlen, "%s:%d: %s: %s key '%s' (a planned "
			    "task may use only prompt, after and writes)",
			    kv->file, kv->line, label,
			    graph_is_task_key(kv->key) ? "forbidden" :
			    "unknown", shown);
			rc = -1;
			break;
		}
	}
	conf_release(&c);
	return rc;
}

/*
 * Loads text as a task file named name against the configuration, with
 * backend as the default backend, into s.  With answer_only, text must
 * pass plan_check_answer first.  Returns 0, or -1 with the reason in err
 * and s released.
 */
static int
plan_check(struct setup *s, const char *name, const char *text,
    const char *backend, const char *config, int answer_only, char *err,
    size_t errlen)
{
	if (answer_only && plan_check_answer(name, text, err, errlen) < 0)
		return -1;
	if (setup_build(s, NULL, name, text, backend, config, err,
	    errlen) < 0)
		return -1;
	return 0;
}

/* Writes data to path atomically; unless force, never over an existing
 * file.  Returns 0 or -errno. */
static int
write_new_file(const char *path, const char *data, size_t len, int force)
{
	return force ? write_file_atomic(path, data, len) :
	    write_file_new(path, data, len);
}

/* The file drove plan writes: a comment with the goal, the tasks'
 * backend, then the answer's tasks.  The caller frees. */
static char *
plan_file_text(const char *goal, const char *planner, const char *backend,
    const char *tasks)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "; written by 'drove plan' with backend '%s' for the "
	    "goal:\n;   ", planner);
	for (const char *p = goal; *p; p++) {
		buf_addc(&b, *p);
		if (*p == '\n' && p[1] != '\0')
			buf_adds(&b, ";   ");
	}
	buf_printf(&b, "\n\n[drove]\nbackend = %s\n\n%s", backend, tasks);
	return buf_detach(&b, NULL);
}

static void
plan_usage(FILE *f)
{
	fprintf(f,
	    "usage: drove plan \"GOAL\" [-b BACKEND] [-o FILE.ini] [--force]\n"
	    "                  [--task-backend NAME] [-c CONFIG]\n"
	    "  Asks one backend to split GOAL into tasks and writes them as "
	    "a task file.\n"
	    "  The answer must load against the configuration as 'drove "
	    "run' would load\n"
	    "  it, with [task] sections of prompt, after and writes only; if it "
	    "does not,\n"
	    "  the backend is asked once more, with the error.  stderr gets "
	    "the tasks,\n"
	    "  waves and critical path.\n"
	    "  -b, --backend NAME   the backend that plans (default: [drove] "
	    "backend,\n"
	    "                       else the only backend configured)\n"
	    "  --task-backend NAME  the backend the tasks run on (default: "
	    "the one that\n"
	    "                       plans); the file gets [drove] backend = "
	    "NAME\n"
	    "  -o, --output FILE    write the task file there, atomically "
	    "(default: stdout)\n"
	    "  -f, --force          overwrite FILE if it exists\n"
	    "  -c, --config FILE    configuration file (searched as for "
	    "'drove run')\n"
	    "exit status: 0 written, 1 the backend failed or gave no valid "
	    "file (the last\n"
	    "answer is saved and named), 2 usage or config error, 130 "
	    "interrupted.\n");
}

int
cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "backend", required_argument, NULL, 'b' },
		{ "task-backend", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *bname = NULL, *tbname = NULL, *out = NULL;
	const char *goal, *name, *tb;
	const struct conf_section *bsec;
	const struct drove_plugin *p;
	char *prompt, *ask, *answer = NULL, *ini = NULL, *text, *saved;
	struct setup base, s;
	char err[1024], why[1024];
	size_t len;
	int c, force = 0, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "b:o:fc:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': bname = optarg; break;
		case 't': tbname = optarg; break;
		case 'o': out = optarg; break;
		case 'f': force = 1; break;
		case 'c': config = optarg; break;
		case 'h': plan_usage(stdout); return 0;
		default: plan_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc - 1) {
		log_warnx("plan: unexpected argument '%s' (quote the goal: "
		    "drove plan \"GOAL\")", argv[optind + 1]);
		return EXIT_USAGE;
	}
	if (optind != argc - 1 || argv[optind][0] == '\0') {
		plan_usage(stderr);
		return EXIT_USAGE;
	}
	goal = argv[optind];
	if (out != NULL && !force && exists(out)) {
		log_warnx("plan: '%s' exists; use --force to overwrite it",
		    out);
		return EXIT_USAGE;
	}
	if ((rc = setup_load(&base, NULL, config)) != 0)
		return rc;
	if (sched_check_backends(&base.conf, &base.reg, err,
	    sizeof(err)) < 0 ||
	    (bsec = plan_pick_backend(&base.conf, bname, err,
	    sizeof(err))) == NULL) {
		log_warnx("%s", err);
		setup_release(&base);
		return EXIT_USAGE;
	}
	tb = tbname ? tbname : bsec->name;
	if (conf_find(&base.conf, "backend", tb) == NULL) {
		log_warnx("plan: unknown backend '%s' (from --task-backend)",
		    tb);
		setup_release(&base);
		return EXIT_USAGE;
	}
	p = registry_find(&base.reg, DROVE_PLUGIN_BACKEND,
	    conf_get(bsec, "type"));
	/* how errors name the planned file: stdout has no file name */
	name = out ? out : "the plan";
	prompt = plan_prompt(goal);
	ask = xstrdup(prompt);
	for (int attempt = 1;; attempt++) {
		log_info("plan: asking backend '%s'%s", bsec->name,
		    attempt > 1 ? " again" : "");
		free(answer);
		answer = NULL;
		rc = plan_ask(bsec, p, ask, attempt, &answer, &len, err,
		    sizeof(err));
		if (rc < 0) {
			if (rc != DROVE_ECANCELED)
				log_warnx("plan: %s", err);
			rc = rc == DROVE_ECANCELED ? EXIT_INTERRUPTED :
			    EXIT_TASK_FAILED;
			goto done;
		}
		free(ini);
		ini = plan_extract(answer, len);
		if (ini == NULL)
			errf(why, sizeof(why), "no line starts with '[': "
			    "there are no sections");
		else if (plan_check(&s, name, ini, tb, config, 1, why,
		    sizeof(why)) == 0)
			break;
		if (attempt == 2) {
			saved = xasprintf("%s.rejected", out ? out :
			    "drove-plan");
			if (write_file_atomic(saved, answer, len) < 0)
				log_warn("plan: cannot save the answer in "
				    "'%s'", saved);
			log_warnx("plan: no valid task file from backend '%s' "
			    "in two answers: %s (the last answer is in '%s')",
			    bsec->name, why, saved);
			free(saved);
			rc = EXIT_TASK_FAILED;
			goto done;
		}
		log_warnx("plan: the answer is not a valid task file: %s",
		    why);
		free(ask);
		ask = plan_retry_prompt(prompt, answer, why);
	}
	setup_release(&s);
	/* the file as written must load as well */
	text = plan_file_text(goal, bsec->name, tb, ini);
	if (plan_check(&s, name, text, NULL, config, 0, why,
	    sizeof(why)) < 0) {
		log_warnx("plan: %s", why);
		rc = EXIT_TASK_FAILED;
	} else {
		graph_print_text(stderr, &s.graph, name, 0);
		setup_release(&s);
		rc = 0;
		if (out == NULL) {
			fputs(text, stdout);
			if (fflush(stdout) == EOF) {
				log_warn("plan: cannot write to stdout");
				rc = EXIT_TASK_FAILED;
			}
		} else if ((c = write_new_file(out, text, strlen(text),
		    force)) < 0) {
			log_warnx("plan: cannot write '%s': %s", out,
			    strerror(-c));
			rc = c == -EEXIST ? EXIT_USAGE : EXIT_TASK_FAILED;
		}
	}
	free(text);
done:
	free(prompt);
	free(ask);
	free(answer);
	free(ini);
	setup_release(&base);
	return rc;
}
