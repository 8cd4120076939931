#!/usr/bin/env bash
# Budgets: budget_tokens and budget_usd stop new tasks when the next call
# cannot fit (reserving max_tokens at the backend's prices), the run names
# the budget, finished results are kept.  Retries: an error event
# mid-stream and a dropped connection are each retried once and then
# reported with the reason; 529 and 500 are retried and succeed.
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

start_llm mock
P=$MOCK_PORT
# each call: reserve 3 (prompt) + 100 (max_tokens); spend 10 + 5
{
	backends "$P" 'concurrency = 1
max_tokens = 100'
	for i in 1 2 3 4 5 6 7 8; do
		printf '[task b%d]\nbackend = claude\nprompt = b%d [[in=10 out=5]]\n' "$i" "$i"
	done
	printf '[drove]\nbudget_tokens = 150\n'
} >budget.ini
drove run budget.ini
expect_eq "$rc" 1 "budget stop: exit 1"
expect_has "$err" "budget_tokens = 150 reached" "the run names the budget"
check_many \
    's["stopped_by"] == "budget_tokens"' "summary.json names the budget" \
    'sum(v["status"] == "ok" for v in t.values()) == 4' "four tasks fit (15 spent each, 103 reserved)" \
    'all(v["status"] == "skipped" and "budget_tokens" in v["error"] for v in t.values() if v["status"] != "ok")' "the rest did not start" \
    'st["requests"] == 4' "no request beyond the budget"
kept=1
for i in 1 2 3 4; do
	[ "$(cat .drove/runs/last/tasks/b$i.out)" = "reply to: b$i" ] ||
	    { fail "b$i: result not kept"; kept=0; }
done
[ "$kept" = 1 ] && ok "finished results kept"
check 's["tokens_in"] + s["tokens_out"] == 60' "60 tokens used"

# budget_usd at $1 per million in, $10 out: each call reserves
# (3 + 100 * 10) / 1e6 and spends (10 + 50) / 1e6
sed -e 's/^budget_tokens = 150/budget_usd = 0.0012/' budget.ini >usd.ini
sed -i -e 's/^price_in = 3$/price_in = 1/' -e 's/^price_out = 15$/price_out = 10/' usd.ini
drove run usd.ini
expect_eq "$rc" 1 "usd budget stop: exit 1"
expect_has "$err" "budget_usd = 0.0012 reached" "the run names budget_usd"
check 's["stopped_by"] == "budget_usd" and sum(v["status"] == "ok" for v in t.values()) == 4 and abs(s["cost_usd"] - 4 * 60e-6) < 1e-12' "four calls, \$0.00024 spent"

# retries
cat >retry.ini <<INI
$(backends "$P")
[task midstream]
backend = claude
retries = 1
prompt = m [[err=0 chunk=3]]
[task midstream_oa]
backend = gpt
retries = 1
prompt = m [[err=0]]
[task dropped]
backend = claude
retries = 1
prompt = d [[drop=0]]
[task dropped_oa]
backend = gpt
retries = 1
prompt = d [[drop=0 chunk=1]]
[task overloaded]
backend = claude
prompt = o [[fail=529x1 ra=ms:10]]
[task server]
backend = gpt
prompt = s [[fail=500x2 ra=ms:10]]
[task flaky]
backend = claude
prompt = f [[err=1]]
INI
drove run retry.ini -k
expect_eq "$rc" 1 "retries: exit 1"
check 't["midstream"]["attempts"] == 2 and t["midstream"]["error"] == "error event in the stream: overloaded_error: Overloaded"' "anthropic error event: retried once, then reported" mock
check_many \
    't["midstream_oa"]["attempts"] == 2 and t["midstream_oa"]["error"].startswith("error event in the stream: server_error: The server had an error")' "openai error object: retried once, then reported" \
    't["dropped"]["attempts"] == 2 and t["dropped"]["error"].startswith("connection lost mid-stream")' "dropped connection: retried once, then reported" \
    't["dropped_oa"]["attempts"] == 2 and t["dropped_oa"]["error"].startswith("connection lost mid-stream")' "dropped connection (1-byte writes): retried once, then reported" \
    't["overloaded"]["status"] == "ok" and t["overloaded"]["attempts"] == 2' "529 retried" \
    't["server"]["status"] == "ok" and t["server"]["attempts"] == 3' "500 retried twice (the default)" \
    't["flaky"]["status"] == "ok" and t["flaky"]["attempts"] == 2' "a mid-stream error once, then success" \
    'sum(1 for e in log if e["prompt"].startswith(("m [[", "d [["))) == 8' "two requests each for the failing four"
finish
