#!/usr/bin/env bash
# --json is one event stream (docs/EVENTS.md): every line has an event, the
# first is run_start and the last run_done; a run with a retry, a skip, a
# merge and a rate-limit wait, replayed from the stream alone, gives
# summary.json's counts, statuses, attempts, tokens and cost.  The journal
# carries the same events.
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

start_llm mock
P=$MOCK_PORT
{
	backends "$P" "concurrency = 1"
	cat <<'INI'
[backend sh]
type = exec
command = sh -c 'test "$DROVE_TASK" != bad || exit 3; echo "from $DROVE_TASK"'

[task flaky]
backend = claude
retries = 2
prompt = once more [[fail=500x1]]

[task limited]
backend = gpt
prompt = wait [[fail=429x1 ra=ms:300]]

[task queued]
backend = gpt
prompt = after the limit [[latency=0.2]]

[task twice]
backend = sh
replicas = 2
prompt = x

[task bad]
backend = sh
prompt = x

[task needs_bad]
backend = sh
prompt = x
after = bad

[task joined]
merge = additive
inputs = flaky, twice
INI
} >run.ini
drove run run.ini -k --json
expect_eq "$rc" 1 "the failing task fails the run"
printf '%s\n' "$out" >stream.jsonl
python3 - stream.jsonl .drove/runs/last/summary.json \
    .drove/runs/last/journal.jsonl "$DROVE_ROOT/docs/EVENTS.md" <<'PY'
import json, re, sys
bad = 0
def check(what, cond):
    global bad
    print(("ok: " if cond else "FAIL: ") + what)
    bad += not cond
lines = [json.loads(l) for l in open(sys.argv[1])]
s = json.load(open(sys.argv[2]))
journal = [json.loads(l) for l in open(sys.argv[3])]
# the events docs/EVENTS.md lists in its table
EVENTS = set(re.findall(r"^\| `([a-z_]+)` \|", open(sys.argv[4]).read(),
                        re.M))
check("docs/EVENTS.md lists the events", "run_done" in EVENTS)
check("every line has a known event",
      all(l.get("event") in EVENTS for l in lines))
check("the first line is run_start", lines[0]["event"] == "run_start")
check("the last line is run_done", lines[-1]["event"] == "run_done")
check("run_done comes once",
      sum(l["event"] == "run_done" for l in lines) == 1)

# the replay: the run's state from the stream alone
tasks, attempts, retries = {}, {}, {}
tin = tout = 0
cost = 0.0
for l in lines:
    e = l["event"]
    if e == "run_start":
        ntasks = l["tasks"]
    elif e == "task_start" and "replica" in l:
        # a rate limit's new start keeps its attempt number
        attempts.setdefault(l["task"], {})[l["replica"]] = l["attempt"]
    elif e == "task_retry":
        retries.setdefault(l["task"], []).append(l)
    elif e in ("task_done", "task_skipped"):
        check("%s ends once" % l["task"], l["task"] not in tasks)
        tasks[l["task"]] = l
        tin += l["tokens_in"]
        tout += l["tokens_out"]
        cost += l["cost_usd"]
counts = {}
for t in tasks.values():
    counts[t["status"]] = counts.get(t["status"], 0) + 1
st = s["tasks"]
want = {}
for t in st.values():
    want[t["status"]] = want.get(t["status"], 0) + 1
check("every task of the run has its end in the stream",
      sorted(tasks) == sorted(st) and len(tasks) == ntasks)
check("the replayed counts are summary.json's: %r" % counts, counts == want)
check("run_done's counts are summary.json's",
      {k: v for k, v in lines[-1]["counts"].items() if v} == want)
check("each task's status is summary.json's",
      all(tasks[n]["status"] == st[n]["status"] for n in st))
check("the status is summary.json's",
      lines[-1]["status"] == s["status"] == "failed")
check("tokens add up to summary.json's",
      (tin, tout) == (s["tokens_in"], s["tokens_out"]) and tin > 0)
check("cost adds up to summary.json's",
      abs(cost - s["cost_usd"]) < 1e-9 and cost > 0)
check("attempts from task_start (the most-tried replica's) are summary.json's",
      all(max(attempts.get(n, {0: 0}).values()) == st[n]["attempts"] for n in st
          if st[n]["status"] != "skipped" and n != "joined"))
check("the retry is in the stream, with its wait",
      len(retries.get("flaky", [])) == 1 and
      retries["flaky"][0]["wait_s"] > 0 and
      not retries["flaky"][0]["rate_limited"])
check("the rate limit is a task_retry that says so",
      any(r["rate_limited"] for r in retries.get("limited", [])))
check("a task waited for a slot (concurrency = 1)",
      any(l["event"] == "task_wait" and l["reason"] == "slot"
          for l in lines))
check("the skipped task has its line, with why",
      tasks["needs_bad"]["event"] == "task_skipped" and
      "bad" in tasks["needs_bad"]["error"])
m = [l for l in lines if l["event"] == "merge_done"]
check("merges have their lines",
      {l["task"] for l in m} == {"twice", "joined"} and
      all(l["merged"] for l in m))
check("a task's text is in its task_done",
      tasks["twice"]["text"].count("from twice") == 2)
check("run_done carries the summary",
      lines[-1]["speedup"] == s["speedup"] and
      lines[-1]["run"] == s["run"])
