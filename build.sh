#!/usr/bin/env bash
# drove's one entry point.  ./build.sh help lists the commands.
set -euo pipefail
cd "$(dirname "$0")"

ROOT=$(pwd)
B=${BUILD_DIR:-build}
CC=${CC:-cc}
JOBS=$(nproc 2>/dev/null || echo 2)
CFLAGS_BASE="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Iinclude -iquote core"
OPT=${OPT:--O2 -g}
EXTRA_CFLAGS=${EXTRA_CFLAGS:-}
EXTRA_LDFLAGS=${EXTRA_LDFLAGS:-}
LINK_MODE=${LINK_MODE:-mixed}	# mixed: libs static, libc dynamic; static; dynamic

DEB_BUILD="gcc libc6-dev libmbedtls-dev libinih-dev libjansson-dev file"
DEB_TEST="python3 openssl git nginx-light strace valgrind clang libclang-rt-14-dev curl procps time bc chromium tmux slurmctld slurmd slurm-client munge"
# the benchmark's endpoint (nginx, openssl, python3), its peers (curl,
# aiohttp, GNU parallel; xargs is in every Debian), time(1) and bc for its
# measures; nodejs and npm only when no node/npm is on PATH (a NodeSource
# nodejs, for one, carries its own npm).  Not the test packages: no
# browser, no Slurm.
DEB_BENCH="python3 python3-aiohttp openssl nginx-light curl time bc parallel"

usage() {
	cat <<'USAGE'
usage: ./build.sh [COMMAND]
  deps      install missing Debian packages (as root), else print the command
  build     build build/drove (default)
  test      build, then run every test (tests/run)
  demo      build, then run an example offline on the exec backend
  static    build a fully static build/drove (built-in plugins only)
  asan      build with ASan and UBSan into build-asan/ and run every test
  fuzz      build the libFuzzer targets and run each for a bounded time
  bench     build, then run the benchmarks (tests/bench; not part of test):
            bench [quick|full] [compare|fanout|https...]
  plugins   build every plugin as a shared object into build/plugins/
            (build/drove-core, which has no built-ins, loads them)
  install   build, then install the binary, the man page and the bash
            completion: install [PREFIX=/usr/local] [DESTDIR=]
            (NOBUILD=1: install build/drove as it is)
  clean     remove build output
  help      this list
USAGE
}

missing_pkgs() {
	local p out=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || out="$out $p"
	done
	echo "$out"
}

cmd_deps() {
	local want="$DEB_BUILD"
	[ "${1:-}" = test ] && want="$want $DEB_TEST"
	if [ "${1:-}" = bench ]; then
		want="$want $DEB_BENCH"
		command -v node >/dev/null 2>&1 || want="$want nodejs"
		command -v npm >/dev/null 2>&1 || want="$want npm"
	fi
	command -v dpkg-query >/dev/null 2>&1 || {
		echo "build.sh: not a Debian system; install mbedTLS 2.28, inih, jansson and a C11 compiler" >&2
		return 0
	}
	local miss
	miss=$(missing_pkgs $want)
	[ -z "$miss" ] && return 0
	if [ "$(id -u)" = 0 ]; then
		echo "build.sh: installing:$miss" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null 2>&1 || apt-get update
		apt-get install -y -qq --no-install-recommends $miss >/dev/null ||
		    apt-get install -y --no-install-recommends $miss
	else
		echo "build.sh: missing packages; run: sudo apt-get install -y$miss" >&2
		return 1
	fi
}

# the event loop's poller for this OS (core/poller.h; loop.c is the rest)
os_poller() {
	case "$(uname -s)" in
	Linux) echo core/poll_epoll.c ;;
	*) echo core/poll_kqueue.c ;;
	esac
}

