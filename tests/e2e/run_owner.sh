# A run directory belongs to one live drove: a second --resume of a live
# run is refused with the owner's pid and leaves the journal and summary
# alone; report shows the live run as running, not as one to resume.
. "$(dirname "$0")/lib.sh"

cat >s.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'echo "$DROVE_TASK" >>started; i=0; while [ ! -e go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done; echo "done $DROVE_TASK"'
[task a]
prompt = x
[task b]
prompt = x
INI
"$DROVE" run s.ini >o 2>e &
pid=$!
for _ in $(seq 100); do
	[ "$(wc -l 2>/dev/null <started)" = 2 ] && break
	sleep 0.1
done
expect_eq "$(wc -l <started | tr -d ' ')" 2 "both agents started"
run=$(readlink .drove/runs/last)
expect_eq "$(cat .drove/runs/last/lock)" "$pid" "the lock names the owner"
j0=$(cat .drove/runs/last/journal.jsonl)

drove run s.ini --resume last
expect_eq "$rc" 2 "a second --resume of a live run is refused"
expect_has "$err" "drove pid $pid" "the refusal names the owner's pid"
expect_eq "$(cat .drove/runs/last/journal.jsonl)" "$j0" "journal not appended"
[ -e .drove/runs/last/summary.json ] && fail "summary.json written" ||
    ok "summary.json not written"
expect_eq "$(wc -l <started | tr -d ' ')" 2 "no task started twice"

drove report
expect_eq "$rc" 0 "report of a live run"
expect_has "$out" "running (drove pid $pid)" "report says running, with pid"
expect_not_has "$out$err" "--resume" "report does not say to resume"
drove report --json
expect_has "$out" '"status": "running"' "report --json says running"
drove clean --force
expect_eq "$rc" 2 "clean refuses a live run"
expect_has "$err" "running (drove pid $pid)" "clean names the owner"

touch go
wait $pid
expect_eq "$?" 0 "the owner finishes"
expect_eq "$(grep -c '"ev":"run"' .drove/runs/last/journal.jsonl)" 1 \
    "one run event in the journal"
drove report
expect_has "$out" "run $run ok" "report after the end shows the summary"

# the lock dies with its owner: a run killed with -9 resumes
rm -f go started
"$DROVE" run s.ini >o 2>e &
pid=$!
for _ in $(seq 100); do
	[ "$(wc -l 2>/dev/null <started)" = 2 ] && break
	sleep 0.1
done
kill -9 $pid
wait $pid 2>/dev/null
drove report
expect_not_has "$out" "running" "a dead owner's run is not running"
touch go
drove run s.ini --resume last
expect_eq "$rc" 0 "resume after the owner died"
finish
