# kill -9 at random moments of a 500-task run, many times: after each kill
# every task the journal records as done has its whole output on disk and
# its start recorded before, and the resumed runs redo only the others,
# never a task recorded done.
. "$(dirname "$0")/lib.sh"

N=500
KILLS=${CRASH_KILLS:-20}
export RUNLOG="$T/runlog"
: >"$RUNLOG"
{
	printf '[backend sh]\ntype = exec\n'
	# a result of 12 KiB, a line per task start in the run log
	printf 'command = sh -c '\''echo "$DROVE_TASK" >>"$RUNLOG"; '
	printf 'yes "$DROVE_TASK" | head -n 2000'\''\n'
	for ((i = 0; i < N; i++)); do printf '[task t%d]\nprompt = x\n' $i; done
} >c.ini

# CHECK K: the journal's done tasks have their whole output; records the
# done set and each task's start count at this moment in check.K
check() {
	python3 - "$1" "$N" <<'PY'
import json, os, sys
k, n = sys.argv[1], int(sys.argv[2])
d = ".drove/runs/last"
done = set()
bad = []
# the lines a loop turn keeps for its end (a start, an agent's end) are
# lost with a kill, never written after what depends on them: in each
# run, a task's start comes before its ok record, and an agent's process
# group (proc) is recorded before it ends (proc_end)
started, procs = set(), set()
with open(d + "/journal.jsonl", "rb") as f:
    for raw in f:
        if not raw.endswith(b"\n"):
            continue	# torn by the kill
        try:
            ev = json.loads(raw)
        except ValueError:
            continue
        kind = ev.get("ev")
        if kind == "run":
            started, procs = set(), set()
        elif kind == "start":
            started.add(ev["task"])
        elif kind == "proc":
            procs.add(ev["pid"])
        elif kind == "proc_end" and ev["pid"] not in procs:
            bad.append("proc_end of %d before its proc" % ev["pid"])
        elif kind == "task" and ev.get("status") == "ok":
            done.add(ev["task"])
            if ev["task"] not in started:
                bad.append("%s ok before its start" % ev["task"])
for t in sorted(done):
    want = (t + "\n") * 2000
    try:
        got = open("%s/tasks/%s.out" % (d, t)).read()
    except OSError as e:
        got = str(e)
    if got != want:
        bad.append("%s done with %d bytes of output" % (t, len(got)))
counts = {}
for line in open(os.environ["RUNLOG"]):
    counts[line.strip()] = counts.get(line.strip(), 0) + 1
with open("check.%s" % k, "w") as f:
    json.dump({"done": sorted(done), "counts": counts}, f)
print("kill %s: %d of %d recorded done" % (k, len(done), n))
if bad:
    print("kill %s: " % k + ", ".join(bad[:10]))
    sys.exit(1)
PY
}

resume=""
partial=0
for ((k = 1; k <= KILLS; k++)); do
	lines=$(cat .drove/runs/last/journal.jsonl 2>/dev/null | wc -l)
	"$DROVE" run -q -j 50 c.ini $resume >/dev/null 2>>err.log &
	pid=$!
	resume="--resume last"
	# a random moment: 0 to 300 ms after this run journaled its start
	# or, every other kill, after it journaled a task done, so that some
	# kills land mid-run however slow the machine is
	started() {
		[ "$(cat .drove/runs/last/journal.jsonl 2>/dev/null |
		    wc -l)" -gt "$lines" ]
	}
	one_done() {
		tail -n +$((lines + 1)) .drove/runs/last/journal.jsonl \
		    2>/dev/null | grep -q '"status":"ok"'
	}
	wait_for started 20 || fail "kill $k: the run did not start"
	[ $((k % 2)) = 0 ] && wait_for one_done 20
	sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", r % 301 / 1000 }')"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	[ -e .drove/runs/last/journal.jsonl ] || continue
	if out=$(check $k); then
		ok "$out"
	else
		fail "$out"
	fi
	n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["done"]))' check.$k)
	[ "$n" -gt 0 ] && [ "$n" -lt $N ] && partial=$((partial + 1))
done
[ "$partial" -gt 0 ] || fail "no kill landed in the middle of the run"

drove run -q -j 50 c.ini --resume last
expect_eq "$rc" 0 "the last resume completes the run"
check final >/dev/null || fail "final outputs"
python3 - "$N" <<'PY' || fail "outputs or starts after the resumes"
import glob, json, sys
n = int(sys.argv[1])
final = json.load(open("check.final"))
if len(final["done"]) != n:
    sys.exit("%d of %d done" % (len(final["done"]), n))
for t in final["done"]:
    if open(".drove/runs/last/tasks/%s.out" % t).read() != (t + "\n") * 2000:
        sys.exit("wrong output for " + t)
for f in glob.glob("check.[0-9]*"):
    c = json.load(open(f))
    for t in c["done"]:
        if final["counts"].get(t) != c["counts"].get(t):
            sys.exit("%s started again after %s recorded it done" % (t, f))
PY
[ $? = 0 ] && ok "every output whole; no task started again once recorded done"
finish
