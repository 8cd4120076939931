# The launcher keys of an exec backend, without a cluster: local is the
# default and runs agents as before, an unknown launcher and the
# scheduler's keys on a local backend are load errors naming the line,
# and drove plugins lists the built-in slurm launcher.
. "$(dirname "$0")/lib.sh"

cat >ok.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'echo "ran $DROVE_TASK"'
launcher = local
[task a]
prompt = x
INI
drove run ok.ini
expect_eq "$rc" 0 "launcher = local runs the agent here"
expect_eq "$(cat .drove/runs/last/tasks/a.out)" "ran a" "with its output"
expect_py '"job" not in t["a"]' "a local agent has no job id"

cat >bad.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'echo hi'
launcher = nosuch
[task a]
prompt = x
INI
drove run bad.ini
expect_eq "$rc" 2 "an unknown launcher is a load error"
expect_has "$err" "bad.ini:4: backend 'sh': unknown launcher 'nosuch'" \
    "naming the backend and the launcher"

cat >cpus.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'echo hi'
time_limit = 5m
[task a]
prompt = x
INI
drove run cpus.ini
expect_eq "$rc" 2 "time_limit on a local backend is a load error"
expect_has "$err" "cpus.ini:4: backend 'sh': time_limit: only a launcher that schedules agents uses it" \
    "saying why"

cat >sl.ini <<'INI'
[backend sh]
type = exec
command = no-such-agent-here
launcher = slurm
cpus = zero
[task a]
prompt = x
INI
drove run sl.ini
expect_eq "$rc" 2 "a malformed cpus is a load error"
expect_has "$err" "sl.ini:5: backend 'sh': bad value 'zero' for 'cpus'" "naming the line and the key"

drove plugins
expect_has "$out" "launcher slurm" "drove plugins lists the slurm launcher"
finish
