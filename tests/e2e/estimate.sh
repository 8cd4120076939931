#!/usr/bin/env bash
# The worst case before the first call: `drove graph` and `drove run
# --dry-run` (text and --json) count, per backend and in total, the calls
# (replicas spread over backends, a judge asked twice, a summary), the
# input tokens (prompt bytes at the backend's bytes_per_token, a {{ref}}
# at its producer's worst case, a merge's parts at theirs), the output
# tokens (max_tokens) and the cost; an exec backend counts calls only.
# Every figure below is worked out by hand from the file.
. "$(dirname "$0")/lib.sh"

export DROVE_TEST_KEY=sk-not-used
# gen's prompt is 40 bytes; use's prompt is 5 bytes and a reference, its
# system 8 bytes; sum's summarize_prompt 10 bytes
cat >e.ini <<'INI'
[backend a]
type = anthropic
api_key_env = DROVE_TEST_KEY
base_url = http://127.0.0.1:9
max_tokens = 100
price_in = 3
price_out = 15

[backend o]
type = openai
base_url = http://127.0.0.1:9/v1
max_tokens = 50
bytes_per_token = 2
price_in = 1
price_out = 2

[backend sh]
type = exec
command = cat
max_tokens = 30

[task gen]
backend = a, o
replicas = 3
merge = competitive
judge = a
prompt = 0123456789012345678901234567890123456789

[task use]
backend = o
system = Be brief
prompt = Use: {{gen}}

[task shell]
backend = sh
replicas = 2
prompt = x

[task sum]
inputs = use, shell
merge = aggregative
summarize = a
summarize_prompt = Summarise.
INI
# gen: replicas 0 and 2 on a: 40/4 = 10 in, 100 out each; replica 1 on
#   o: 40/2 = 20 in, 50 out.  The judge on a: 256 + 3 * 32 + 40 = 392
#   bytes = 98 tokens, plus the parts 100 + 50 + 100: 348 in, 100 out;
#   asked again, 256 bytes more: 392 + 256 = 648 bytes = 162 tokens, 412
#   in, 100 out.  Its result: the largest part, 100.
# use on o: 5 + 8 = 13 bytes = 7 tokens, plus gen's 100: 107 in, 50 out.
# shell: 2 calls on sh, no tokens; its result 2 * 30 = 60.
# sum's summary on a: 2 parts * 1 byte + 256 + 2 * 32 + 10 = 332 bytes
#   = 83 tokens, plus the parts 50 + 60: 193 in, 100 out.
a_calls=5 a_in=$((10 + 10 + 348 + 412 + 193)) a_out=$((100 + 100 + 2 * 100 + 100))
o_calls=2 o_in=$((20 + 107)) o_out=$((50 + 50))
# USD: a at 3 and 15 per million, o at 1 and 2
a_usd=$(python3 -c "print('%.4f' % (($a_in * 3 + $a_out * 15) / 1e6))")
o_usd=$(python3 -c "print('%.4f' % (($o_in * 1 + $o_out * 2) / 1e6))")
all_usd=$(python3 -c "print('%.4f' % (($a_in * 3 + $a_out * 15 + $o_in + $o_out * 2) / 1e6))")
row() { printf '  %-16s %8s %12s %12s %12s' "$@"; }
drove graph e.ini
expect_eq "$rc" 0 "graph: exit 0"
expect_has "$out" "$(row a $a_calls $a_in $a_out "\$$a_usd")" "graph: backend a"
expect_has "$out" "$(row o $o_calls $o_in $o_out "\$$o_usd")" "graph: backend o"
expect_has "$out" "$(row sh 2 - - -)" "graph: exec backend counts calls only"
expect_has "$out" "$(row total 9 $((a_in + o_in)) $((a_out + o_out)) "\$$all_usd")" "graph: total"
expect_has "$out" "calls: 6 of tasks, 2 of judges, 1 of summaries" "graph: calls by kind"

