#include "merge.h"

#include <string.h>

#include "conf.h"
#include "host.h"
#include "util.h"

static int
has_key(const struct drove_plugin *p, const char *key)
{
	if (p->keys == NULL)
		return 0;
	for (const char *const *k = p->keys; *k; k++)
		if (strcmp(*k, key) == 0)
			return 1;
	return 0;
}

/* The merge plugin other than own that takes key, or NULL. */
static const struct drove_plugin *
key_owner(const struct registry *reg, const struct drove_plugin *own,
    const char *key)
{
	for (size_t i = 0; i < reg->n; i++) {
		const struct drove_plugin *p = reg->v[i].p;

		if (p != own && p->kind == DROVE_PLUGIN_MERGE &&
		    has_key(p, key))
			return p;
	}
	return NULL;
}

static int
check_task(const struct task *t, const struct registry *reg, char *err,
    size_t errlen)
{
	const struct drove_plugin *p, *o;
	const struct conf_section *s = t->sec;
	const char *key = NULL;
	char where[256], msg[512];

	p = registry_find(reg, DROVE_PLUGIN_MERGE, t->merge);
	if (p == NULL)
		return 0;	/* the graph has reported it */
	for (size_t k = 0; k < s->nkv; k++) {
		key = s->kv[k].key;
		if (graph_is_task_key(key) || has_key(p, key) ||
		    (o = key_owner(reg, p, key)) == NULL)
			continue;
		conf_where(s, key, where, sizeof(where));
		errf(err, errlen, "%s: task '%s': '%s' is a key of merge = "
		    "%s, and this task merges with %s", where, t->name, key,
		    o->name, p->name);
		return DROVE_EINVAL;
	}
	if (!DROVE_HAS(p->merge, check) || p->merge->check == NULL)
		return 0;
	msg[0] = '\0';
	key = NULL;
	if (p->merge->check(host_get(), (const struct drove_conf *)s, &key,
	    msg, sizeof(msg)) == 0)
		return 0;
	conf_where(s, key, where, sizeof(where));
	errf(err, errlen, "%s: task '%s': %s", where, t->name,
	    msg[0] ? msg : "rejected by the merge");
	return DROVE_EINVAL;
}

int
merge_check_tasks(const struct graph *g, const struct registry *reg,
    char *err, size_t errlen)
{
	for (size_t i = 0; i < g->n; i++) {
		int rc = check_task(&g->tasks[i], reg, err, errlen);

		if (rc < 0)
			return rc;
	}
	return 0;
}
