# competitive: best of N by a score command (stdin or {{file}}) or by a
# judge backend; every candidate and score kept and reported.
. "$(dirname "$0")/lib.sh"

# replica k answers per the table in its prompt: "k=TEXT;..." ("FAIL"
# exits 1, "EMPTY" prints nothing); a real child process each
cat >agent.sh <<'SH'
line=$(cat | tr ';' '\n' | grep "^$DROVE_REPLICA=" | cut -d= -f2-)
case $line in
FAIL) echo "replica $DROVE_REPLICA broke" >&2; exit 1 ;;
EMPTY) ;;
*) printf '%s\n' "$line" ;;
esac
SH
head="[backend a]
type = exec
command = sh $T/agent.sh
[backend b]
type = exec
command = sh $T/agent.sh
"

# score from stdin: the number of words; ties go to the earliest
printf '%s%s\n' "$head" '[task best]
backend = a, b
replicas = 4
prompt = 0=one two;1=three four five;2=six seven eight;3=nine
merge = competitive
score = wc -w
output = out/best.txt' >c.ini
drove run c.ini
expect_eq "$rc" 0 "score: run succeeds"
expect_eq "$out" "three four five" "score: highest wins, the earlier of a tie"
expect_eq "$(cat out/best.txt)" "three four five" "score: the winner goes to output"
expect_py_many \
    '[c["score"] for c in t["best"]["candidates"]] == [2, 3, 3, 1]' "score: every score in summary.json" \
    '[c["winner"] for c in t["best"]["candidates"]] == [False, True, False, False]' "score: one winner, marked" \
    '[c["backend"] for c in t["best"]["candidates"]] == ["a", "b", "a", "b"]' "replicas spread round-robin over backends" \
    'str([c["score"] for c in json.load(open(".drove/runs/last/tasks/best.merge/scores.json"))["candidates"]]) == "[2.0, 3.0, 3.0, 1.0]"' "scores.json keeps the scores"
d=.drove/runs/last/tasks/best.merge
expect_eq "$(cat $d/candidate-2.out)" "six seven eight" "every candidate kept in the run directory"
drove report
expect_has "$out" "candidate 1   replica 1 (b)" "report: candidates listed"
expect_has "$out" "score 3          winner" "report: winner and score shown"

# {{file}}: the candidate's path as an argument; failing and empty
# candidates are no candidates; a failing or garbage score is unscored
cat >score.sh <<'SH'
case $(cat "$1") in
*bad*) echo "cannot judge" >&2; exit 3 ;;
*junk*) echo "about seven" ;;
*) wc -c <"$1" ;;
esac
SH
printf '%s%s\n' "$head" "[task pick]
backend = a
replicas = 6
prompt = 0=FAIL;1=EMPTY;2=short;3=bad one;4=junk words here;5=longer text
merge = competitive
score = sh $T/score.sh {{file}}" >f.ini
drove run f.ini
expect_eq "$rc" 0 "file: run succeeds despite bad candidates"
expect_eq "$out" "longer text" "file: the best scored candidate wins"
expect_py_many \
    '[c["status"] for c in t["pick"]["candidates"]] == ["failed", "empty", "ok", "ok", "ok", "ok"]' "failed and empty outputs are no candidates" \
    't["pick"]["candidates"][3]["score"] is None and "exited with status 3" in t["pick"]["candidates"][3]["error"]' "a failing score command leaves it unscored" \
    '"printed '"'"'about seven'"'"', not a number" in t["pick"]["candidates"][4]["error"]' "garbage output leaves it unscored" \
    't["pick"]["candidates"][5]["score"] == 12' "the file path reached the score command"
expect_has "$err" "candidate 4 unscored: score command printed 'about seven'" "unscored candidates are reported"

# no candidate scored: the task fails with every reason
printf '%s%s\n' "$head" '[task none]
backend = a
replicas = 3
prompt = 0=x;1=y;2=FAIL
merge = competitive
score = sh -c "echo NaN"' >n.ini
drove run n.ini
expect_eq "$rc" 1 "none scored: exit 1"
expect_py 't["none"]["status"] == "failed"' "none scored: task failed"
expect_has "$err" "no candidate could be scored: replica 0 (a): score command printed 'NaN', not a number; replica 1 (a): score command printed 'NaN', not a number; replica 2 (a): failed" "none scored: reasons named"

printf '%s%s\n' "$head" '[task none]
backend = a
replicas = 2
prompt = 0=EMPTY;1=FAIL
merge = competitive
score = wc -c' >e.ini
drove run e.ini
expect_eq "$rc" 1 "no candidate at all: exit 1"
expect_has "$err" "no candidate: replica 0 (a): empty output; replica 1 (a): failed" "no candidate: reasons"

# a judge: an exec backend that answers with a number
cat >judge.sh <<'SH'
# answers from $T/answers, one line per call; keeps each prompt
n=$(($(cat count 2>/dev/null || echo 0) + 1))
echo $n >count
cat >prompt.$n
sed -n "${n}p" answers
SH
jhead="$head[backend judge]
type = exec
command = sh $T/judge.sh
"
printf '%s%s\n' "$jhead" '[task j]
backend = a
replicas = 3
prompt = 0=alpha;1=FAIL;2=gamma
merge = competitive
judge = judge
judge_prompt = Pick the most Greek one.' >j.ini
printf 'The best is candidate 2.\n' >answers
rm -f count
drove run j.ini
expect_eq "$rc" 0 "judge: run succeeds"
expect_eq "$out" "gamma" "judge: its number picks among the usable candidates"
expect_has "$(cat prompt.1)" "Pick the most Greek one." "judge: judge_prompt leads"
expect_has "$(cat prompt.1)" "=== Candidate 2 ===
gamma" "judge: candidates numbered"
expect_py '[c["judge_number"] for c in t["j"]["candidates"]] == [1, None, 2] and t["j"]["candidates"][2]["winner"]' "judge: numbers and winner in the summary"

