# worktree_copy never writes through a link in the worktree.  An agent
# plants links where its worktree_copy files go (a link at a file, a link
# at a directory on the way, both pointing outside the worktree), drove is
# killed with -9, and --resume copies the files that are missing again:
# nothing outside the worktree is written, and the task fails saying why.
. "$(dirname "$0")/lib.sh"

git_repo repo a.txt
write_git_agent
mkdir "$T/outside"
echo keep >"$T/outside/victim"
export OUT="$T/outside"
cd repo
mkdir conf
echo SECRET=local >conf/app.env
echo TOP=local >.env
cat >"$T/t.ini" <<'INI'
[backend agent]
type = exec
command = sh AGENT

[task w]
isolation = worktree
worktree_copy = conf/app.env, .env
prompt = <<END
Plant links where worktree_copy writes, then take long
if [ -z "${GO:-}" ]; then
  rm -rf conf .env
  ln -s "$OUT" conf
  ln -s "$OUT/victim" .env
  touch "$OUT/../planted"
  while :; do sleep 0.1; done
fi
echo resumed
END
INI
sed -i "s|AGENT|$T/agent.sh|" "$T/t.ini"
cleanup_hooks+=('for p in $(awk "{print \$2}" "$RUNLOG" 2>/dev/null); do kill -9 -- "-$p" 2>/dev/null; done')

"$DROVE" run "$T/t.ini" >"$T/o" 2>"$T/e" &
pid=$!
wait_for '[ -e "$T/planted" ]' 10 || die "the agent did not plant its links"
kill -9 $pid
wait $pid 2>/dev/null

export GO=1
drove run "$T/t.ini" --resume last
expect_eq "$rc" 1 "the resumed task fails"
expect_has "$err" "symbolic link" "the reason names the link"
expect_eq "$(ls -A "$T/outside")" victim "nothing new outside the worktree"
expect_eq "$(cat "$T/outside/victim")" keep "the link's target is untouched"
expect_eq "$(runs w)" 1 "the agent does not run again in the worktree"
expect_py 't["w"]["status"] == "failed" and "symbolic link" in t["w"]["error"]' \
    "summary: failed, with the reason"
finish
