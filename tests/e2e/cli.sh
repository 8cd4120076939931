# graph, --dot, --dry-run, --json, plugins, version and --help.
. "$(dirname "$0")/lib.sh"

cat >g.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'touch ran; cat'
[task tests]
prompt = t
writes = src/**
[task docs]
prompt = d
[task lint]
prompt = l
writes = src/lint.c
[task changelog]
prompt = from {{tests}}
INI
drove graph g.ini
expect_eq "$rc" 0 "graph succeeds"
expect_has "$out" "wave 1: tests docs" "wave 1"
expect_has "$out" "wave 2: lint changelog" "writes overlap puts lint after tests"
expect_has "$out" "tests -> changelog  (reference)" "reference edge shown"
expect_has "$out" "tests -> lint  (writes" "writes edge shown"
expect_has "$out" "critical path (2 tasks): tests -> " "critical path"
drove graph g.ini --dot
expect_has "$out" "digraph drove" "dot output"
expect_has "$out" '"tests" -> "changelog"' "dot edge"
drove run g.ini --dry-run
expect_eq "$rc" 0 "dry run succeeds"
expect_has "$out" "wave 2: lint changelog" "dry run prints waves"
[ -e ran ] && fail "dry run ran a task" || ok "dry run runs nothing"
[ -e .drove ] && fail "dry run made a run directory" || ok "dry run writes nothing"

drove run g.ini --json -q
expect_eq "$rc" 0 "json run succeeds"
expect_eq "$err" "" "-q: nothing on stderr"
expect_eq "$(printf '%s\n' "$out" | grep -c '"event":"task_done"')" 4 "one task_done line per task"
printf '%s\n' "$out" | python3 -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin]
assert all("event" in l for l in lines)
assert lines[0]["event"] == "run_start"
assert [l["task"] for l in lines if l["event"] == "task_done"].count("changelog") == 1
assert lines[-1]["event"] == "run_done"
assert lines[-1]["status"] == "ok" and "speedup" in lines[-1]
ch = [l for l in lines if l.get("task") == "changelog" and l["event"] == "task_done"][0]
assert ch["text"] == "from t", ch
' && ok "json lines parse" || fail "json lines"

drove plugins
expect_has "$out" "exec" "plugins lists exec"
expect_has "$out" "additive" "plugins lists additive"
expect_has "$out" "aggregative" "plugins lists aggregative"
expect_has "$out" "ABI 1." "plugins shows the ABI"
drove version
expect_has "$out" "drove " "version"
for c in run graph report plugins; do
	drove $c --help
	expect_eq "$rc" 0 "$c --help exits 0"
	expect_has "$out" "usage: drove $c" "$c --help prints usage"
done
drove --help
expect_has "$out" "commands:" "top-level help"

drove report
expect_eq "$rc" 0 "report of the last run"
expect_has "$out" "changelog" "report lists tasks"
expect_has "$out" "speedup" "report has the speedup"
drove report last --svg t.svg
expect_eq "$(head -c 4 t.svg)" "<svg" "report --svg writes SVG"
drove report --json
expect_eq "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" ok "report --json"
finish
