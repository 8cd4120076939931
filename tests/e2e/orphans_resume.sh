# Agents a drove killed with -9 left running are ended before a resume
# starts anything: no old agent is alive when a new one starts, the resume
# says how many it ended and whose they were, and every task then runs to
# completion exactly once.
. "$(dirname "$0")/lib.sh"

cat >agent.sh <<'SH'
old=0
for p in $(cat "$T/old" 2>/dev/null); do
	[ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && old=$((old + 1))
done
echo "start $DROVE_TASK $$ $old" >>"$T/log"
echo $$ >>"$T/pids"
case $DROVE_TASK in
deaf) trap '' TERM ;;
*) trap 'echo "term $DROVE_TASK $$" >>"$T/log"; exit 143' TERM ;;
esac
if [ -e "$T/fast" ] || [ "$DROVE_TASK" = quick ]; then
	sleep 0.2
else
	sleep 60 &
	wait
	wait
fi
echo "done $DROVE_TASK $$" >>"$T/log"
echo "out of $DROVE_TASK"
SH
export T
cleanup_hooks+=('for p in $(cat "$T/pids" 2>/dev/null); do kill -9 -- "-$p" 2>/dev/null; done')
cat >s.ini <<INI
[backend sh]
type = exec
command = sh $T/agent.sh
[task quick]
prompt = x
[task slow1]
prompt = x
[task slow2]
prompt = x
[task deaf]
prompt = x
[task after]
after = slow1
prompt = x
INI
"$DROVE" run s.ini >o 2>e &
pid=$!
for _ in $(seq 100); do
	[ -s .drove/runs/last/tasks/quick.out ] &&
	    [ "$(grep -c '^start' log 2>/dev/null)" = 4 ] && break
	sleep 0.1
done
expect_eq "$(grep -c '^start' log)" 4 "four agents started"
expect_eq "$(cat .drove/runs/last/tasks/quick.out)" "out of quick" "quick done"
kill -9 $pid
wait $pid 2>/dev/null
grep -v "^$(grep '^start quick' log | cut -d' ' -f3)\$" pids >old
expect_eq "$(wc -l <old | tr -d ' ')" 3 "three agents outlive kill -9"
alive=0
for p in $(cat old); do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
expect_eq "$alive" 3 "they are still running"
grep -q '"ev":"proc","pid":' .drove/runs/last/journal.jsonl &&
    ok "the journal records each agent's process" ||
    fail "no proc records in the journal"

touch fast
drove run s.ini --resume last
expect_eq "$rc" 0 "the resumed run succeeds"
expect_has "$err" "ended 3 agents left running by drove pid $pid" \
    "resume says what it ended and whose"
for p in $(cat old); do
	kill -0 "$p" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$p/status" &&
	    fail "old agent $p still alive"
done
# every start after the kill saw no old agent alive
expect_eq "$(awk '$1 == "start" && $4 != 0' log | wc -l | tr -d ' ')" 0 \
    "no new agent started beside an old one"
expect_eq "$(awk '$1 == "start"' log | wc -l | tr -d ' ')" 8 \
    "slow1, slow2, deaf and after started after the resume"
for t in quick slow1 slow2 deaf after; do
	expect_eq "$(grep -c "^done $t " log)" 1 "$t ran to completion once"
done
expect_py 'all(t[k]["status"] == "ok" for k in t)' "every task ok"
expect_eq "$(grep -c '"orphan":true' .drove/runs/last/journal.jsonl)" 3 \
    "the ended agents are journaled"
finish
