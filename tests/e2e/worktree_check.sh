# The merge gate: `check = CMD` runs on the target after each worktree
# branch is merged.  A branch that breaks it is undone (the target exactly
# as before that merge, the branch kept) and the other branches still
# land; a branch on top of an undone one is not merged; the check runs once
# more on the whole result.  A check that hangs is ended by check_timeout
# and its merge undone, as is one Ctrl-C interrupts; a merge whose check
# a killed drove never finished is checked by --resume.  merge_order =
# fewest_files_first merges a small change before a big one that
# conflicts with it.  report, summary.json and the --json stream say what
# happened to each branch.
. "$(dirname "$0")/lib.sh"

git_repo repo a.txt b.txt c.txt d.txt
write_git_agent
cd repo
# the check: logs the task it gates and the target's HEAD, prints some
# lines, and fails when a tracked file says BROKEN
cat >"$T/check.sh" <<'SH'
echo "${DROVE_TASK:-final} $(git rev-parse HEAD)" >>"$CHECKLOG"
echo "checking ${DROVE_TASK:-the result}"
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "line $i"; done
if git grep -q BROKEN; then
	echo "found BROKEN in $(git grep -l BROKEN)" >&2
	exit 3
fi
SH
export CHECKLOG="$T/checklog"
: >"$CHECKLOG"
cat >"$T/t.ini" <<INI
[drove]
check = sh $T/check.sh

[backend agent]
type = exec
command = sh $T/agent.sh

[task a]
isolation = worktree
prompt = Edit a.txt
  sed -i 2s/.*/A/ a.txt

[task b]
isolation = worktree
prompt = Break b.txt
  sed -i 2s/.*/BROKEN/ b.txt

[task c]
isolation = worktree
prompt = Edit c.txt
  sed -i 2s/.*/C/ c.txt

[task d]
isolation = worktree
after = b
prompt = Edit d.txt on top of b
  sed -i 2s/.*/D/ d.txt

[task e]
isolation = worktree
prompt = Fail
  exit 4

[task f]
isolation = worktree
after = e
prompt = Never runs
  true
INI

base=$(git rev-parse main)
drove run "$T/t.ini" -k --json
expect_eq "$rc" 1 "a merge undone by the check fails the run"
run=$(basename "$(readlink .drove/runs/last)")
log=$(cat "$CHECKLOG")
expect_eq "$(awk '{print $1}' "$CHECKLOG" | tr '\n' ' ')" "a b c final " \
    "the check runs after each merge, in order, then once more"
head_a=$(awk '$1 == "a" {print $2}' "$CHECKLOG")
head_b=$(awk '$1 == "b" {print $2}' "$CHECKLOG")
head_c=$(awk '$1 == "c" {print $2}' "$CHECKLOG")
expect_eq "$(git rev-parse "$head_b^1")" "$head_a" "b was merged on top of a"
expect_eq "$(git rev-parse "$head_c^1")" "$head_a" \
    "b's merge was undone: c was merged onto exactly what a left"
expect_eq "$(git rev-parse main)" "$head_c" "main is where c's merge left it"
expect_eq "$(awk '$1 == "final" {print $2}' "$CHECKLOG")" "$head_c" \
    "the final check ran on the whole result"
expect_eq "$(sed -n 2p a.txt)$(sed -n 2p b.txt)$(sed -n 2p c.txt)$(sed -n 2p d.txt)" \
    A2C2 "a and c landed; b and d did not"
git grep -q BROKEN main && fail "BROKEN reached main" || ok "BROKEN never reached main"
expect_eq "$(git status --porcelain --untracked-files=no)" "" "main's tree is clean"
expect_eq "$(git rev-list --count "main..drove/$run/b")" 1 "b's branch is kept with its commit"
expect_eq "$(git rev-list --count --no-merges "main..drove/$run/d")" 2 \
    "d's branch is kept (b's commit and its own)"
git merge-base --is-ancestor "$base" main && ok "main only moved forward" ||
    fail "main lost its history"
