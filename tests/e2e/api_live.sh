#!/usr/bin/env bash
# drove logs of an API task: the streamed answer reaches tasks/TASK.live
# as it arrives (tests/mock/hostile_mock.py, mode stream), with the key
# redacted even where a copy of it is spread over several stream chunks:
# sampled all along, the live copy never holds anything but a prefix of
# the final, redacted answer; with the key fuzzed over random chunks, the
# streamed copy ends up the output byte for byte.
. "$DROVE_ROOT/tests/e2e/lib/http.bash"

KEY=sk-hostile-$RANDOM$RANDOM$RANDOM-Zq7Wx
export HOSTILE_KEY=$KEY
start_mock hostile hostile_mock.py
P=$MOCK_PORT
cd "$T"

cat >a.ini <<INI
[backend h]
type = anthropic
model = m
api_key_env = HOSTILE_KEY
base_url = http://127.0.0.1:$P
retries = 0

[task t]
backend = h
prompt = [[stream]] $T/go
INI
drove run -d a.ini
expect_eq "$rc" 0 "run -d of an API task: $err"
id=$out
dir=.drove/runs/$id

# every distinct content the live copy has while the answer streams,
# read every 5 ms until told to stop (at most 120 s), one hex line each
python3 - "$dir/tasks/t.live" "$T/stop" >samples.txt <<'PY' &
import os, sys, time
path, stop = sys.argv[1], sys.argv[2]
last = None
deadline = time.time() + 120
while time.time() < deadline and not os.path.exists(stop):
    try:
        with open(path, "rb") as f:
            d = f.read()
    except FileNotFoundError:
        d = None
    if d is not None and d != last:
        print(d.hex(), flush=True)
        last = d
    time.sleep(0.005)
PY
spid=$!
PIDS+=($spid)

"$DROVE" logs "$id" t -f >f.out 2>f.err &
fpid=$!
PIDS+=($fpid)
wait_for 'grep -q "first streamed words" f.out' 20 &&
    ok "logs -f shows the first streamed words" ||
    fail "logs -f did not show the first words: $(cat f.out f.err)"
# the mock holds the rest until go exists: the task is still running
drove status "$id"
expect_has "$out" "running" "while the task still runs"
kill -0 "$fpid" 2>/dev/null && ok "logs -f follows while the task runs" ||
    fail "logs -f ended before the task"

touch go
wait "$fpid"
expect_eq "$?" 0 "logs -f exits 0 when the task ends"
drove wait "$id"
expect_eq "$rc" 0 "the run ends ok: $err"
touch stop
wait "$spid"

want="first streamed words whole ***; split ***; cut ***."
expect_eq "$(cat "$dir/tasks/t.out")" "$want" "the output, redacted"
expect_eq "$(cat f.out)" "$want" "logs -f printed the answer once"
[ ! -e "$dir/tasks/t.live" ] &&
    ok "the live copy is gone once the output is durable" ||
    fail "t.live is left after the run"
drove logs "$id" t
expect_eq "$out" "$want" "logs prints the answer once (from the output)"
if python3 - "$KEY" "$dir/tasks/t.out" samples.txt <<'PY'
import sys
key = sys.argv[1]
final = open(sys.argv[2], "rb").read()
samples = [bytes.fromhex(l) for l in open(sys.argv[3]).read().split()]
pieces = {key[i:i + 8].encode() for i in range(len(key) - 7)}
for s in samples:
    if not final.startswith(s):
        sys.exit("a live copy that is no prefix of the output: %r" % s)
    if any(p in s.replace(b"\n", b"") for p in pieces):
        sys.exit("a piece of the key in the live copy: %r" % s)
# the answer came in several steps, and the sampler saw them
if len(samples) < 3:
    sys.exit("only %d samples: %r" % (len(samples), samples))
PY
then
	ok "no sample of the live copy held a piece of the key"
else
	fail "the live copy held what the output does not"
fi
# random copies and bytes of the key cut at random into deltas: every
# live copy ends up the output byte for byte (else it would be left:
# the live copy goes only when it holds just the output), and the output
# holds no 8 bytes of the key in a row
{
	sed -n '/^\[backend h\]/,/^retries/p' a.ini
	for s in $(seq 1 20); do
		printf '\n[task f%d]\nbackend = h\nprompt = [[fuzz]] %d\n' "$s" "$s"
	done
} >fuzz.ini
drove run -q fuzz.ini -j 4
expect_eq "$rc" 0 "the fuzz run ends ok: $err"
left=$(ls .drove/runs/last/tasks/ | grep -c '\.live$')
expect_eq "$left" 0 "each streamed copy equals its output"
if python3 - "$KEY" .drove/runs/last/tasks <<'PY'
import os, sys
key = sys.argv[1]
pieces = {key[i:i + 8] for i in range(len(key) - 7)}
for f in os.listdir(sys.argv[2]):
    data = open(os.path.join(sys.argv[2], f)).read()
    data = data.replace("\n", "").replace("\r", "")
    if any(p in data for p in pieces):
        sys.exit("%s holds a piece of the key" % f)
PY
then
	ok "no output holds 8 bytes of the key"
else
	fail "a fuzzed output holds a piece of the key"
fi
finish
