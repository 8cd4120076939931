# A missing agent binary is a load error (exit 2, naming the backend and
# the PATH searched), like a missing API key: no task starts.
. "$(dirname "$0")/lib.sh"

mkdir bin
printf '#!/bin/sh\ncat >/dev/null\necho fine\n' >bin/myagent
chmod +x bin/myagent
printf 'not executable\n' >bin/plain

cat >miss.ini <<'INI'
[backend ghost]
type = exec
command = drove-no-such-agent -p
[task a]
prompt = p
INI
PATH="$T/bin:/usr/bin:/bin" drove run miss.ini
expect_eq "$rc" 2 "missing agent: exit 2"
expect_has "$err" "backend 'ghost'" "missing agent: names the backend"
expect_has "$err" "command 'drove-no-such-agent' not found in PATH ($T/bin:/usr/bin:/bin)" \
    "missing agent: names the PATH searched"
grep -qs '"ev":"start"' .drove/runs/last/journal.jsonl &&
    fail "missing agent: a task started" || ok "missing agent: no task started"

# doctor says the same
PATH="$T/bin:/usr/bin:/bin" drove doctor miss.ini
expect_eq "$rc" 1 "doctor: missing agent fails"
expect_has "$out$err" "command 'drove-no-such-agent' not found in PATH ($T/bin:/usr/bin:/bin)" \
    "doctor: same words"

# found in PATH, and in the PATH the backend's env sets
sed 's/drove-no-such-agent -p/myagent/' miss.ini >found.ini
PATH="$T/bin:/usr/bin:/bin" drove run found.ini -q
expect_eq "$rc" 0 "agent in PATH: runs"
expect_eq "$out" "fine" "agent in PATH: its output"
{ sed 's/drove-no-such-agent -p/myagent/' miss.ini | sed '3a env = PATH='"$T"'/bin:/usr/bin:/bin'; } >envpath.ini
PATH="/usr/bin:/bin" drove run envpath.ini -q
expect_eq "$rc" 0 "agent in the env key's PATH: runs"

# absolute paths: checked as they are
sed "s|drove-no-such-agent -p|$T/bin/nothere|" miss.ini >abs.ini
drove run abs.ini
expect_eq "$rc" 2 "absolute path missing: exit 2"
expect_has "$err" "command '$T/bin/nothere': no such file" "absolute path missing: said"
sed "s|drove-no-such-agent -p|$T/bin/plain|" miss.ini >plain.ini
drove run plain.ini
expect_eq "$rc" 2 "absolute path not executable: exit 2"
expect_has "$err" "not an executable file" "absolute path not executable: said"

finish