# core sources except main.c and the other OS's poller
core_srcs() {
	local f poller
	poller=$(os_poller)
	for f in core/*.c; do
		case "$f" in
		core/main.c) ;;
		core/poll_*.c) [ "$f" = "$poller" ] && echo "$f" ;;
		*) echo "$f" ;;
		esac
	done
}

# Compiles the pollers this OS does not build, with the same flags, against
# the declarations in tests/stub/, so they cannot rot unseen.
check_other_pollers() {
	[ "$(uname -s)" = Linux ] || return 0
	mkdir -p "$B/obj/check"
	$CC $CFLAGS_BASE $OPT $EXTRA_CFLAGS -Itests/stub \
	    -c core/poll_kqueue.c -o "$B/obj/check/poll_kqueue.o"
	$CC $CFLAGS_BASE $OPT $EXTRA_CFLAGS -Itests/stub \
	    -c core/loop.c -o "$B/obj/check/loop.o"
}

# code plugins share lives in plugins/lib/: never a plugin of its own
plugin_lib_srcs() {
	local f
	for f in plugins/lib/*.c; do
		[ -e "$f" ] && echo "$f"
	done
	return 0
}

# the plugins/lib sources plugin NAME uses: those whose header it includes
plugin_lib_deps() {
	local f
	for f in $(plugin_lib_srcs); do
		f=${f##*/}
		grep -q "\"lib/${f%.c}.h\"" "plugins/$1.c" &&
		    echo "plugins/lib/$f"
	done
	return 0
}

plugin_names() {
	local f
	for f in plugins/*.c; do
		[ -e "$f" ] || continue
		f=${f##*/}
		echo "${f%.c}"
	done
}

newest_header() {
	find include core plugins tests/unit -name '*.h' -printf '%T@\n' 2>/dev/null |
	    sort -n | tail -1
}

# compile SRC OBJ [flags...] unless OBJ is newer than SRC and every header
compile() {
	local src=$1 obj=$2
	shift 2
	if [ -f "$obj" ] && [ "$obj" -nt "$src" ] && [ -n "$HDR_TIME" ] &&
	    awk -v a="$(stat -c %.9Y "$obj")" -v b="$HDR_TIME" \
		'BEGIN{exit !(a>b)}'; then
		return 0
	fi
	mkdir -p "$(dirname "$obj")"
	$CC $CFLAGS_BASE $OPT $EXTRA_CFLAGS "$@" -c "$src" -o "$obj"
}

# run compile jobs in parallel; lines on stdin are "SRC OBJ FLAGS..."
compile_all() {
	local line pids=() fail=0
	HDR_TIME=$(newest_header)
	while read -r line; do
		# shellcheck disable=SC2086
		compile $line &
		pids+=($!)
		if [ ${#pids[@]} -ge "$JOBS" ]; then
			wait "${pids[0]}" || fail=1
			pids=("${pids[@]:1}")
		fi
	done
	for p in "${pids[@]}"; do wait "$p" || fail=1; done
	return $fail
}

gen_builtins() {
	local out=$B/gen/builtin_plugins.c tmp n
	mkdir -p "$B/gen"
	tmp=$out.tmp
	{
		echo '/* generated by build.sh: the built-in plugins */'
		echo '#include <stddef.h>'
		echo '#include "drove/plugin.h"'
		for n in $(plugin_names); do
			echo "const struct drove_plugin *drove_plugin_entry_$n(void);"
		done
		echo 'const struct drove_plugin *(*const drove_builtin_plugins[])(void) = {'
		for n in $(plugin_names); do
			echo "	drove_plugin_entry_$n,"
		done
		echo '	NULL,'
		echo '};'
	} >"$tmp"
	if cmp -s "$tmp" "$out"; then rm -f "$tmp"; else mv "$tmp" "$out"; fi
	# drove-core: the same core with no built-in plugins, for the .so
	# files of `./build.sh plugins`
	out=$B/gen/no_builtins.c
	[ -f "$out" ] || {
		echo '/* generated by build.sh: drove-core has no built-ins */'
		echo '#include <stddef.h>'
		echo '#include "drove/plugin.h"'
		echo 'const struct drove_plugin *(*const drove_builtin_plugins[])(void) = {'
		echo '	NULL,'
		echo '};'
	} >"$out"
}

libs() {
	case "$LINK_MODE" in
	static) echo "-static -lmbedtls -lmbedx509 -lmbedcrypto -linih -ljansson -lpthread -ldl" ;;
	dynamic) echo "-lmbedtls -lmbedx509 -lmbedcrypto -linih -ljansson -lpthread -ldl" ;;
	*) echo "-Wl,-Bstatic -lmbedtls -lmbedx509 -lmbedcrypto -linih -ljansson -Wl,-Bdynamic -lpthread -ldl" ;;
	esac
}

