#!/usr/bin/env bash
# A server that sends an answer nobody asked for on a kept-alive
# connection (tests/mock/hostile_mock.py, mode extra, over TLS so the
# extra answer waits in the socket while the first one is read): no task
# may get another's answer or the extra one.  A pooled connection with
# unread bytes is closed, never reused.
. "$DROVE_ROOT/tests/e2e/lib/http.bash"

make_ca root "/CN=drove hostile root"
make_leaf srv root "$LOCAL_SAN"
export HOSTILE_KEY=sk-extra-$RANDOM$RANDOM
start_mock hostile hostile_mock.py --cert "$T/srv.pem" --key "$T/srv.key"
cd "$T"
{
	cat <<INI
[backend h]
type = anthropic
model = m
api_key_env = HOSTILE_KEY
base_url = https://127.0.0.1:$MOCK_PORT
ca_file = $T/root.pem
retries = 0

INI
	for i in $(seq 1 12); do
		printf '[task t%d]\nbackend = h\nprompt = [[extra]] task %d\n\n' "$i" "$i"
	done
} >extra.ini
for j in 1 3; do
	"$DROVE" run extra.ini -j $j >"$T/out" 2>"$T/err" ||
	    fail "-j $j: exit $?: $(cat "$T/err")"
	bad=0
	for i in $(seq 1 12); do
		got=$(cat .drove/runs/last/tasks/t$i.out)
		[ "$got" = "answer to: task $i" ] || { bad=1; echo "-j $j: t$i got '$got'"; }
	done
	if [ $bad = 0 ]; then
		ok "-j $j: every task got its own answer"
	else
		fail "-j $j: a task got an answer that was not its own"
	fi
done
finish
