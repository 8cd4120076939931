# isolation = worktree against an agent that breaks its worktree: removes
# .git, points it at the main repository, switches branches.  Before every
# git command on a task's worktree drove checks that it is still the one it
# made; otherwise the task fails with the reason and the main repository
# (its HEAD, its log, its files, a commit the user made during the run) is
# untouched.
. "$(dirname "$0")/lib.sh"

git_repo repo a.txt
write_git_agent
cd repo
MAIN=$PWD
echo KEY=secret >.env.local

# case NAME SHELL...: one worktree task whose agent runs SHELL, which may
# use $MAIN; the user commits on main while it runs.
case_run() {
	local name=$1 body=$2
	cat >"$T/$name.ini" <<INI
[backend agent]
type = exec
command = sh $T/agent.sh

[task $name]
isolation = worktree
prompt = hostile $name
  echo new >new.txt
  echo 2 >>a.txt
$body
  git -C $MAIN -c user.name=u -c user.email=u@x commit -q --allow-empty -m "user during $name"
INI
	drove run "$T/$name.ini"
}

# expect_untouched NAME REASON
expect_untouched() {
	local name=$1 reason=$2 head log
	expect_eq "$rc" 1 "$name: the run fails"
	head=$(git log -1 --format=%s main)
	expect_eq "$head" "user during $name" \
	    "$name: the user's commit during the run is main's HEAD, unrewritten"
	log=$(git log --format=%s main | tr '\n' '|')
	expect_eq "$log" "$want_log" "$name: main's log is the user's only"
	expect_eq "$(git status --porcelain)" "?? .env.local" \
	    "$name: main's tree is unchanged; .env.local is not committed"
	expect_eq "$(git log --all --format= --name-only | grep -c -e env.local -e new.txt)" 0 \
	    "$name: neither .env.local nor the agent's file is in any commit"
	expect_eq "$(sed -n 6p a.txt)" "" "$name: main's a.txt is unchanged"
	expect_has "$err" "$reason" "$name: the reason is on stderr"
	expect_py "t['$name']['status'] == 'failed' and '$reason' in t['$name']['error']" \
	    "$name: the task failed with the reason in summary.json"
}

want_log="user during rmgit|init|"
case_run rmgit "  rm -rf .git"
expect_untouched rmgit "its .git is gone"

want_log="user during pointmain|user during rmgit|init|"
case_run pointmain "  rm -rf .git; echo gitdir: $MAIN/.git >.git"
expect_untouched pointmain "its .git was replaced"

want_log="user during reinit|user during pointmain|user during rmgit|init|"
case_run reinit "  rm -rf .git; git init -q ."
expect_untouched reinit "its .git was replaced"

want_log="user during switch|user during reinit|user during pointmain|user during rmgit|init|"
case_run switch "  git checkout -q -b elsewhere"
expect_untouched switch "no longer on its branch"

# After a's commit, a later task moves a's branch to another commit: the
# merge phase merges only the commit drove made, so nothing is merged.
cat >"$T/moved.ini" <<INI
[backend agent]
type = exec
command = sh $T/agent.sh

[task a]
isolation = worktree
prompt = edit
  echo 2 >>a.txt

[task b]
after = a
prompt = move a's branch
  br=\$(git for-each-ref --format='%(refname)' 'refs/heads/drove/*/a')
  echo x >evil.txt
  git -C $MAIN update-ref "\$br" \$(git -C $MAIN -c user.name=u -c user.email=u@x commit-tree -m evil \$(git -C $MAIN hash-object -w evil.txt >/dev/null; git -C $MAIN write-tree))
  rm evil.txt
INI
before=$(git rev-parse main)
drove run "$T/moved.ini"
expect_eq "$rc" 1 "moved: the run fails"
expect_eq "$(git rev-parse main)" "$before" "moved: main is unchanged"
expect_eq "$(git log --format=%s main | grep -c evil)" 0 \
    "moved: the planted commit is not merged"
expect_has "$err" "no longer points at the task's commit" \
    "moved: the merge phase says why"
expect_py "t['a']['status'] == 'ok' and not t['a']['merged'] and 'no longer points' in t['a']['merge_error']" \
    "moved: a is not merged, with the reason in summary.json"

finish