expect_has "$err" "CHECK     b" "the failed check is reported on stderr"
expect_has "$err" "found BROKEN in b.txt" "with the end of its output"
expect_has "$err" "BLOCKED   d" "the dependent branch is reported"
expect_has "$err" "branch drove/$run/b failed the check; its merge into 'main' was undone:
drove:       check 'sh' exited 3" "the end of the run: the branch whose check failed, and why"
expect_has "$err" "to rerun it: git merge drove/$run/b (on 'main'), then, where drove ran: DROVE_TASK=b sh $T/check.sh" \
    "the end of the run: how to rerun the check"
expect_has "$err" "branch drove/$run/d not merged: it holds the branch of 'b', which was not merged" \
    "the end of the run: the branch held back by its dependency"
expect_not_has "$err" "resolve with" "no conflict to resolve by hand"
expect_has "$err" "final check passed on 'main'" "the final check is reported"
expect_py_many \
    '[t[n]["merge_status"] for n in "abcdef"] == ["merged", "check_failed", "merged", "dependency_failed", "not_merged", "dependency_failed"]' \
    "summary: each task's merge status" \
    't["b"]["merged"] is False and "exited 3" in t["b"]["check_output"] and "found BROKEN in b.txt" in t["b"]["check_output"] and "line 12" in t["b"]["check_output"] and "line 2\n" not in t["b"]["check_output"]' \
    "summary: the check's reason and the last lines of its output" \
    't["d"]["blocked_by"] == "b" and t["f"]["blocked_by"] == "e" and t["f"]["status"] == "skipped"' \
    "summary: what each blocked branch waited for" \
    's["status"] == "failed" and s["merge"]["final_check"]["passed"] is True and list(s["merge"]["check_failed"]) == ["b"] and s["merge"]["dependency_failed"] == {"d": "b", "f": "e"} and s["merge"]["order"] == "declared"' \
    "summary: the merge phase"
