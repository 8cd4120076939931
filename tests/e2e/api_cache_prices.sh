#!/usr/bin/env bash
# Cache tokens are priced: price_cache_read and price_cache_write on a
# backend, in the task's and the run's cost (a judge's cache tokens count
# toward its task), in the budget, and in drove report.  Unpriced, a
# cache token costs what an input token does.  OpenAI's prompt_tokens
# holds the cached tokens too: drove counts them apart.
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

start_llm mock
P=$MOCK_PORT
# the mock reports the usage a prompt's [[...]] asks for, on both APIs
{
	backends "$P" 'price_cache_read = 0.3
price_cache_write = 3.75'
	cat <<'INI'
[task a]
backend = claude
prompt = a [[in=10 out=5 cache_read=100 cache_write=20]]
[task o]
backend = gpt
prompt = o [[in=110 out=4 cache_read=100]]
[task pick]
backend = claude
replicas = 2
merge = competitive
judge = claude
prompt = pick [[reply=1 in=10 out=5 cache_read=100 cache_write=20]]
INI
} >c.ini
drove run c.ini
expect_eq "$rc" 0 "cache run: exit 0"
# a: 10 * 3 + 5 * 15 + 100 * 0.3 + 20 * 3.75 = 210 per million
# o: (110 - 100) * 0.5 + 4 * 1.5 + 100 * 0.3 = 41 per million
# pick: two replicas and the judge, 210 each
check_many \
    'abs(t["a"]["cost_usd"] - 210e-6) < 1e-12' "anthropic: every kind of token at its price" \
    't["o"]["tokens_in"] == 10 and t["o"]["cache_read"] == 100' "openai: cached tokens counted apart from prompt_tokens" \
    'abs(t["o"]["cost_usd"] - 41e-6) < 1e-12' "openai: cached tokens at price_cache_read" \
    't["pick"]["cache_read"] == 300 and t["pick"]["cache_write"] == 60' "the judge's cache tokens count toward its task" \
    'abs(t["pick"]["cost_usd"] - 630e-6) < 1e-12' "the judge's cache tokens are priced" \
    's["cache_read"] == 500 and s["cache_write"] == 80' "run totals of cache tokens" \
    'abs(s["cost_usd"] - (210 + 41 + 630) * 1e-6) < 1e-12' "run cost with cache tokens"
"$DROVE" report >rep.txt 2>&1
expect_has "$(cat rep.txt)" "tokens          50 in, 24 out, 500 cache read, 80 cache written   cost \$0.0009" "report: cache tokens and cost"

# unpriced cache tokens cost price_in: 10 * 3 + 5 * 15 + 120 * 3
backends "$P" >u.ini
printf '[task a]\nbackend = claude\nprompt = a [[in=10 out=5 cache_read=100 cache_write=20]]\n' >>u.ini
drove run u.ini
check 'abs(t["a"]["cost_usd"] - 465e-6) < 1e-12' "unpriced cache tokens at price_in"

# the budget: each call reserves its prompt's tokens at the dearest input
# price (1000, cache reads) and 10 out at 1, and spends 1 + 1 + 100 *
# 1000 per million, $0.100002: three calls fit in $0.25, not four
{
	backends "$P" 'concurrency = 1
max_tokens = 10' |
	    sed -e 's/^price_in = .*/price_in = 1/' -e 's/^price_out = .*/price_out = 1/'
	for i in 1 2 3 4 5; do
		printf '[task b%d]\nbackend = claude\nprompt = b%d [[in=1 out=1 cache_read=100]]\n' "$i" "$i"
	done
	printf '[drove]\nbudget_usd = 0.25\n'
} | sed -e '/^max_tokens = 10$/a price_cache_read = 1000' >b.ini
drove run b.ini
expect_eq "$rc" 1 "cache budget: exit 1"
expect_has "$err" "budget_usd = 0.25 reached" "the budget counts cache reads"
check_many \
    'sum(v["status"] == "ok" for v in t.values()) == 3' "three calls fit" \
    'abs(s["cost_usd"] - 3 * 0.100002) < 1e-9' "spent at the cache price"
finish
