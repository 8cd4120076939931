# Messages without rough edges: a failed task points to its stderr file,
# drove clean's reasons have no stray ';', drove plan to stdout does not
# call its output "plan.ini".
. "$(dirname "$0")/lib.sh"

# a failed task's progress line names its tasks/NAME.err
cat >f.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'echo oops >&2; exit 3'
[task bad]
prompt = p
[task many]
prompt = p
replicas = 2
INI
drove run f.ini -k
expect_eq "$rc" 1 "a failed task: exit 1"
run=$(basename "$(readlink -f .drove/runs/last)")
expect_has "$err" "(see .drove/runs/$run/tasks/bad.err)" \
    "the failure points to the task's stderr file"
[ -s ".drove/runs/$run/tasks/bad.err" ] && ok "and that file exists" ||
    fail "no .drove/runs/$run/tasks/bad.err"
expect_has "$(cat ".drove/runs/$run/tasks/bad.err")" oops "holding the stderr"
expect_has "$err" "(see .drove/runs/$run/tasks/many.*.err)" \
    "replicas: the pattern of their files"
ls .drove/runs/$run/tasks/many.0.err >/dev/null 2>&1 && ok "many.0.err exists" ||
    fail "no many.0.err"

# drove plan to stdout: errors do not name a plan.ini that does not exist
cat >agent.sh <<'SH'
cat >/dev/null
printf '[task a]\nprompt = p\noutput = x.txt\n'
SH
cat >drove.ini <<'INI'
[backend sh]
type = exec
command = sh agent.sh
prompt_via = stdin
INI
drove plan "a goal"
expect_eq "$rc" 1 "a refused plan: exit 1"
expect_not_has "$err" "plan.ini" "stdout: no plan.ini in the messages"
expect_has "$err" "the plan:3: task 'a': forbidden key 'output'" \
    "the plan is named as such"
drove plan "a goal" -o mine.ini
expect_has "$err" "mine.ini:3: task 'a'" "with -o the file is named"

# drove clean: the reasons are joined by '; ', none trails
git_repo repo a.txt
cd repo
cat >"$T/w.ini" <<'INI'
[backend agent]
type = exec
command = sh -c 'cat >/dev/null; echo "$DROVE_TASK" >a.txt'
[task x]
isolation = worktree
prompt = p
[task y]
isolation = worktree
prompt = p
INI
drove run "$T/w.ini" -q
expect_eq "$rc" 1 "the second merge conflicts"
run=$(basename "$(readlink -f .drove/runs/last)")
k=$(python3 -c 'import json; t = json.load(open(".drove/runs/last/summary.json"))["tasks"]; print([n for n in t if t[n].get("conflict")][0])')
echo dirt >>".drove/runs/$run/worktrees/$k/a.txt"
drove clean
line=$(printf '%s\n' "$out" | grep "kept (unmerged): $k" || true)
[ -n "$line" ] && ok "clean keeps the unmerged task" || fail "clean: $out"
expect_has "$line" "not in 'main'; 1 uncommitted change in " \
    "two reasons joined by '; '"
case "$line" in
*";") fail "a ';' ends the line: $line" ;;
*) ok "no ';' at the end" ;;
esac
finish
