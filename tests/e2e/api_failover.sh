#!/usr/bin/env bash
# Final rate limits: a 429 that says the money or the quota is gone
# (Anthropic's extra-usage answer without retry-after, OpenAI's
# insufficient_quota) is not retried: the mock sees exactly one request and
# the task fails at once with the provider's message; an ordinary 429 with
# retry-after is still requeued.
# Failover: a backend that answers 529 to every call moves its tasks (and a
# merge's judge) to its fallback after its retries, and the summary, the
# report and the event stream say which backend answered; a spend-limit 429
# moves at once; a timeout moves after the retries; chains are followed; a budget the backend's prices do not
# fit moves the call to a cheaper fallback; cycles and unknown names are
# load errors.
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

start_llm mock
P=$MOCK_PORT
cat >final.ini <<INI
$(backends "$P" 'retries = 3')
[task spend]
backend = claude
prompt = s [[fail=429 spend]]
[task quota]
backend = gpt
prompt = q [[fail=429 quota]]
[task ordinary]
backend = claude
prompt = o [[fail=429x2 ra=ms:50]]
INI
drove run final.ini -k
expect_eq "$rc" 1 "spend limits: exit 1"
check_many \
    'sum(1 for e in log if "[[fail=429 spend]]" in e["prompt"]) == 1' "the spend-limit 429 was sent once, not retried" \
    'sum(1 for e in log if "[[fail=429 quota]]" in e["prompt"]) == 1' "insufficient_quota was sent once" \
    't["spend"]["status"] == "failed" and "Extra usage is required for long context requests." in t["spend"]["error"]' "the task fails with Anthropic's message" \
    't["quota"]["status"] == "failed" and "You exceeded your current quota" in t["quota"]["error"]' "the task fails with OpenAI's message" \
    't["spend"]["attempts"] == 1 and t["quota"]["attempts"] == 1' "one attempt each" \
    'not any(e.get("event") == "task_retry" and e["task"] in ("spend", "quota") for e in ev)' "no retry in the journal" \
    't["ordinary"]["status"] == "ok" and sum(1 for e in log if "ra=ms:50" in e["prompt"]) == 3' "an ordinary 429 with retry-after is requeued and succeeds" \
    's["rate_limited"]["claude"] == 2' "only the ordinary 429s count as rate limits"

# --- failover ---------------------------------------------------------
start_llm down --always 'fail=529'
DOWN=$MOCK_PORT
start_llm spent --always 'fail=429 spend'
SPENT=$MOCK_PORT
start_llm up
UP=$MOCK_PORT
# be NAME TYPE PORT [extra lines]
be() {
	local path=
	[ "$2" = openai ] && path=/v1
	cat <<INI
[backend $1]
type = $2
model = $2-mock
api_key_env = MOCK_ANTHROPIC_KEY
base_url = https://127.0.0.1:$3$path
ca_file = $T/root.pem
${4:-}
INI
}
{
	be primary anthropic "$DOWN" 'retries = 1
price_in = 3
price_out = 15
fallback = spare'
	be spare openai "$UP" 'price_in = 1
price_out = 2'
	be broke anthropic "$SPENT" 'retries = 3
fallback = spare'
	be first anthropic "$DOWN" 'retries = 0
fallback = second'
	be second anthropic "$DOWN" 'retries = 0
fallback = spare'
	cat <<'INI'
[task overloaded]
backend = primary
prompt = overloaded
[task billing]
backend = broke
prompt = billing
[task chained]
backend = first
prompt = chained
[task judged]
backend = spare
replicas = 2
merge = competitive
judge = primary
judge_prompt = Pick one. [[reply=1]]
prompt = judged
INI
} >fo.ini
drove run fo.ini --json
expect_eq "$rc" 0 "failover: exit 0 ($(tail -3 "$T/.err"))"
check_many -m down \
    't["overloaded"]["status"] == "ok" and t["overloaded"]["backend"] == "spare" and t["overloaded"]["fallback_from"] == "primary"' "the overloaded backend's task succeeded on its fallback, and the summary says so" \
    'sum(1 for e in log if e["prompt"] == "overloaded") == 2' "the overloaded backend was tried twice (retries = 1)" \
    'sum(1 for e in log if e["prompt"] == "chained") == 2 and t["chained"]["backend"] == "spare" and t["chained"]["fallback_from"] == "first"' "a chain first -> second -> spare is followed" \
    't["overloaded"]["attempts"] == 3' "attempts count on both backends" \
    'sum(1 for e in log if "Pick one." in e["prompt"]) == 2' "the judge was tried on primary first" \
    'any(e.get("event") == "task_fallback" and e["task"] == "overloaded" and e["backend"] == "primary" and e["fallback"] == "spare" and "529" in e["error"] for e in ev)' "the journal has the move, with the reason" \
    'abs(t["overloaded"]["cost_usd"] - (t["overloaded"]["tokens_in"] * 1 + t["overloaded"]["tokens_out"] * 2) / 1e6) < 1e-12' "the fallback's prices apply"
