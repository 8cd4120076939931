/*
 * The plugin loader as the fully static build (./build.sh static) compiles
 * it, with DROVE_NO_DLOPEN: asking for a .so says this build cannot load
 * plugins, and a task file that uses one does not start.
 */
#define DROVE_NO_DLOPEN 1
#include "registry.c"

#include <stdio.h>
#include <stdlib.h>

#include "t.h"

static void
t_so_refused(void)
{
	char dir[] = "/tmp/drove-regXXXXXX", path[64], err[1024];
	struct registry r;
	struct conf c;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		T_SKIP("mkdtemp");
	snprintf(path, sizeof(path), "%s/upper.so", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	registry_init(&r);
	CHECK_INT(registry_add_builtins(&r, err, sizeof(err)), 0);
	CHECK(r.n > 0);
	CHECK_INT(registry_load_dir(&r, dir, "test"), 1);
	CHECK_INT(r.nfail, 1);
	CHECK_HAS(r.fail[0].reason, "upper.so: this drove is statically "
	    "linked and cannot load plugins");
	conf_init(&c);
	CHECK_INT(conf_load_string(&c, "t.ini", "[backend u]\ntype = upper\n",
	    err, sizeof(err)), 0);
	CHECK_INT(registry_check_uses(&r, &c, err, sizeof(err)), DROVE_EINVAL);
	CHECK_HAS(err, "t.ini:2: backend 'u': backend 'upper' did not load: ");
	CHECK_HAS(err, "statically linked");
	conf_release(&c);
	registry_release(&r);
	unlink(path);
	rmdir(dir);
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{ "so_refused", t_so_refused },
		{ NULL, NULL },
	};

	return t_main(argc, argv, cases);
}
