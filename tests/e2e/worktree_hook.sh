# Git runs on the loop, like an agent.  A post-checkout hook that sleeps
# while a task's worktree is made holds only that task: another task's
# agent runs and ends meanwhile.  Ctrl-C during the hook ends drove at once
# (the hook's process group goes with it), and [drove] git_timeout fails
# the task whose git takes too long, with the reason.
. "$(dirname "$0")/lib.sh"

git_repo repo a.txt
write_git_agent
cd repo
# the hook says when it starts (with its pid) and sleeps $HOOK_SLEEP
cat >.git/hooks/post-checkout <<'SH'
#!/bin/sh
echo $$ >"$HOOK_MARK"
sleep "$HOOK_SLEEP"
SH
chmod +x .git/hooks/post-checkout
export HOOK_MARK="$T/hook.pid"

cat >"$T/t.ini" <<INI
[backend agent]
type = exec
command = sh $T/agent.sh

[task a]
isolation = worktree
prompt = edit a
  echo 2 >>a.txt

[task b]
prompt = quick, without a worktree
  sleep 0.2
INI

# 1. the hook holds a's worktree for 4 s; b runs and ends meanwhile
HOOK_SLEEP=4 drove run "$T/t.ini"
expect_eq "$rc" 0 "the run succeeds"
expect_py 't["b"]["status"] == "ok" and t["b"]["end_s"] < 2.5' \
    "b ends while a's post-checkout hook still sleeps"
expect_py 't["a"]["status"] == "ok" and t["a"]["merged"] and t["a"]["start_s"] >= 3.5' \
    "a's agent starts after its worktree is made, and a is merged"

# 2. Ctrl-C during the hook: drove exits well before the hook would end
rm -f "$HOOK_MARK"
HOOK_SLEEP=30 "$DROVE" run "$T/t.ini" >"$T/int.out" 2>"$T/int.err" &
pid=$!
wait_for '[ -s "$HOOK_MARK" ]' 10 || fail "the hook never started"
hook=$(cat "$HOOK_MARK")
t0=${EPOCHREALTIME/./}
kill -INT "$pid"
wait_for '! kill -0 "$pid" 2>/dev/null' 10
t1=${EPOCHREALTIME/./}
wait "$pid"
rc=$?
expect_eq "$rc" 130 "Ctrl-C during git: drove exits 130"
expect_py "$(( (t1 - t0) / 1000 )) < 4000" \
    "Ctrl-C during git: drove exits within 4 s, not after the hook's 30 s"
wait_for '! kill -0 "$hook" 2>/dev/null' 5 &&
    ok "the hook's process is gone too" || fail "the hook still runs"
expect_has "$(cat "$T/int.err")" "cancelled" "the task is reported cancelled"

# 3. Ctrl-C during the merge phase (a post-merge hook sleeps): drove
# exits at once and leaves the target's tree clean
rm -f .git/hooks/post-checkout "$HOOK_MARK"
cp "$T/t.ini" "$T/m.ini"
sed 's/post-checkout/post-merge/' >.git/hooks/post-merge <<'SH'
#!/bin/sh
echo $$ >"$HOOK_MARK"
sleep "$HOOK_SLEEP"
SH
chmod +x .git/hooks/post-merge
HOOK_SLEEP=30 "$DROVE" run "$T/m.ini" >"$T/m.out" 2>"$T/m.err" &
pid=$!
wait_for '[ -s "$HOOK_MARK" ]' 10 || fail "merge: the hook never started"
t0=${EPOCHREALTIME/./}
kill -INT "$pid"
wait_for '! kill -0 "$pid" 2>/dev/null' 10
t1=${EPOCHREALTIME/./}
wait "$pid"
expect_eq "$?" 130 "Ctrl-C in the merge phase: drove exits 130"
expect_py "$(( (t1 - t0) / 1000 )) < 6000" \
    "Ctrl-C in the merge phase: drove exits within 6 s"
expect_eq "$(git status --porcelain --untracked-files=no)" "" \
    "Ctrl-C in the merge phase: the tree is left clean"
run=$(basename "$(readlink .drove/runs/last)")
git merge-base --is-ancestor "drove/$run/a" main && merged=True ||
    merged=False
expect_py "t['a']['merged'] == $merged" \
    "Ctrl-C in the merge phase: summary.json says whether a was merged"
rm -f .git/hooks/post-merge
sed 's/post-merge/post-checkout/' >.git/hooks/post-checkout <<'SH'
#!/bin/sh
echo $$ >"$HOOK_MARK"
sleep "$HOOK_SLEEP"
SH
chmod +x .git/hooks/post-checkout

# 4. git_timeout: the hook outlasts it, the task fails saying so
rm -f "$HOOK_MARK"
sed -i '1i [drove]\ngit_timeout = 1\n' "$T/t.ini"
t0=${EPOCHREALTIME/./}
HOOK_SLEEP=30 drove run "$T/t.ini" -k
t1=${EPOCHREALTIME/./}
expect_eq "$rc" 1 "git_timeout: the run fails"
expect_py 't["a"]["status"] == "failed" and "timed out after 1s" in t["a"]["error"] and t["b"]["status"] == "ok"' \
    "git_timeout: a fails with the reason, b still runs"
expect_py "$(( (t1 - t0) / 1000 )) < 10000" \
    "git_timeout: the run does not wait for the hook"

finish
