# Rough edges of the command line: -j 0, durations with units, one range
# wording, stray arguments named, version --help.
. "$(dirname "$0")/lib.sh"

# -j 0: no limit.  Ten agents wait (bounded) until all ten have started:
# with a cap below ten they would not all see each other.
mkdir bar
{
	echo '[backend sh]'
	echo 'type = exec'
	echo "command = sh -c 'touch $T/bar/\$DROVE_TASK; i=0; while [ \$(ls $T/bar | wc -l) -lt 10 ] && [ \$i -lt 400 ]; do sleep 0.05; i=\$((i+1)); done; ls $T/bar | wc -l'"
	for i in 1 2 3 4 5 6 7 8 9 10; do
		printf '[task t%s]\nprompt = p\n' "$i"
	done
} >ten.ini
drove run ten.ini -j 0 -q
expect_eq "$rc" 0 "-j 0: the run succeeds"
expect_py 's["jobs"] == 10' "-j 0: as many slots as agents"
n=$(cat .drove/runs/last/tasks/t1.out 2>/dev/null | tr -d ' \n')
expect_eq "$n" 10 "-j 0: all ten agents in flight at once"

# [drove] jobs = 0 is the same
rm -rf bar .drove && mkdir bar
{ printf '[drove]\njobs = 0\n'; cat ten.ini; } >ten0.ini
drove run ten0.ini -q
expect_eq "$rc" 0 "jobs = 0: the run succeeds"
expect_py 's["jobs"] == 10' "jobs = 0: no limit"

# one range, the same words for -j and for jobs =
drove run ten.ini -j -1
expect_eq "$rc" 2 "-j -1: usage error"
expect_has "$err" "expected an integer from 0 to 100000" "-j range"
printf '[drove]\njobs = 100001\n' >big.ini
cat ten.ini >>big.ini
drove run big.ini
expect_eq "$rc" 2 "jobs = 100001: config error"
expect_has "$err" "expected an integer from 0 to 100000" "jobs = range, same words"

# durations with units everywhere a duration is read
cat >dur.ini <<'INI'
[drove]
git_timeout = 1h
[backend sh]
type = exec
command = sh -c 'cat >/dev/null; echo done'
timeout = 5m
[task a]
prompt = p
timeout = 90s
[task b]
prompt = p
timeout = 90
INI
drove run dur.ini -q
expect_eq "$rc" 0 "1h, 5m, 90s and 90 are durations"
cat >slow.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'sleep 30'
[task slow]
prompt = p
timeout = 0.02m
INI
t0=$SECONDS
drove run slow.ini -q
expect_eq "$rc" 1 "0.02m: the slow task fails"
[ $((SECONDS - t0)) -lt 20 ] && ok "0.02m is 1.2 seconds, not 0.02" ||
    fail "0.02m did not stop the task in time"
sed 's/timeout = 0.02m/timeout = 5x/' slow.ini >bad.ini
drove run bad.ini
expect_eq "$rc" 2 "5x: config error"
expect_has "$err" "bad value '5x' for 'timeout' (expected a duration from" \
    "bad duration named"
expect_has "$err" "90, 90s, 5m or 1h" "the units are shown"
drove fetch --connect-timeout 5x http://127.0.0.1:9/
expect_eq "$rc" 2 "fetch: bad duration: usage error"
expect_has "$err" "bad duration '5x' for --connect-timeout" "fetch names it"

# an API backend's timeouts take units too (port 9: nothing listens)
printf '[backend a]\ntype = anthropic\napi_key_env = HOME\nbase_url = http://127.0.0.1:9\nretries = 0\nidle_timeout = 2m\nconnect_timeout = 5s\n[task t]\nprompt = p\n' >api.ini
drove run api.ini -q
expect_eq "$rc" 1 "idle_timeout = 2m: loads, the call fails to connect"
sed 's/idle_timeout = 2m/idle_timeout = 2h/' api.ini >api2.ini
drove run api2.ini -q
expect_eq "$rc" 2 "idle_timeout = 2h: out of range"
expect_has "$err" "bad value '2h' for 'idle_timeout' (expected a duration from 0 to 3600 seconds" \
    "API timeout range in seconds"

# a stray extra argument is named
drove run dur.ini extra.ini
expect_eq "$rc" 2 "run: two files: usage error"
expect_has "$err" "unexpected argument 'extra.ini'" "run names the stray argument"
drove graph dur.ini stray
expect_eq "$rc" 2 "graph: two files: usage error"
expect_has "$err" "unexpected argument 'stray'" "graph names it"
drove plugins stray
expect_eq "$rc" 2 "plugins: stray argument: usage error"
expect_has "$err" "unexpected argument 'stray'" "plugins names it"
drove plan fix the bug
expect_eq "$rc" 2 "plan: unquoted goal: usage error"
expect_has "$err" "unexpected argument 'the'" "plan names it"
drove version stray
expect_eq "$rc" 2 "version: stray argument: usage error"
expect_has "$err" "unexpected argument 'stray'" "version names it"

# version --help
drove version --help
expect_eq "$rc" 0 "version --help: exit 0"
expect_has "$out" "usage: drove version" "version --help prints help"
expect_has "$out" "exit status" "version --help states its exit status"
finish
