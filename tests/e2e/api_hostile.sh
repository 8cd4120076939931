#!/usr/bin/env bash
# The API backends against a server that misbehaves on purpose
# (tests/mock/hostile_mock.py, plain HTTP on loopback): an endless stream
# stops at max_output, a trickling one at idle_timeout, a malformed event
# fails the task, an unasked gzip body is named, a key echoed back (whole,
# split by a line break, cut) is redacted everywhere drove writes, a
# retry hint of 1e300 is clamped, and base_url tricks that only look like
# loopback are refused.  drove fetch names a redirect and exits 1.
. "$DROVE_ROOT/tests/e2e/lib/http.bash"

KEY=sk-hostile-$RANDOM$RANDOM$RANDOM-Zq7Wx
export HOSTILE_KEY=$KEY
start_mock hostile hostile_mock.py
P=$MOCK_PORT
cd "$T"

# run INI ARGS...: drove in $T; sets rc, out, err
run() {
	"$DROVE" run "$@" >"$T/.out" 2>"$T/.err"
	rc=$?
	out=$(cat "$T/.out")
	err=$(cat "$T/.err")
}
# task NAME: the task's entry in the last summary.json, as JSON
task() {
	python3 -c 'import json, sys
print(json.dumps(json.load(open(".drove/runs/last/summary.json"))["tasks"][sys.argv[1]]))' "$1"
}
# expect_task NAME PYEXPR WHAT: PYEXPR over t (the task's entry)
expect_task() {
	python3 -c 'import json, sys
t = json.load(open(".drove/runs/last/summary.json"))["tasks"][sys.argv[1]]
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" &&
	    ok "$3" || fail "$3: $(task "$1")"
}

backend() {
	cat <<INI
[backend h]
type = anthropic
model = m
api_key_env = HOSTILE_KEY
base_url = http://127.0.0.1:$P
retries = 0
$1

INI
}

# a. an endless stream stops at max_output and fails the task
{ backend "max_output = 1M"; printf '[task big]\nbackend = h\nprompt = [[endless]]\n'; } >big.ini
t0=$(date +%s)
run big.ini
[ "$rc" != 0 ] || fail "endless stream: exit 0"
expect_task big 't["status"] != "ok" and "larger than max_output (1048576 bytes)" in t["error"]' "endless stream stopped at max_output"
[ $(( $(date +%s) - t0 )) -lt 30 ] || fail "endless stream took $(( $(date +%s) - t0 )) s"
{ backend "max_output = lots"; printf '[task big]\nbackend = h\nprompt = x\n'; } >badsize.ini
run badsize.ini
expect_eq "$rc" 2 "a bad max_output is a load error"
expect_has "$err" "max_output" "the key is named"

# b. a byte every 0.1 s never completes an event: idle_timeout ends it
{ backend "idle_timeout = 1"; printf '[task slow]\nbackend = h\nprompt = [[trickle]]\n'; } >slow.ini
t0=$(date +%s)
run slow.ini
[ "$rc" != 0 ] || fail "trickle: exit 0"
expect_task slow '"timeout: idle" in t["error"]' "a trickling stream ends at idle_timeout"
[ $(( $(date +%s) - t0 )) -lt 15 ] || fail "trickle took $(( $(date +%s) - t0 )) s"

# d. an event that is not JSON fails the task, with the reason
{ backend ""; printf '[task bad]\nbackend = h\nprompt = [[badjson]]\n'; } >bad.ini
run bad.ini
[ "$rc" != 0 ] || fail "malformed event: exit 0"
expect_task bad 't["status"] != "ok" and t["error"].startswith("malformed event in the stream") and "oops" in t["error"]' "a malformed event fails the task"

# e. a gzip body nobody asked for is named as such
{ backend ""; printf '[task gz]\nbackend = h\nprompt = [[gzip]]\n'; } >gz.ini
run gz.ini
[ "$rc" != 0 ] || fail "gzip: exit 0"
expect_task gz '"Content-Encoding '"'"'gzip'"'"'" in t["error"] and "mid-stream" not in t["error"]' "an unasked gzip body is named"

# f. the key echoed back is redacted in the output and in errors
{
	backend ""
	printf '[task echo]\nbackend = h\nprompt = [[echo]]\noutput = echo.txt\n\n'
	printf '[task echoerr]\nbackend = h\nprompt = [[echoerr]]\n'
} >echo.ini
run echo.ini -j 2
expect_task echo 't["status"] == "ok"' "the echoing task succeeds"
expect_task echoerr 't["status"] != "ok" and "invalid x-api-key *** (cut: ***)" in t["error"]' "the echoed error is kept, the key not"
expect_has "$(cat echo.txt)" "whole ***; split ***; cut ***." \
    "whole, split and cut copies redacted in the output"
# no 8 bytes of the key in a row anywhere drove wrote
if python3 - "$KEY" .drove echo.txt "$T/.out" "$T/.err" <<'PY'
import os, sys
key = sys.argv[1]
pieces = {key[i:i + 8] for i in range(len(key) - 7)}
def scan(p):
    data = open(p, errors="replace").read().replace("\n", "")
    for s in pieces:
        if s in data:
            sys.exit("%s holds %r" % (p, s))
for root in sys.argv[2:]:
    if os.path.isdir(root):
        for d, _, fs in os.walk(root):
            for f in fs:
                if not os.path.islink(os.path.join(d, f)):
                    scan(os.path.join(d, f))
    else:
        scan(root)
PY
then
	ok "no piece of the key in the run directory, output or stderr"
else
	fail "a piece of the key was written"
fi

# h. retry hints of 1e300 are clamped before conversion (UBSan in the
# asan build) and the retry still happens
{ backend "retries = 1"; printf '[task ra]\nbackend = h\nprompt = [[ra1e300]]\n'; } | sed '/^retries = 0$/d' >ra.ini
run ra.ini
expect_eq "$rc" 0 "a 429 with retry-after 1e300 is retried: $err"
expect_task ra 't["status"] == "ok" and t["end_s"] < 10' "retried after the usual backoff, then ok"
expect_has "$err" "HTTP 429: rate_limit_error: slow down; retrying in" "the 429 was retried"

# f. plain http with a key goes to loopback only, decided on the host
for u in "http://127.0.0.1@127.0.0.2:$P" "http://127.example.com:$P" \
    "http://[::ffff:10.0.0.1]:$P"; do
	{ backend "" | sed "s|^base_url = .*|base_url = $u|"; printf '[task x]\nbackend = h\nprompt = x\n'; } >lo.ini
	run lo.ini
	expect_eq "$rc" 2 "base_url $u refused at load"
	case "$err" in
	*"user info"* | *"not loopback"*) ok "$err" ;;
	*) fail "base_url $u: $err" ;;
	esac
done
{ backend "" | sed "s|^base_url = .*|base_url = http://localhost:$P|"; printf '[task x]\nbackend = h\nprompt = x\n'; } >lo.ini
run lo.ini
expect_eq "$rc" 0 "localhost (resolved to loopback) is fine: $err"

# e. drove fetch on a redirect: status and Location, exit 1
"$DROVE" fetch "http://127.0.0.1:$P/redirect" >"$T/o" 2>"$T/e"
expect_eq "$?" 1 "fetch of a 302 exits 1"
expect_has "$(cat "$T/e")" "HTTP 302, redirecting to '/elsewhere'" "fetch names the redirect"
finish
