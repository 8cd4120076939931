# SIGHUP (the terminal closed) is handled like SIGTERM: in-flight agents
# are cancelled, the journal records it, drove exits 129.
. "$(dirname "$0")/lib.sh"

cat >s.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'echo $$ >>pids; case $DROVE_TASK in fast) echo ok;; *) sleep 30;; esac'
[task fast]
prompt = x
[task slow1]
prompt = x
[task slow2]
prompt = x
INI
"$DROVE" run s.ini >o 2>e &
pid=$!
# fast recorded done (its output alone may land before drove has seen it
# end), both slow agents started
wait_for '[ "$(wc -l 2>/dev/null <pids)" = 3 ] && journal_has fast ok' 10
expect_eq "$(wc -l <pids | tr -d ' ')" 3 "three agents started"
kill -HUP $pid
wait $pid
rc=$?
expect_eq "$rc" 129 "SIGHUP exits 129"
alive=0
for p in $(cat pids); do
	kill -0 "$p" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && alive=$((alive + 1))
done
expect_eq "$alive" 0 "no agent left running"
expect_has "$(cat e)" "hangup" "stderr names the hangup"
expect_py 't["fast"]["status"] == "ok" and t["slow1"]["status"] == "cancelled" and s["status"] == "interrupted"' "statuses after SIGHUP"
expect_has "$(tail -n 1 .drove/runs/last/journal.jsonl)" '"interrupted"' "journal ends interrupted"
finish
