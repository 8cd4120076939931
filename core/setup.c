/*
 * Loading for the commands: the configuration file's search path, then
 * plugins, configuration and tasks, then the graph (setup.h).
 */
#include "setup.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "drove/plugin.h"
#include "estimate.h"
#include "launch.h"
#include "merge.h"
#include "sched.h"
#include "util.h"

const char **setup_plugin_dirs;

static const char *const drove_keys[] = {
	"jobs", "plugin_dir", "backend", "run_dir", "merge_into", "budget_usd",
	"budget_tokens", "allow_outside", "git_timeout", "check",
	"check_timeout", "merge_order", "notify", "notify_timeout",
	"notify_terminal", "notify_terminal_after", "confirm_usd", "max_calls",
	NULL
};

static int
exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The configuration file: -c, $DROVE_CONFIG, ./drove.ini,
 * $XDG_CONFIG_HOME/drove/drove.ini, /etc/drove/drove.ini. */
static char *
find_config(const char *opt, int *explicit)
{
	const char *env = getenv("DROVE_CONFIG"), *xdg, *home;
	char *p;

	*explicit = 1;
	if (opt)
		return xstrdup(opt);
	if (env && *env)
		return xstrdup(env);
	*explicit = 0;
	if (exists("drove.ini"))
		return xstrdup("drove.ini");
	xdg = getenv("XDG_CONFIG_HOME");
	home = getenv("HOME");
	if (xdg && *xdg)
		p = xasprintf("%s/drove/drove.ini", xdg);
	else if (home && *home)
		p = xasprintf("%s/.config/drove/drove.ini", home);
	else
		p = NULL;
	if (p && exists(p))
		return p;
	free(p);
	if (exists("/etc/drove/drove.ini"))
		return xstrdup("/etc/drove/drove.ini");
	return NULL;
}

void
setup_release(struct setup *s)
{
	graph_release(&s->graph);
	conf_release(&s->conf);
	launch_use_registry(NULL);
	registry_release(&s->reg);
	free(s->merges);
	free(s->merge_keys);
}

#if defined(__SANITIZE_ADDRESS__)
#define SETUP_FREE_AT_EXIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SETUP_FREE_AT_EXIT 1
#endif
#endif

void
setup_release_exit(struct setup *s)
{
#ifdef SETUP_FREE_AT_EXIT
	setup_release(s);
#else
	launch_use_registry(NULL);
	registry_release(&s->reg);
#endif
}

int
setup_build(struct setup *s, const char *task_file, const char *name,
    const char *text, const char *default_backend, const char *config,
    char *err, size_t errlen)
{
	const struct conf_section *d;
	struct graph_opts go;
	char *cfg;
	int explicit, rc;

	memset(s, 0, sizeof(*s));
	conf_init(&s->conf);
	registry_init(&s->reg);
	graph_init(&s->graph);
	if (registry_add_builtins(&s->reg, err, errlen) < 0)
		goto fail;
	cfg = find_config(config, &explicit);
	if (cfg && !(task_file && same_file(cfg, task_file))) {
		rc = conf_load(&s->conf, cfg, err, errlen);
		free(cfg);
		if (rc < 0)
			goto fail;
	} else {
		free(cfg);
	}
	if (task_file && conf_load(&s->conf, task_file, err, errlen) < 0)
		goto fail;
	if (text && conf_load_string(&s->conf, name, text, err, errlen) < 0)
		goto fail;
	d = conf_find(&s->conf, "drove", "");
	if (d && conf_check_keys(d, err, errlen, drove_keys,
	    (const char *const *)NULL) < 0)
		goto fail;
	if (registry_load_conf(&s->reg, &s->conf, setup_plugin_dirs, err,
	    errlen) < 0)
		goto fail;
	launch_use_registry(&s->reg);
	if (task_file == NULL && text == NULL)
		return 0;
	/* a plugin that did not load stops only what uses it */
	if (registry_check_uses(&s->reg, &s->conf, err, errlen) < 0)
		goto fail;
	for (size_t i = 0; task_file && i < s->reg.nfail; i++)
		log_warnx("warning: plugin not loaded: %s",
		    s->reg.fail[i].reason);
	if (sched_check_backends(&s->conf, &s->reg, err, errlen) < 0)
		goto fail;
	s->merges = registry_names(&s->reg, DROVE_PLUGIN_MERGE);
	s->merge_keys = registry_merge_keys(&s->reg);
	go.merges = s->merges;
	go.merge_keys = s->merge_keys;
	go.default_backend = default_backend ? default_backend :
	    d ? conf_get(d, "backend") : NULL;
	if (conf_get_bool(d, "allow_outside", 0, &go.allow_outside, err,
	    errlen) < 0)
		goto fail;
	if (graph_build(&s->graph, &s->conf, &go, err, errlen) < 0)
		goto fail;
	if (merge_check_tasks(&s->graph, &s->reg, err, errlen) < 0)
		goto fail;
	if (estimate_check_conf(&s->conf, &s->graph, &s->reg, err,
	    errlen) < 0)
		goto fail;
	return 0;
fail:
	setup_release(s);
	return DROVE_EINVAL;
}

/* setup_build from a task file (or none); returns 0 or an exit status (2)
 * after printing the error. */
int
setup_load(struct setup *s, const char *task_file, const char *config)
{
	char err[1024];

	if (setup_build(s, task_file, NULL, NULL, NULL, config, err,
	    sizeof(err)) < 0) {
		log_warnx("%s", err);
		return EXIT_USAGE;
	}
	return 0;
}
