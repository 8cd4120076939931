#!/usr/bin/env bash
# drove plan against the loopback Anthropic mock: the goal goes out in the
# request, the streamed answer (fenced, with prose) becomes a task file
# that loads; a second answer is asked for when the first does not load.
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

start_llm mock
backends "$MOCK_PORT" >drove.ini
printf '[drove]\nbackend = claude\n' >>drove.ini
cat >reply.txt <<'EOF'
Plan:
```
[task api]
prompt = Design the HTTP API.
[task client]
prompt = Write a client for: {{api}}
[task server]
prompt = Write a server for: {{api}}
```
EOF
drove plan "Build a service [[reply_file=$T/reply.txt delta=7]]" -o svc.ini
expect_eq "$rc" 0 "plan through the Anthropic API"
check_many \
    'st["requests"] == 1 and log[0]["api"] == "anthropic"' "one request to the planning backend" \
    'log[0]["prompt"].endswith("The goal:\nBuild a service [[reply_file=%s/reply.txt delta=7]]\n" % sys.argv[2])' "the goal is in the request"
expect_has "$err" "svc.ini: 3 tasks, 2 waves" "the summary"
expect_has "$(cat svc.ini)" $'[drove]\nbackend = claude\n' "the tasks run on the planning backend"
drove graph svc.ini
expect_eq "$rc" 0 "the file loads"
expect_has "$out" "api -> client  (reference)" "with the references"

# -b gpt plans, --task-backend claude runs the tasks; a first answer with
# an unknown reference is sent back
printf '[task a]\nprompt = uses {{nothing}}\n' >bad.txt
: >"$T/mock.log"
drove plan "Again [[reply_file=$T/bad.txt]]" -b gpt --task-backend claude
expect_eq "$rc" 1 "the same invalid answer twice: exit 1"
check_many \
    'st["requests"] == 3 and log[-1]["api"] == "openai"' "asked gpt twice" \
    '"nothing" in log[-1]["prompt"] and "Answer again" in log[-1]["prompt"]' "the second request carries the error"
expect_has "$err" "'drove-plan.rejected'" "the answer is saved"
finish
