# Independent tasks run at once; dependent ones wait; the summary says so.
. "$(dirname "$0")/lib.sh"

cat >five.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'sleep 1; echo "$DROVE_TASK done"'
[task a]
prompt = one
[task b]
prompt = two
[task c]
prompt = three
[task d]
prompt = four
[task e]
prompt = five
INI
drove run five.ini
expect_eq "$rc" 0 "five independent tasks succeed"
expect_has "$out" "==> a <==" "stdout carries every sink, with headers"
expect_has "$out" "e done" "stdout carries the outputs"
expect_has "$err" "speedup" "stderr has the summary"
# all five started together and the run took about one task's time; the
# bound is loose on purpose (shared machines), the benchmark is strict
expect_py_many \
    'max(v["start_s"] for v in t.values()) - min(v["start_s"] for v in t.values()) < 0.5' "all five start at once" \
    's["wall_s"] < 3.0 and s["sum_s"] > 4.9' "wall well under the sequential sum" \
    's["speedup"] > 1.6' "speedup reported" \
    'all(k in s for k in ["run","status","wall_s","sum_s","speedup","critical_path_s","critical_path","tokens_in","tokens_out","cost_usd","tasks"])' "summary.json has every field" \
    'all(all(k in v for k in ["status","backend","attempts","start_s","end_s","tokens_in","tokens_out","cost_usd","output","error"]) for v in t.values())' "every task has every field" \
    's["status"] == "ok" and t["a"]["backend"] == "sh" and t["a"]["attempts"] == 1' "status, backend, attempts"
expect_eq "$(cat .drove/runs/last/tasks/c.out)" "c done" "output file written"
expect_eq "$(ls .drove/runs/last/tasks | grep -c tmp)" 0 "no temp files left"

cat >four.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'sleep 1; printf "%s:" "$DROVE_TASK"; cat'
[task tests]
prompt = T
[task docs]
prompt = D
[task lint]
prompt = L
[task changelog]
prompt = report={{tests}}
INI
drove run four.ini
expect_eq "$rc" 0 "four-step succeeds"
expect_py_many \
    't["changelog"]["start_s"] >= t["tests"]["end_s"] - 0.01' "changelog waits for tests" \
    'abs(t["docs"]["start_s"] - t["tests"]["start_s"]) < 0.5 and abs(t["lint"]["start_s"] - t["tests"]["start_s"]) < 0.5' "tests, docs, lint start together" \
    's["critical_path"] == ["tests", "changelog"]' "critical path is tests -> changelog" \
    '1.9 < s["critical_path_s"] < 3.0 and s["wall_s"] < 4.0' "wall time about the critical path" \
    'json.loads(open(".drove/runs/last/journal.jsonl").readline())["ev"] == "run"' "journal starts with the run event"
expect_eq "$(cat .drove/runs/last/tasks/changelog.out)" "changelog:report=tests:T" "reference inserts the output"
expect_eq "$(grep -c '"ev":"task"' .drove/runs/last/journal.jsonl)" 4 "journal has one task event per task"
finish
