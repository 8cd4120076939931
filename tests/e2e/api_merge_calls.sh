#!/usr/bin/env bash
# A merge's call to a backend (a judge, a summary) has the lifecycle of any
# task's call: a 5xx is retried, a call that hangs ends at its timeout, and
# every attempt is in the journal.  A task's call ends at its backend's
# `timeout` too.
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

start_llm mock
P=$MOCK_PORT
SH='[backend sh]
type = exec
command = sh -c "echo candidate $DROVE_REPLICA"
'

# the judge's first request gets a 500: it is asked again and picks
{
	backends "$P" 'max_tokens = 100'
	printf '%s' "$SH"
	printf '[task j]\nbackend = sh\nreplicas = 2\nmerge = competitive\n'
	printf 'judge = claude\nprompt = pick [[reply=1 fail=500x1 in=20 out=2]]\n'
} >judge.ini
drove run judge.ini
expect_eq "$rc" 0 "a judge call that got a 500 was retried"
expect_eq "$(cat .drove/runs/last/tasks/j.out)" "candidate 0" "the retried judge picked"
expect_has "$err" "retrying in" "the retry is reported"
# ev: the run's journal events
check_many \
    'len(log) == 2 and log[0]["status"] == 500 and log[1]["status"] == 200' "two requests: the 500, then the answer" \
    't["j"]["attempts"] == 1 and t["j"]["calls"] == 2 and t["j"]["tokens_in"] == 20' "replicas' attempts unchanged; the judge's tokens counted" \
    '[e["attempt"] for e in ev if e.get("ev") == "start" and "call" in e] == [1, 2]' "the judge's two attempts are in the journal" \
    'any(e.get("ev") == "attempt" and e.get("call") == 0 and e["retry"] and "500" in e["error"] for e in ev)' "the failed attempt is in the journal" \
    'all(e.get("backend") == "claude" for e in ev if e.get("ev") == "start" and "call" in e)' "merge calls name their backend"

# a summary's first request gets a 529: it is asked again
: >"$T/mock.log"
{
	backends "$P" 'max_tokens = 100'
	printf '[backend sh]\ntype = exec\ncommand = sh -c "echo part [[reply=sum fail=529x1]]"\n'
	printf '[task a]\nbackend = sh\nprompt = a\n'
	printf '[task b]\nbackend = sh\nprompt = b\n'
	printf '[task s]\ninputs = a, b\nmerge = aggregative\nsummarize = gpt\n'
} >sum.ini
drove run sum.ini
expect_eq "$rc" 0 "a summary call that got a 529 was retried"
expect_eq "$(cat .drove/runs/last/tasks/s.out)" "sum" "the summary is the retried answer"
check_many \
    'len(log) == 2 and log[0]["status"] == 529' "two requests: the 529, then the answer" \
    'len([e for e in ev if e.get("ev") == "start" and e.get("task") == "s"]) == 2' "the summary's attempts are in the journal"

# a judge that never answers ends at the backend's timeout, not never
: >"$T/mock.log"
{
	backends "$P" 'max_tokens = 100
timeout = 1
retries = 0'
	printf '%s' "$SH"
	printf '[task j]\nbackend = sh\nreplicas = 2\nmerge = competitive\n'
	printf 'judge = claude\nprompt = pick [[reply=1 latency=60]]\n'
} >hang.ini
start=$(date +%s)
drove run hang.ini
took=$(($(date +%s) - start))
expect_eq "$rc" 1 "a judge that hangs fails the task"
expect_has "$err" "within 1s" "the judge's timeout is named"
[ "$took" -lt 30 ] && echo "ok: the run ended in ${took}s" || fail "the run took ${took}s"
check 'any(e.get("ev") == "attempt" and e.get("call") == 0 and not e["retry"] for e in ev)' "the timed-out judge call is in the journal"

# the same for a task's own call: the backend's timeout applies
: >"$T/mock.log"
{
	backends "$P" 'timeout = 1
retries = 1'
	printf '[task slow]\nbackend = claude\nprompt = wait [[latency=60]]\n'
} >slow.ini
start=$(date +%s)
drove run slow.ini
took=$(($(date +%s) - start))
expect_eq "$rc" 1 "a task whose call hangs fails"
check 't["slow"]["attempts"] == 2 and "within 1s" in t["slow"]["error"]' "each attempt ended at the backend's timeout"
[ "$took" -lt 30 ] && echo "ok: the run ended in ${took}s" || fail "the run took ${took}s"

# a task's own timeout wins over its backend's
{
	backends "$P" 'timeout = 1
retries = 0'
	printf '[task slow]\nbackend = claude\ntimeout = 8\nprompt = wait [[reply=done latency=2]]\n'
} >own.ini
drove run own.ini
expect_eq "$rc" 0 "the task's timeout = 8 let a 2 s answer through"

# timeout is checked like any number
printf '[backend x]\ntype = exec\ncommand = true\ntimeout = soon\n[task t]\nbackend = x\nprompt = p\n' >bad.ini
drove run bad.ini
expect_eq "$rc" 2 "a bad backend timeout is a load error"
expect_has "$err" "timeout" "the key is named"
finish
