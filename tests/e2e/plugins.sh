# External plugins: a .so from plugin_dir is loaded and used; a
# world-writable one and one with another ABI major are refused clearly.
. "$(dirname "$0")/lib.sh"

if ldd "$DROVE" 2>&1 | grep -q 'not a dynamic'; then
	echo "skip: static binary cannot load plugins"
	exit 77
fi
mkdir plug bad
cc -shared -fPIC -fvisibility=hidden -I"$ROOT/include" -o plug/upper.so \
    "$ROOT/tests/data/plugins/backend_upper.c" || die "cannot build the test plugin"
cc -shared -fPIC -fvisibility=hidden -DBAD_ABI -I"$ROOT/include" -o bad/upper.so \
    "$ROOT/tests/data/plugins/backend_upper.c"
cat >p.ini <<INI
[drove]
plugin_dir = $T/plug
[backend up]
type = upper
delay_ms = 300
price_in = 1
price_out = 2
[task a]
prompt = hello
[task b]
prompt = world {{a}}
INI
drove run p.ini
expect_eq "$rc" 0 "run on an external plugin"
expect_eq "$(cat .drove/runs/last/tasks/b.out)" "WORLD HELLO" "the plugin's results"
expect_py_many \
    's["tokens_in"] == 20 and s["tokens_out"] == 40' "usage from the plugin is summed" \
    'abs(s["cost_usd"] - (20 * 1 + 40 * 2) / 1e6) < 1e-12' "cost from prices"
drove plugins -c p.ini
expect_has "$out" "upper" "plugins lists the loaded one"
expect_has "$out" "$T/plug/upper.so" "with its path"

chmod o+w plug/upper.so
drove run p.ini
expect_eq "$rc" 2 "world-writable plugin refused"
expect_has "$err" "world-writable" "reason given"
chmod o-w plug/upper.so

sed -i "s|$T/plug|$T/bad|" p.ini
minor=$(sed -n 's/^#define DROVE_ABI_MINOR //p' "$ROOT/include/drove/plugin.h")
drove run p.ini
expect_eq "$rc" 2 "ABI mismatch refused"
expect_has "$err" "plugin ABI 99.$minor does not match drove's ABI 1.$minor" "both versions named"
finish
