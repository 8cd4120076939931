# consensus and competitive merges keep agents' text that is not valid
# UTF-8 in votes.json, scores.json and summary.json: each invalid sequence
# becomes U+FFFD (the core's encoder, through the host table); nothing
# vanishes.
. "$(dirname "$0")/lib.sh"

# replica k prints answer k of ANSWERS (printf escapes: \377 is a byte
# that is never UTF-8, \303 at the end an unfinished sequence)
cat >agent.sh <<'SH'
case $DROVE_REPLICA in
0|1) printf '\377yes\n' ;;
2) printf 'caf\303\n' ;;
3) printf 'good one two\n' ;;
4) printf 'bad \377 answer\n' ;;
*) printf 'ok\n' ;;
esac
SH
head="[backend a]
type = exec
command = sh $T/agent.sh
"

# consensus: two voters agree on an invalid answer, one votes otherwise
printf '%s%s\n' "$head" '[task vote]
backend = a
replicas = 3
prompt = answer
merge = consensus' >v.ini
drove run v.ini
expect_eq "$rc" 0 "consensus: run succeeds"
d=.drove/runs/last/tasks/vote.merge
expect_py '[o["answer"] for o in s["tally"]] == ["\ufffdyes", "caf\ufffd"]' \
    "consensus: votes.json keeps both answers, with U+FFFD" "$d/votes.json"
expect_py 's["winner"] == "\ufffdyes"' \
    "consensus: votes.json names the invalid winner" "$d/votes.json"
expect_py '[o["votes"] for o in t["vote"]["votes"]["tally"]] == [2, 1] and t["vote"]["votes"]["winner"] == "\ufffdyes"' \
    "consensus: summary.json's votes keep them too"

# competitive: the score command echoes one candidate back (not a
# number), so its error carries the invalid byte
cat >score.sh <<'SH'
c=$(cat)
case $c in
*bad*) printf '%s\n' "$c" ;;
*) printf '%s\n' "$c" | wc -w ;;
esac
SH
printf '%s%s\n' "$head" "[task best]
backend = a
replicas = 6
prompt = answer
merge = competitive
score = sh $T/score.sh" >c.ini
drove run c.ini
expect_eq "$rc" 0 "competitive: run succeeds"
expect_eq "$out" "good one two" "competitive: the scored best wins"
d=.drove/runs/last/tasks/best.merge
expect_py 'len(s["candidates"]) == 6' \
    "competitive: scores.json keeps every candidate" "$d/scores.json"
expect_py 's["candidates"][4]["error"] == "score command printed \x27bad \ufffd answer\x27, not a number"' \
    "competitive: scores.json keeps the error, with U+FFFD" "$d/scores.json"
expect_py 't["best"]["candidates"][4]["error"].startswith("score command printed \x27bad \ufffd")' \
    "competitive: summary.json's candidates keep it too"

finish
