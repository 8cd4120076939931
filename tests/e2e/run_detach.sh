# drove run -d: the run goes on in a session of its own while the command
# returns with its id; SIGHUP does not stop it; drove status tells its
# state, counts, running tasks and cost during and after the run.
. "$(dirname "$0")/lib.sh"

cat >s.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'case $DROVE_TASK in fast) echo fast;; *) i=0; while [ ! -e go ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done; echo "done $DROVE_TASK";; esac'
[task fast]
prompt = x
[task slow]
prompt = x
[task last]
after = slow
prompt = x
INI

# a load error is the terminal's, with the usual status
printf '[task a]\nprompt = x\nbackend = nope\n' >bad.ini
drove run -d bad.ini
expect_eq "$rc" 2 "run -d of a bad file exits 2"
expect_has "$err" "unknown backend 'nope'" "the load error reaches the terminal"
expect_eq "$out" "" "no run id for a run that did not start"

drove run -d s.ini
expect_eq "$rc" 0 "run -d returns 0 once the run started"
id=$out
expect_eq "$id" "$(readlink .drove/runs/last)" "run -d prints the run id"
expect_has "$err" "$id/drove.log" "run -d says where the output goes"
dir=.drove/runs/$id
pid=$(cat "$dir/lock")
# it returned while the run goes on: slow waits for the file go
kill -0 "$pid" 2>/dev/null && ok "the run goes on after run -d returned" ||
    fail "the run is not alive"
expect_eq "$(ps -o sid= -p "$pid" | tr -d ' ')" "$pid" "the run leads a session of its own"
expect_eq "$(readlink "/proc/$pid/fd/0")" /dev/null "the run's stdin is /dev/null"

wait_for 'journal_has fast ok && grep -q "\"task_start\",\"task\":\"slow\"" $dir/journal.jsonl' 10 ||
    die "the run did not reach slow"
drove status
expect_eq "$rc" 0 "status of a running run"
expect_has "$out" "run $id running (drove pid $pid)" "status says running, with the pid"
expect_has "$out" "3: 1 ok, 0 failed, 0 skipped, 1 running, 1 waiting" "status counts the tasks"
expect_has "$out" "running    slow" "status names the running task"
expect_has "$out" "so far" "status gives the cost so far"
drove status --json "$id"
printf '%s\n' "$out" >st.json
expect_py_many -f st.json \
    's["status"] == "running" and s["pid"] == '"$pid"' and s["exit"] is None' "status --json: running" \
    's["counts"] == {"ok": 1, "failed": 0, "cancelled": 0, "skipped": 0, "running": 1, "waiting": 1}' "status --json: counts" \
    's["running"] == ["slow"] and s["tasks"] == 3 and s["cost_usd"] == 0' "status --json: running tasks, cost" \
    's["run"] == "'"$id"'" and s["elapsed_s"] >= 0 and s["task_file"] == "s.ini"' "status --json: id, time, file"

# the session's hangup is not a reason to stop
kill -HUP -- "-$pid"
touch go
wait_for '! kill -0 '"$pid"' 2>/dev/null' 30 || fail "the run did not end"
drove status
expect_has "$out" "run $id done" "status after the end: done"
expect_has "$out" "3: 3 ok, 0 failed, 0 skipped" "status after the end: counts"
expect_not_has "$out" "so far" "no 'so far' after the end"
drove status --json
printf '%s\n' "$out" >st.json
expect_py_many -f st.json \
    's["status"] == "done" and s["exit"] == 0 and s["pid"] is None' "status --json after the end" \
    's["counts"]["ok"] == 3 and s["running"] == []' "status --json: all ok"
expect_py 's["status"] == "ok" and t["slow"]["status"] == "ok"' "SIGHUP did not stop the run"
expect_has "$(cat "$dir/drove.log")" "done last" "the run's results are in drove.log"
expect_has "$(cat "$dir/drove.log")" "run $id ok" "the run's summary is in drove.log"

# a failed run, and one killed before it ended
cat >f.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'exit 3'
[task bad]
prompt = x
INI
drove run -d f.ini
fid=$out
wait_for '! kill -0 $(cat .drove/runs/'"$fid"'/lock) 2>/dev/null' 30
drove status --json "$fid"
printf '%s\n' "$out" >st.json
expect_py 's["status"] == "failed" and s["exit"] == 1 and s["counts"]["failed"] == 1' "status of a failed run" st.json
rm -f go
drove run -d s.ini
kid=$out
wait_for 'journal_has fast ok' 10
kill -9 "$(cat ".drove/runs/$kid/lock")"
wait_for '! kill -0 $(cat .drove/runs/'"$kid"'/lock) 2>/dev/null' 10
drove status "$kid"
expect_has "$out" "run $kid stale" "a killed run is stale"
expect_has "$out" "--resume $kid" "status says how to finish it"
touch go
drove status nosuch
expect_eq "$rc" 2 "status of no such run exits 2"
finish