cmd_build() {
	local s n objs=() t
	gen_builtins
	{
		for s in $(core_srcs) core/main.c; do
			echo "$s $B/obj/${s%.c}.o"
		done
		echo "$B/gen/builtin_plugins.c $B/obj/gen/builtin_plugins.o"
		echo "$B/gen/no_builtins.c $B/obj/gen/no_builtins.o"
		for n in $(plugin_names); do
			echo "plugins/$n.c $B/obj/plugins/$n.o -DDROVE_STATIC_PLUGIN -DDROVE_PLUGIN_NAME=$n"
		done
		for s in $(plugin_lib_srcs); do
			echo "$s $B/obj/${s%.c}.o"
		done
		for t in tests/unit/test_*.c tests/mock/*.c; do
			[ -e "$t" ] || continue
			echo "$t $B/obj/${t%.c}.o"
		done
	} | compile_all
	for s in $(core_srcs); do objs+=("$B/obj/${s%.c}.o"); done
	objs+=("$B/obj/gen/builtin_plugins.o")
	for n in $(plugin_names); do objs+=("$B/obj/plugins/$n.o"); done
	for s in $(plugin_lib_srcs); do objs+=("$B/obj/${s%.c}.o"); done
	rm -f "$B/libdrove.a"
	ar rcs "$B/libdrove.a" "${objs[@]}"
	# shellcheck disable=SC2046
	$CC $OPT $EXTRA_CFLAGS -o "$B/drove.tmp" "$B/obj/core/main.o" \
	    "$B/libdrove.a" $(libs) $EXTRA_LDFLAGS
	mv "$B/drove.tmp" "$B/drove"
	# shellcheck disable=SC2046
	$CC $OPT $EXTRA_CFLAGS -o "$B/drove-core.tmp" "$B/obj/core/main.o" \
	    "$B/obj/gen/no_builtins.o" "$B/libdrove.a" $(libs) $EXTRA_LDFLAGS
	mv "$B/drove-core.tmp" "$B/drove-core"
	mkdir -p "$B/tests"
	local pids=()
	for t in tests/unit/test_*.c tests/mock/*.c; do
		[ -e "$t" ] || continue
		n=${t##*/}
		n=${n%.c}
		# shellcheck disable=SC2046
		$CC $OPT $EXTRA_CFLAGS -o "$B/tests/$n" "$B/obj/${t%.c}.o" \
		    "$B/libdrove.a" $(libs) $EXTRA_LDFLAGS &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
}

cmd_plugins() {
	local n libs
	mkdir -p "$B/plugins"
	for n in $(plugin_names); do
		# a plugin that uses jansson links the shared library itself:
		# the binary's static copy is not exported to it
		local extra=""
		grep -q 'jansson.h\|llm_common.h' "plugins/$n.c" &&
		    extra=-ljansson
		# shellcheck disable=SC2046
		$CC $CFLAGS_BASE $OPT -fPIC -shared -fvisibility=hidden \
		    -o "$B/plugins/$n.so" "plugins/$n.c" \
		    $(plugin_lib_deps "$n") $extra
	done
	echo "built $(plugin_names | wc -l) plugins into $B/plugins/" >&2
}

