# isolation = worktree: each task edits its own git worktree; the branches
# merge back cleanly in dependency order; a dependent task starts from its
# dependencies' commits; worktree_copy files come in but are never
# committed; a task that changes nothing is noted, not failed; merge_into
# merges into another branch; drove clean removes merged worktrees.
. "$(dirname "$0")/lib.sh"

git_repo repo a.txt b.txt c.txt
write_git_agent
cd repo
echo SECRET=1 >.env
cat >"$T/t.ini" <<'INI'
[backend agent]
type = exec
command = sh AGENT

[task a]
isolation = worktree
worktree_copy = .env
prompt = Edit a.txt
  grep -q SECRET .env
  sed -i 2s/.*/A/ a.txt

[task b]
isolation = worktree
prompt = Edit b.txt and add new.txt
  sed -i 2s/.*/B/ b.txt
  echo new >new.txt

[task c]
isolation = worktree
after = a
prompt = Edit c.txt on top of a
  grep -qx A a.txt
  sed -i 2s/.*/C/ c.txt

[task d]
isolation = worktree
prompt = Look but do not touch
  cat a.txt >/dev/null

[task e]
isolation = worktree
after = a, b
prompt = Write e.txt from a and b
  grep -qx A a.txt
  grep -qx B b.txt
  echo e >e.txt
INI
sed -i "s|AGENT|$T/agent.sh|" "$T/t.ini"

drove run "$T/t.ini"
expect_eq "$rc" 0 "run with five worktree tasks succeeds"
run=$(basename "$(readlink .drove/runs/last)")
expect_eq "$(sed -n 2p a.txt)$(sed -n 2p b.txt)$(sed -n 2p c.txt)" ABC \
    "every task's edit is merged into main"
expect_eq "$(cat new.txt e.txt 2>&1)" "new
e" "new files are merged"
expect_eq "$(git status --porcelain)" "?? .env" \
    "main is clean; the run directory is not in git status"
expect_eq "$(git symbolic-ref --short HEAD)" main "still on main"
subjects=$(git log --format=%s main)
expect_has "$subjects" "a: Edit a.txt" "commit message is task: first line"
expect_has "$subjects" "b: Edit b.txt and add new.txt" "b's commit"
expect_has "$subjects" "c: Edit c.txt on top of a" "c's commit"
expect_eq "$(git log --format='%an <%ae>' -1 "drove/$run/a")" \
    "drove <drove@localhost>" "commits without a configured identity"
expect_eq "$(git rev-list --count --no-merges "main..drove/$run/c"; \
    git rev-list --count --no-merges "drove/$run/a..drove/$run/c")" "0
1" "c is one commit on top of a"
expect_eq "$(git log --all --format= --name-only | grep -c env)" 0 \
    ".env is never committed"
wt_a="$PWD/.drove/runs/$run/worktrees/a"
expect_eq "$(awk '$1 == "a" {print $3 " " $4}' "$RUNLOG")" \
    "$(cd "$wt_a" && pwd -P) $(cd "$wt_a" && pwd -P)" \
    "the agent runs in its worktree, named by DROVE_WORKTREE"
expect_has "$err" "task 'd': no changes" "an unchanged task is noted"
expect_has "$err" "merged    e" "merge phase summary on stderr"
expect_py_many \
    't["d"]["status"] == "ok" and t["d"]["commit"] is None and t["d"]["changed_files"] == [] and not t["d"]["merged"]' "unchanged task: ok, no commit" \
    'all(t[n]["merged"] and t[n]["conflict"] == [] and len(t[n]["commit"]) == 40 for n in "abce")' "summary: merged, commit" \
    'sorted(t["b"]["changed_files"]) == ["b.txt", "new.txt"] and t["a"]["changed_files"] == ["a.txt"]' "summary: changed_files" \
    't["a"]["branch"] == "drove/" + s["run"] + "/a" and t["a"]["worktree"].endswith("/worktrees/a") and s["merge"]["into"] == "main"' "summary: branch, worktree, merge target" \
    's["overlaps"] == [] and s["violations"] == []' "no overlaps"

# merge_into: the branches go to another branch, main stays as it is
git branch side
head=$(git rev-parse main)
cat >"$T/side.ini" <<'INI'
[drove]
merge_into = side
[backend agent]
type = exec
command = sh AGENT
[task f]
isolation = worktree
prompt = Add f.txt
  echo f >f.txt
INI
sed -i "s|AGENT|$T/agent.sh|" "$T/side.ini"
drove run "$T/side.ini"
expect_eq "$rc" 0 "merge_into run succeeds"
expect_eq "$(git show side:f.txt)" f "merged into side"
side_run=$(basename "$(readlink .drove/runs/last)")
expect_eq "$(git rev-parse main)" "$head" "main untouched"
expect_eq "$(git worktree list | wc -l | tr -d ' ')" 7 \
    "the temporary merge worktree is gone (main + 5 + 1 task worktrees)"

# a task without a worktree dirties main during the run: the merge phase
# is refused and the branch kept
cat >"$T/dirty.ini" <<'INI'
[backend agent]
type = exec
command = sh AGENT
[task plain]
prompt = Edit main's a.txt in place
  sed -i 4s/.*/P/ a.txt
[task g]
isolation = worktree
prompt = Add g.txt
  echo g >g.txt
INI
sed -i "s|AGENT|$T/agent.sh|" "$T/dirty.ini"
drove run "$T/dirty.ini"
expect_eq "$rc" 1 "a refused merge phase fails the run"
expect_has "$err" "merge phase refused" "refusal is reported"
expect_has "$err" "uncommitted changes (a.txt)" "with the dirty file"
[ -e g.txt ] && fail "g merged into a dirty tree" || ok "nothing merged into the dirty tree"
grun=$(basename "$(readlink .drove/runs/last)")
expect_eq "$(git rev-list --count "main..drove/$grun/g")" 1 "g's branch is kept"
expect_py 'not t["g"]["merged"] and "a.txt" in s["merge"]["refused"]' "summary: refused"
git checkout -q a.txt
drove clean --force
expect_eq "$rc" 0 "clean --force after a refused merge"
expect_has "$out" "unmerged, removing: g" "clean defaults to the last run"

# drove clean: everything is merged, so it all goes
drove clean "$run"
expect_eq "$rc" 0 "clean succeeds"
expect_has "$out" "removed 5, kept 0" "clean removes the merged worktrees"
expect_eq "$(git branch --list "drove/$run/*")" "" "and their branches"
[ -d ".drove/runs/$run/worktrees" ] && fail "worktrees dir left" || ok "worktrees dir gone"
drove clean "$side_run"
expect_has "$out" "removed 1, kept 0" "clean takes a run id"
expect_eq "$(git worktree list | wc -l | tr -d ' ')" 1 "only main is left"
drove clean --help
expect_has "$out" "usage: drove clean" "clean --help"
finish