# the journal: the same events, under the same names
jev = [j for j in journal if "event" in j]
# A task_done reaches the stream once its output is durable (the group
# commit), so across tasks the two may interleave differently; each
# task's own events keep their order.
def per_task(evs):
    d = {}
    for e in evs:
        d.setdefault(e.get("task"), []).append(e)
    return d
jt, lt = per_task(jev), per_task(lines)
check("the journal has the stream's events, in order for each task",
      {k: [e["event"] for e in v] for k, v in jt.items()} ==
      {k: [e["event"] for e in v] for k, v in lt.items()})
check("and the same fields (the stream adds text and the summary)",
      all(set(j) - {"ev"} <= set(l) for k in jt
          for j, l in zip(jt[k], lt.get(k, []))))
sys.exit(1 if bad else 0)
PY
[ $? -eq 0 ] && ok "the stream replays to summary.json" ||
    fail "the stream does not replay to summary.json"

# a resumed run's stream tells the tasks done before
rm -f .drove/runs/last/tasks/bad.out
sed -i 's/exit 3/exit 0/' run.ini
drove run run.ini --resume last --json
expect_eq "$rc" 0 "the resumed run succeeds"
printf '%s\n' "$out" | python3 -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin]
done = [l for l in lines if l["event"] == "task_done"]
names = sorted(l["task"] for l in done)
assert names == ["bad", "flaky", "joined", "limited", "needs_bad", "queued", "twice"], names
assert sum(l.get("resumed", False) for l in done) == 5, done
' && ok "resume: the stream has every task, the earlier ones resumed" ||
    fail "resume stream: $out"

# a worktree run with the merge gate: its check_done and merge_done lines
# carry what docs/EVENTS.md says, in the stream and the journal alike
git_repo repo a.txt b.txt
cd repo
cat >"$T/wt.ini" <<INI
[drove]
check = sh -c 'echo "checked \$DROVE_TASK"; ! git grep -q BROKEN'

[backend agent]
type = exec
command = sh -c 'sed 1d | sh -e'

[task good]
isolation = worktree
prompt = Edit a.txt
  sed -i 2s/.*/good/ a.txt

[task broken]
isolation = worktree
prompt = Break b.txt
  sed -i 2s/.*/BROKEN/ b.txt
INI
# (drove here runs in $T: this run is in the repository)
"$DROVE" run "$T/wt.ini" --json >"$T/wt.jsonl" 2>"$T/.err"
expect_eq "$?" 1 "worktree run: the failed check fails it"
python3 - "$T/wt.jsonl" .drove/runs/last/journal.jsonl \
    "$DROVE_ROOT/docs/EVENTS.md" <<'PY'
import json, re, sys
bad = 0
def check(what, cond):
    global bad
    print(("ok: " if cond else "FAIL: ") + what)
    bad += not cond
lines = [json.loads(l) for l in open(sys.argv[1])]
journal = [j for j in map(json.loads, open(sys.argv[2])) if "event" in j]
doc = open(sys.argv[3]).read()
EVENTS = set(re.findall(r"^\| `([a-z_]+)` \|", doc, re.M))
check("every line has an event docs/EVENTS.md lists",
      all(l.get("event") in EVENTS for l in lines + journal))
# check_done's fields: its section's list; one said to come "when" is
# there exactly when the check failed
sec = doc.split("## `check_done`", 1)[1].split("\n## ", 1)[0]
fields = re.findall(r"^- `([a-z_]+)`: (\w+)", sec, re.M)
always = {f for f, w in fields if w != "when"}
sometimes = {f for f, w in fields if w == "when"}
check("docs/EVENTS.md lists check_done's fields: %r %r" % (always, sometimes),
      {"task", "final", "into", "passed"} <= always and sometimes == {"output"})
status = re.search(r"`status` \(([^)]*)\)",
                   doc.split("## `merge_done`", 1)[1]).group(1)
for src, evs in (("stream", lines), ("journal", journal)):
    cd = [e for e in evs if e["event"] == "check_done"]
    check("%s: a check_done for each merge and the final check" % src,
          [(e["task"], e["final"], e["passed"]) for e in cd] ==
          [("good", False, True), ("broken", False, False), (None, True, True)])
    check("%s: check_done has the documented fields" % src,
          all(always <= set(e) and ("output" in e) == (not e["passed"])
              for e in cd))
    check("%s: a failed check's output is there" % src,
          "checked broken" in cd[1].get("output", "") and
          "exited 1" in cd[1].get("output", ""))
    md = [e for e in evs if e["event"] == "merge_done" and "into" in e]
    check("%s: merge_done for each branch, after its check" % src,
          [(e["task"], e["merged"], e["status"]) for e in md] ==
          [("good", True, "merged"), ("broken", False, "check_failed")] and
          evs.index(md[0]) > evs.index(cd[0]) and
          evs.index(md[1]) > evs.index(cd[1]))
    check("%s: merge_done's status is a documented one" % src,
          all("`%s`" % e["status"] in status for e in md))
    check("%s: the failed check's merge_done has its output; each line "
          "names the target" % src,
          "checked broken" in md[1].get("check_output", "") and
          all(e["into"] == "main" for e in md + cd))
sys.exit(1 if bad else 0)
PY
[ $? -eq 0 ] && ok "worktree run: check_done and merge_done as documented" ||
    fail "worktree run: check_done or merge_done not as documented"
finish
