# drove clean against a journal the agents wrote into: an agent appends
# lines naming the user's branches and worktrees (merged and unmerged) and
# replaces its own worktree with a link to the user's worktree.  clean
# removes only what drove recorded under .git/drove/ for the run, named
# drove/<run>/<task> in <run dir>/worktrees/, with and without --force:
# the user's branches, commits and worktree survive.
. "$(dirname "$0")/lib.sh"

git_repo repo a.txt
write_git_agent
cd repo
MAIN=$PWD
gc() { git -c user.name=u -c user.email=u@x "$@"; }
# the user's branches: one merged into main, one with work of its own,
# and a linked worktree of their own on a third
git branch merged-feature
git checkout -q -b wip
echo wip >wip.txt && git add wip.txt && gc commit -q -m "user wip"
git checkout -q main
git worktree add -q "$T/userwt" -b user-wt
echo local >"$T/userwt/notes.txt"
wip_sha=$(git rev-parse wip)
merged_sha=$(git rev-parse merged-feature)
userwt_sha=$(git rev-parse user-wt)

# forge J BRANCH WORKTREE TASK: the line an agent appends to journal J
cat >"$T/forge.sh" <<'SH'
printf '{"ev":"worktree","task":"%s","branch":"%s","worktree":"%s","start":null,"copied":[]}\n' "$4" "$2" "$3" >>"$1"
SH
cat >"$T/t.ini" <<INI
[backend agent]
type = exec
command = sh $T/agent.sh

[task a]
isolation = worktree
prompt = edit and forge
  echo 2 >>a.txt
  j=\$(cd ../.. && pwd)/journal.jsonl
  sh $T/forge.sh "\$j" merged-feature "$T/userwt" x
  sh $T/forge.sh "\$j" wip "$T/nowhere" y
  sh $T/forge.sh "\$j" wip "$T/userwt" a
  printf '{"ev":"repo","top":"%s","base":null,"into":"wip"}\n' "$MAIN" >>"\$j"

[task b]
isolation = worktree
prompt = leave work behind
  echo b >b.txt
  exit 1
INI

expect_user_intact() {
	expect_eq "$(git rev-parse wip merged-feature user-wt | tr '\n' ' ')" \
	    "$wip_sha $merged_sha $userwt_sha " \
	    "$1: the user's branches survive, at their commits"
	expect_eq "$(cat "$T/userwt/notes.txt" 2>&1)" local \
	    "$1: the user's worktree and its files survive"
	expect_has "$(git worktree list)" "$T/userwt" \
	    "$1: the user's worktree is still registered"
}

drove run "$T/t.ini" -k
run=$(basename "$(readlink .drove/runs/last)")
expect_eq "$rc" 1 "the run fails (b fails)"
expect_has "$(cat ".drove/runs/$run/journal.jsonl")" '"branch":"wip"' \
    "the agent's forged lines are in the journal"
[ -f .git/drove/$run.refs ] && ok "drove keeps its record under .git/drove" ||
    fail "no record .git/drove/$run.refs"

drove clean "$run"
expect_eq "$rc" 0 "clean succeeds"
expect_user_intact "clean"
expect_eq "$(git branch --list "drove/$run/a")" "" "a's merged branch is removed"
expect_eq "$(git rev-parse -q --verify "drove/$run/b" >/dev/null && echo kept)" \
    kept "b's unmerged branch is kept without --force"

drove clean "$run" --force
expect_eq "$rc" 0 "clean --force succeeds"
expect_user_intact "clean --force"
expect_eq "$(git branch --list "drove/$run/*")" "" "--force removes b's branch"
[ -e .git/drove/$run.refs ] && fail "the record outlives the run's worktrees" ||
    ok "the record goes with the last worktree"

# An agent that swaps its worktree for a link to the user's worktree: the
# task fails, and clean --force leaves the link's target alone.
cat >"$T/swap.ini" <<INI
[backend agent]
type = exec
command = sh $T/agent.sh

[task s]
isolation = worktree
prompt = swap
  me=\$(pwd)
  cd ..
  rm -rf "\$me"
  ln -s "$T/userwt" "\$me"
INI
drove run "$T/swap.ini"
run=$(basename "$(readlink .drove/runs/last)")
expect_eq "$rc" 1 "swap: the task fails"
drove clean "$run" --force
expect_user_intact "swap"
expect_has "$out" "no longer a worktree drove made" "swap: clean says why it keeps it"

# A run whose record is gone: clean removes nothing, whatever the journal
# says.
drove run "$T/t.ini" -k
run=$(basename "$(readlink .drove/runs/last)")
rm -f ".git/drove/$run.refs"
drove clean "$run" --force
expect_eq "$rc" 0 "no record: clean succeeds"
expect_has "$out" "no worktrees that drove recorded" "no record: clean says so"
expect_user_intact "no record"
expect_eq "$(git branch --list "drove/$run/*" | wc -l | tr -d ' ')" 2 \
    "no record: drove's own branches stay too"

finish
