# drove logs: a task's output as its agent writes it; -f follows it and
# ends when the task ends (not the run); with no task, the run's own log.
# Once a task's output is durable its live copy goes, and a follower
# started before, during or after that switch prints every byte once.
. "$(dirname "$0")/lib.sh"

cat >s.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'gate() { i=0; while [ ! -e "$1" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done; }; case $DROVE_TASK in talk) echo one; gate go; echo two;; *) gate go2; echo other;; esac'
[task talk]
prompt = x
[task other]
prompt = x
INI
drove run -d s.ini
id=$out
"$DROVE" logs "$id" talk -f >f.out 2>f.err &
fpid=$!
wait_for 'grep -q one f.out' 10 && ok "logs -f shows a line the moment it is written" ||
    fail "logs -f did not show the first line: $(cat f.out f.err)"
kill -0 "$fpid" 2>/dev/null && ok "logs -f follows while the task runs" ||
    fail "logs -f ended before the task"
expect_eq "$(cat f.out)" one "only what was written so far"
# nothing is written while the agents wait: the follower sleeps (a poll
# every 50 ms would have been woken about 20 times in a second)
switches() { awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$fpid/status"; }
sw0=$(switches)
sleep 1
sw1=$(switches)
[ $((sw1 - sw0)) -le 3 ] && ok "logs -f does not poll" ||
    fail "logs -f woke up $((sw1 - sw0)) times in a second"
drove logs "$id" talk
expect_eq "$out" one "logs without -f prints what there is so far"
touch go
wait $fpid
expect_eq "$?" 0 "logs -f exits 0 when the task ends"
expect_eq "$(cat f.out)" "$(printf 'one\ntwo')" "logs -f shows every line, once"
drove status "$id"
expect_has "$out" "running" "the run goes on after the task ended"

# the run's own log, followed to the run's end
"$DROVE" logs -f >r.out 2>r.err &
rpid=$!
touch go2
wait $rpid
expect_eq "$?" 0 "logs -f of the run exits 0 when the run ends"
expect_has "$(cat r.out)" "run $id: 2 tasks" "the run's log has its start"
expect_has "$(cat r.out)" "run $id ok" "and its summary, to the end"
drove logs "$id" other
expect_eq "$out" other "an ended task's output"
drove logs "$id" nosuch
expect_eq "$rc" 1 "no output for no such task: exit 1"
drove logs "$id" ../x
expect_eq "$rc" 2 "a path is not a task name"

# a run in the foreground has no log of its own
drove run -q s.ini
drove logs
expect_eq "$rc" 1 "no drove.log without -d: exit 1"
expect_has "$err" "not started with -d" "logs says why"

# a link planted at a task's live copy is not followed: no copy, the
# target untouched, the task unharmed
echo keep >victim
cat >p.ini <<'INI'
[backend plant]
type = exec
command = sh -c 'ln -s "$PWD/victim" .drove/runs/last/tasks/later.live; echo planted'
[backend sh]
type = exec
command = echo later
[task plant]
backend = plant
prompt = x
[task later]
backend = sh
after = plant
prompt = x
INI
drove run p.ini
expect_eq "$rc" 0 "a run with a planted link ends ok"
expect_eq "$(cat victim)" keep "the link's target is untouched"
expect_has "$err" "later.live" "drove names the file it did not write"
# more than a pipe buffer, followed across the switch from the live copy
# to the output: followers started before the end and around it
cat >b.ini <<'INI'
[backend big]
type = exec
command = sh -c 'i=0; seq 1 30000; while [ ! -e go3 ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done; seq 30001 90000'
[task big]
backend = big
prompt = x
INI
seq 1 90000 >want.txt
drove run -d b.ini
id=$out
"$DROVE" logs "$id" big -f >b1.out 2>b1.err &
bpids=($!)
wait_for 'grep -qx 30000 b1.out' 20 && ok "logs -f shows the first 170 KB" ||
    fail "logs -f of big: $(tail -c 200 b1.out; cat b1.err)"
touch go3
for k in 2 3 4 5 6 7; do
	"$DROVE" logs "$id" big -f >b$k.out 2>b$k.err &
	bpids+=($!)
	sleep 0.1
done
for p in "${bpids[@]}"; do wait "$p"; done
drove wait "$id"
expect_eq "$rc" 0 "the big run ends ok"
"$DROVE" logs "$id" big >b8.out 2>b8.err
for k in 1 2 3 4 5 6 7 8; do
	cmp -s b$k.out want.txt && ok "follower $k printed every byte once" ||
	    fail "follower $k: $(wc -c <b$k.out) bytes, $(cat b$k.err)"
done
cmp -s ".drove/runs/$id/tasks/big.out" want.txt &&
    ok "the output is the agent's stdout" || fail "big.out differs"
[ ! -e ".drove/runs/$id/tasks/big.live" ] &&
    ok "the live copy is gone once the output is durable" ||
    fail "big.live is left after the run"
# replicas: logs shows replica 0's unless --replica N; their live copies
# stay (the output is their merge); a replica that is not there is exit 1
cat >rep.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'echo "replica $DROVE_REPLICA"'
[task r]
backend = sh
prompt = x
replicas = 3
INI
drove run -q rep.ini
expect_eq "$rc" 0 "replicas run"
drove logs last r
expect_eq "$out" "replica 0" "logs of a task of replicas: replica 0's"
for k in 0 1 2; do
	drove logs last r --replica $k
	expect_eq "$out" "replica $k" "logs --replica $k"
done
drove logs last r --replica 3
expect_eq "$rc" 1 "no replica 3: exit 1"
expect_not_has "$out" "replica" "and not the merged output"
drove logs last r --replica x
expect_eq "$rc" 2 "--replica x is a usage error"
drove logs last --replica 1
expect_eq "$rc" 2 "--replica without a task is a usage error"
drove logs "$id" big --replica 0
cmp -s "$T/.out" want.txt && ok "--replica 0 of a one-replica task: its output" ||
    fail "--replica 0 of big: $(wc -c <"$T/.out") bytes"
finish
