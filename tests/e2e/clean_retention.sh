# drove clean --failed and --older-than over every run: the worktrees and
# branches of failed tasks go (unmerged or not), old run directories go
# once none of their worktrees is left, -n only lists; the user's branches,
# worktrees and files, a directory that is not a run, and a run that is
# running are never touched.
. "$(dirname "$0")/lib.sh"

git_repo repo a.txt
write_git_agent
cd repo
gc() { git -c user.name=u -c user.email=u@x "$@"; }
git checkout -q -b wip
echo wip >wip.txt && git add wip.txt && gc commit -q -m "user wip"
git checkout -q main
git worktree add -q "$T/userwt" -b user-wt
echo precious >"$T/precious"
user_refs() { git rev-parse wip user-wt | tr '\n' ' '; }
before=$(user_refs)

cat >"$T/t.ini" <<INI
[backend agent]
type = exec
command = sh $T/agent.sh

[task a]
isolation = worktree
prompt = edit
  echo 2 >>a.txt

[task b]
isolation = worktree
prompt = fail with work left behind
  echo b >b.txt
  exit 1
INI
drove run "$T/t.ini" -k
expect_eq "$rc" 1 "run 1 fails (b fails)"
old=$(basename "$(readlink .drove/runs/last)")
sleep 1.1	# run ids have a second's resolution
drove run "$T/t.ini" -k
new=$(basename "$(readlink .drove/runs/last)")
[ "$old" != "$new" ] || die "two runs with one id"
# the user's own commit on a's branch of the new run: unmerged, not failed
gc -C ".drove/runs/$new/worktrees/a" commit -q --allow-empty -m "user work on a"
# an agent's link in the old run to a file of the user's
ln -s "$T/precious" ".drove/runs/$old/tasks/evil"
# not a run: the user's directory among the runs
mkdir -p .drove/runs/notes && echo keep >.drove/runs/notes/n.txt
branches() { git for-each-ref --format='%(refname:short)' "refs/heads/drove/$1/" | tr '\n' ' '; }

drove clean --failed -n
expect_eq "$rc" 0 "--failed -n succeeds"
expect_has "$out" "would remove b" "-n lists the failed task's worktree"
expect_eq "$(branches "$old")" "drove/$old/a drove/$old/b " "-n removes nothing"

drove clean --failed
expect_eq "$rc" 0 "--failed succeeds"
expect_has "$out" "failed, removing: b" "--failed names the failed task it removes"
expect_eq "$(branches "$old")" "" "old run: merged a and failed b are gone"
expect_eq "$(branches "$new")" "drove/$new/a " "new run: b is gone, a (the user's commit) is kept"
expect_has "$out" "kept (unmerged): a" "a's unmerged work is listed as kept"
[ -d ".drove/runs/$old" ] && ok "--failed alone removes no run directory" ||
    fail "--failed removed a run directory"
expect_eq "$(user_refs)" "$before" "the user's branches survive --failed"

# --older-than: the old run's files are ten days old, the new run's too
# but it still has a's worktree
touch -d '10 days ago' ".drove/runs/$old/journal.jsonl" ".drove/runs/$old/summary.json"
touch -d '10 days ago' ".drove/runs/$new/journal.jsonl" ".drove/runs/$new/summary.json"
touch -d '10 days ago' .drove/runs/notes .drove/runs/notes/n.txt
drove clean --older-than 7d -n
expect_has "$out" "would remove run $old" "-n lists the old run"
[ -d ".drove/runs/$old" ] && ok "-n keeps the old run" || fail "-n removed the old run"

drove clean --older-than 7d
expect_eq "$rc" 0 "--older-than succeeds"
expect_has "$out" "removed run $old" "the old run is removed"
[ -e ".drove/runs/$old" ] && fail "the old run directory is still there" ||
    ok "the old run directory is gone"
expect_eq "$(cat "$T/precious" 2>&1)" precious "a link in a removed run is not followed"
expect_has "$out" "kept run $new: it still has worktrees" "a run with unmerged work stays"
[ -d ".drove/runs/$new/worktrees/a" ] && ok "its worktree stays" || fail "a's worktree went"
expect_eq "$(cat .drove/runs/notes/n.txt 2>&1)" keep "a directory that is not a run stays"

drove clean --older-than 7d --force
expect_has "$out" "removed run $new" "--force: the run with unmerged work goes too"
expect_eq "$(branches "$new")" "" "--force: its branches are gone"
[ -e .drove/runs/last ] && fail "last still names a removed run" || ok "last went with its run"
expect_eq "$(user_refs)" "$before" "the user's branches survive --older-than"
expect_has "$(git worktree list)" "$T/userwt" "the user's worktree survives"
expect_eq "$(git worktree list | wc -l | tr -d ' ')" 2 "no worktree of drove's is left registered"

drove clean --older-than 7x
expect_eq "$rc" 2 "a bad --older-than is a usage error"
expect_has "$err" "7d" "the error shows a good one"

# a running run, its files old, is left alone
cat >"$T/slow.ini" <<INI
[backend agent]
type = exec
command = sh $T/agent.sh

[task s]
isolation = worktree
prompt = wait, then fail
  i=0; while [ ! -e "$T/release" ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i+1)); done
  exit 1
INI
"$DROVE" run "$T/slow.ini" >/dev/null 2>&1 &
pid=$!
wait_for '[ "$(runs s)" = 1 ]' 20 || die "the slow run did not start"
live=$(basename "$(readlink .drove/runs/last)")
touch -d '10 days ago' ".drove/runs/$live/journal.jsonl"
drove clean --older-than 1s --failed --force
expect_has "$out" "skipped run $live: it is running" "a running run is skipped"
[ -d ".drove/runs/$live/worktrees/s" ] && ok "the running run's worktree stays" ||
    fail "the running run's worktree went"
expect_eq "$(branches "$live")" "drove/$live/s " "the running run's branch stays"
drove clean "$live" --failed
expect_eq "$rc" 2 "naming a running run is refused"
touch "$T/release"
wait $pid
drove clean --failed
expect_eq "$(branches "$live")" "" "once ended, its failed task's branch goes"

# a run whose repository is gone: its worktrees stay for the user, and
# once they are gone the old run directory goes
git_repo "$T/gone" a.txt
cd "$T/gone"
drove run "$T/t.ini" -k --run-dir "$T/runs2"
g=$(basename "$(readlink "$T/runs2/last")")
cd "$T"
rm -rf "$T/gone"
touch -d '10 days ago' "$T/runs2/$g/journal.jsonl" "$T/runs2/$g/summary.json"
drove clean --older-than 7d --run-dir "$T/runs2"
expect_eq "$rc" 0 "a run whose repository is gone: clean succeeds"
expect_has "$out" "its repository '$T/gone' is gone" "clean says the repository is gone"
[ -d "$T/runs2/$g/worktrees/a" ] && ok "the worktrees of a gone repository stay" ||
    fail "the worktrees of a gone repository were removed"
rm -rf "$T/runs2/$g/worktrees"
drove clean --older-than 7d --run-dir "$T/runs2"
expect_has "$out" "removed run $g" "without worktrees, the old run goes"
finish
