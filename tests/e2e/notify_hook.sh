# The notify hook: run without a shell after each task that ran and once at
# the end, with the facts in DROVE_* variables and the environment filter
# every child gets; a failing, missing or hanging hook never fails or holds
# up the run (a hanging one is killed at notify_timeout), and each hook's
# end is in the journal.  A failed exec task's DROVE_EXIT_CODE is its
# agent's exit status (128 + a signal).
. "$(dirname "$0")/lib.sh"

cat >hook.sh <<'SH'
printf '%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$DROVE_EVENT" "$DROVE_RUN_ID" \
    "$DROVE_TASK" "$DROVE_STATUS" "$DROVE_EXIT_CODE" "$DROVE_RUN_DIR" \
    "$DROVE_WALL_S" "$DROVE_COST_USD" "${NOTIFY_TEST_API_KEY:-nokey}" >>"$1"
SH
cat >t.ini <<INI
[drove]
notify = sh '$T/hook.sh' '$T/events log'

[backend sh]
type = exec
command = sh -c 'cat; [ "\$DROVE_TASK" != b ] || exit 7; [ "\$DROVE_TASK" != d ] || kill -TERM \$\$'

[task a]
prompt = alpha

[task b]
prompt = beta

[task c]
after = b
prompt = gamma

[task d]
prompt = delta
INI
export NOTIFY_TEST_API_KEY=secret
drove run t.ini -k
unset NOTIFY_TEST_API_KEY
expect_eq "$rc" 1 "the run fails as its task b does"
run=$(basename "$(readlink .drove/runs/last)")
dir=$(python3 -c 'import json; print(json.load(open(".drove/runs/last/summary.json"))["run_dir"])')
log=$(cat "events log" 2>/dev/null)
expect_eq "$(printf '%s\n' "$log" | grep -c '^task|')" 3 \
    "one hook for each task that ran (a, b and d; c was skipped)"
expect_has "$log" "task|$run|a|ok|0|$dir|" "a: its event, run, status, exit code and run directory"
expect_has "$log" "task|$run|b|failed|7|$dir|" "b: failed, its agent's exit code 7"
expect_has "$log" "task|$run|d|failed|143|$dir|" "d: killed by SIGTERM, 128 + 15"
expect_eq "$(printf '%s\n' "$log" | tail -n 1 | cut -d'|' -f1-6)" \
    "run|$run||failed|1|$dir" "the run's hook comes last, with no task and drove's exit code"
expect_eq "$(printf '%s\n' "$log" | cut -d'|' -f7 | grep -cE '^[0-9]+\.[0-9]{3}$')" 4 \
    "DROVE_WALL_S is seconds"
expect_eq "$(printf '%s\n' "$log" | cut -d'|' -f8 | grep -cE '^[0-9]+\.[0-9]+$')" 4 \
    "DROVE_COST_USD is a number"
expect_not_has "$log" "secret" "a hook does not get the variables that look like secrets"
expect_eq "$(grep -c '"ev":"notify"' .drove/runs/last/journal.jsonl)" 4 \
    "each hook's end is in the journal"

# --notify replaces the key; '' turns it off
rm -f "events log" other
drove run t.ini -k --notify "sh '$T/hook.sh' '$T/other'"
expect_eq "$(wc -l <other 2>/dev/null | tr -d ' ')" 4 "--notify CMD replaces [drove] notify"
[ -e "events log" ] && fail "the key's hook ran too" || ok "only --notify's hook ran"
rm -f other
drove run t.ini -k --notify ''
[ -e "events log" ] && fail "--notify '' still ran the hook" || ok "--notify '' turns the hook off"

# a bad command is a load error with its line
cat >bad.ini <<'INI'
[drove]
notify = sh -c 'oops
[backend sh]
type = exec
command = cat
[task a]
prompt = x
INI
drove run bad.ini
expect_eq "$rc" 2 "an unterminated quote in notify is a usage error"
expect_has "$err" "bad.ini:2" "the error names the line"

# failing, missing and hanging hooks: the run goes on and succeeds
cat >slow.sh <<'SH'
echo "$$" >>"$1.pids"
[ "$DROVE_TASK" = a ] && exec sleep 60
[ "$DROVE_EVENT" = run ] && exit 3
exit 0
SH
cat >h.ini <<INI
[drove]
notify = sh '$T/slow.sh' '$T/h'
notify_timeout = 3s

[backend sh]
type = exec
command = cat

[task a]
prompt = alpha

[task b]
after = a
prompt = beta

[task c]
after = b
prompt = gamma
INI
drove run h.ini -v
expect_eq "$rc" 0 "hooks that fail or hang do not fail the run"
j=$(cat .drove/runs/last/journal.jsonl)
# event order, not time: b and c ran and ended while a's hook hung
a_hook=$(grep -n '"ev":"notify","for":"task","task":"a"' .drove/runs/last/journal.jsonl | cut -d: -f1)
c_done=$(grep -n '"ev":"task","task":"c","status":"ok"' .drove/runs/last/journal.jsonl | cut -d: -f1)
[ -n "$a_hook" ] && [ -n "$c_done" ] && [ "$c_done" -lt "$a_hook" ] &&
    ok "the tasks after a ran while a's hook hung" ||
    fail "a's hook held the run up (c done at line '$c_done', a's hook at '$a_hook')"
expect_has "$(grep '"task":"a"' .drove/runs/last/journal.jsonl | grep '"ev":"notify"')" \
    "timed out after 3s and was killed" "the hanging hook is killed at notify_timeout"
expect_has "$(grep '"for":"run"' .drove/runs/last/journal.jsonl)" '"error":"exited 3"' \
    "the failing hook's end is journaled"
expect_has "$err" "notify: the hook for the run exited 3" "-v tells of a failed hook"
alive=0
for p in $(cat h.pids); do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
expect_eq "$alive" 0 "no hook is left running"

# Ctrl-C while the run's end waits for a slow hook: the hook is ended at
# once, the run keeps its status
cat >wait.sh <<'SH'
[ "$DROVE_EVENT" = run ] || exit 0
echo "$$" >"$1"
exec sleep 60
SH
rm -f run.pid
sed 's/^notify_timeout = .*/notify_timeout = 120s/' h.ini >w.ini
"$DROVE" run w.ini --notify "sh '$T/wait.sh' '$T/run.pid'" >/dev/null 2>&1 &
pid=$!
wait_for '[ -s run.pid ]' 20 || die "the run's hook did not start"
kill -INT $pid
wait $pid
rc=$?
expect_eq "$rc" 0 "Ctrl-C during the wait for hooks keeps the run's status"
kill -0 "$(cat run.pid)" 2>/dev/null && fail "the slow hook is still running" ||
    ok "Ctrl-C ended the slow hook"
expect_has "$(grep '"for":"run"' .drove/runs/last/journal.jsonl)" '"error":"cancelled"' \
    "the cancelled hook is journaled"

drove run h.ini --notify "$T/no-such-hook"
expect_eq "$rc" 0 "a missing hook does not fail the run"
expect_has "$(grep '"ev":"notify"' .drove/runs/last/journal.jsonl | head -n 1)" \
    "no-such-hook" "the journal says why the missing hook did not run"
finish
