# Two worktree tasks editing the same lines: the second merge conflicts, is
# aborted and listed with its file, the tree is left clean, the branch and
# every task's commit are kept, and the other branches still merge.
# Overlapping changes and changes to another task's `writes` are reported;
# a task whose dependencies' branches conflict fails naming the file.  A
# dirty target or no git repository stops the run before anything starts.
# drove clean keeps unmerged work unless --force.
. "$(dirname "$0")/lib.sh"

git_repo repo a.txt b.txt
write_git_agent
cd repo
cat >"$T/t.ini" <<'INI'
[backend agent]
type = exec
command = sh AGENT

[task x]
isolation = worktree
prompt = Rewrite line 2 as X
  sed -i 2s/.*/X/ a.txt

[task y]
isolation = worktree
prompt = Rewrite line 2 as Y
  sed -i 2s/.*/Y/ a.txt

[task z]
isolation = worktree
writes = b.txt
prompt = Edit b.txt
  sed -i 2s/.*/Z/ b.txt

[task w]
isolation = worktree
prompt = Edit b.txt too
  sed -i 5s/.*/W/ b.txt

[task both]
isolation = worktree
after = x, y
prompt = Needs x and y
  true
INI
sed -i "s|AGENT|$T/agent.sh|" "$T/t.ini"

drove run "$T/t.ini" -k
expect_eq "$rc" 1 "a conflict makes the run fail"
run=$(basename "$(readlink .drove/runs/last)")
expect_has "$err" "CONFLICT  y" "the conflict is reported"
expect_has "$err" "drove/$run/y in a.txt" "with its file"
expect_has "$err" "overlap: tasks 'x' and 'y' both changed a.txt" "overlap x y"
expect_has "$err" "overlap: tasks 'z' and 'w' both changed b.txt" "overlap z w"
expect_has "$err" "violation: task 'w' changed 'b.txt', which task 'z' declared in writes" \
    "writes violation"
expect_eq "$(sed -n 2p a.txt)" X "the first branch merged"
expect_eq "$(sed -n 2p b.txt)$(sed -n 5p b.txt)" ZW "the other branches still merged"
expect_eq "$(git status --porcelain)" "" "the tree is clean after the aborted merge"
git rev-parse -q --verify MERGE_HEAD >/dev/null && fail "merge left in progress" || ok "no merge in progress"
all=$(git log --all --format=%s)
for s in "x: Rewrite line 2 as X" "y: Rewrite line 2 as Y" "z: Edit b.txt" "w: Edit b.txt too"; do
	expect_has "$all" "$s" "git log --all holds '$s'"
done
expect_eq "$(git rev-list --count "main..drove/$run/y")" 1 "y's branch is kept with its commit"
expect_py_many \
    't["y"]["conflict"] == ["a.txt"] and not t["y"]["merged"] and t["x"]["merged"] and t["z"]["merged"] and t["w"]["merged"]' "summary: conflict and merged" \
    's["status"] == "failed" and s["merge"]["conflicts"] == {"y": ["a.txt"]}' "summary: merge" \
    '{"tasks": ["x", "y"], "files": ["a.txt"]} in s["overlaps"] and len(s["overlaps"]) == 2' "summary: overlaps" \
    's["violations"] == [{"task": "w", "file": "b.txt", "owner": "z", "writes": "b.txt"}]' "summary: violations" \
    't["both"]["status"] == "failed" and "conflict" in t["both"]["error"] and "a.txt" in t["both"]["error"]' "dependencies that conflict fail the dependent task, naming the file"
expect_eq "$(runs both)" 0 "and its agent never ran"

# drove clean keeps the unmerged branch and worktree
drove clean
expect_has "$out" "kept (unmerged): y" "clean lists the unmerged task"
expect_has "$out" "1 commit not in 'main'" "and why"
expect_eq "$(git rev-list --count "main..drove/$run/y")" 1 "y's branch survives clean"
[ -d ".drove/runs/$run/worktrees/y" ] && ok "y's worktree survives clean" || fail "y's worktree removed"
[ -d ".drove/runs/$run/worktrees/x" ] && fail "x's worktree kept" || ok "x's merged worktree removed"
drove clean --force
expect_has "$out" "unmerged, removing: y" "--force lists what it removes"
expect_eq "$(git branch --list 'drove/*')" "" "--force removes the rest"

# a dirty target stops the run before any agent starts
: >"$RUNLOG"
echo dirty >>a.txt
drove run "$T/t.ini"
expect_eq "$rc" 2 "dirty target: usage error"
expect_has "$err" "cannot merge into 'main'" "dirty target: clear message"
expect_has "$err" "uncommitted changes (a.txt)" "dirty target: names the file"
expect_eq "$(runs x)" 0 "dirty target: no agent ran"
git checkout -q a.txt

# worktree_copy of a file that is not there, and a merge node, are load
# errors
printf '[backend agent]\ntype = exec\ncommand = true\n[task p]\nisolation = worktree\nworktree_copy = nope.env\nprompt = p\n' >"$T/e.ini"
drove run "$T/e.ini"
expect_eq "$rc" 2 "missing worktree_copy: usage error"
expect_has "$err" "e.ini:6: task 'p': worktree_copy 'nope.env'" "missing worktree_copy: file:line"
printf '[backend agent]\ntype = exec\ncommand = true\n[task p]\nisolation = worktree\nprompt = p\nreplicas = 2\n' >"$T/e.ini"
drove run "$T/e.ini"
expect_eq "$rc" 2 "replicas with a worktree: usage error"

# outside a git repository
mkdir "$T/norepo"
cd "$T/norepo"
drove run "$T/t.ini"
expect_eq "$rc" 2 "outside a repository: usage error"
expect_has "$err" "needs a git repository" "outside a repository: clear message"
finish
