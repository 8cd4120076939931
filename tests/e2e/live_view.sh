#!/usr/bin/env bash
# The live view on a terminal, read off a tmux pane as a person sees it:
# at 80x24, a run of slow, fast, failing and rate-limited tasks shows the
# totals line, the running tasks with elapsed times that grow, and one
# permanent line per finished task; a resize leaves no garbage; the block
# is gone when the run ends.  At 200x50, 70 tasks at -j 60 fit the height
# with a count of the rest.  Not a terminal: plain lines only.
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"
need tmux

SOCK=drove-live-$$
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
cleanup_hooks+=("tmux -L $SOCK kill-server 2>/dev/null")

# screen [-S -N]: the pane's text now (with -S, N lines of its history
# too), trailing blank lines dropped
screen() { tm capture-pane -p -t live "$@" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'; }
# wait_screen REGEX SECONDS: until the pane matches (extended regex)
wait_screen() {
	local i n=$(($2 * 10))
	for i in $(seq 1 "$n"); do
		screen | grep -Eq -- "$1" && return 0
		sleep 0.1
	done
	return 1
}
# run_in W H CMD: a fresh tmux session of W x H running CMD in $T
run_in() {
	tm kill-session -t live 2>/dev/null
	tm new-session -d -s live -x "$1" -y "$2" \
	    "cd '$T' && $3; echo EXIT=\$?; sleep 600"
}
# elapsed NAME: the seconds the block shows for task NAME
elapsed() { screen | awk -v n="$1" '$1 == n && /running/ { sub("s$", "", $3); print $3; exit }'; }

start_llm rl
P=$MOCK_PORT
# a slow task runs until release exists (at most 60 s)
cat >agent.sh <<'SH'
case $DROVE_TASK in
slow*) i=0; while [ ! -e release ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; echo slow ;;
fast) echo fast ;;
bad) echo broken >&2; exit 3 ;;
*) echo "$DROVE_TASK" ;;
esac
SH
{
	backends "$P"
	cat <<'INI'
[backend sh]
type = exec
command = sh agent.sh

[task slow1]
backend = sh
prompt = x

[task slow2]
backend = sh
prompt = x

[task fast]
backend = sh
prompt = x

[task bad]
backend = sh
prompt = x

[task needs_bad]
backend = sh
prompt = x
after = bad

[task limited]
backend = claude
retries = 0
prompt = hello [[fail=429x1 ra=s:4]]
INI
} >run.ini
export MOCK_ANTHROPIC_KEY
run_in 80 24 "'$DROVE' run run.ini -k"

wait_screen 'limited .*waiting for a rate limit' 20 ||
    fail "80x24: the rate-limited task never showed its wait: $(screen)"
s=$(screen)
expect_has "$s" "running, " "80x24: the totals line"
printf '%s\n' "$s" | grep -Eq '^\[[0-9]+/6 done\] [0-9]+ running, [0-9]+ waiting, 1 failed \| [0-9.k]+ tok \$[0-9.]+ \| [0-9]+s' &&
    ok "80x24: totals: done, running, waiting, failed, tokens, cost, elapsed" ||
    fail "80x24: totals line: $s"
printf '%s\n' "$s" | grep -Eq '^  slow1 +sh +[0-9]+s  running$' &&
    ok "80x24: a running task with backend and elapsed time" ||
    fail "80x24: no running slow1 line: $s"
printf '%s\n' "$s" | grep -Eq '^drove: \[[0-9]/6\] ok +fast ' &&
    ok "80x24: a permanent line for the fast task" || fail "80x24: fast: $s"
printf '%s\n' "$s" | grep -Eq '^drove: \[[0-9]/6\] failed +bad +command .* status 3' &&
    ok "80x24: a permanent line for the failed task, with why" ||
    fail "80x24: bad: $s"
printf '%s\n' "$s" | grep -Eq '^drove: \[[0-9]/6\] skipped +needs_bad ' &&
    ok "80x24: a permanent line for the skipped task" ||
    fail "80x24: needs_bad: $s"
awk 'length > 80 { bad = 1 } END { exit bad }' <<<"$s" &&
    ok "80x24: no line wider than the pane" || fail "80x24: wide line: $s"

# the elapsed time moves while nothing else happens
e1=$(elapsed slow1)
wait_screen 'limited .*[0-9]+s  running|ok +limited' 20 ||
    fail "the rate-limited task did not go on: $(screen)"
