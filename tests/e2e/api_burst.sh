#!/usr/bin/env bash
# burst = N: 50 tasks ready at once on a backend with burst = 5 ramp up;
# drove's own start times (the journal) show at most 5 starts in any one
# second, and every task succeeds.  Without burst the same tasks start
# together, so the check can fail.
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

start_llm mock
P=$MOCK_PORT
mk() {	# EXTRA: 50 tasks on gpt
	backends "$P" "$1"
	for i in $(seq 1 50); do
		printf '[task b%d]\nbackend = gpt\nprompt = burst %d\n' "$i" "$i"
	done
}
# at most N starts in any window [t, t + 1) of the journal's start times
window_max() {
	python3 - .drove/runs/last/journal.jsonl <<'PY'
import json, sys
ts = sorted(e["t"] for e in map(json.loads, open(sys.argv[1]))
            if e.get("ev") == "start")
print(len(ts), max(sum(1 for u in ts if t <= u < t + 1.0) for t in ts),
      "%.2f" % (ts[-1] - ts[0]))
PY
}

mk 'burst = 5' >burst.ini
drove run burst.ini -j 50
expect_eq "$rc" 0 "burst: exit 0 ($(tail -3 "$T/.err"))"
read -r n most span <<<"$(window_max)"
expect_eq "$n" 50 "50 calls started"
[ "$most" -le 5 ] && ok "at most 5 starts in any one second ($most, over ${span}s)" ||
    fail "burst: $most starts in one second"
# 50 at 5 a second: the last starts 9 s or more after the first
python3 -c "import sys; sys.exit(not float('$span') >= 8.9)" &&
    ok "the tasks ramped up over ${span}s" || fail "ramp too short: ${span}s"
check_many \
    'all(v["status"] == "ok" for v in t.values()) and len(t) == 50' "every task succeeded" \
    'st["requests"] == 50' "50 requests, none rate limited"

# the same file without burst starts far more than 5 in the first second
mk '' >free.ini
drove run free.ini -j 50
expect_eq "$rc" 0 "no burst: exit 0"
read -r n most span <<<"$(window_max)"
[ "$most" -gt 5 ] && ok "without burst $most start in one second" ||
    fail "without burst only $most in one second: the check above proves nothing"

# a burst's next second wakes the queue even while another backend's
# bucket is far off: slow (rpm = 1 in an 8 s window) holds s2 back for 8 s
# and arms the wake-up for then; f2, ready once f1 is done, waits for
# fast's next second (burst = 1) and starts then, not with s2
{
	backends "$P"
	printf '[backend slow]\ntype = openai\nmodel = m\napi_key_env = MOCK_OPENAI_KEY\n'
	printf 'base_url = https://127.0.0.1:%s/v1\nca_file = %s/root.pem\nrpm = 1\n' "$P" "$T"
	printf '[backend fast]\ntype = openai\nmodel = m\napi_key_env = MOCK_OPENAI_KEY\n'
	printf 'base_url = https://127.0.0.1:%s/v1\nca_file = %s/root.pem\nburst = 1\n' "$P" "$T"
	printf '[task s1]\nbackend = slow\nprompt = s1\n[task s2]\nbackend = slow\nprompt = s2\n'
	printf '[task f1]\nbackend = fast\nprompt = f1\n'
	printf '[task f2]\nbackend = fast\nprompt = f2 after {{f1}}\n'
} >wake.ini
DROVE_RATE_WINDOW=8 drove run wake.ini -j 4
expect_eq "$rc" 0 "wake: exit 0 ($(tail -3 "$T/.err"))"
check_many \
    't["s2"]["start_s"] >= 7.5' "s2 waited for slow's rpm ($(python3 -c 'import json; print(round(json.load(open(".drove/runs/last/summary.json"))["tasks"]["s2"]["start_s"], 2))'))" \
    't["f2"]["start_s"] < 4 and t["f2"]["start_s"] >= t["f1"]["start_s"] + 0.99' "f2 started in fast's next second, not with s2"

# bad values are load errors naming the line
printf '%s\n[task x]\nbackend = gpt\nprompt = x\n' "$(backends "$P" 'burst = -1')" >bad.ini
drove run bad.ini
expect_eq "$rc" 2 "burst = -1: exit 2"
expect_has "$err" "bad.ini:" "the error names the file"
expect_has "$err" "burst" "the error names the key"
finish
