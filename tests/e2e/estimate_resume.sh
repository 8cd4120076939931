#!/usr/bin/env bash
# A resumed run's worst case is of the tasks still to run: `run --resume
# --dry-run` counts no call of a task the run finished, and confirm_usd
# asks (or refuses) about what is left, not the whole graph.
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

start_llm mock
P=$MOCK_PORT
# a and b on claude, prompts of 13 and 16 bytes (4 tokens each) and 100
# out, at 3 and 15 per million: (4 * 3 + 100 * 15) / 1e6 = 1512e-6 each, 3024e-6 in all.
# b's first request is refused (400), so the first run finishes a only.
{
	backends "$P" 'max_tokens = 100'
	cat <<'INI'
[task a]
backend = claude
prompt = a [[reply=A]]

[task b]
backend = claude
prompt = b [[fail=400x1]]

[drove]
confirm_usd = 0.002
INI
} >r.ini
requests() { stat mock requests; }

drove run r.ini --dry-run --json
printf '%s\n' "$out" >whole.json
expect_py_many -f whole.json \
    "s['calls'] == 2 and abs(s['cost_usd'] - 3024e-6) < 1e-12" "whole run: 2 calls, \$0.003024"
drove run r.ini </dev/null
expect_eq "$rc" 2 "whole run over confirm_usd: refused"
drove run r.ini -k --yes </dev/null
expect_eq "$rc" 1 "first run: b fails"

drove run r.ini --resume last --dry-run --json
expect_eq "$rc" 0 "resume dry run: exit 0"
printf '%s\n' "$out" >left.json
expect_py_many -f left.json \
    "s['calls'] == 1 and s['task_calls'] == 1" "resume dry run: only b's call" \
    "s['tokens_in'] == 4 and s['tokens_out'] == 100" "resume dry run: b's tokens" \
    "abs(s['cost_usd'] - 1512e-6) < 1e-12" "resume dry run: b's cost" \
    "s['backends']['claude']['calls'] == 1" "resume dry run: the backend row"
drove run r.ini --resume last --dry-run
expect_has "$out" "dry run: nothing was run" "resume dry run: text"

n0=$(requests)
drove run r.ini --resume last </dev/null
expect_eq "$rc" 0 "resume under confirm_usd: runs without --yes"
expect_eq "$(requests)" "$((n0 + 1))" "resume: b's one call made"

# over the limit for what is left: refused, the count of what is left
# named (B's prompt is new to the mock: its first request fails again)
sed -e 's/^confirm_usd = 0.002$/confirm_usd = 0.001/' \
    -e 's/^prompt = b /prompt = B /' r.ini >r1.ini
drove run r1.ini -k --yes </dev/null
expect_eq "$rc" 1 "second run: B fails"
drove run r1.ini --resume last </dev/null
expect_eq "$rc" 2 "resume over confirm_usd: refused"
expect_has "$err" "worst case of this run is \$0.0015 (1 calls still to make)" \
    "resume over confirm_usd: the estimate of what is left"

drove run r.ini --resume no-such-run --dry-run
expect_eq "$rc" 2 "resume dry run of no run: exit 2"
expect_has "$err" "no run 'no-such-run' to resume" "resume dry run of no run: says so"
finish
