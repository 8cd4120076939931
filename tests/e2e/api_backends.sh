#!/usr/bin/env bash
# The anthropic and openai backends against the loopback mock: 50 tasks in
# parallel across both, each result exact whatever the stream's chunking;
# tokens and cost in summary.json equal what the mock sent; per-task model,
# system, max_tokens and temperature; extra headers; the key never leaves
# the request; final HTTP errors show the API's message.
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

start_llm mock
P=$MOCK_PORT
{
	backends "$P" 'concurrency = 25
headers = X-Team: drove-tests
  X-Trace: 42'
	for i in $(seq 1 50); do
		be=claude
		[ $((i % 2)) = 0 ] && be=gpt
		c=$(( (i % 5) * 3 + 1 ))	# 1, 4, 7, 10, 13 byte writes
		cat <<INI
[task t$i]
backend = $be
prompt = task number $i [[chunk=$c delta=$((i % 4 + 1)) latency=0.2]]
INI
	done
} >fifty.ini
drove run fifty.ini -j 50
[ "$rc" = 0 ] || fail "50 tasks: exit $rc: $err"
bad=0
for i in $(seq 1 50); do
	got=$(cat .drove/runs/last/tasks/t$i.out)
	[ "$got" = "reply to: task number $i" ] || { bad=1; echo "t$i: '$got'"; }
done
[ $bad = 0 ] && echo "ok: 50 results exact" || fail "results differ"
check_many \
    'st["max_inflight"] >= 20' "calls ran in parallel (max $(stat mock max_inflight) at once)" \
    'st["requests"] == 50 and st["by_api"] == {"anthropic": 25, "openai": 25}' "25 requests per API" \
    's["wall_s"] < 3' "50 calls of 0.2 s each took less than 3 s" \
    's["tokens_in"] == st["tokens_in"] and s["tokens_out"] == st["tokens_out"]' "tokens in summary.json equal the mock's" \
    'abs(s["cost_usd"] - sum((e["usage"]["in"] * (3 if e["api"] == "anthropic" else 0.5) + e["usage"]["out"] * (15 if e["api"] == "anthropic" else 1.5)) / 1e6 for e in log)) < 1e-9' "cost in summary.json from the prices" \
    'all(t["t%d" % i]["tokens_in"] == len(("task number %d" % i).encode()) + len(" [[chunk=%d delta=%d latency=0.2]]" % ((i % 5) * 3 + 1, i % 4 + 1)) for i in range(1, 51))' "tokens per task" \
    'all(e["headers"].get("x-team") == "drove-tests" and e["headers"].get("x-trace") == "42" for e in log)' "extra headers sent" \
    'all(e["headers"].get("anthropic-version") == "2023-06-01" for e in log if e["api"] == "anthropic")' "anthropic-version sent" \
    'all(e["auth"] == "ok" for e in log)' "the key reached the server" \
    'all(e["stream_options"] == {"include_usage": True} for e in log if e["api"] == "openai")' "include_usage asked for"
if grep -rqF "$KEY" .drove "$T/.err" "$T/.out"; then
	fail "the key appears in the run directory or the output"
else
	echo "ok: the key is in no log, journal or output"
fi

