# Exec agents do not inherit variables that look like secrets: API keys and
# tokens stay with drove unless env_pass names them; env_drop withholds
# more.  Ordinary variables pass as before.
. "$(dirname "$0")/lib.sh"

export ANTHROPIC_API_KEY=sk-ant-secret-1 OPENAI_API_KEY=sk-openai-secret-2
export GITHUB_TOKEN=ghp-secret-3 MY_PLAIN=plain-4 FOO_BAR=foo-5
cat >s.ini <<'INI'
[backend sh]
type = exec
command = env
[task a]
prompt = x
INI
drove run s.ini
expect_eq "$rc" 0 "default run"
expect_not_has "$out" "sk-ant-secret-1" "ANTHROPIC_API_KEY withheld"
expect_not_has "$out" "sk-openai-secret-2" "OPENAI_API_KEY withheld"
expect_not_has "$out" "ghp-secret-3" "GITHUB_TOKEN withheld"
expect_has "$out" "MY_PLAIN=plain-4" "an ordinary variable passes"
expect_has "$out" "FOO_BAR=foo-5" "FOO_BAR passes by default"
expect_has "$out" "PATH=" "PATH passes"
expect_has "$out" "DROVE_TASK=a" "drove's own variables are set"
expect_has "$err" "ANTHROPIC_API_KEY" "stderr names what is withheld"
expect_not_has "$err" "sk-ant-secret-1" "stderr does not show a value"

cat >s.ini <<'INI'
[backend sh]
type = exec
command = env
env_pass = openai_*
env_drop = FOO_*
env = EXTRA=set-6
[task a]
prompt = x
INI
drove run s.ini
expect_eq "$rc" 0 "run with env_pass and env_drop"
expect_has "$out" "OPENAI_API_KEY=sk-openai-secret-2" "env_pass lets one through"
expect_not_has "$out" "sk-ant-secret-1" "the other key stays withheld"
expect_not_has "$out" "foo-5" "env_drop drops FOO_BAR"
expect_has "$out" "MY_PLAIN=plain-4" "others still pass"
expect_has "$out" "EXTRA=set-6" "env entries are added"

# env_drop wins over env_pass: env_drop = * and env make an allow-list
cat >s.ini <<'INI'
[backend sh]
type = exec
command = /usr/bin/env
env_pass = PATH, KEEP
env_drop = *
env = PATH=/usr/bin:/bin, KEEP=1
[task a]
prompt = x
INI
drove run s.ini
expect_eq "$rc" 0 "an allow-list through env_drop = * and env"
expect_eq "$(echo "$out" | grep -v '^DROVE_' | sort | tr '\n' ' ')" \
    "KEEP=1 PATH=/usr/bin:/bin " "the agent sees only what was allowed"

cat >s.ini <<'INI'
[backend sh]
type = exec
command = env
env_pass = A-B
[task a]
prompt = x
INI
drove run s.ini
expect_eq "$rc" 2 "a bad glob is a configuration error"
expect_has "$err" "env_pass: 'A-B'" "the error names the key and the glob"
finish
