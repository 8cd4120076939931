# --resume compares the task file with the tasks the run started with,
# task by task: a file whose tasks changed (added, removed, a key or the
# text of a prompt_file) is refused with exit 2 before the run directory
# is touched, naming each; --force resumes with the file as it is now.
# Comments, order and layout are not changes.
. "$(dirname "$0")/lib.sh"

echo "first prompt" >p.txt
cat >t.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'cat; [ "$DROVE_TASK" != b ] || [ -e fixed ]'

[task a]
prompt = alpha

[task b]
prompt = beta

[task c]
prompt_file = p.txt

[task d]
prompt = delta
INI
drove run t.ini -k
expect_eq "$rc" 1 "the first run fails (b fails)"
[ -f .drove/runs/last/tasks.json ] && ok "the run keeps a copy of its tasks" ||
    fail "no .drove/runs/last/tasks.json"

# the same tasks in other words: comments, order, a block
cat >same.ini <<'INI'
; reordered, commented, the same tasks
[task d]
prompt = <<END
delta
END

[task c]
prompt_file = p.txt

[task b]
prompt = beta

[task a]
prompt = alpha

[backend sh]
type = exec
command = sh -c 'cat; [ "$DROVE_TASK" != b ] || [ -e fixed ]'
INI
cp same.ini t.ini
lines=$(wc -l <.drove/runs/last/journal.jsonl)
drove run t.ini --resume last -k
expect_eq "$rc" 1 "the same tasks in other words: resumed (b still fails)"
expect_not_has "$err" "differ" "the same tasks: nothing said to differ"
expect_has "$(cat .drove/runs/last/journal.jsonl)" '"resume":true' \
    "the same tasks: the resume ran"

# changed: b's prompt, c's prompt_file text, d removed, e added
echo "second prompt" >p.txt
cat >t.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'cat; [ "$DROVE_TASK" != b ] || [ -e fixed ]'

[task a]
prompt = alpha

[task b]
prompt = beta, changed
retries = 1

[task c]
prompt_file = p.txt

[task e]
prompt = epsilon
INI
touch fixed
lines=$(wc -l <.drove/runs/last/journal.jsonl)
summary=$(cat .drove/runs/last/summary.json)
drove run t.ini --resume last
expect_eq "$rc" 2 "changed tasks: the resume is refused (exit 2)"
expect_has "$err" "task 'b' changed: prompt, retries added" "b's changed keys are named"
expect_has "$err" "task 'c' changed: the text of its prompt_file" "c's prompt_file text change is named"
expect_has "$err" "task 'd' removed" "a removed task is named"
expect_has "$err" "task 'e' added" "an added task is named"
expect_has "$err" "--force" "the refusal says how to go on"
expect_eq "$(wc -l <.drove/runs/last/journal.jsonl)" "$lines" \
    "the refused resume wrote nothing to the journal"
expect_eq "$(cat .drove/runs/last/summary.json)" "$summary" \
    "the refused resume left the summary alone"

drove run t.ini --force
expect_eq "$rc" 2 "--force without --resume is a usage error"
expect_has "$err" "--force goes with --resume" "--force alone: the error says why"

drove run t.ini --resume last --force
expect_eq "$rc" 0 "--force: the resume runs the tasks as they are now"
expect_has "$err" "task 'b' changed" "--force: the changes are still listed"
expect_py 't["b"]["status"] == "ok" and t["e"]["status"] == "ok" and "d" not in t' \
    "--force: b and the added e ran"
expect_eq "$(sed -n 1p .drove/runs/last/tasks/b.out)" "beta, changed" \
    "--force: b ran with its new prompt"

# the copy is now the forced file's: resuming again with it is quiet
drove run t.ini --resume last
expect_eq "$rc" 0 "after --force the copy is the new tasks'"
expect_not_has "$err" "differ" "after --force: nothing differs"

# a run from before copies were kept resumes, and keeps one from then on
rm .drove/runs/last/tasks.json
drove run t.ini --resume last
expect_eq "$rc" 0 "a run without a copy resumes"
[ -f .drove/runs/last/tasks.json ] && ok "the resume saves a copy" ||
    fail "no copy saved on resume"
finish
