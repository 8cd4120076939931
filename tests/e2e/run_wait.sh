# drove wait blocks until runs end and exits with their status; drove stop
# interrupts a running run as Ctrl-C would, keeping what finished; drove ls
# lists the runs newest first.
. "$(dirname "$0")/lib.sh"

cat >s.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'echo x >>"count-$DROVE_TASK"; case $DROVE_TASK in fast*) echo "$DROVE_TASK";; *) i=0; while [ ! -e go ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done; [ -e fail ] && exit 3; echo "$DROVE_TASK";; esac'
[task fast1]
prompt = x
[task fast2]
prompt = x
[task slow1]
prompt = x
[task slow2]
prompt = x
[task last]
after = fast1, slow1
prompt = x
INI

# a run whose slow tasks fail once the file go is there
touch fail
drove run -d s.ini
id1=$out
"$DROVE" wait "$id1" >w.out 2>w.err &
wpid=$!
wait_for 'journal_has fast1 ok && journal_has fast2 ok' 10 || die "the run did not start"
switches() { awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$wpid/status"; }
sw0=$(switches)
holds_for 'kill -0 '"$wpid"' 2>/dev/null' 1 && ok "wait blocks while the run runs" ||
    fail "wait returned while the run runs"
# asleep in the kernel, not waking up to look: a poll every 50 ms would
# have been woken about 20 times in that second
sw1=$(switches)
[ $((sw1 - sw0)) -le 3 ] && ok "wait does not poll" ||
    fail "wait woke up $((sw1 - sw0)) times in a second"
touch go
wait $wpid
expect_eq "$?" 1 "wait exits with a failed run's status"
expect_eq "$(cat w.out)" "run $id1 failed (exit 1)" "wait says how the run ended"
drove wait "$id1"
expect_eq "$rc" 1 "wait on an ended run returns at once with its status"

# several runs: the worst status
rm -f fail
drove run -d s.ini
id2=$out
drove wait "$id2" "$id1"
expect_eq "$rc" 1 "wait on several runs exits with the worst"
expect_has "$out" "run $id2 done (exit 0)" "the ok run is done"
drove wait "$id2"
expect_eq "$rc" 0 "wait on an ok run exits 0"
drove wait nosuch
expect_eq "$rc" 2 "wait on no such run exits 2"

# stop: finished tasks stay done, a resume redoes only the rest
rm -f go count-*
drove run -d s.ini
id3=$out
pid=$(cat ".drove/runs/$id3/lock")
wait_for 'journal_has fast1 ok && journal_has fast2 ok && [ -s count-slow1 ] && [ -s count-slow2 ]' 10 ||
    die "the run did not reach mid-run"
drove stop "$id3"
expect_eq "$rc" 0 "stop exits 0 once the run ended"
expect_has "$out" "run $id3 interrupted (exit 130)" "stop says the run was interrupted"
# the lock goes with the journal closed, a moment before the exit
wait_for '! kill -0 '"$pid"' 2>/dev/null || grep -q "^State:.*Z" /proc/'"$pid"'/status' 10 &&
    ok "the run's drove has ended" || fail "the run's drove still runs"
expect_py 't["fast1"]["status"] == "ok" and t["slow1"]["status"] == "cancelled" and s["status"] == "interrupted"' "statuses after stop"
drove status --json "$id3"
printf '%s\n' "$out" >st.json
expect_py 's["status"] == "interrupted" and s["exit"] == 130' "status after stop" st.json
drove stop "$id3"
expect_eq "$rc" 1 "stop of a run that is not running exits 1"
expect_has "$err" "not running" "stop says why"
touch go
drove run s.ini --resume "$id3"
expect_eq "$rc" 0 "the stopped run resumes"
expect_eq "$(cat count-fast1)" x "fast1 not redone"
expect_eq "$(cat count-fast2)" x "fast2 not redone"
expect_eq "$(wc -l <count-slow1 | tr -d ' ')" 2 "slow1 redone"
expect_eq "$(wc -l <count-last | tr -d ' ')" 1 "last ran once"
drove status --json "$id3"
printf '%s\n' "$out" >st.json
expect_py 's["status"] == "done" and s["counts"]["ok"] == 5 and s["counts"]["cancelled"] == 0' "status after the resume: every task ok" st.json

# a lock held by a process that is not the run's: stop signals no one
mkdir -p .drove/runs/forged
printf '{"ev":"run","event":"run_start","run":"forged","tasks":1,"time":1}\n' \
    >.drove/runs/forged/journal.jsonl
sleep 60 &
victim=$!
: >.drove/runs/forged/lock
flock .drove/runs/forged/lock sleep 60 &
holder=$!
cleanup_hooks+=("kill $victim $holder 2>/dev/null")
wait_for '! flock -n .drove/runs/forged/lock true' 10 || die "the lock is not held"
echo "$victim" >.drove/runs/forged/lock
drove stop forged
expect_eq "$rc" 2 "stop refuses a pid that does not hold the run's lock"
expect_has "$err" "not the process that runs it" "stop says why"
kill -0 "$victim" 2>/dev/null && ok "the other process was not signalled" ||
    fail "the other process was signalled"
kill "$victim" "$holder" 2>/dev/null
wait_for '! kill -0 '"$holder"' 2>/dev/null' 10

# ls: newest first, with state and wall time
rm -rf .drove/runs/forged
drove ls
expect_eq "$rc" 0 "ls exits 0"
order=$(printf '%s\n' "$out" | awk 'NR > 1 { print $1 }' | tr '\n' ' ')
expect_eq "$order" "$id3 $id2 $id1 " "ls lists the runs newest first"
expect_has "$(printf '%s\n' "$out" | grep "^$id1 ")" "failed" "ls gives the state"
expect_has "$(printf '%s\n' "$out" | grep "^$id2 ")" "done" "ls: a done run"
expect_has "$(printf '%s\n' "$out" | grep "^$id2 ")" "5/5" "ls: tasks ok of all"
printf '%s\n' "$out" | grep "^$id3 " | grep -qE ' [0-9]+\.[0-9]s ' &&
    ok "ls gives the wall time" || fail "no wall time in: $out"
drove ls --run-dir nowhere
expect_eq "$rc$out" 0 "ls of no runs prints nothing"
finish