for i in $(seq 1 40); do
	e2=$(elapsed slow1)
	[ -n "$e2" ] && [ -n "$e1" ] && [ "$e2" -gt "$e1" ] && break
	sleep 0.2
done
[ -n "$e1" ] && [ -n "$e2" ] && [ "$e2" -gt "$e1" ] &&
    ok "80x24: elapsed time grows ($e1 s, then $e2 s)" ||
    fail "80x24: elapsed did not grow: '$e1' then '$e2'"
wait_screen 'ok +limited ' 20 && ok "80x24: the rate-limited task ended ok" ||
    fail "80x24: limited never ended: $(screen)"

# narrower and shorter: one totals line, each running task once, nothing
# wider than the pane
tm resize-window -t live -x 50 -y 12
sleep 0.5
wait_screen 'slow2' 5
s=$(screen)
expect_eq "$(grep -c 'done\] ' <<<"$s")" 1 "resized to 50x12: one totals line"
expect_eq "$(grep -Ec '^  slow1 ' <<<"$s")" 1 "resized: slow1 shown once"
expect_eq "$(grep -Ec '^  slow2 ' <<<"$s")" 1 "resized: slow2 shown once"
awk 'length > 50 { bad = 1 } END { exit bad }' <<<"$s" &&
    ok "resized: no line wider than the pane" || fail "resized: wide: $s"
tm resize-window -t live -x 80 -y 24
sleep 0.3
: >release
wait_screen '^EXIT=' 30 || fail "the run did not end: $(screen)"
s=$(screen -S -200)
expect_has "$s" "EXIT=1" "the failed task fails the run"
expect_not_has "$s" "running, " "the live block is gone after the run"
for t in slow1 slow2 fast limited; do
	printf '%s\n' "$s" | grep -Eq "^drove: \[[0-9]/6\] ok +$t " &&
	    ok "after the run: a permanent line for $t" ||
	    fail "after the run: no line for $t: $s"
done
printf '%s\n' "$s" | grep -Eq 'ok: 4 ok, 1 failed, 1 skipped|failed: 4 ok, 1 failed, 1 skipped' &&
    ok "the summary after the block" || fail "summary: $s"

# 200x50, 70 slow tasks at -j 60: the block fits, the rest are counted
rm -f release
{
	printf '[backend sh]\ntype = exec\ncommand = sh agent.sh\n\n'
	for i in $(seq 1 70); do
		printf '[task slow%02d]\nprompt = x\n\n' "$i"
	done
} >many.ini
run_in 200 50 "'$DROVE' run many.ini -j 60"
wait_screen '^\[0/70 done\] 60 running, 10 waiting' 30 ||
    fail "200x50: totals: $(screen)"
sleep 1.2
s=$(screen)
rows=$(printf '%s\n' "$s" | grep -c '')
[ "$rows" -le 50 ] && ok "200x50: the screen holds it ($rows rows)" ||
    fail "200x50: $rows rows"
printf '%s\n' "$s" | grep -Eq '^  \.\.\. and [0-9]+ more$' &&
    ok "200x50: a count of the tasks not shown" || fail "200x50: no count: $s"
shown=$(grep -Ec '^  slow[0-9]+ ' <<<"$s")
[ "$shown" -ge 40 ] && [ "$shown" -le 48 ] &&
    ok "200x50: $shown tasks shown, the block fits the height" ||
    fail "200x50: $shown task lines"
expect_eq "$(grep -Ec '^  slow[0-9]+ .*running$' <<<"$s")" "$shown" \
    "200x50: the running tasks come before those waiting for a slot"
: >release
wait_screen '^EXIT=0' 60 || fail "200x50: the run did not end: $(screen)"
expect_not_has "$(screen)" "running, " "200x50: the block is gone"

# not a terminal: plain lines, nothing redrawn, no colour
rm -f release
: >release
drove run many.ini -j 60
expect_eq "$rc" 0 "plain: the run succeeds"
expect_not_has "$err" $'\033' "plain: no escape sequences"
expect_not_has "$err" $'\r' "plain: no carriage returns"
expect_eq "$(grep -Ec '^drove: \[[0-9]+/70\] ok +slow' <<<"$err")" 70 \
    "plain: one line per finished task"
finish
