# The plugin loader: every refusal names the file and why, one bad .so
# stops only what uses it, `drove plugins` and `drove doctor` list each
# failure and go on; plugin_dir is relative to its config file;
# --plugin-dir; name clashes and override; drove-core loads the .so files
# of ./build.sh plugins.
. "$(dirname "$0")/lib.sh"

if ldd "$DROVE" 2>&1 | grep -q 'not a dynamic'; then
	skip "static binary cannot load plugins"
fi
need cc
V=$ROOT/tests/data/plugins/backend_variant.c
cc_so() {	# OUT [FLAGS...]: the variant plugin, entry hidden by default
	local o=$1
	shift
	cc -shared -fPIC -fvisibility=hidden -I"$ROOT/include" -o "$o" \
	    "$@" "$V" || die "cannot build $o"
}

mkdir -p good bad cfg/sub
chmod 755 good bad
cc_so good/variant.so
cat >cfg/drove.ini <<'INI'
[drove]
plugin_dir = ../good
INI
cat >t.ini <<'INI'
[backend v]
type = variant
[task a]
backend = v
prompt = hi
INI

# --- a good plugin built with -fvisibility=hidden loads; relative dir ---
(cd cfg/sub && "$DROVE" run ../../t.ini -c ../drove.ini \
    --run-dir "$T/runs" >"$T/o" 2>"$T/e")
expect_eq "$?" 0 "hidden-visibility plugin from a relative plugin_dir runs"
expect_eq "$(cat runs/last/tasks/a.out)" "variant says: hi" \
    "its answer"
drove plugins -c cfg/drove.ini
expect_eq "$rc" 0 "plugins: all loaded"
expect_has "$out" "cfg/../good/variant.so" "plugin_dir resolved beside drove.ini"

# --- the same directory twice (plugin_dir and --plugin-dir): loaded once
drove plugins -c cfg/drove.ini --plugin-dir good
expect_eq "$rc" 0 "the same directory twice is no clash"
expect_eq "$(printf '%s\n' "$out" | grep -c 'variant.so')" 1 "and listed once"

# --- without /proc a plugin cannot be loaded by descriptor: it says so ---
# (not under ASan, whose runtime itself needs /proc)
if [ -z "${ASAN_OPTIONS:-}" ] &&
    unshare -m sh -c 'umount -l /proc' 2>/dev/null; then
	noproc=$(unshare -m sh -c 'umount -l /proc && "$0" plugins \
	    --plugin-dir good' "$DROVE" 2>&1)
	expect_has "$noproc" "good/variant.so: cannot load: /proc is not mounted" \
	    "no /proc: the reason, not a confusing loader error"
else
	echo "note: no mount namespace here: the no-/proc case is untested"
fi

# --- a missing plugin_dir is reported, with where it was set ---
cat >cfg/missing.ini <<'INI'
[drove]
plugin_dir = nowhere
INI
drove plugins -c cfg/missing.ini
expect_eq "$rc" 1 "plugins: a missing directory fails"
expect_has "$out" "cfg/nowhere: plugin directory does not exist (from plugin_dir at cfg/missing.ini:2)" \
    "missing plugin_dir named with file:line"
expect_has "$out" "built-in" "built-ins still listed"

# --- --plugin-dir adds a directory for one command ---
drove run t.ini --plugin-dir good --run-dir runs2
expect_eq "$rc" 0 "--plugin-dir after the command"
drove --plugin-dir=good plugins
expect_has "$out" "good/variant.so" "--plugin-dir=DIR before the command"
drove run t.ini --run-dir runs3
expect_eq "$rc" 2 "without it the type is unknown"
expect_has "$err" "unknown type 'variant'" "and says so"

# --- each broken plugin refused with its reason, the rest load ---
cp good/variant.so bad/a_good.so
cc_so bad/small.so -DSMALL_DESC -DPLUGIN_NAME='"small"'
cc_so bad/noentry.so -DNO_ENTRY -DPLUGIN_NAME='"noentry"'
cc -shared -fPIC -DBAD_ABI -I"$ROOT/include" -o bad/upper.so \
    "$ROOT/tests/data/plugins/backend_upper.c" || die "cannot build upper"
echo 'not an ELF file' >bad/text.so
cc_so bad/ww.so -DPLUGIN_NAME='"ww"'
chmod o+w bad/ww.so
cc_so bad/theirs.so -DPLUGIN_NAME='"theirs"'
chown nobody bad/theirs.so 2>/dev/null
ln -s "$T/good/variant.so" bad/link.so
cc_so bad/v2.so
drove plugins --plugin-dir bad
expect_eq "$rc" 1 "plugins exits 1 when some did not load"
expect_has "$out" "$(printf 'variant      0.1    ABI')" "the good one is listed"
expect_has "$out" "bad/small.so: malformed plugin descriptor: its size 12 is below the minimum" \
    "descriptor below the minimum size"
expect_has "$out" "bad/noentry.so: no drove_plugin_entry symbol" "no entry symbol"
minor=$(sed -n 's/^#define DROVE_ABI_MINOR //p' "$ROOT/include/drove/plugin.h")
expect_has "$out" "bad/upper.so: plugin ABI 99.$minor does not match drove's ABI 1.$minor" \
    "ABI major mismatch names both"
expect_has "$out" "bad/text.so: cannot load: " "not a shared object"
expect_not_has "$out" "/proc/self/fd" "the reason names the file, not the descriptor"
expect_has "$out" "bad/ww.so: refusing a world-writable plugin" "world-writable file"
if [ "$(id -u)" = 0 ] && [ "$(stat -c %U bad/theirs.so)" = nobody ]; then
	expect_has "$out" "bad/theirs.so: refusing a plugin owned by uid $(id -u nobody) (neither you nor root)" \
	    "a file owned by another user"
