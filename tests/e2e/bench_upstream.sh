#!/usr/bin/env bash
# The benchmark's upstream (tests/bench/upstream.py) answers drove's
# anthropic and openai backends with whole answers after its latency,
# counts the calls it holds at once, and its probe relay notes a
# connection's first byte: a cheap check that `./build.sh bench` measures
# real, complete answers.
. "$(dirname "$0")/lib.sh"

UP_PID=""
cleanup_hooks+=('[ -n "$UP_PID" ] && kill "$UP_PID" 2>/dev/null; wait 2>/dev/null')
python3 "$ROOT/tests/bench/upstream.py" "$T/ports" --latency 0.5 \
    --probe-to self --seconds 120 >"$T/up.log" 2>&1 &
UP_PID=$!
wait_for '[ -s "$T/ports" ]' 10 ||
    die "upstream did not start: $(cat "$T/up.log")"
read -r UP PROBE <"$T/ports"
reply=$(cd "$ROOT/tests/bench" && python3 -B -c 'import upstream; print(upstream.REPLY)')

stats() {
	python3 -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen(sys.argv[1], timeout=10))[sys.argv[2]])' \
	    "http://127.0.0.1:$UP/$1" "$2"
}

# three concurrent calls per API format; the openai backend goes through
# the probe relay
cat >t.ini <<INI
[backend a]
type = anthropic
model = claude-bench
base_url = http://127.0.0.1:$UP
api_key_env = BENCH_KEY
retries = 0

[backend o]
type = openai
model = gpt-bench
base_url = http://127.0.0.1:$PROBE/v1
api_key_env = BENCH_KEY
retries = 0

[task a1]
backend = a
prompt = one
[task a2]
backend = a
prompt = two
[task a3]
backend = a
prompt = three
[task o1]
backend = o
prompt = four
[task o2]
backend = o
prompt = five
[task o3]
backend = o
prompt = six
INI
start=$(date +%s.%N)
BENCH_KEY=sk-bench drove run t.ini -q -j 6
end=$(date +%s.%N)
expect_eq "$rc" 0 "drove's six calls succeed"
for t in a1 a2 a3 o1 o2 o3; do
	expect_eq "$(cat .drove/runs/last/tasks/$t.out)" "$reply" "$t gets the whole answer"
done
expect_py 't["a1"]["tokens_out"] == 50 and t["o1"]["tokens_in"] >= 0' \
    "usage is reported"
took=$(python3 -c "print(int(($end - $start) * 1000))")
[ "$took" -ge 500 ] && ok "calls wait the latency ($took ms)" ||
    fail "calls came back in $took ms, before the 500 ms latency"
[ "$took" -lt 5000 ] && ok "calls run at once ($took ms)" ||
    fail "six calls took $took ms"
expect_eq "$(stats stats requests)" 6 "the upstream counted six calls"
expect_eq "$(stats stats max_inflight)" 6 "all six were in flight at once"
n=$(python3 -c 'import json, sys, urllib.request
print(len(json.load(urllib.request.urlopen(sys.argv[1], timeout=10))["first_byte"]))' \
    "http://127.0.0.1:$UP/probe")
[ "$n" -ge 1 ] && ok "the probe saw $n connections" ||
    fail "the probe saw no connection"

# a call that is not streamed, and an unknown path, are refused
drove fetch -d '{"model":"m","messages":[]}' "http://127.0.0.1:$UP/v1/messages"
expect_eq "$rc" 1 "a call without stream is refused"
drove fetch -d '{"stream":true}' "http://127.0.0.1:$UP/v1/nothing"
expect_eq "$rc" 1 "an unknown path is refused"
finish
