# Every child drove starts gets drove's environment less the names that
# look like secrets, not only exec agents: a competitive merge's score
# command (the host's spawn for plugins) and git with the hooks it runs
# never see ANTHROPIC_API_KEY or OPENAI_API_KEY; other variables pass.
. "$(dirname "$0")/lib.sh"

export ANTHROPIC_API_KEY=sk-ant-e2e-secret OPENAI_API_KEY=sk-oa-e2e-secret
export PLAIN_VAR=visible

# the score says what it sees: 1, +10 for the Anthropic key, +100 for the
# OpenAI key, +1000 for PLAIN_VAR
cat >c.ini <<'INI'
[backend a]
type = exec
command = sh -c 'echo "candidate $DROVE_REPLICA"'
[task best]
backend = a
replicas = 2
prompt = x
merge = competitive
score = sh -c 'n=1; [ -n "${ANTHROPIC_API_KEY:-}" ] && n=$((n + 10)); [ -n "${OPENAI_API_KEY:-}" ] && n=$((n + 100)); [ "${PLAIN_VAR:-}" = visible ] && n=$((n + 1000)); echo $n'
INI
drove run c.ini
expect_eq "$rc" 0 "score: run succeeds"
expect_py '[c["score"] for c in t["best"]["candidates"]] == [1001, 1001]' \
    "score: the command sees PLAIN_VAR and neither key"

# git and its hooks: a post-checkout hook (git worktree add) and a
# post-commit hook (drove's commit of the task's work) write what they see
git_repo repo a.txt
cd repo
for h in post-checkout post-commit; do
	printf '#!/bin/sh\nenv >"%s/%s.env"\n' "$T" "$h" >.git/hooks/$h
	chmod +x .git/hooks/$h
done
cat >"$T/w.ini" <<'INI'
[backend sh]
type = exec
command = sh -c 'echo changed >a.txt'
[task w]
isolation = worktree
prompt = x
INI
drove run "$T/w.ini"
expect_eq "$rc" 0 "git: run succeeds"
for h in post-checkout post-commit; do
	[ -s "$T/$h.env" ] || { fail "git: the $h hook ran"; continue; }
	expect_not_has "$(cat "$T/$h.env")" "sk-ant-e2e-secret" \
	    "git: the $h hook does not get ANTHROPIC_API_KEY"
	expect_not_has "$(cat "$T/$h.env")" "sk-oa-e2e-secret" \
	    "git: the $h hook does not get OPENAI_API_KEY"
	expect_has "$(cat "$T/$h.env")" "PLAIN_VAR=visible" \
	    "git: the $h hook gets PLAIN_VAR"
done
finish
