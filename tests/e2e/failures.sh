# Fail-fast by default, -k keeps independent branches, retries, timeouts.
. "$(dirname "$0")/lib.sh"

cat >ff.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'case "$DROVE_TASK" in bad) echo "it broke" >&2; exit 3;; slow) sleep 1;; esac; touch "ran-$DROVE_TASK"; echo "$DROVE_TASK"'
[task bad]
prompt = x
[task slow]
prompt = x
[task after_bad]
after = bad
prompt = x
[task after_slow]
after = slow
prompt = x
INI
drove run ff.ini
expect_eq "$rc" 1 "a failed task: exit 1"
expect_has "$err" "exited with status 3" "the failure is named"
expect_has "$err" "it broke" "stderr's last line is shown"
expect_eq "$(ls ran-slow 2>/dev/null)" ran-slow "in-flight task finishes"
expect_eq "$(ls ran-after_slow 2>/dev/null)" "" "fail-fast: nothing new starts"
expect_py_many \
    't["bad"]["status"] == "failed" and t["after_bad"]["status"] == "skipped" and t["after_slow"]["status"] == "skipped" and t["slow"]["status"] == "ok"' "statuses after fail-fast" \
    's["status"] == "failed"' "run status failed"
expect_eq "$(cat .drove/runs/last/tasks/bad.err)" "it broke" "stderr kept in the run directory"

rm -f ran-*
drove run ff.ini -k
expect_eq "$rc" 1 "-k: still exit 1"
expect_eq "$(ls ran-after_slow 2>/dev/null)" ran-after_slow "-k runs the independent branch"
expect_py 't["after_bad"]["status"] == "skipped" and t["after_slow"]["status"] == "ok"' "-k statuses"

# retries: fails twice, then succeeds
cat >retry.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n >count; [ $n -ge 3 ] || exit 1; echo "third time"'
[task flaky]
prompt = x
retries = 2
INI
drove run retry.ini
expect_eq "$rc" 0 "retries: succeeds on the third attempt"
expect_eq "$(cat count)" 3 "retries: ran three times"
expect_py 't["flaky"]["attempts"] == 3' "attempts counted"
rm -f count
sed -i 's/retries = 2/retries = 1/' retry.ini
drove run retry.ini
expect_eq "$rc" 1 "retries exhausted: fails"
expect_eq "$(cat count)" 2 "retries exhausted: ran twice"

# timeout kills the whole process group
cat >to.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'sleep 30 & echo $! >grandchild; sleep 30'
[task hang]
prompt = x
timeout = 1
INI
start=$(date +%s)
drove run to.ini
end=$(date +%s)
expect_eq "$rc" 1 "timeout: fails"
expect_has "$err" "timed out" "timeout: named"
[ $((end - start)) -lt 10 ] && ok "timeout: did not wait for the child" || fail "timeout took $((end - start))s"
gc=$(cat grandchild)
# a killed orphan may linger as a zombie where nothing reaps orphans
gc_alive() {
	kill -0 "$gc" 2>/dev/null &&
	    ! grep -q '^State:.*Z' "/proc/$gc/status" 2>/dev/null
}
wait_for '! gc_alive' 5
if gc_alive; then
	fail "grandchild survived the timeout"
else
	ok "grandchild killed"
fi
finish
