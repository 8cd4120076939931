#!/usr/bin/env bash
# tpm: a backend's tokens per minute hold calls back.  With a window of
# half a second (DROVE_RATE_WINDOW), tpm = 1000 refills 2000 tokens a
# second.  Each call is estimated at 200 input tokens (an 800-byte prompt)
# when it starts and really uses 400 (the mock reports in=200 out=200),
# settled when it ends.  Judged from drove's own start times in the journal.
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

N=12
start_llm tpm
P=$MOCK_PORT
{
	backends "$P" 'tpm = 1000'
	for i in $(seq 1 $N); do
		p=$(printf 'tpm %02d [[in=200 out=200]] ' "$i")
		printf '[task t%02d]\nbackend = claude\nprompt = %s%s\n' "$i" \
		    "$p" "$(printf '%*s' $((800 - ${#p})) '' | tr ' ' x)"
	done
} >tpm.ini
DROVE_RATE_WINDOW=0.5 drove run tpm.ini -j $N
[ "$rc" = 0 ] || fail "tpm: exit $rc: $err"
check_many -m tpm \
    "all(v['status'] == 'ok' for v in t.values()) and len(t) == $N" "every task succeeded" \
    "st['tokens_in'] == 200 * $N and st['tokens_out'] == 200 * $N" "the mock reported 400 tokens a call"
python3 - "$T/tpm.log" .drove/runs/last/journal.jsonl "$N" <<'PY' ||
import json, sys
N = int(sys.argv[3])
ev = [json.loads(l) for l in open(sys.argv[2])]
ts = sorted(e["t"] for e in ev if e.get("ev") == "start")
ends = sorted(e["t"] for e in ev if e.get("ev") == "task")
assert len(ts) == N and len(ends) == N, (len(ts), len(ends))
assert sum(1 for l in open(sys.argv[1])) == N
CAP, RATE, EST, EXTRA = 1000.0, 2000.0, 200.0, 200.0
# A call starts when the bucket holds at least one token.  Before call k
# (0-based) starts, k calls took their estimate, and every call that had
# ended before it took the rest of its real usage: so k starts no sooner
# than (k * EST + ended * EXTRA - CAP) / RATE after the first.  A task's
# "task" event is written after its usage was settled, so counting those
# undercounts, which only loosens the bound.
for k in range(N):
    ended = sum(1 for u in ends if u < ts[k])
    low = (k * EST + ended * EXTRA - CAP) / RATE
    assert ts[k] - ts[0] >= low - 0.01, \
        "call %d at %.3fs, %d ended before it: want >= %.3fs" % \
        (k, ts[k] - ts[0], ended, low)
# without tpm all 12 would start at once; a window of 0.5 s starts at most
# CAP + 0.5 * RATE = 2000 tokens of estimate and one call in debt: 11
for i in range(N):
    n = sum(1 for u in ts if ts[i] <= u < ts[i] + 0.5)
    assert n <= 11, "%d calls in one window" % n
span = ts[-1] - ts[0]
assert span >= 0.5, "12 calls started within %.3fs" % span
print("ok: tpm honoured: %d calls started over %.2fs" % (N, span))
PY
    fail "tpm not honoured"
finish
