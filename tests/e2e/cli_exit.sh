# What every command shares: results that cannot be written to stdout are
# a failure (as git does; a closed pipe is not), and the soft limit on open
# files is raised to the hard limit at start.
. "$(dirname "$0")/lib.sh"

[ -w /dev/full ] || { echo "skip: no /dev/full"; exit 77; }
cat >t.ini <<'INI'
[backend sh]
type = exec
command = sh -c "echo result-$DROVE_TASK"
[task a]
prompt = x
[task b]
prompt = y
INI

# --- stdout is checked and closed at exit ---------------------------------
"$DROVE" run t.ini -q >/dev/full 2>err; rc=$?
expect_eq "$rc" 1 "run > /dev/full: exit 1"
expect_has "$(cat err)" "cannot write to stdout" "run > /dev/full: says so"
"$DROVE" run t.ini -q --json >/dev/full 2>err; rc=$?
expect_eq "$rc" 1 "run --json > /dev/full: exit 1"
expect_has "$(cat err)" "cannot write to stdout" "run --json > /dev/full: says so"
for cmd in "graph t.ini" "run t.ini --dry-run" "report" "version" "plugins" "--help"; do
	# shellcheck disable=SC2086
	"$DROVE" $cmd >/dev/full 2>err; rc=$?
	expect_eq "$rc" 1 "$cmd > /dev/full: exit 1"
	expect_has "$(cat err)" "cannot write to stdout: No space left on device" \
	    "$cmd > /dev/full: the reason"
done
# a failure keeps its own status
printf '[backend sh]\ntype = exec\ncommand = false\n[task a]\nprompt = x\n' >f.ini
"$DROVE" run f.ini -q >/dev/full 2>err; rc=$?
expect_eq "$rc" 1 "a failed task and /dev/full: exit 1"
"$DROVE" graph nope.ini >/dev/full 2>err; rc=$?
expect_eq "$rc" 2 "a usage error and /dev/full: still 2"
# the same runs succeed on a file, and on a pipe the reader closes early
"$DROVE" run t.ini -q >res 2>err; rc=$?
expect_eq "$rc" 0 "run > file: exit 0"
expect_has "$(cat res)" "result-a" "run > file: the results"
"$DROVE" run t.ini -q 2>err | true
expect_eq "${PIPESTATUS[0]}" 0 "run | (closed pipe): exit 0"
expect_not_has "$(cat err)" "cannot write" "run | (closed pipe): no complaint"

# --- the soft open-file limit is raised to the hard one -------------------
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -gt 64 ]; then
	cat >n.ini <<'INI'
[backend sh]
type = exec
command = sh -c "ulimit -Sn"
[task n]
prompt = x
INI
	got=$( (ulimit -Sn 64 && "$DROVE" run n.ini -q) 2>err)
	expect_eq "$got" "$hard" "the agent runs with the soft limit raised to $hard"
	if [ "$hard" = unlimited ] || [ "$hard" -ge 4096 ]; then
		# 300 agents at once, each holding pipes, under a soft limit of 64
		{
			printf '[backend sh]\ntype = exec\ncommand = sh -c "sleep 0.3; echo ok"\n'
			for i in $(seq 1 300); do printf '[task t%d]\nprompt = x\n' "$i"; done
		} >many.ini
		(ulimit -Sn 64 && "$DROVE" run many.ini -q -j 300 >many.out 2>err); rc=$?
		expect_eq "$rc" 0 "300 agents at once under ulimit -Sn 64"
		expect_eq "$(grep -c '^ok$' many.out)" 300 "every agent's result"
	fi
else
	echo "hard limit $hard: limit checks skipped"
fi

finish