ev=$(printf '%s\n' "$out" | python3 -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    if e["event"] == "merge_done" and "into" in e:
        print("merge", e["task"], e["status"], e.get("blocked_by", ""))
    elif e["event"] == "check_done":
        print("check", e["task"], e["final"], e["passed"])
')
expect_eq "$ev" "check a False True
merge a merged 
check b False False
merge b check_failed 
check c False True
merge c merged 
merge d dependency_failed b
check None True True" "--json: each check and each merge, in order"

drove report
expect_eq "$rc" 0 "report"
expect_has "$out" "merge: check failed, merge undone; branch kept" "report: check failed"
expect_has "$out" "found BROKEN in b.txt" "report: with the check's output"
expect_has "$out" "merge: not merged: dependency 'b' failed or was not merged" \
    "report: blocked by a dependency"
expect_has "$out" "merge: not merged: dependency 'e'" "report: blocked by a failed task"
expect_has "$out" "final check     passed on 'main'" "report: the final check"
expect_has "$out" "check failed: task 'b'" "report: why the run failed"

# drove clean keeps the branches the gate held back
drove clean
expect_has "$out" "kept (unmerged): b" "clean keeps b's branch"
expect_eq "$(git rev-list --count "main..drove/$run/b")" 1 "b's commit survives clean"
expect_eq "$(git rev-list --count --no-merges "main..drove/$run/d")" 2 "d's survive clean"

# a check that hangs: check_timeout ends it (its process group too) and
# the merge is undone
git -c user.name=t -c user.email=t@e reset -q --hard "$base"
cat >"$T/hang.sh" <<'SH'
echo $$ >"$HANG_PID"
echo "about to hang"
sleep 60
SH
export HANG_PID="$T/hang.pid"
cat >"$T/h.ini" <<INI
[backend agent]
type = exec
command = sh $T/agent.sh

[task slow]
isolation = worktree
check = sh $T/hang.sh
check_timeout = 2
prompt = Edit a.txt
  sed -i 2s/.*/S/ a.txt
INI
t0=${EPOCHREALTIME/./}
drove run "$T/h.ini"
t1=${EPOCHREALTIME/./}
expect_eq "$rc" 1 "hanging check: the run fails"
expect_eq "$(git rev-parse main)" "$base" "hanging check: main is exactly as before the merge"
expect_eq "$(git status --porcelain --untracked-files=no)" "" "hanging check: the tree is clean"
expect_py "$(( (t1 - t0) / 1000 )) < 30000" "hanging check: the run does not wait for it"
expect_py 't["slow"]["merge_status"] == "check_failed" and "timed out after 2s" in t["slow"]["check_output"] and "about to hang" in t["slow"]["check_output"] and s["merge"]["final_check"] is None' \
    "hanging check: timed out, with its output; no final check after no merge"
wait_for '! kill -0 "$(cat "$HANG_PID")" 2>/dev/null' 10 &&
    ok "hanging check: its process is gone" || fail "hanging check: still running"
hrun=$(basename "$(readlink .drove/runs/last)")
drove report
expect_has "$out" "check 'sh' timed out after 2s (see check_timeout)" \
    "hanging check: report says it timed out"
expect_has "$out" "about to hang" "hanging check: report shows its output"
expect_eq "$(git rev-list --count "main..drove/$hrun/slow")" 1 "hanging check: the branch is kept"

# Ctrl-C while the check runs: the merge it was checking is undone and
# drove exits 130
git reset -q --hard "$base"
rm -f "$HANG_PID"
sed -i 's/^check_timeout = 2$/check_timeout = 60/' "$T/h.ini"
"$DROVE" run "$T/h.ini" >"$T/int.out" 2>"$T/int.err" &
pid=$!
wait_for '[ -s "$HANG_PID" ]' 30 || fail "Ctrl-C: the check never started"
kill -INT "$pid"
wait_for '! kill -0 "$pid" 2>/dev/null' 20
wait "$pid"
expect_eq "$?" 130 "Ctrl-C during the check: drove exits 130"
expect_eq "$(git rev-parse main)" "$base" "Ctrl-C during the check: the merge is undone"
expect_eq "$(git status --porcelain --untracked-files=no)" "" "Ctrl-C during the check: the tree is clean"
wait_for '! kill -0 "$(cat "$HANG_PID")" 2>/dev/null' 10 &&
    ok "Ctrl-C during the check: the check is gone" || fail "Ctrl-C: the check still runs"
expect_py 't["slow"]["merged"] is False and "merge undone" in t["slow"]["merge_error"]' \
    "Ctrl-C during the check: summary says the merge was undone"

# drove killed (kill -9) while the check runs: the merge is in main,
# unchecked; --resume checks it, and undoes it when the check fails
git reset -q --hard "$base"
rm -f "$HANG_PID"
"$DROVE" run "$T/h.ini" >"$T/k.out" 2>"$T/k.err" &
pid=$!
wait_for '[ -s "$HANG_PID" ]' 30 || fail "kill -9: the check never started"
kill -9 "$pid"
wait "$pid"
expect_eq "$(git rev-parse main)" "$(git rev-parse "drove/$(basename "$(readlink .drove/runs/last)")/slow")" \
    "kill -9 during the check: the merge is in main"
printf 'echo "now failing"\nexit 1\n' >"$T/hang.sh"
drove run "$T/h.ini" --resume last
expect_eq "$rc" 1 "resume: the check fails"
expect_eq "$(git rev-parse main)" "$base" "resume: the unchecked merge is checked and undone"
expect_py 't["slow"]["merge_status"] == "check_failed" and "now failing" in t["slow"]["check_output"]' \
    "resume: summary says the check failed"
wait_for '! kill -0 "$(cat "$HANG_PID")" 2>/dev/null' 10 &&
    ok "resume: the killed run's check is ended" || fail "resume: the old check still runs"

# merge_order: big changes three files, small one of them the other way
cat >"$T/o.ini" <<INI
[drove]
merge_order = fewest_files_first

[backend agent]
type = exec
command = sh $T/agent.sh

[task big]
isolation = worktree
prompt = Edit three files
  sed -i 3s/.*/big/ a.txt b.txt c.txt

[task small]
isolation = worktree
prompt = Edit one file
  sed -i 3s/.*/small/ a.txt
INI
drove run "$T/o.ini"
expect_eq "$rc" 1 "fewest_files_first: the big change conflicts"
expect_eq "$(sed -n 3p a.txt)$(sed -n 3p b.txt)" small3 "the small change landed"
expect_has "$err" "1 branch not merged into 'main' (conflict): resolve with 'git merge BRANCH' there: drove/" \
    "the end of the run: a conflict is resolved by hand"
expect_py 't["small"]["merge_status"] == "merged" and t["big"]["merge_status"] == "conflict" and t["big"]["conflict"] == ["a.txt"] and s["merge"]["order"] == "fewest_files_first"' \
    "fewest_files_first: small merged first, big conflicts alone"
expect_eq "$(grep -o '"ev":"merge","event":"merge_done","task":"[a-z]*"' .drove/runs/last/journal.jsonl | cut -d'"' -f12 | tr '\n' ' ')" \
    "small big " "fewest_files_first: the journal shows small merged before big"
git reset -q --hard "$base"
sed -i '/merge_order/d' "$T/o.ini"
drove run "$T/o.ini"
expect_eq "$(sed -n 3p a.txt)$(sed -n 3p b.txt)" bigbig "declared: big landed first"
expect_py 't["small"]["merge_status"] == "conflict" and t["big"]["merge_status"] == "merged"' \
    "declared: small conflicts"

# load errors: a bad merge_order, a check that does not split, a check on
# a task without a worktree
grep -v '^\[drove\]' "$T/o.ini" >"$T/plain.ini"
printf '[drove]\nmerge_order = random\n' | cat - "$T/plain.ini" >"$T/e.ini"
drove run "$T/e.ini"
expect_eq "$rc" 2 "bad merge_order: usage error"
expect_has "$err" "e.ini:2: [drove]: bad value 'random' for 'merge_order'" "bad merge_order: file:line"
printf '[drove]\ncheck = sh "unclosed\n' | cat - "$T/plain.ini" >"$T/e.ini"
drove run "$T/e.ini"
expect_eq "$rc" 2 "bad check: usage error"
expect_has "$err" "e.ini:2: [drove]: check: unterminated double quote" "bad check: file:line"
printf '[backend agent]\ntype = exec\ncommand = true\n[task p]\ncheck = true\nprompt = p\n[task q]\nisolation = worktree\nprompt = q\n' >"$T/e.ini"
drove run "$T/e.ini"
expect_eq "$rc" 2 "check without a worktree: usage error"
expect_has "$err" "e.ini:5: task 'p': check needs isolation = worktree" \
    "check without a worktree: file:line"
# ...also when no task has one: the task's check is an error, [drove]'s
# keys of the gate a warning (a shared configuration may hold them)
printf '[backend agent]\ntype = exec\ncommand = true\n[task p]\ncheck_timeout = 5\nprompt = p\n' >"$T/e.ini"
drove run "$T/e.ini"
expect_eq "$rc" 2 "check_timeout in a run without worktrees: usage error"
expect_has "$err" "e.ini:5: task 'p': check_timeout needs isolation = worktree" \
    "check_timeout in a run without worktrees: file:line"
printf '[drove]\ncheck = false\nmerge_order = fewest_files_first\n[backend agent]\ntype = exec\ncommand = true\n[task p]\nprompt = p\n' >"$T/e.ini"
drove run "$T/e.ini"
expect_eq "$rc" 0 "[drove] check in a run without worktrees: the run goes on"
expect_has "$err" "e.ini:2: warning: [drove] check has no effect: no task has isolation = worktree" \
    "[drove] check in a run without worktrees: a warning with file:line"
expect_has "$err" "e.ini:3: warning: [drove] merge_order has no effect" \
    "[drove] merge_order in a run without worktrees: a warning"
finish