drove run e.ini --dry-run
expect_eq "$rc" 0 "dry run: exit 0"
expect_has "$out" "$(row total 9 $((a_in + o_in)) $((a_out + o_out)) "\$$all_usd")" "dry run: total"
expect_has "$out" "dry run: nothing was run" "dry run: says so"
[ -d .drove ] && fail "dry run made a run directory" || ok "dry run made nothing"

drove run e.ini --dry-run --json
expect_eq "$rc" 0 "dry run --json: exit 0"
printf '%s\n' "$out" >est.json
expect_py_many -f est.json \
    "s['event'] == 'estimate' and s['tasks'] == 4" "json: one estimate line" \
    "s['calls'] == 9 and s['task_calls'] == 6 and s['judge_calls'] == 2 and s['summary_calls'] == 1" "json: calls" \
    "s['tokens_in'] == $((a_in + o_in)) and s['tokens_out'] == $((a_out + o_out))" "json: tokens" \
    "abs(s['cost_usd'] - ($a_in * 3 + $a_out * 15 + $o_in + $o_out * 2) / 1e6) < 1e-12" "json: cost" \
    "s['backends']['a'] == {'calls': $a_calls, 'tokens_in': $a_in, 'tokens_out': $a_out, 'cost_usd': s['backends']['a']['cost_usd']}" "json: backend a" \
    "s['backends']['sh'] == {'calls': 2}" "json: exec backend, calls only"

# A call that may move along a fallback chain is counted on the row of the
# backend it is sent to first, at the worst along the chain: the dearest
# input price (cache prices included) and output price, the fewest
# bytes_per_token, the largest max_tokens.  A fallback's own row counts
# only the calls sent to it first (mid has none, so no row).
cat >f.ini <<'INI'
[backend cheap]
type = openai
base_url = http://127.0.0.1:9/v1
max_tokens = 10
price_in = 1
price_out = 1
fallback = mid

[backend mid]
type = openai
base_url = http://127.0.0.1:9/v1
max_tokens = 40
bytes_per_token = 2
price_in = 2
price_cache_write = 5
price_out = 8
fallback = dear

[backend dear]
type = anthropic
api_key_env = DROVE_TEST_KEY
base_url = http://127.0.0.1:9
max_tokens = 20
price_in = 4
price_out = 6

[task t]
backend = cheap
replicas = 2
prompt = 0123456789012345678901234567890123456789

[task u]
backend = dear
prompt = 12345678
INI
# t on cheap, per call: in max(40/4, 40/2, 40/4) = 20, out max(10, 40,
#   20) = 40, at max(1, 5, 4) = 5 and max(1, 8, 6) = 8 per million:
#   (20 * 5 + 40 * 8) / 1e6 = 420e-6; two calls 840e-6.
# u on dear (no fallback): 8/4 = 2 in, 20 out: (2 * 4 + 20 * 6) / 1e6 =
#   128e-6.
drove graph f.ini
expect_eq "$rc" 0 "fallback: graph exit 0"
expect_has "$out" "$(row cheap 2 40 80 '$0.0008')" "fallback: cheap row at the chain's worst"
expect_has "$out" "$(row dear 1 2 20 '$0.0001')" "fallback: dear row its own"
expect_not_has "$out" "  mid " "fallback: mid has no calls of its own"
drove run f.ini --dry-run --json
expect_eq "$rc" 0 "fallback: dry run --json exit 0"
printf '%s\n' "$out" >fest.json
expect_py_many -f fest.json \
    "s['calls'] == 3 and s['tokens_in'] == 42 and s['tokens_out'] == 100" "fallback json: totals" \
    "abs(s['backends']['cheap']['cost_usd'] - 840e-6) < 1e-12" "fallback json: cheap at the chain's prices" \
    "abs(s['cost_usd'] - 968e-6) < 1e-12" "fallback json: total cost"

# bytes_per_token is checked like any number
sed -e 's/^bytes_per_token = 2$/bytes_per_token = 0/' e.ini >bad.ini
drove graph bad.ini
expect_eq "$rc" 2 "bad bytes_per_token: exit 2"
expect_has "$err" "bad.ini:13:" "bad bytes_per_token: file:line"
finish
