# Worktree tasks and interruptions.  Ctrl-C cancels the agents (no process
# of theirs is left), keeps every worktree and merges nothing; kill -9
# mid-run followed by --resume redoes only the unfinished tasks (counted),
# reuses the worktree an unfinished task left without losing what it
# holds, leaves finished outputs and commits untouched, tolerates a torn
# journal line, and then merges everything.
. "$(dirname "$0")/lib.sh"

git_repo repo a.txt
write_git_agent
cd repo
cat >"$T/t.ini" <<'INI'
[backend agent]
type = exec
command = sh AGENT

[task fast1]
isolation = worktree
prompt = Rewrite line 2
  sed -i 2s/.*/F1/ a.txt

[task fast2]
prompt = Say hello without a worktree
  echo hello

[task slow1]
isolation = worktree
prompt = Log a run, then take long
  echo run >>s1.txt
  [ -n "${GO:-}" ] || sleep 30

[task slow2]
isolation = worktree
prompt = Take long, then write s2.txt
  [ -n "${GO:-}" ] || sleep 30
  echo s2 >s2.txt

[task last]
isolation = worktree
after = fast1, slow1
prompt = Build on fast1 and slow1
  grep -qx F1 a.txt
  grep -q run s1.txt
  echo L >last.txt
INI
sed -i "s|AGENT|$T/agent.sh|" "$T/t.ini"

started() { [ "$(wc -l <"$RUNLOG")" -ge "$1" ]; }
# groups_alive: how many agents' process groups have a live process
groups_alive() {
	local n=0 pg
	for pg in $(awk '{print $2}' "$RUNLOG"); do
		# zombies do not count: they are dead, only not reaped yet
		ps -eo pgid=,stat= | awk -v g="$pg" '$1 == g && $2 !~ /^Z/' |
		    grep -q . && n=$((n + 1))
	done
	echo $n
}
# midrun: fast1 and fast2 recorded done, slow1 has logged its run in its
# worktree, slow2 has started
midrun() {
	started 4 && journal_has fast1 ok && journal_has fast2 ok &&
	    grep -qx run .drove/runs/last/worktrees/slow1/s1.txt 2>/dev/null
}
# sleeping N: N agents' process groups hold their "sleep 30"
sleeping() {
	local n=0 pg
	for pg in $(awk '{print $2}' "$RUNLOG"); do
		ps -eo pgid=,args= | awk -v g="$pg" '$1 == g && $2 == "sleep"' |
		    grep -q . && n=$((n + 1))
	done
	[ "$n" -ge "$1" ]
}

# Ctrl-C: children gone, exit 130, worktrees kept, nothing merged
head=$(git rev-parse main)
"$DROVE" run "$T/t.ini" >"$T/o" 2>"$T/e" &
pid=$!
wait_for midrun 10 || die "the run did not reach mid-run"
kill -INT $pid
wait $pid
expect_eq "$?" 130 "interrupt exits 130"
expect_eq "$(groups_alive)" 0 "no agent process left alive"
run=$(basename "$(readlink .drove/runs/last)")
expect_eq "$(git rev-parse main)" "$head" "an interrupted run merges nothing"
expect_eq "$(cat ".drove/runs/$run/worktrees/slow1/s1.txt" 2>&1)" run \
    "the cancelled task's worktree and its files are kept"
expect_py 's["status"] == "interrupted" and t["slow1"]["status"] == "cancelled" and t["fast1"]["status"] == "ok"' \
    "statuses after the interrupt"
reset_repo() {
	rm -rf .drove
	git worktree prune
	git branch --list 'drove/*' | xargs -r git branch -q -D
	: >"$RUNLOG"
}

# SIGTERM does what the first Ctrl-C does
reset_repo
"$DROVE" run "$T/t.ini" >"$T/o" 2>"$T/e" &
pid=$!
wait_for midrun 10 || die "the run did not reach mid-run"
kill -TERM $pid
wait $pid
expect_eq "$?" 130 "SIGTERM exits 130"
expect_eq "$(groups_alive)" 0 "SIGTERM: no agent process left alive"
expect_has "$(cat "$T/e")" "terminated: stopping" "SIGTERM: reported"

