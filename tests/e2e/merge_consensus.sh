# consensus: majority or weighted vote after normalisation, with a quorum;
# the tally is shown when it misses.
. "$(dirname "$0")/lib.sh"

# replica k answers per its prompt "k=TEXT;..." (\n for a newline, FAIL
# exits 1, EMPTY prints nothing)
cat >agent.sh <<'SH'
line=$(cat | tr ';' '\n' | grep "^$DROVE_REPLICA=" | cut -d= -f2-)
case $line in
FAIL) exit 1 ;;
EMPTY) ;;
*) printf '%b\n' "$line" ;;
esac
SH
head="[backend a]
type = exec
command = sh $T/agent.sh
[backend b]
type = exec
command = sh $T/agent.sh
"
vote() {	# NAME PROMPT [KEYS...]
	local name=$1 prompt=$2
	shift 2
	{
		printf '%s[task %s]\nbackend = a, b\nmerge = consensus\n' "$head" "$name"
		printf 'replicas = %s\n' "$(printf '%s' "$prompt" | tr ';' '\n' | wc -l | awk '{print $1 + 1}')"
		printf 'prompt = %s\n' "$prompt"
		for k in "$@"; do printf '%s\n' "$k"; done
	} >"$name.ini"
	drove run "$name.ini"
}

