#!/usr/bin/env bash
# Rate limits: a 429 storm in which every task still succeeds and none is
# counted failed (each retry-after form honoured); a server that answers
# 429 above a concurrency makes the backend back off (AIMD); rpm is
# honoured (with a one-second window through DROVE_RATE_WINDOW).
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

start_llm storm
P=$MOCK_PORT
{
	backends "$P"
	for i in $(seq 1 40); do
		case $((i % 4)) in
		0) ra="ra=ms:150" ;;
		1) ra="ra=s:0.2" ;;
		2) ra="ra=date:2" ;;
		3) ra="" ;;
		esac
		be=claude
		[ $((i % 2)) = 0 ] && be=gpt
		printf '[task s%d]\nbackend = %s\nretries = 0\nprompt = storm %d [[fail=429x2 %s]]\n' \
		    "$i" "$be" "$i" "$ra"
	done
} >storm.ini
drove run storm.ini -j 40
[ "$rc" = 0 ] || fail "429 storm: exit $rc: $(tail -5 "$T/.err")"
# and retry-after honoured: the third request of a task comes no sooner
# than the hint after the second
check_many -m storm \
    'all(v["status"] == "ok" for v in t.values()) and len(t) == 40' "every task of the storm succeeded" \
    'all(v["attempts"] == 1 for v in t.values())' "no task used an attempt on a 429 (retries = 0)" \
    'st["statuses"] == {"429": 80, "200": 40}' "the mock answered 80 429s and 40 200s" \
    'sum(s["rate_limited"].values()) == 80' "summary counts the rate limits" \
    'all(b["t"] - a["t"] >= 0.14 for a, b in zip([e for e in log if e["n"] == 2 and "ra=ms:150" in e["prompt"]], [e for e in log if e["n"] == 3 and "ra=ms:150" in e["prompt"]]) if a["prompt"] == b["prompt"])' "retry-after-ms honoured"
python3 - "$T/storm.log" <<'PY' || fail "retry-after hints not honoured"
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for e in log:
    by.setdefault(e["prompt"], []).append(e)
for p, es in by.items():
    es.sort(key=lambda e: e["n"])
    # from the mock's time just before it sent the 429 (drove cannot have
    # had it sooner) to its time on the next request (drove sent it no
    # later): a lower bound of drove's wait, whatever the scheduling
    gaps = [es[i + 1]["t"] - es[i]["sent"] for i in range(len(es) - 1)]
    want = 0.14 if "ra=ms:150" in p else 0.19 if "ra=s:0.2" in p else \
        0.9 if "ra=date:2" in p else 0.3
    if min(gaps) < want:
        sys.exit("%s: gaps %s, want >= %s" % (p, gaps, want))
print("ok: each retry-after form honoured (ms, seconds, HTTP date)")
PY

# AIMD: the server takes 3 at once and answers 429 to more; the backend
# halves its window on a 429 and every task still succeeds
start_llm aimd --max-inflight 3
P=$MOCK_PORT
{
	backends "$P" 'concurrency = 24'
	for i in $(seq 1 24); do
		printf '[task a%d]\nbackend = claude\nprompt = aimd %d [[latency=0.15]]\n' "$i" "$i"
	done
} >aimd.ini
drove run aimd.ini -j 24
[ "$rc" = 0 ] || fail "aimd: exit $rc: $(tail -5 "$T/.err")"
# without AIMD every requeued call would keep hitting the cap: far more
# 429s than tasks
check_many -m aimd \
    'all(v["status"] == "ok" and v["attempts"] == 1 for v in t.values())' "every task succeeded, none failed" \
    'st["statuses"].get("429", 0) > 0' "the server pushed back ($(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["statuses"])' "$T/aimd.stats"))" \
    'st["statuses"].get("429", 0) < 3 * 24' "the backend backed off instead of hammering"

# rpm: 10 a "minute" of one second; 25 calls need about 1.5 s; the calls
# after the first burst are spaced by about 0.1 s
start_llm rpm
P=$MOCK_PORT
{
	backends "$P" 'rpm = 10'
	for i in $(seq 1 25); do
		printf '[task r%d]\nbackend = gpt\nprompt = rpm %d\n' "$i" "$i"
	done
} >rpm.ini
DROVE_RATE_WINDOW=1 drove run rpm.ini -j 25
[ "$rc" = 0 ] || fail "rpm: exit $rc: $err"
python3 - "$T/rpm.log" .drove/runs/last/journal.jsonl <<'PY' || fail "rpm not honoured"
import json, sys
# drove's own start times (the journal), not the mock's stamps, which TLS
# handshakes delay unevenly
ts = sorted(e["t"] for e in map(json.loads, open(sys.argv[2]))
            if e.get("ev") == "start")
assert len(ts) == 25, len(ts)
assert sum(1 for l in open(sys.argv[1])) == 25
span = ts[-1] - ts[0]
# a bucket of 10 refilled at 10/s: call k (0-based) starts no sooner than
# (k - 9) / 10 s after the first
for k in range(10, len(ts)):
    assert ts[k] - ts[0] >= (k - 9) * 0.1 - 0.01, \
        "call %d at %.3fs" % (k, ts[k] - ts[0])
for i in range(len(ts)):
    n = sum(1 for u in ts if ts[i] <= u < ts[i] + 1.0)
    assert n <= 20, "%d calls in one window" % n
print("ok: rpm honoured: 25 calls started over %.2fs" % span)
PY
finish
