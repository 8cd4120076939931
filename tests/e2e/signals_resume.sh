# Ctrl-C cancels in-flight children and exits 130; a run killed with -9
# resumes, redoing only what did not finish.
. "$(dirname "$0")/lib.sh"

cat >s.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'echo $$ >>pids; echo x >>"count-$DROVE_TASK"; case $DROVE_TASK in fast*) echo "$DROVE_TASK";; *) sleep 30;; esac'
[task fast1]
prompt = x
[task fast2]
prompt = x
[task slow1]
prompt = x
[task slow2]
prompt = x
[task last]
after = fast1, slow1
prompt = x
INI
"$DROVE" run s.ini >o 2>e &
pid=$!
# mid-run: both fast tasks recorded done, both slow ones running
midrun() {
	[ "$(wc -l 2>/dev/null <pids)" = 4 ] && [ -s count-slow1 ] &&
	    [ -s count-slow2 ] && journal_has fast1 ok && journal_has fast2 ok
}
wait_for midrun 10 || die "the run did not reach mid-run"
kill -INT $pid
wait $pid
rc=$?
expect_eq "$rc" 130 "interrupt exits 130"
alive=0
for p in $(cat pids); do
	kill -0 "$p" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && alive=$((alive + 1))
done
expect_eq "$alive" 0 "no child left alive"
expect_py 't["fast1"]["status"] == "ok" and t["slow1"]["status"] == "cancelled" and s["status"] == "interrupted"' "statuses after interrupt"

# kill -9 mid-run, then resume: only unfinished tasks run again
rm -rf .drove pids count-*
"$DROVE" run s.ini >o 2>e &
pid=$!
wait_for midrun 10 || die "the run did not reach mid-run"
kill -9 $pid
wait $pid 2>/dev/null
for p in $(cat pids); do kill -9 -- "-$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
printf '{"ev":"task","task":"tor' >>.drove/runs/last/journal.jsonl
sed -i 's/sleep 30/sleep 0.2; echo "$DROVE_TASK"/' s.ini
drove run s.ini --resume last
expect_eq "$rc" 0 "resumed run succeeds"
expect_eq "$(cat count-fast1)" x "fast1 not redone"
expect_eq "$(cat count-fast2)" x "fast2 not redone"
expect_eq "$(wc -l <count-slow1)" 2 "slow1 redone"
expect_eq "$(wc -l <count-last)" 1 "last ran once"
expect_has "$err" "torn" "torn journal line tolerated"
expect_py 't["fast1"].get("resumed") == True and t["slow1"]["status"] == "ok"' "resumed tasks marked"
finish