# per-backend and per-task model, system, max_tokens, temperature;
# Anthropic's extra blocks and unknown events; OpenAI without usage
: >"$T/mock.log"
cat >opts.ini <<INI
$(backends "$P" "system = be-system
max_tokens = 77
temperature = 0.25")

[task a1]
backend = claude
prompt = plain
[task a2]
backend = claude
model = claude-other
system = task-system
max_tokens = 9
temperature = 1.5
prompt = extras [[thinking tool unknown blocks=3 chunk=1 reply=one_two_three_four in=11 out=7 cache_read=5 cache_write=6]]
[task o1]
backend = gpt
prompt = plain
[task o2]
backend = gpt
model = gpt-other
system = task-system
max_tokens = 9
temperature = 0
prompt = ollama-like [[noinclude]]
[task o3]
backend = gpt
prompt = null choices [[nullchoices cache_read=3]]
INI
rm -f "$T/mock.log.tmp"
n0=$(stat mock requests)
drove run opts.ini
[ "$rc" = 0 ] || fail "options run: exit $rc: $err"
check_many \
    'st["requests"] == '"$n0"' + 5' "five more requests" \
    '[(e["model"], e["system"], e["max_tokens"], e["temperature"]) for e in log if e["prompt"] == "plain"] in ([("claude-mock", "be-system", 77, 0.25), ("gpt-mock", "be-system", 77, 0.25)], [("gpt-mock", "be-system", 77, 0.25), ("claude-mock", "be-system", 77, 0.25)])' "backend model, system, max_tokens, temperature" \
    '[(e["model"], e["system"], e["max_tokens"], e["temperature"]) for e in log if e["prompt"].startswith(("extras", "ollama"))] in ([("claude-other", "task-system", 9, 1.5), ("gpt-other", "task-system", 9, 0)], [("gpt-other", "task-system", 9, 0), ("claude-other", "task-system", 9, 1.5)])' "task overrides"
expect_out() { [ "$(cat .drove/runs/last/tasks/$1.out)" = "$2" ] && echo "ok: $1" || fail "$1: '$(cat .drove/runs/last/tasks/$1.out)' != '$2'"; }
expect_out a2 "one two three four"
expect_out o2 "reply to: ollama-like"
expect_out o3 "reply to: null choices"
check_many \
    't["a2"]["tokens_in"] == 11 and t["a2"]["tokens_out"] == 7 and t["a2"]["cache_read"] == 5 and t["a2"]["cache_write"] == 6' "anthropic usage with cache tokens" \
    't["o2"]["tokens_in"] == 0 and t["o2"]["status"] == "ok"' "a server that ignores include_usage" \
    't["o3"]["cache_read"] == 3' "openai cached tokens"

# final errors: the API's own message, one attempt
cat >final.ini <<INI
$(backends "$P")
[task e400]
backend = claude
prompt = x [[fail=400]]
[task e401]
backend = gpt
prompt = x [[fail=401]]
[task e404]
backend = gpt
prompt = x [[fail=404]]
[task quota]
backend = gpt
prompt = x [[fail=429 quota]]
[task nope]
backend = claude
prompt = x [[fail=500 retry=false]]
INI
drove run final.ini -k
expect_eq "$rc" 1 "final errors: exit 1"
check_many \
    'all(v["attempts"] == 1 and v["status"] == "failed" for v in t.values())' "final errors are not retried" \
    't["e400"]["error"] == "HTTP 400: invalid_request_error: max_tokens: field required (mock)"' "400 shows the API's message" \
    't["e401"]["error"].startswith("HTTP 401: invalid_request_error: Incorrect API key provided")' "401 shows the API's message" \
    't["e404"]["error"] == "HTTP 404: invalid_request_error: The model `no-such-model` does not exist"' "404 shows the API's message" \
    '"insufficient_quota" in t["quota"]["error"]' "insufficient_quota is final" \
    't["nope"]["error"].startswith("HTTP 500")' "x-should-retry: false wins"

# no key: a load error naming the variable; plain http to a remote host
# with a key is refused; to loopback it is fine
MOCK_ANTHROPIC_KEY= drove run opts.ini
expect_eq "$rc" 2 "missing key: exit 2"
expect_has "$err" "MOCK_ANTHROPIC_KEY (api_key_env) is not set" "missing key named"
cat >plain.ini <<INI
[backend remote]
type = openai
model = m
api_key_env = MOCK_OPENAI_KEY
base_url = http://192.0.2.1:9/v1
[task x]
backend = remote
prompt = x
INI
drove run plain.ini
expect_eq "$rc" 2 "plain http with a key to a remote host: exit 2"
expect_has "$err" "allow_plain_http" "the way out is named"
expect_not_has "$err" "$KEY" "the key is not in the message"
start_mock plainmock llm_mock.py --stats "$T/plain.stats" --log "$T/plain.log"
cat >plain2.ini <<INI
[backend local]
type = openai
model = m
base_url = http://127.0.0.1:$MOCK_PORT/v1
[task x]
backend = local
prompt = hi [[noinclude]]
INI
drove run plain2.ini
expect_eq "$rc" 0 "no key, plain http to loopback (Ollama-like)"
expect_eq "$out" "reply to: hi" "its result"
check 'all("authorization" not in e["headers"] for e in log)' "no Authorization header without a key" plain
finish