check_many -m spent \
    'sum(1 for e in log if e["prompt"] == "billing") == 1' "the spend-limit 429 was sent once" \
    't["billing"]["status"] == "ok" and t["billing"]["backend"] == "spare" and t["billing"]["fallback_from"] == "broke"' "and the task moved to the fallback at once"
check_many -m up \
    'sorted(e["prompt"] for e in log if e["prompt"] in ("overloaded", "billing", "chained")) == ["billing", "chained", "overloaded"]' "the fallback answered each once" \
    'sum(1 for e in log if "Pick one." in e["prompt"]) == 1 and t["judged"]["status"] == "ok"' "the merge's judge call moved to the fallback too"
python3 - "$T/.out" <<'PY' || fail "the --json stream does not show the fallback"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
fb = [e for e in evs if e["event"] == "task_fallback"]
assert any(e["task"] == "overloaded" and e["fallback"] == "spare" for e in fb), fb
done = [e for e in evs if e["event"] == "task_done" and e["task"] == "overloaded"]
assert done and done[0]["backend"] == "spare" and done[0]["fallback_from"] == "primary", done
print("ok: the event stream shows the move and who answered")
PY
(cd "$T" && "$DROVE" report) >report.txt 2>&1
expect_has "$(cat report.txt)" "on fallback 'spare' of 'primary'" "drove report says which backend answered"
# a resume keeps who answered the tasks done before it
drove run fo.ini --resume last
expect_eq "$rc" 0 "resume: exit 0 ($(tail -3 "$T/.err"))"
check_many -m up \
    't["overloaded"].get("resumed") and t["overloaded"]["backend"] == "spare" and t["overloaded"]["fallback_from"] == "primary"' "a resumed task keeps its fallback" \
    't["chained"]["backend"] == "spare" and t["chained"]["fallback_from"] == "first"' "and so does the chained one"

# a backend that does not answer in time: the call's own timeout, and the
# first byte's, move the call to the fallback after the retries
start_mock silent http_mock.py silent
SILENT=$MOCK_PORT
{
	be slow anthropic "$SILENT" 'retries = 1
timeout = 1
fallback = spare'
	be mute anthropic "$SILENT" 'retries = 0
first_byte_timeout = 1
fallback = spare'
	be spare openai "$UP"
	printf '[task hung]\nbackend = slow\nprompt = hung\n'
	printf '[task mute]\nbackend = mute\nprompt = mute\n'
} >slow.ini
drove run slow.ini
expect_eq "$rc" 0 "timeouts fall back: exit 0 ($(tail -3 "$T/.err"))"
check_many -m up \
    't["hung"]["status"] == "ok" and t["hung"]["backend"] == "spare" and t["hung"]["fallback_from"] == "slow"' "a call past its timeout moved to the fallback" \
    't["hung"]["attempts"] == 3' "after its retry on the silent backend" \
    't["mute"]["status"] == "ok" and t["mute"]["backend"] == "spare" and t["mute"]["fallback_from"] == "mute"' "a first byte that never came moved too" \
    'any(e.get("event") == "task_fallback" and e["task"] == "hung" and "1s" in e["error"] for e in ev)' "the move names the timeout"

# the budget does not fit primary's prices (a reservation of 4096 output
# tokens at $15 a million) but fits spare's: the call moves before it starts
{
	be primary anthropic "$UP" 'price_in = 3
price_out = 15
fallback = spare'
	be spare openai "$UP" 'price_in = 0
price_out = 0'
	printf '[drove]\nbudget_usd = 0.01\n[task cheap]\nbackend = primary\nprompt = cheap\n'
} >budget.ini
drove run budget.ini
expect_eq "$rc" 0 "budget fallback: exit 0 ($(tail -3 "$T/.err"))"
check_many -m up \
    't["cheap"]["status"] == "ok" and t["cheap"]["backend"] == "spare" and t["cheap"]["fallback_from"] == "primary"' "the call moved to the backend the budget fits" \
    'not any(e["api"] == "anthropic" and e["prompt"] == "cheap" for e in log)' "primary got no request" \
    's["stopped_by"] is None' "the budget stopped nothing"

# load errors: a cycle and an unknown name, with file:line
{
	be a anthropic "$UP" 'fallback = b'
	be b openai "$UP" 'fallback = a'
	printf '[task x]\nbackend = a\nprompt = x\n'
} >cycle.ini
drove run cycle.ini
expect_eq "$rc" 2 "a fallback cycle: exit 2"
expect_has "$err" "cycle.ini:7: backend 'a': fallback chain a -> b -> a is a cycle" "the cycle is named with file:line"
{
	be a anthropic "$UP" 'fallback = nowhere'
	printf '[task x]\nbackend = a\nprompt = x\n'
} >unknown.ini
drove run unknown.ini
expect_eq "$rc" 2 "an unknown fallback: exit 2"
expect_has "$err" "unknown.ini:7: backend 'a': fallback 'nowhere' is not a [backend] section" "the unknown name is named with file:line"
printf '%s\n[task x]\nbackend = a\nprompt = x\n' "$(be a anthropic "$UP" 'fallback = a')" >self.ini
drove run self.ini
expect_eq "$rc" 2 "a backend its own fallback: exit 2"
expect_has "$err" "fallback chain a -> a is a cycle" "named as a cycle"
finish
