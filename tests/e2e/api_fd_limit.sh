#!/usr/bin/env bash
# Out of file descriptors on connect, an API call waits for a running one
# to end instead of failing its task: under a small `ulimit -n` (soft and
# hard, so drove cannot raise it) with many more tasks than sockets fit,
# each against the LLM mock with a slow first byte, every task succeeds
# (http_conn.c maps EMFILE/ENFILE from socket() and connect to
# DROVE_ENOFD, which requeues the call).
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

start_llm mock
n=40
{
	backends "$MOCK_PORT" 'retries = 0'
	for i in $(seq $n); do
		printf '[task t%d]\nbackend = claude\nprompt = [[latency=0.3]] task %d\n\n' \
		    "$i" "$i"
	done
} >fd.ini
(
	ulimit -n 24 || exit 77
	ulimit -Hn 24
	exec "$DROVE" run fd.ini -j $n -q
) >o 2>e
rc=$?
[ "$rc" = 77 ] && { echo "skip: cannot lower ulimit -n"; exit 77; }
expect_eq "$rc" 0 "every API task succeeds under ulimit -n 24"
expect_py "len(t) == $n and all(v['status'] == 'ok' for v in t.values())" \
    "$n tasks ok"
expect_eq "$(ls .drove/runs/last/tasks/*.out | wc -l | tr -d ' ')" $n \
    "$n outputs written"
expect_not_has "$(cat e)" "Too many open files" "no connect failed on descriptors"
expect_eq "$(stat mock requests)" $n "each task asked the server once"
finish
