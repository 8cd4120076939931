# The plugin contract as an outside plugin sees it: the core writes a
# merge's result to `output`; a call that outlives its timeout ends at it;
# retries and doctor's API defaults come from the descriptor (and an older,
# shorter descriptor gets the old defaults); the host reads a result only
# up to its size; http_request says why it failed.
. "$(dirname "$0")/lib.sh"

if ldd "$DROVE" 2>&1 | grep -q 'not a dynamic'; then
	skip "static binary cannot load plugins"
fi
need cc
EX=$ROOT/plugins/examples
V=$ROOT/tests/data/plugins/backend_variant.c
so() {	# DIR SRC [FLAGS...]
	local d=$1 src=$2
	shift 2
	mkdir -p "$d"
	cc -shared -fPIC -fvisibility=hidden -I"$ROOT/include" \
	    -o "$d/$(basename "$src" .c).so" "$@" "$src" || die "cannot build $src"
}
so ex "$EX/backend_echo.c"
so ex "$EX/merge_longest.c"

# --- the core writes the merged result to `output`; the merge does not ---
sed 's/^min_len = 10/min_len = 10\noutput = out\/{{name}}.txt/' \
    "$EX/example.ini" >out.ini
drove run out.ini --plugin-dir ex --run-dir runs
expect_eq "$rc" 0 "a graph whose merge task has output ="
expect_eq "$(cat out/pick.txt 2>/dev/null)" \
    "draft: a title, a subtitle and a first paragraph" \
    "the core wrote the merge's result to output"
# a file where the directory should be: the write fails, and says why
rm -rf out && echo x >out
drove run out.ini --plugin-dir ex --run-dir runs2
expect_eq "$rc" 1 "an output that cannot be written fails the task"
expect_has "$err" "longest merge: cannot write 'out/pick.txt'" "naming the file"
rm -f out
# the built-in merges still write theirs (aggregative, as before)
cat >agg.ini <<'INI'
[backend echo]
type = echo
[task a]
backend = echo
prompt = one
[task b]
backend = echo
prompt = two
[task both]
inputs = a, b
output = agg.txt
INI
drove run agg.ini --plugin-dir ex --run-dir runs3
expect_eq "$(cat agg.txt 2>/dev/null)" "$(printf 'echo: one\necho: two')" \
    "aggregative's result in output, written by the core"

# --- the timeout: a backend that ignores it is ended at it, not 5 s on ---
cat >slow.ini <<'INI'
[backend slow]
type = echo
delay_ms = 3000
[task t]
backend = slow
prompt = p
timeout = 0.5
INI
start=$(date +%s.%N)
drove run slow.ini --plugin-dir ex --run-dir runs4
took=$(echo "$(date +%s.%N) - $start" | bc)
expect_eq "$rc" 1 "a 3 s call under a 0.5 s timeout fails"
expect_has "$err" "timed out after 0.5s" "as a timeout"
if [ "$(echo "$took < 2.5" | bc)" = 1 ]; then
	ok "it ended at the timeout (${took}s)"
else
	fail "it ended after ${took}s, not at 0.5 s"
fi

# --- retries from the descriptor; an older descriptor keeps 2 ---
so new "$V" -DFAIL_RETRYABLE
so old "$V" -DFAIL_RETRYABLE -DOLD_DESC
so oldres "$V" -DOLD_RESULT -DOLD_DESC
cat >flaky.ini <<'INI'
[backend v]
type = variant
[task t]
backend = v
prompt = p
INI
drove run flaky.ini --plugin-dir new --run-dir runs5
expect_py 't["t"]["attempts"] == 1 and t["t"]["error"] == "flaky"' \
    "default_retries 0 in the descriptor: one attempt" runs5/last/summary.json
drove run flaky.ini --plugin-dir old --run-dir runs6
expect_py 't["t"]["attempts"] == 3' \
    "a descriptor without the defaults: 2 retries as before" \
    runs6/last/summary.json
# retryable lies beyond the size this result says it has: not read
drove run flaky.ini --plugin-dir oldres --run-dir runs7
expect_py 't["t"]["attempts"] == 1 and t["t"]["error"] == "flaky"' \
    "a result is read only up to its size" runs7/last/summary.json

# --- drove doctor takes an API backend's defaults from its descriptor ---
so api "$V" -DAPI_DEFAULTS
(unset VARIANT_KEY; "$DROVE" doctor --plugin-dir api flaky.ini \
    >doc.out 2>&1)
expect_has "$(cat doc.out)" "no key: VARIANT_KEY is not set" \
    "doctor: the descriptor's key variable, required"
VARIANT_KEY=k "$DROVE" doctor --plugin-dir api flaky.ini >doc.out 2>&1
expect_has "$(cat doc.out)" "key in VARIANT_KEY" "doctor: key found"
expect_has "$(cat doc.out)" "127.0.0.1 port 9" "doctor: the descriptor's base URL"
drove doctor --plugin-dir new flaky.ini
expect_has "$out" "plugin type 'variant'" "no API defaults: no API checks"

# --- http_request failing at once gives the reason, not "(error -1)" ---
cat >api.ini <<'INI'
[backend o]
type = openai
base_url = https://api.example.invalid/v1
model = m
retries = 0
[task t]
backend = o
prompt = p
INI
HTTPS_PROXY=https://proxy.example.invalid:3128 NO_PROXY= \
    "$DROVE" run api.ini --run-dir runs8 >api.out 2>&1
expect_py '"HTTPS_PROXY" in t["t"]["error"] and "only http://" in t["t"]["error"] and "(error" not in t["t"]["error"]' \
    "the backend reports the host's reason" runs8/last/summary.json
finish