else
	fail "cannot chown to nobody (tests run as root): another owner untested"
fi
expect_has "$out" "bad/link.so: refusing a symbolic link" "a symbolic link"
expect_has "$out" "bad/v2.so: backend plugin 'variant' is already loaded from 'bad/a_good.so'" \
    "a clash between two files names both"

drove doctor --plugin-dir bad t.ini
expect_eq "$rc" 1 "doctor: failures make it exit 1"
expect_has "$out" "bad/noentry.so: no drove_plugin_entry symbol" "doctor lists failures"
expect_has "$out" "v                variant    ok" "and goes on to the backends"

# run: two files with one name make that name unusable
drove run t.ini --plugin-dir bad --run-dir runs4
expect_eq "$rc" 2 "run refuses a type two files claim"
expect_has "$err" "backend 'variant' did not load: bad/v2.so" "naming the second"
rm bad/v2.so
# a failure that the task file does not use is a warning only
drove run t.ini --plugin-dir bad --run-dir runs4
expect_eq "$rc" 0 "run goes on when no task uses a failed plugin"
expect_has "$err" "warning: plugin not loaded: bad/small.so" "with a warning"
# ... but one it uses stops the run before anything starts
cat >uses.ini <<'INI'
[backend w]
type = ww
[task a]
backend = w
prompt = hi
INI
drove run uses.ini --plugin-dir bad --run-dir runs5
expect_eq "$rc" 2 "run refuses when a task uses a failed plugin"
expect_has "$err" "uses.ini:2: backend 'w': backend 'ww' did not load: bad/ww.so: refusing a world-writable plugin" \
    "naming the failure"
expect_eq "$(ls runs5 2>/dev/null | wc -l)" 0 "nothing ran"

# --- a world-writable directory is refused as a whole ---
mkdir open
cp good/variant.so open/
chmod 777 open
drove run t.ini --plugin-dir open --run-dir runs6
expect_eq "$rc" 2 "world-writable directory refused"
expect_has "$err" "open: refusing a world-writable plugin directory" "and says why"
chmod 755 open
if [ "$(id -u)" = 0 ]; then
	chown nobody open
	drove run t.ini --plugin-dir open --run-dir runs7
	expect_has "$err" "open: refusing a plugin directory owned by uid" \
	    "a directory owned by another user"
	chown root open
fi

# --- an open that fails: the run stops with the reason and file:line ---
mkdir ofail
cc_so ofail/v.so -DOPEN_FAILS
drove run t.ini --plugin-dir ofail --run-dir runs8
expect_eq "$rc" 2 "a backend whose open fails stops the run"
expect_has "$err" "backend 'v' cannot start: no licence" "its reason"
expect_has "$err" "t.ini:1" "and where the backend is"

# --- a clash with a built-in: both origins, then override ---
mkdir clash
cc_so clash/myexec.so -DPLUGIN_NAME='"exec"'
cat >e.ini <<'INI'
[backend e]
type = exec
command = echo built-in
[task a]
backend = e
prompt = hi
INI
drove plugins --plugin-dir clash
expect_has "$out" "clash/myexec.so: backend plugin 'exec' clashes with the built-in one" \
    "a clash names the file and the built-in"
drove run e.ini --plugin-dir clash --run-dir runs9
expect_eq "$rc" 2 "a task on the clashing name does not silently use the built-in"
sed -i '/^command/d' e.ini
cat >>e.ini <<'INI'
[plugin exec]
override = true
INI
drove plugins -c e.ini --plugin-dir clash
expect_eq "$rc" 0 "override: no failure"
expect_has "$out" "overrides" "listed as overriding the built-in"
drove run e.ini --plugin-dir clash --run-dir runs10
expect_eq "$rc" 0 "override: the run uses the plugin"
expect_eq "$(cat runs10/last/tasks/a.out)" "exec says: hi" "the plugin answered, not the built-in"

# --- drove-core loads the .so files of ./build.sh plugins ---
CORE=$DROVE_BUILD/drove-core
[ -x "$CORE" ] || die "no $CORE: ./build.sh build makes it"
BUILD_DIR="$T/b" "$ROOT/build.sh" plugins >/dev/null 2>&1 ||
    die "./build.sh plugins failed"
"$CORE" plugins >core.out 2>&1
expect_eq "$(grep -c built-in core.out)" 0 "drove-core has no built-ins"
"$CORE" --plugin-dir "$T/b/plugins" plugins >core.out 2>&1
expect_eq "$?" 0 "drove-core loads every plugin .so"
for n in exec anthropic openai additive aggregative competitive consensus; do
	expect_has "$(cat core.out)" " $n " "drove-core lists $n"
done
cat >core.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'echo "$0 from $1"' answer
[task a]
backend = sh
prompt = a
replicas = 3
merge = consensus
INI
"$CORE" --plugin-dir "$T/b/plugins" run core.ini --run-dir runs11 \
    >core.out 2>&1
expect_eq "$?" 0 "drove-core runs exec and consensus as .so plugins"
expect_has "$(cat runs11/last/tasks/a.out 2>/dev/null)" "answer" "merged answer"
drove --plugin-dir "$T/b/plugins" plugins
expect_has "$out" "clashes with the built-in one" \
    "beside drove, the .so files clash with their built-in twins"
finish
