#!/usr/bin/env bash
# Limits on what a run may start: [drove] max_calls refuses, at load, a
# graph that would make more calls (replicas, judges and summaries
# counted), naming the count; confirm_usd asks on a terminal before a run
# whose worst case is over it (y starts it, anything else does not), and
# elsewhere refuses it (exit 2, the estimate and how to go on) unless
# --yes.  The terminal is a tmux pane, as a person would see it.
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

start_llm mock
P=$MOCK_PORT
# pick: 3 replicas and a judge asked at most twice: 5 calls on claude,
# each prompt 18 bytes (5 tokens) + 100 out; the judge 256 + 3 * 32 + 18
# = 370 bytes (93 tokens) + 300 in, asked again 626 bytes (157 tokens) +
# 300; at 3 and 15 per million: 3 * (5 * 3 + 100 * 15) + (393 * 3 + 100 *
# 15) + (457 * 3 + 100 * 15) = 4545 + 2679 + 2871 = 10095 per million,
# $0.0101
{
	backends "$P" 'max_tokens = 100'
	cat <<'INI'
[task pick]
backend = claude
replicas = 3
merge = competitive
judge = claude
prompt = pick [[reply=1]]
INI
} >base.ini
with() { { cat base.ini; printf '[drove]\n%s\n' "$1"; } >"$2"; }
# the line of the [drove] key
L=$(($(wc -l <base.ini) + 2))
requests() { stat mock requests; }

# --- max_calls ---------------------------------------------------------
with 'max_calls = 4' m4.ini
drove graph m4.ini
expect_eq "$rc" 2 "max_calls: graph refused, exit 2"
expect_has "$err" "m4.ini:$L: max_calls = 4, but this graph would make 5 calls (3 of tasks, 2 of judges, 0 of summaries)" \
    "max_calls: the count named, with file:line"
n0=$(requests)
drove run m4.ini
expect_eq "$rc" 2 "max_calls: run refused, exit 2"
expect_has "$err" "would make 5 calls" "max_calls: run names the count"
expect_eq "$(requests)" "$n0" "max_calls: no request made"
[ -d .drove ] && fail "max_calls: a run directory was made" || ok "max_calls: nothing started"
with 'max_calls = 5' m5.ini
drove run m5.ini
expect_eq "$rc" 0 "max_calls at the count: runs"
with 'max_calls = -1' mbad.ini
drove graph mbad.ini
expect_eq "$rc" 2 "max_calls: a bad value is refused"
expect_has "$err" "mbad.ini:$L:" "max_calls: bad value with file:line"

# --- confirm_usd without a terminal --------------------------------------
with 'confirm_usd = 0.005' c.ini
n0=$(requests)
drove run c.ini </dev/null
expect_eq "$rc" 2 "confirm_usd, no terminal: exit 2"
expect_has "$err" "worst case of this run is \$0.0101 (5 calls)" "confirm_usd: the estimate named"
expect_has "$err" "c.ini:$L: over confirm_usd = 0.005" "confirm_usd: the key named with file:line"
expect_has "$err" "--yes" "confirm_usd: says how to proceed"
expect_eq "$(requests)" "$n0" "confirm_usd: no request made"
drove run c.ini --yes </dev/null
expect_eq "$rc" 0 "confirm_usd with --yes: runs"
expect_eq "$(requests)" "$((n0 + 4))" "confirm_usd with --yes: the calls made"
with 'confirm_usd = 0.02' c2.ini
drove run c2.ini </dev/null
expect_eq "$rc" 0 "worst case under confirm_usd: runs without asking"

# --- confirm_usd on a terminal -------------------------------------------
if command -v tmux >/dev/null 2>&1; then
	SOCK=drove-confirm-$$
	tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
	cleanup_hooks+=("tmux -L $SOCK kill-server 2>/dev/null")
	screen() { tm capture-pane -p -t "$S"; }
	wait_screen() {
		local i
		for i in $(seq 1 $(($2 * 10))); do
			screen | grep -Eq -- "$1" && return 0
			sleep 0.1
		done
		return 1
	}
	# ask ANSWER: run c.ini in a pane of its own and answer the question
	# (a session per answer: killing the last one would end the server
	# while the next one starts)
	ask() {
		S=ask-$1
		tm new-session -d -s "$S" -x 120 -y 30 \
		    "cd '$T' && '$DROVE' run -q c.ini >ask.out; echo EXIT=\$?; sleep 600"
		wait_screen 'Start it\? \[y/N\]' 30 ||
		    fail "tty: no question on the pane: $(screen)"
		tm send-keys -t "$S" "$1" Enter
		wait_screen 'EXIT=[0-9]+' 60 || fail "tty: drove did not end: $(screen)"
	}
	n0=$(requests)
	ask n
	expect_has "$(screen)" "worst case of this run is \$0.0101 (5 calls)" "tty: the question shows the estimate"
	expect_has "$(screen)" "EXIT=2" "tty: n: not started, exit 2"
	expect_has "$(screen)" "not started" "tty: n: says so"
	expect_eq "$(requests)" "$n0" "tty: n: no request made"
	ask y
	expect_has "$(screen)" "EXIT=0" "tty: y: the run starts and succeeds"
	expect_eq "$(requests)" "$((n0 + 4))" "tty: y: the calls made"
else
	echo "tmux is not installed: the terminal checks are skipped" >&2
fi
finish
