#!/usr/bin/env bash
# drove plan on an exec backend whose agent is a script: it saves each
# prompt as prompt.N, counts its calls in `count`, and answers answer.N
# (else `answer`).  The file written loads; -o never overwrites without
# --force; an invalid answer is sent back once with the error; two invalid
# answers fail and the last is saved; the goal reaches the agent byte for
# byte; the backend is chosen by -b, [drove] backend or being the only one.
. "$(dirname "$0")/lib.sh"

cat >agent.sh <<'SH'
n=$(( $(cat count 2>/dev/null || echo 0) + 1 ))
echo "$n" >count
cat >"prompt.$n"
if [ -e "answer.$n" ]; then cat "answer.$n"; else cat answer; fi
SH
cat >drove.ini <<'INI'
[backend sh]
type = exec
command = sh agent.sh
prompt_via = stdin
INI
# prose and a fence around the file, as chat models answer
cat >answer <<'EOF'
Here is a plan that splits the work:

```ini
[task parser]
prompt = Write src/parser.c.
  Keep it small.
writes = src/parser.c

[task tests]
prompt = Write tests for the parser.
writes = tests/**

[task docs]
after = parser
prompt = Document what {{parser}} says.
```

Each task can run on its own agent.
EOF
calls() { cat count 2>/dev/null || echo 0; }

drove plan "Write a small parser" -o p.ini
expect_eq "$rc" 0 "plan succeeds"
expect_eq "$(calls)" 1 "one call to the backend"
expect_eq "$out" "" "nothing on stdout with -o"
expect_has "$err" "p.ini: 3 tasks, 2 waves" "summary: tasks and waves"
expect_has "$err" "wave 1: parser tests" "summary: the first wave"
expect_has "$err" "critical path (2 tasks): parser -> docs" "summary: the critical path"
expect_not_has "$(cat p.ini)" '```' "the fences are gone"
expect_not_has "$(cat p.ini)" "Here is a plan" "the prose before is gone"
expect_not_has "$(cat p.ini)" "own agent" "the prose after is gone"
expect_has "$(cat p.ini)" $'[drove]\nbackend = sh\n' "the tasks' backend is written"
expect_has "$(cat p.ini)" $'prompt = Write src/parser.c.\n  Keep it small.' "a continuation line is kept"
drove graph p.ini
expect_eq "$rc" 0 "the written file loads"
expect_has "$out" "parser -> docs  (after)" "with its edges"
drove run p.ini --dry-run
expect_eq "$rc" 0 "and runs as is (dry run)"
[ -e p.ini.new.* ] 2>/dev/null && fail "a temp file is left" || ok "no temp file left"

# never over an existing file without --force, and nothing is asked
cp p.ini before.ini
echo "# mine" >mine.ini
drove plan "Write a small parser" -o mine.ini
expect_eq "$rc" 2 "an existing -o file: exit 2"
expect_has "$err" "'mine.ini' exists; use --force" "the refusal says why"
expect_eq "$(cat mine.ini)" "# mine" "the file is untouched"
expect_eq "$(calls)" 1 "the backend is not asked"
drove plan "Write a small parser" -o mine.ini --force
expect_eq "$rc" 0 "--force overwrites"
expect_has "$(cat mine.ini)" "[task parser]" "with the plan"

# stdout without -o, byte for byte what -o writes
drove plan "Write a small parser"
expect_eq "$rc" 0 "plan to stdout"
expect_eq "$out" "$(cat p.ini)" "stdout holds the same file"

# the goal reaches the agent byte for byte
goal=$'  Refactor "src/*.c" & $HOME `x` \\n;\n# not a comment\n\tcaf\xc3\xa9 [task z]  '
rm -f count prompt.*
drove plan "$goal" -o goal.ini
expect_eq "$rc" 0 "an odd goal plans"
GOAL=$goal python3 -c '
import os, sys
p = open("prompt.1", "rb").read()
g = os.environb[b"GOAL"]
sys.exit(0 if p.endswith(b"\n" + g + b"\n") and p.count(g) == 1 else 1)
' && ok "the goal is in the prompt byte for byte" || fail "the goal differs: $(tail -c 200 prompt.1 | od -c | tail -5)"
expect_has "$(cat prompt.1)" "[task NAME]" "the prompt explains the format"
expect_has "$(head -4 goal.ini)" ";   # not a comment" "the goal is a comment of the file"

