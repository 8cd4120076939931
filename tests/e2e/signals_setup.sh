# A signal that comes before the tasks start is handled like any other
# interrupt: drove blocks SIGINT, SIGTERM and SIGHUP from the start of a
# run, so one that arrives during the setup (here: while a resume waits
# for the agent a killed drove left behind, and while a worktree's
# post-checkout hook runs) waits for the loop.  drove exits 129 and
# records the run as interrupted; nothing starts after it.
. "$(dirname "$0")/lib.sh"

# --- during the wait for a killed drove's agent --------------------------
mkdir orphan && cd orphan
# the agent's stderr goes to a file of its own: its stdout and stderr are
# pipes to drove, and once that drove is killed the shell's next write
# there ("Terminated", when its sleep gets the TERM) would end it by SIGPIPE
cat >o.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'exec 2>>agent.err; echo $$ >>pids; trap "echo term >>terms" TERM; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done'
[task deaf]
prompt = x
INI
cleanup_hooks+=('for p in $(cat "$T/orphan/pids" 2>/dev/null); do kill -9 -- "-$p" 2>/dev/null; done')
"$DROVE" run o.ini >o1 2>e1 &
pid=$!
# the agent runs and its process group is journaled
wait_for '[ -s pids ] && grep -q "\"ev\":\"proc\"" .drove/runs/last/journal.jsonl 2>/dev/null' 10 ||
    die "the agent did not start"
kill -9 $pid
wait $pid 2>/dev/null
"$DROVE" run o.ini --resume last >o2 2>e2 &
pid=$!
# the resume has sent the deaf agent SIGTERM and waits (2 s) to kill it
wait_for '[ -s terms ]' 10 || die "the resume did not end the old agent"
kill -HUP $pid
wait $pid
rc=$?
expect_eq "$rc" 129 "orphan wait: SIGHUP exits 129"
expect_has "$(cat e2)" "hangup" "orphan wait: stderr names the hangup"
expect_py 's["status"] == "interrupted" and t["deaf"]["status"] == "cancelled"' \
    "orphan wait: summary records the run interrupted"
expect_has "$(tail -n 1 .drove/runs/last/journal.jsonl)" '"interrupted"' \
    "orphan wait: journal ends interrupted"
expect_eq "$(wc -l <pids | tr -d ' ')" 1 "orphan wait: no agent started after it"
cd "$T"

# --- during a worktree's post-checkout hook ------------------------------
git_repo repo a.txt
cd repo
cat >.git/hooks/post-checkout <<HOOK
#!/bin/sh
touch "$T/hooked"
sleep 5
HOOK
chmod +x .git/hooks/post-checkout
cat >"$T/w.ini" <<'INI'
[backend sh]
type = exec
command = sh -c 'echo started >>"$RUNLOG"'
[task w]
isolation = worktree
prompt = x
INI
export RUNLOG="$T/runlog"
"$DROVE" run "$T/w.ini" >"$T/o3" 2>"$T/e3" &
pid=$!
wait_for '[ -e "$T/hooked" ]' 10 || die "the hook did not run"
kill -HUP $pid
wait $pid
rc=$?
expect_eq "$rc" 129 "worktree hook: SIGHUP exits 129"
expect_py 's["status"] == "interrupted"' \
    "worktree hook: summary records the run interrupted"
expect_eq "$(cat "$RUNLOG" 2>/dev/null)" "" "worktree hook: no agent started"
finish
