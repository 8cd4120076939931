# Text that is not valid UTF-8 (an agent's output, its stderr in the
# error) reaches every JSON drove writes with U+FFFD in place of the bad
# bytes: --json lines, summary.json and the journal.  It used to vanish.
. "$(dirname "$0")/lib.sh"

cat >t.ini <<'INI'
[backend sh]
type = exec
command = sh agent.sh
[task out]
prompt = x
[task err]
prompt = y
INI
cat >agent.sh <<'SH'
if [ "$DROVE_TASK" = out ]; then
	printf 'ok \377\376 done \303\251'
else
	printf 'bad \377 thing\n' >&2
	exit 3
fi
SH
drove run t.ini -q -k --json
expect_eq "$rc" 1 "the failing task fails the run"
printf '%s\n' "$out" >lines
python3 - lines .drove/runs/last/summary.json .drove/runs/last/journal.jsonl <<'PY'
import json, sys
bad = 0
def check(what, got, want):
    global bad
    if got == want:
        print("ok:", what)
    else:
        print("FAIL: %s: got %r, want %r" % (what, got, want))
        bad += 1
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
tasks = {l["task"]: l for l in lines if l.get("event") == "task_done"}
want_out = "ok \ufffd\ufffd done \u00e9"
want_err = "command 'sh' exited with status 3: bad \ufffd thing"
check("--json: the output keeps its text", tasks["out"].get("text"), want_out)
check("--json: the error keeps its text", tasks["err"].get("error"), want_err)
s = json.load(open(sys.argv[2], encoding="utf-8"))
check("summary.json: the error keeps its text", s["tasks"]["err"].get("error"), want_err)
ev = [json.loads(l) for l in open(sys.argv[3], encoding="utf-8")]
errs = [e.get("error") for e in ev if e.get("task") == "err" and e.get("ev") in ("attempt", "task")]
check("journal: attempt and task lines carry the error", errs, [want_err, want_err])
sys.exit(1 if bad else 0)
PY
[ $? -eq 0 ] && ok "every JSON carries the text" || fail "JSON lost text"
drove report
expect_has "$out" "err" "report reads the run"
finish
