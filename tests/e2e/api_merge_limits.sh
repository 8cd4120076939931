#!/usr/bin/env bash
# A merge's calls to an API backend (a judge here) live under the same caps
# as any task's call: the run's budget covers them, and the backend's rpm
# holds them back.
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

start_llm mock
P=$MOCK_PORT
# two candidates from a local command, judged by the mock, which answers
# "1" ([[reply=1]] reaches it inside the judge's prompt)
judged() {	# NAME
	printf '[task %s]\nbackend = sh\nreplicas = 2\nmerge = competitive\n' "$1"
	printf 'judge = claude\nprompt = pick one [[reply=1 in=20 out=2]]\n'
}
{
	backends "$P" 'max_tokens = 100'
	printf '[backend sh]\ntype = exec\nmax_tokens = 1\ncommand = sh -c "echo candidate $DROVE_REPLICA"\n'
	judged j1
} >ok.ini
drove run ok.ini
expect_eq "$rc" 0 "judged by the API backend"
expect_eq "$(cat .drove/runs/last/tasks/j1.out)" "candidate 0" "the judge picked candidate 1"
check 's["tokens_in"] == 20 and s["tokens_out"] == 2' "the judge's tokens are in the totals"

# the judge's call reserves its max_tokens like any call: 100 does not fit
# in 50, so it never reaches the API and the task names the budget
{ cat ok.ini; printf '[drove]\nbudget_tokens = 50\n'; } >tight.ini
: >"$T/mock.log"
drove run tight.ini
expect_eq "$rc" 1 "judge over budget: the task fails"
expect_has "$err" "budget_tokens = 50 reached" "the budget is named"
check_many \
    't["j1"]["attempts"] == 1 and t["j1"]["calls"] == 2 and "budget_tokens" in t["j1"]["error"]' "the candidates ran; the judge's call was refused" \
    'len(log) == 0' "no request beyond the budget"

# rpm = 1 per (test) window of 1 s: the second judge waits for the bucket
{
	backends "$P" 'max_tokens = 100
rpm = 1'
	printf '[backend sh]\ntype = exec\nmax_tokens = 1\ncommand = sh -c "echo candidate $DROVE_REPLICA"\n'
	judged j1
	judged j2
} >rpm.ini
: >"$T/mock.log"
DROVE_RATE_WINDOW=1 drove run rpm.ini
expect_eq "$rc" 0 "two judges under rpm = 1"
check 'len(log) == 2 and abs(log[1]["t"] - log[0]["t"]) >= 0.8' "the second judge call waited for the bucket"
finish
