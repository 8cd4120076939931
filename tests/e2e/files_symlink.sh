# Run-directory files are never written through a planted symbolic link:
# not a task's .err on resume, not its .out, not the journal.
. "$(dirname "$0")/lib.sh"

printf 'precious\n' >victim
cat >s.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'echo "err of $DROVE_TASK" >&2; test -e ok || exit 1; echo "out of $DROVE_TASK"'
[task a]
prompt = x
[task b]
prompt = x
INI
drove run s.ini -k
expect_eq "$rc" 1 "first run fails"
run=.drove/runs/last
# plant links where the resumed run writes
ln -sf "$T/victim" $run/tasks/a.err
ln -sf "$T/victim" $run/tasks/b.out
touch ok
drove run s.ini --resume last
expect_eq "$(cat victim)" precious "the link's target is untouched"
expect_has "$err" "a.err" "the refused .err is named"
expect_py 't["a"]["status"] == "failed" and t["b"]["status"] == "ok"' \
    "a fails on the planted link, b succeeds"
[ -L $run/tasks/b.out ] && fail "b.out is still a link" || ok "b.out replaced"
expect_eq "$(cat $run/tasks/b.out)" "out of b" "b.out holds b's output"

# a journal replaced by a link is refused, not appended through
rm -f $run/tasks/a.err ok
mv $run/journal.jsonl j.saved
ln -s "$T/victim" $run/journal.jsonl
drove run s.ini --resume last
expect_eq "$rc" 2 "resume refuses a journal that is a link"
expect_eq "$(cat victim)" precious "the journal link's target is untouched"
finish