# an invalid answer is sent back once with the error; the second is used
rm -f count prompt.*
printf '[task a]\nprompt = one\ndepends = b\n[task b]\nprompt = two\n' >answer.1
cat >answer.2 <<'EOF'
[task a]
prompt = one
after = b
[task b]
prompt = two
EOF
drove plan "goal two" -o fixed.ini
expect_eq "$rc" 0 "a corrected second answer succeeds"
expect_eq "$(calls)" 2 "two calls"
expect_has "$err" "unknown key 'depends'" "the first error is shown"
expect_has "$(cat prompt.2)" "unknown key 'depends'" "the error goes back to the backend"
expect_has "$(cat prompt.2)" "depends = b" "with the rejected answer"
expect_has "$(cat prompt.2)" $'The goal:\ngoal two\n' "and the goal"
expect_has "$err" "fixed.ini: 2 tasks, 2 waves" "the summary is of the second answer"
drove graph fixed.ini
expect_eq "$rc" 0 "the corrected file loads"
[ -e fixed.ini.rejected ] && fail "an answer was saved" || ok "nothing saved on success"

# two invalid answers: exit 1, the last answer saved and named
rm -f count prompt.*
printf 'Sure.\n[backend evil]\ntype = exec\ncommand = rm -rf /\n[task a]\nprompt = x\n' >answer.1
printf '[task a]\nprompt = x\nafter = b\n[task b]\nprompt = y\nafter = a\n' >answer.2
drove plan "goal three" -o bad.ini
expect_eq "$rc" 1 "two invalid answers: exit 1"
expect_eq "$(calls)" 2 "asked twice, not more"
expect_has "$(cat prompt.2)" "[backend evil]: only [task NAME] sections" "a [backend] section is refused"
expect_has "$err" "cycle" "the last error is named"
expect_has "$err" "'bad.ini.rejected'" "the saved answer is named"
expect_eq "$(cat bad.ini.rejected)" "$(cat answer.2)" "the last answer is saved as it came"
[ -e bad.ini ] && fail "an invalid plan was written" || ok "no file written"
rm -f answer.1 answer.2

# an answer with no section at all
rm -f count
echo "I cannot help with that." >answer.1
echo "Nor that." >answer.2
drove plan "goal four"
expect_eq "$rc" 1 "no INI at all: exit 1"
expect_has "$err" "no line starts with '['" "the reason"
expect_has "$err" "'drove-plan.rejected'" "saved without -o too"
rm -f answer.1 answer.2

# the backend fails
printf '[backend sh]\ntype = exec\ncommand = sh -c "echo broken >&2; exit 3"\n' >fails.ini
drove plan "goal" -c fails.ini
expect_eq "$rc" 1 "a failing backend: exit 1"
expect_has "$err" "backend 'sh'" "the backend is named"
expect_has "$err" "broken" "with its stderr"

# which backend plans, and which the tasks use
cat >two.ini <<'INI'
[backend sh]
type = exec
command = sh agent.sh
[backend other]
type = exec
command = sh -c 'echo other >>others; cat >/dev/null; cat answer'
INI
rm -f count others
drove plan "goal" -c two.ini
expect_eq "$rc" 2 "two backends and no default: exit 2"
expect_has "$err" "2 backends are configured (sh, other)" "they are listed"
drove plan "goal" -c two.ini -b nope
expect_eq "$rc" 2 "an unknown -b: exit 2"
expect_has "$err" "unknown backend 'nope'" "named"
drove plan "goal" -c two.ini -b other -o o.ini
expect_eq "$rc" 0 "-b chooses"
expect_eq "$(cat others)" "other" "the chosen backend planned"
expect_has "$(cat o.ini)" $'[drove]\nbackend = other\n' "the tasks use it too"
drove plan "goal" -c two.ini -b other --task-backend sh -o t.ini
expect_eq "$rc" 0 "--task-backend"
expect_has "$(cat t.ini)" $'[drove]\nbackend = sh\n' "the tasks use --task-backend"
drove plan "goal" -c two.ini -b other --task-backend nope
expect_eq "$rc" 2 "an unknown --task-backend: exit 2"
printf '[drove]\nbackend = other\n' >>two.ini
drove plan "goal" -c two.ini -o d.ini
expect_eq "$rc" 0 "[drove] backend chooses"
expect_eq "$(wc -l <others | tr -d ' ')" 3 "the [drove] backend planned"
drove graph d.ini -c two.ini
expect_eq "$rc" 0 "loads with that configuration"
printf '[drove]\njobs = 2\n' >none.ini
drove plan "goal" -c none.ini
expect_eq "$rc" 2 "no backend: exit 2"
expect_has "$err" "no backend is configured" "said"

drove plan
expect_eq "$rc" 2 "no goal: exit 2"
drove plan --help
expect_eq "$rc" 0 "--help exits 0"
expect_has "$out" "usage: drove plan" "--help prints usage"
expect_has "$out" "--task-backend" "--help names --task-backend"
finish
