#!/usr/bin/env bash
# Final rate limits: a 429 that says the money or the quota is gone
# (Anthropic's extra-usage answer without retry-after, OpenAI's
# insufficient_quota) is not retried: the mock sees exactly one request and
# the task fails at once with the provider's message; an ordinary 429 with
# retry-after is still requeued.
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
finish