# expect_votes TASK 'python expression over v (the task's votes)' WHAT
#     [EXPR WHAT...]: all judged by one python3
expect_votes() {
	local task=$1 a=()
	shift
	while [ $# -ge 2 ]; do
		a+=("(lambda v: $1)(t['$task']['votes'])" "$2")
		shift 2
	done
	expect_py_many "${a[@]}"
}

vote majority '0=Paris;1= paris ;2=Lyon;3=PARIS;4=paris' 'normalize = trim, lower' 'output = out/answer.txt'
expect_eq "$rc" 0 "majority: run succeeds"
expect_eq "$out" "Paris" "majority: the first voter's own text wins"
expect_eq "$(cat out/answer.txt)" "Paris" "majority: to output"
expect_votes majority \
    'v["winner"] == "paris" and [(o["answer"], o["votes"]) for o in v["tally"]] == [("paris", 4), ("lyon", 1)]' "majority: tally in summary.json" \
    'v["tally"][0]["voters"] == [0, 1, 3, 4]' "majority: voters listed"
test -s .drove/runs/last/tasks/majority.merge/votes.json && ok "votes.json kept" || fail "votes.json kept"

# default normalisation is trim only: case matters
vote strict '0=yes;1=Yes;2=YES;3=no'
expect_eq "$rc" 1 "trim only: no quorum"
expect_has "$err" "no quorum: 'yes' 1 of 4 votes (0.25 < 0.50), 'Yes' 1 of 4 votes (0.25), 'YES' 1 of 4 votes (0.25), 'no' 1 of 4 votes (0.25)" "no quorum: the tally is shown"
expect_votes strict 't["strict"]["status"] == "failed" and v["winner"] is None' "no quorum: failed, no winner"

# a failed replica is no vote, but does not sink a vote that still
# reaches quorum; empty outputs are no votes
vote survive '0=A;1=FAIL;2=A;3=EMPTY;4=A'
expect_eq "$rc" 0 "failed and empty replicas: quorum still reached"
expect_eq "$out" "A" "3 of 5 wins"
expect_votes survive '[n["why"] for n in v["no_vote"]] == ["failed", "empty answer"]' "no votes listed with reasons"

vote sunk '0=A;1=FAIL;2=A;3=FAIL;4=B'
expect_eq "$rc" 1 "2 of 5 with two failures: no quorum"
expect_has "$err" "'A' 2 of 5 votes (0.40 < 0.50), 'B' 1 of 5 votes (0.20); no vote: replica 1 (b): failed, replica 3 (b): failed" "failures shown in the tally"

# a tie at the quorum is no majority; plurality takes the earliest
vote tie '0=A;1=B;2=B;3=A'
expect_eq "$rc" 1 "tie: no quorum"
expect_has "$err" "'A' 2 of 4 votes (0.50, tied)" "tie: said"
vote tieplural '0=A;1=B;2=B;3=A' 'on_no_quorum = plurality'
expect_eq "$rc" 0 "plurality: a tie is decided"
expect_eq "$out" "A" "plurality: the option voted first wins a tie"
expect_votes tieplural 'v["rule"] == "plurality"' "plurality: rule recorded"
vote plural '0=A;1=B;2=C;3=B;4=D' 'on_no_quorum = plurality'
expect_eq "$out" "B" "plurality: the most votes win below quorum"

# quorum
vote q '0=A;1=A;2=A;3=B;4=B' 'quorum = 0.7'
expect_eq "$rc" 1 "quorum 0.7: 3 of 5 is not enough"
expect_has "$err" "'A' 3 of 5 votes (0.60 < 0.70)" "quorum 0.7: tally"

# weights by backend (replicas alternate a, b, a, b, a)
vote w '0=A;1=B;2=A;3=B;4=C' 'weights = b:3'
expect_eq "$rc" 0 "weights: run succeeds"
expect_eq "$out" "B" "weights: b's two votes weigh 6 of 9"
expect_votes w 'v["tally"][1]["weight"] == 6 and v["total_weight"] == 9' "weights: in the tally"
vote w2 '0=A;1=B;2=A;3=B;4=C' 'weights = a:2, b:2'
expect_eq "$rc" 1 "weights: 4 of 10 misses"
expect_has "$err" "'A' 4 of 10 weight (0.40 < 0.50)" "weights: tally in weight"

# first_line and json
vote fl '0=42\nbecause;1=42\nsince;2=41' 'normalize = first_line'
expect_eq "$rc" 0 "first_line: run succeeds"
expect_eq "$out" "42
because" "first_line: votes compare the first line, the result is whole"
vote js '0={"b": 2, "a": [1, 2.0]};1={"a":[1,2],"b":2.0};2={"a": 1};3=not json' 'normalize = json'
expect_eq "$rc" 0 "json: canonical comparison"
expect_eq "$out" '{"b": 2, "a": [1, 2.0]}' "json: the first voter's text"
expect_votes js 'v["winner"] == "{\"a\":[1,2],\"b\":2}" and v["no_vote"][0]["why"].startswith("not JSON")' "json: canonical winner, non-JSON no vote"

# every source failed or empty
vote none '0=EMPTY;1=FAIL;2=   '
expect_eq "$rc" 1 "no votes: exit 1"
expect_has "$err" "no quorum: no votes; no vote: replica 0 (a): empty answer, replica 1 (b): failed, replica 2 (a): empty answer" "no votes: reasons"

# a merge node votes over tasks; weights by task name
cat >node.ini <<INI
$head
[task x]
backend = a
prompt = 0=red
[task y]
backend = a
prompt = 0=blue
[task z]
backend = b
prompt = 0=blue
[task pick]
inputs = x, y, z
merge = consensus
weights = x:3
INI
drove run node.ini
expect_eq "$rc" 0 "merge node: run succeeds"
expect_eq "$(cat .drove/runs/last/tasks/pick.out)" "red" "merge node: weights by task name"

drove report
expect_has "$out" "vote 'red' 1, weight 3, share 0.60  winner" "report: the tally"

# load errors
check() {	# WHAT EXPECTED KEYS...
	local what=$1 want=$2
	shift 2
	{
		printf '%s[task x]\nbackend = a, b\nreplicas = 3\nprompt = 0=x\nmerge = consensus\n' "$head"
		for k in "$@"; do printf '%s\n' "$k"; done
	} >bad.ini
	drove run bad.ini
	expect_eq "$rc" 2 "$what: exit 2"
	expect_has "$err" "$want" "$what: message"
}
check "bad quorum" "bad.ini:12: task 'x': bad value '1.5' for 'quorum'" 'quorum = 1.5'
check "zero quorum" "bad value '0' for 'quorum'" 'quorum = 0'
check "bad normalize" "bad.ini:12: task 'x': unknown normalize step 'upper'" 'normalize = trim, upper'
check "bad weights" "bad.ini:12: task 'x': bad weight 'a=2'" 'weights = a=2'
check "weights typo" "weights names 'c', which is not among this task's backends" 'weights = a:1, c:2'
check "bad on_no_quorum" "bad value 'maybe' for 'on_no_quorum'" 'on_no_quorum = maybe'
check "foreign key" "'score' is a key of merge = competitive" 'score = wc'
finish
