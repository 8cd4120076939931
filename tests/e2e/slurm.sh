# drove's exec agents on a real single-node Slurm cluster (munged,
# slurmctld and slurmd on 127.0.0.1, lib/slurm.bash), started once for
# every case here and stopped at the end, however the test ends.  The
# test's temp dir is the shared file system: the node is this machine.
. "$(dirname "$0")/lib/slurm.bash"

slurm_start

# the cluster itself: srun streams output, forwards the exit status
o=$(srun --job-name=probe sh -c 'echo out; echo err >&2; exit 3' 2>e)
expect_eq "$?" 3 "srun forwards the exit status"
expect_eq "$o" out "srun streams the step's output"
expect_has "$(cat e)" err "srun streams the step's stderr"

# The agent: logs "start TASK JOB" and "end TASK JOB", sleeps what the
# prompt says (or 0.1 s once $T/fast exists), prints its task's name.
cat >agent.sh <<'SH'
read -r secs
[ -e "$T/fast" ] && secs=0.1
echo "start $DROVE_TASK ${SLURM_JOB_ID:-none}" >>"$T/log"
sleep "$secs"
echo "end $DROVE_TASK ${SLURM_JOB_ID:-none}" >>"$T/log"
echo "done $DROVE_TASK on ${SLURMD_NODENAME:-here}"
SH
export T
backend() {	# NAME [KEY = VALUE...]
	echo "[backend $1]"
	echo "type = exec"
	echo "command = sh $T/agent.sh"
	echo "launcher = slurm"
	echo "concurrency = 16"
	shift
	printf '%s\n' "$@"
}
# squeue_ours RUN: jobs of that run still pending or running
squeue_ours() {
	squeue -h -o '%j' | grep -c "^drove-$1-"
}
run_id() { basename "$(readlink -f "$1/.drove/runs/last")"; }

# --- a step over its time limit (Slurm counts minutes: it runs in the
# background while the other cases go on)
mkdir tl && (
	cd tl || exit 1
	{ backend sl 'time_limit = 1m'; printf '[task slow]\nprompt = 300\n'; } >s.ini
	"$DROVE" run s.ini -j 4 >o 2>e
	echo $? >rc
) &
tl_pid=$!

# --- 8 tasks on 2 CPUs
mkdir g && cd g || die "no dir"
{
	backend sl 'cpus = 1' 'mem = 100M'
	for i in 1 2 3 4 5 6 7 8; do
		printf '[task t%d]\nprompt = 2\n' "$i"
	done
} >s.ini
drove run s.ini -j 8 --json -v
expect_eq "$rc" 0 "8 tasks through Slurm succeed"
expect_py_many 'all(t[k]["status"] == "ok" for k in t)' "every task ok" \
    'len(set(t[k].get("job") for k in t)) == 8 and all(t[k].get("job") for k in t)' \
    "each task names its own Slurm job in summary.json" \
    's["speedup"] > 1.3' "the speedup is reported and above 1.3 on 2 CPUs" \
    'open(".drove/runs/last/tasks/t3.out").read().startswith("done t3 on ")' \
    "the step's output comes back as the task's"
expect_eq "$(squeue -h -t all -o '%j %c %m' | grep "^drove-$(run_id .)-t" |
    awk '{ print $2, $3 }' | sort | uniq -c | tr -s ' ')" " 8 1 100M" \
    "each step got --cpus-per-task=1 and --mem=100M"
expect_has "$out" '"event":"task_pending"' "a step waiting for a CPU is pending"
expect_has "$(grep task_pending <<<"$out" | head -1)" '"reason":"' \
    "with Slurm's reason"
expect_has "$err" ": pending (" "the view says which task is pending and why"
grep -q '"ev":"job".*"job":"[0-9]' .drove/runs/last/journal.jsonl &&
    ok "the journal records job ids" || fail "no job ids in the journal"
cd ..

# --- SIGINT leaves nothing in squeue
mkdir int && cd int || die "no dir"
{ backend sl; printf '[task a]\nprompt = 120\n[task b]\nprompt = 120\n'; } >s.ini
"$DROVE" run s.ini -j 4 >o 2>e &
pid=$!
# the time-limit case holds one CPU: one runs, one waits
wait_for '[ "$(grep -c "\"ev\":\"job\"" .drove/runs/last/journal.jsonl 2>/dev/null)" -ge 2 ]' 30 ||
    fail "two steps did not reach the queue"
r=$(run_id .)
expect_eq "$(squeue_ours "$r")" 2 "both steps are in squeue"
kill -INT $pid
wait $pid
expect_eq "$?" 130 "drove exits 130 on SIGINT"
wait_for "[ \"\$(squeue_ours $r)\" = 0 ]" 20 &&
    ok "SIGINT leaves nothing in squeue" ||
    fail "steps left in squeue: $(squeue -h -o '%i %j %T')"
