# drove run from a subdirectory of a repository with isolation = worktree:
# the agent works in the same relative place in its worktree when that
# directory is there (git tracks something in it, or worktree_copy put a
# file there), else at the worktree's root, which the run says; its
# changes merge back to the same places.
. "$(dirname "$0")/lib.sh"

git_repo repo a.txt
mkdir -p repo/src/lib
printf 'int x;\n' >repo/src/lib/x.c
git -C repo add -A
git -C repo -c user.name=t -c user.email=t@x commit -q -m lib
write_git_agent
cat >"$T/t.ini" <<INI
[backend agent]
type = exec
command = sh $T/agent.sh

[task edit]
isolation = worktree
prompt = edit here
  echo 'int y;' >>x.c
  echo made >here.txt
INI
top=$(cd repo && pwd -P)

cd repo/src/lib
drove run "$T/t.ini"
expect_eq "$rc" 0 "a run from src/lib succeeds"
run=$(basename "$(readlink .drove/runs/last)")
wd=$(awk '$1 == "edit" { print $3 }' "$RUNLOG" | tail -n 1)
case $wd in
*/worktrees/edit/src/lib) ok "the agent works in src/lib of its worktree" ;;
*) fail "the agent's working directory is '$wd', not its worktree's src/lib" ;;
esac
expect_eq "$(tail -n 1 "$top/src/lib/x.c")" "int y;" "its edit of x.c merged into src/lib/x.c"
expect_eq "$(cat "$top/src/lib/here.txt" 2>&1)" made "its new file landed in src/lib"
expect_not_has "$err" "not in its worktree" "nothing is said when the directory is there"

# a directory git does not track: the worktree's root, and the run says so
mkdir -p "$top/scratch"
cd "$top/scratch"
: >"$RUNLOG"
drove run "$T/t.ini"
expect_eq "$rc" 0 "a run from an untracked directory succeeds"
wd=$(awk '$1 == "edit" { print $3 }' "$RUNLOG" | tail -n 1)
case $wd in
*/worktrees/edit) ok "the agent works at its worktree's root" ;;
*) fail "the agent's working directory is '$wd', not its worktree's root" ;;
esac
expect_has "$err" "'scratch/' is not in its worktree" "the run says which directory it used"
expect_has "$err" "runs at the worktree's root" "and that it is the root"
expect_eq "$(cat "$top/here.txt" 2>&1)" made "its new file landed at the repository's root"

# worktree_copy puts the directory there: the agent works in it
echo cfg >local.cfg
cat >"$T/c.ini" <<INI
[backend agent]
type = exec
command = sh $T/agent.sh

[task copy]
isolation = worktree
worktree_copy = local.cfg
prompt = read the copied file
  cat local.cfg >seen.txt
INI
: >"$RUNLOG"
drove run "$T/c.ini"
expect_eq "$rc" 0 "a run with worktree_copy from scratch succeeds"
wd=$(awk '$1 == "copy" { print $3 }' "$RUNLOG" | tail -n 1)
case $wd in
*/worktrees/copy/scratch) ok "with a copied file there, the agent works in scratch" ;;
*) fail "the agent's working directory is '$wd', not its worktree's scratch" ;;
esac
expect_eq "$(cat "$top/scratch/seen.txt" 2>&1)" cfg "it read the copied file where it works"
finish