# agents that ignore SIGTERM: a second Ctrl-C exits at once and kills them
reset_repo
cat >"$T/stubborn.ini" <<'INI'
[backend agent]
type = exec
command = sh -c 'trap "" TERM; . AGENT'
[task s1]
isolation = worktree
prompt = Ignore SIGTERM
  trap "" TERM
  sleep 30
[task s2]
prompt = Ignore SIGTERM too
  trap "" TERM
  sleep 30
INI
sed -i "s|AGENT|$T/agent.sh|" "$T/stubborn.ini"
"$DROVE" run "$T/stubborn.ini" >"$T/o" 2>"$T/e" &
pid=$!
wait_for 'started 2 && sleeping 2' 10 || die "the agents did not start"
kill -INT $pid
wait_for 'grep -q "interrupt: stopping" "$T/e"' 10 ||
    fail "the first Ctrl-C was not reported"
holds_for 'kill -0 $pid 2>/dev/null' 0.5 &&
    ok "after one Ctrl-C drove waits for the agents" ||
    fail "drove exited before its agents"
t0=$(date +%s%N)
kill -INT $pid
wait $pid
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "$rc" 130 "a second Ctrl-C exits 130"
[ "$ms" -lt 1500 ] && ok "a second Ctrl-C exits at once (${ms} ms)" ||
    fail "a second Ctrl-C took ${ms} ms"
wait_for '[ "$(groups_alive)" = 0 ]' 5
expect_eq "$(groups_alive)" 0 "a second Ctrl-C leaves no agent alive"
expect_has "$(tail -1 .drove/runs/last/journal.jsonl)" '"status":"interrupted"' \
    "a second Ctrl-C writes the journal"

# kill -9 mid-run
reset_repo
"$DROVE" run "$T/t.ini" >"$T/o" 2>"$T/e" &
pid=$!
wait_for midrun 10 || die "the run did not reach mid-run"
kill -9 $pid
wait $pid 2>/dev/null
for pg in $(awk '{print $2}' "$RUNLOG"); do kill -9 -- "-$pg" 2>/dev/null; done
run=$(basename "$(readlink .drove/runs/last)")
rd=.drove/runs/$run
sum() { md5sum "$1" | cut -d' ' -f1; stat -c %y "$1"; }
# an old mtime: a rewrite would show in it
touch -d '2001-02-03 04:05:06' "$rd/tasks/fast1.out" "$rd/tasks/fast2.out"
before1=$(sum "$rd/tasks/fast1.out")
before2=$(sum "$rd/tasks/fast2.out")
commit1=$(git rev-parse "drove/$run/fast1")
expect_eq "$(cat "$rd/worktrees/slow1/s1.txt")" run "slow1 left work in its worktree"
printf '{"ev":"task","task":"slo' >>"$rd/journal.jsonl"
GO=1 drove run "$T/t.ini" --resume last
expect_eq "$rc" 0 "the resumed run succeeds"
expect_eq "$(runs fast1) $(runs fast2) $(runs slow1) $(runs slow2) $(runs last)" \
    "1 1 2 2 1" "only unfinished tasks ran again"
expect_eq "$(sum "$rd/tasks/fast1.out")" "$before1" "fast1's output untouched"
expect_eq "$(sum "$rd/tasks/fast2.out")" "$before2" "fast2's output untouched"
expect_eq "$(git rev-parse "drove/$run/fast1")" "$commit1" "fast1's commit untouched"
expect_has "$err" "torn" "the torn journal line is tolerated"
expect_has "$err" "task 'slow1': reusing its worktree" "slow1's worktree is reused"
expect_eq "$(cat s1.txt)" "run
run" "the interrupted attempt's work is kept and merged"
expect_eq "$(sed -n 2p a.txt) $(cat s2.txt last.txt | tr '\n' ' ')" "F1 s2 L " \
    "every branch is merged"
expect_eq "$(git log --all --format=%s | grep -c '^slow1:')" 1 "one commit per task"
expect_eq "$(git status --porcelain)" "" "main is clean"
expect_py 't["fast1"].get("resumed") and t["fast1"]["merged"] and t["slow1"]["merged"] and t["last"]["merged"] and s["status"] == "ok"' \
    "summary after resume"
finish
