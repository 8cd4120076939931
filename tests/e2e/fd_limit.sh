# Out of file descriptors, a start waits for a running agent to end
# instead of failing its task: with a small `ulimit -n` (soft and hard, so
# drove cannot raise it) and many more tasks than fit, every task succeeds.
. "$(dirname "$0")/lib.sh"

n=60
{
	echo '[backend sh]'
	echo 'type = exec'
	echo "command = sh -c 'sleep 0.2; echo \"out \$DROVE_TASK\"'"
	for i in $(seq $n); do
		printf '[task t%d]\nprompt = x\n' "$i"
	done
} >s.ini
(
	ulimit -n 32 || exit 77
	ulimit -Hn 32
	exec "$DROVE" run s.ini -j $n -q
) >o 2>e
rc=$?
[ "$rc" = 77 ] && { echo "skip: cannot lower ulimit -n"; exit 77; }
expect_eq "$rc" 0 "every task succeeds under ulimit -n 32"
expect_py "len(t) == $n and all(v['status'] == 'ok' for v in t.values())" \
    "$n tasks ok"
expect_eq "$(ls .drove/runs/last/tasks/*.out | wc -l | tr -d ' ')" $n \
    "$n outputs written"
expect_eq "$(cat .drove/runs/last/tasks/t37.out)" "out t37" "an output holds its agent's answer"
expect_not_has "$(cat e)" "Too many open files" "no start failed on descriptors"
finish