cmd_test() {
	cmd_deps test
	cmd_build
	check_other_pollers
	cmd_plugins
	DROVE="$ROOT/$B/drove" DROVE_BUILD="$ROOT/$B" tests/run "$@"
}

cmd_demo() {
	cmd_deps
	cmd_build
	local d
	d=$(mktemp -d "${TMPDIR:-/tmp}/drove-demo.XXXXXX")
	echo "== drove demo: five independent 1-second tasks, then a dependent graph (run dir: $d)" >&2
	"$B/drove" graph conf/examples/fanout.ini
	"$B/drove" run conf/examples/fanout.ini --run-dir "$d/runs"
	echo >&2
	"$B/drove" graph conf/examples/four-step.ini
	"$B/drove" run conf/examples/four-step.ini --run-dir "$d/runs"
}

cmd_install() {
	local prefix=${PREFIX:-/usr/local} destdir=${DESTDIR:-} a d
	for a in "$@"; do
		case "$a" in
		PREFIX=*) prefix=${a#PREFIX=} ;;
		DESTDIR=*) destdir=${a#DESTDIR=} ;;
		*)
			echo "build.sh: install: unknown argument '$a' (expected PREFIX=DIR or DESTDIR=DIR)" >&2
			exit 2 ;;
		esac
	done
	case "$prefix" in
	/*) ;;
	*) echo "build.sh: install: PREFIX must be an absolute path, not '$prefix'" >&2; exit 2 ;;
	esac
	if [ "${NOBUILD:-}" != 1 ]; then
		cmd_deps
		cmd_build
	fi
	[ -x "$B/drove" ] || {
		echo "build.sh: install: no $B/drove to install" >&2
		exit 1
	}
	d=$destdir$prefix
	install -d "$d/bin" "$d/share/man/man1" \
	    "$d/share/bash-completion/completions"
	install -m 755 "$B/drove" "$d/bin/drove"
	install -m 644 docs/drove.1 "$d/share/man/man1/drove.1"
	install -m 644 completion/drove.bash \
	    "$d/share/bash-completion/completions/drove"
	echo "installed $d/bin/drove"
	echo "installed $d/share/man/man1/drove.1"
	echo "installed $d/share/bash-completion/completions/drove"
}

case "${1:-build}" in
deps) shift; cmd_deps test ;;
build) cmd_deps; cmd_build ;;
test) shift; cmd_test "$@" ;;
demo) cmd_demo ;;
static)
	cmd_deps
	# its own objects: a static binary cannot dlopen, so it is built
	# without the loader (a .so plugin then fails with a clear message)
	B=build-static LINK_MODE=static EXTRA_CFLAGS="-DDROVE_NO_DLOPEN" \
	    cmd_build 2> >(grep -v -e 'statically linked applications requires' \
	    -e ': in function .[A-Za-z0-9_]*.:$' >&2)
	mkdir -p build
	cp build-static/drove build/drove
	file build/drove
	;;
asan)
	shift
	cmd_deps test
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	B=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    EXTRA_CFLAGS="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all" \
	    LINK_MODE=dynamic cmd_build
	B=build-asan OPT="-O1 -g" cmd_plugins
	DROVE="$ROOT/build-asan/drove" DROVE_BUILD="$ROOT/build-asan" tests/run "$@"
	;;
fuzz)
	shift
	cmd_deps test
	tests/fuzz/run "$@"
	;;
bench)
	shift
	cmd_deps bench
	cmd_build
	DROVE="$ROOT/$B/drove" tests/bench/run "$@"
	;;
plugins) cmd_deps; cmd_plugins ;;
install) shift; cmd_install "$@" ;;
clean) rm -rf build build-asan build-fuzz build-static ;;
help|-h|--help) usage ;;
*)
	echo "build.sh: unknown command '$1'" >&2
	usage >&2
	exit 2 ;;
esac