cd ..

# --- kill -9, then --resume cancels the orphaned step first
mkdir orph && cd orph || die "no dir"
{ backend sl; printf '[task o]\nprompt = 120\n'; } >s.ini
"$DROVE" run s.ini >o 2>e &
pid=$!
wait_for '[ "$(grep -c "\"ev\":\"job\".*\"reason\":null" .drove/runs/last/journal.jsonl 2>/dev/null)" = 1 ]' 30 ||
    fail "the step did not start running"
job=$(sed -n 's/.*"ev":"job".*"job":"\([0-9]*\)".*/\1/p' .drove/runs/last/journal.jsonl | head -1)
kill -9 $pid
wait $pid 2>/dev/null
# srun goes too: only the job id in the journal can end the step now
for p in $(sed -n 's/.*"ev":"proc","pid":\([0-9]*\).*/\1/p' .drove/runs/last/journal.jsonl); do
	kill -9 -- "-$p" 2>/dev/null
done
sleep 0.5
expect_eq "$(squeue -h -j "$job" -o %T 2>/dev/null)" RUNNING \
    "the orphaned step runs on without drove and srun"
touch "$T/fast"
drove run s.ini --resume last
expect_eq "$rc" 0 "the resumed run succeeds"
expect_has "$err" "cancelled 1 slurm job left by drove pid $pid" \
    "resume says what it cancelled and whose"
expect_eq "$(squeue -h -t all -j "$job" -o %T 2>/dev/null)" CANCELLED \
    "the orphaned step was cancelled"
awk -v j="$job" '
	/"orphan":true/ && index($0, "\"job\":\"" j "\"") { c = NR }
	/"ev":"start"/ && c == 0 { s = NR }
	/"ev":"start"/ && c > 0 && !after { after = NR }
	END { exit !(c > 0 && after > c) }' .drove/runs/last/journal.jsonl &&
    ok "its cancel is journaled before the new attempt starts" ||
    fail "no orphan cancel before the new start"
expect_py 't["o"]["status"] == "ok" and t["o"]["job"] != "'"$job"'"' \
    "the task reran as a new job"
rm -f "$T/fast"
cd ..

# --- doctor
mkdir doc && cd doc || die "no dir"
backend sl "partition = $SLURM_PARTITION" >ok.ini
drove doctor ok.ini
expect_eq "$rc" 0 "doctor passes on the cluster"
expect_has "$out" "a step sees" "doctor ran a step that sees the directory"
backend sl 'partition = nosuch' >bad.ini
drove doctor bad.ini
expect_eq "$rc" 1 "doctor fails with a bad partition"
expect_has "$out" "partition 'nosuch' does not exist" \
    "doctor names the missing partition"
cd ..

# --- the time-limit case ends
wait $tl_pid
expect_eq "$(cat tl/rc)" 1 "a step over its time limit fails the run"
expect_has "$(cat tl/e)" "time limit" "the task's error is Slurm's time limit"
(cd tl && expect_py 't["slow"]["status"] == "failed" and "time limit" in t["slow"]["error"]' \
    "summary.json says time limit")

# --- a node set DOWN mid-run: the step fails with that reason, the retry
# runs once the node is back
mkdir down && cd down || die "no dir"
{ backend sl 'retries = 1'; printf '[task d]\nprompt = 120\n'; } >s.ini
"$DROVE" run s.ini >o 2>e &
pid=$!
wait_for '[ "$(grep -c "\"ev\":\"job\".*\"reason\":null" .drove/runs/last/journal.jsonl 2>/dev/null)" = 1 ]' 30 ||
    fail "the step did not start running"
touch "$T/fast"
scontrol update nodename="$SLURM_NODE" state=down reason=drove-test-down ||
    fail "cannot set the node down"
wait_for 'grep -q "\"ev\":\"job\".*\"attempt\":2" .drove/runs/last/journal.jsonl' 30 ||
    fail "no second attempt"
# ReturnToService=2 may have brought it back already
scontrol update nodename="$SLURM_NODE" state=resume 2>/dev/null
wait $pid
expect_eq "$?" 0 "the retry succeeds once the node is back"
grep '"event":"task_retry"' .drove/runs/last/journal.jsonl >retry
expect_has "$(cat retry)" "node failure" "the failed attempt's error is the node failure"
expect_py 't["d"]["status"] == "ok" and t["d"]["attempts"] == 2' \
    "the task took two attempts"
cd ..

finish
