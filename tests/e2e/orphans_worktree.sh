# isolation = worktree and kill -9: the killed drove's agent keeps writing
# into its worktree; the resume ends it before the task runs again, so the
# new agent has the worktree to itself and only its own work is merged
# after what the old one left.
. "$(dirname "$0")/lib.sh"

git_repo repo a.txt
write_git_agent
cd repo
cat >"$T/t.ini" <<'INI'
[backend agent]
type = exec
command = sh AGENT

[task w]
isolation = worktree
prompt = <<END
Write w.txt, alone
if [ -n "${GO:-}" ]; then
  n=$(wc -l <w.txt); sleep 0.5; m=$(wc -l <w.txt)
  if [ "$n" = "$m" ]; then echo alone; else echo shared; fi
  echo new >>w.txt
else
  while :; do echo old >>w.txt; sleep 0.1; done
fi
END
INI
sed -i "s|AGENT|$T/agent.sh|" "$T/t.ini"
cleanup_hooks+=('for p in $(awk "{print \$2}" "$RUNLOG" 2>/dev/null); do kill -9 -- "-$p" 2>/dev/null; done')

wt=.drove/runs/last/worktrees/w/w.txt
"$DROVE" run "$T/t.ini" >"$T/o" 2>"$T/e" &
pid=$!
wait_for '[ "$(cat $wt 2>/dev/null | wc -l)" -ge 3 ]' 10 ||
    die "the agent did not start writing"
kill -9 $pid
wait $pid 2>/dev/null
old=$(awk '{print $2}' "$RUNLOG")
kill -0 "$old" 2>/dev/null && ok "the old agent outlives kill -9" ||
    fail "the old agent died with drove"

export GO=1
drove run "$T/t.ini" --resume last
expect_eq "$rc" 0 "the resumed run succeeds"
expect_has "$err" "ended 1 agent left running by drove pid $pid" \
    "the resume ends the old agent"
expect_eq "$out" alone "the new agent had the worktree to itself"
expect_eq "$(runs w)" 2 "one new run of the task"
expect_eq "$(git show main:w.txt | tail -n 1)" new \
    "the merged w.txt ends with the new agent's line"
finish