printf 'none of them\n3\n' >answers
rm -f count
drove run j.ini
expect_eq "$rc" 1 "judge out of range: exit 1"
expect_eq "$(cat count)" 2 "judge: an unusable answer is asked again once"
expect_has "$(cat prompt.2)" "Your previous answer was 'none of them'" "judge: the second prompt says why"
expect_has "$err" "judge 'judge' answered '3', not a candidate number from 1 to 2 (asked twice)" "judge: fails with the judge's text"
expect_py 't["j"]["judge_answers"] == ["none of them\n", "3\n"]' "judge: both answers kept"

printf 'hmm\n1\n' >answers
rm -f count
drove run j.ini
expect_eq "$rc" 0 "judge: a usable second answer wins"
expect_eq "$out" "alpha" "judge: second answer used"

# a judge that fails twice
printf '%s%s\n' "$head" '[backend judge]
type = exec
command = sh -c "echo overloaded >&2; exit 5"
[task j]
backend = a
replicas = 2
prompt = 0=x;1=y
merge = competitive
judge = judge' >jf.ini
drove run jf.ini
expect_eq "$rc" 1 "failing judge: exit 1"
expect_has "$err" "judge 'judge' failed: command 'sh' exited with status 5: overloaded" "failing judge: its error shown"

# a judge's usage counts toward the task (a plugin backend with usage)
if ! ldd "$DROVE" 2>&1 | grep -q 'not a dynamic'; then
	mkdir plug
	cc -shared -fPIC -fvisibility=hidden -I"$ROOT/include" -o plug/upper.so \
	    "$ROOT/tests/data/plugins/backend_upper.c"
	printf '[drove]\nplugin_dir = %s/plug\n%s%s\n' "$T" "$head" '[backend up]
type = upper
price_in = 1000000
price_out = 0
[task j]
backend = a
replicas = 3
prompt = 0=x;1=y;2=z
merge = competitive
judge = up
judge_prompt = choose 2' >u.ini
	drove run u.ini
	expect_eq "$out" "y" "plugin judge picks"
	expect_py 't["j"]["tokens_in"] == 10 and t["j"]["tokens_out"] == 20 and abs(t["j"]["cost_usd"] - 10) < 1e-9' "judge usage and cost count toward the task"
fi

# Ctrl-C while the judge thinks: the judge is stopped, the run exits 130
printf '%s%s\n' "$head" '[backend judge]
type = exec
command = sh -c "touch judging; exec sleep 30"
[task j]
backend = a
replicas = 2
prompt = 0=x;1=y
merge = competitive
judge = judge' >int.ini
"$DROVE" run int.ini >/dev/null 2>int.err &
pid=$!
for _ in $(seq 100); do [ -e judging ] && break; sleep 0.1; done
start=$(date +%s)
kill -INT $pid
wait $pid
rc=$?
expect_eq "$rc" 130 "interrupted judge: exit 130"
expect_eq "$(( $(date +%s) - start < 10 ))" 1 "interrupted judge: stopped at once"
expect_py 't["j"]["status"] == "cancelled"' "interrupted judge: task cancelled"

# load errors: exit 2 with file:line, nothing runs
printf '%s%s\n' "$head" '[task x]
backend = a
prompt = 0=x
replicas = 2
merge = competitive' >bad.ini
drove run bad.ini
expect_eq "$rc" 2 "neither score nor judge: exit 2"
expect_has "$err" "bad.ini:11: task 'x': merge = competitive needs score = COMMAND or judge = BACKEND" "neither: message"
printf '%s%s\n' "$head" '[task x]
backend = a
prompt = 0=x
merge = competitive
score = wc
judge = a' >bad.ini
drove run bad.ini
expect_eq "$rc" 2 "score and judge: exit 2"
expect_has "$err" "bad.ini:12: task 'x': score and judge are both set" "both: message"
printf '%s%s\n' "$head" '[task x]
backend = a
prompt = 0=x
merge = competitive
judge = nosuch' >bad.ini
drove run bad.ini
expect_eq "$rc" 2 "unknown judge: exit 2"
expect_has "$err" "bad.ini:11: task 'x': unknown backend 'nosuch'" "unknown judge: message"
printf '%s%s\n' "$head" '[task x]
backend = a
prompt = 0=x
merge = competitive
score = wc
quorum = 0.5' >bad.ini
drove run bad.ini
expect_eq "$rc" 2 "a consensus key on a competitive task: exit 2"
expect_has "$err" "bad.ini:12: task 'x': 'quorum' is a key of merge = consensus" "foreign key: message"
# the task's timeout bounds each score command, in the unit it is given:
# "1d" is a day, not 1 second (a score that takes 2 s still counts)
printf '%s%s\n' "$head" '[task slow]
backend = a
replicas = 2
timeout = 1d
prompt = 0=one;1=two three
merge = competitive
score = sh -c "sleep 2; wc -w"' >slow.ini
drove run slow.ini
expect_eq "$rc" 0 "a day's timeout: run succeeds ($err)"
expect_eq "$out" "two three" "a day's timeout: the 2 s scores were not cut short"
finish
