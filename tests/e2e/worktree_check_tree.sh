# After every check of the merge gate, passed or failed, the target's
# tree is exactly the merged commit again: what the check changed in
# tracked files is reset, and the untracked files it made are removed, so
# they never block the next merge; untracked files that were there before
# the check stay.
. "$(dirname "$0")/lib.sh"

git_repo repo a.txt b.txt c.txt
write_git_agent
cd repo
# the user's own files nobody tracks: never touched
printf 'mine\n' >notes.txt
mkdir keep
printf 'old\n' >keep/old.txt
# the check: says how clean the tree was when it started, then changes a
# tracked file and leaves build output behind; it fails for task 'bad'
cat >"$T/check.sh" <<'SH'
printf '%s: %s\n' "${DROVE_TASK:-final}" \
    "$(git status --porcelain -uall | grep -v '^?? .drove/' | tr '\n' ' ')" >>"$CHECKLOG"
echo checked >>a.txt
echo output >build.out
echo more >keep/new.txt
test "$DROVE_TASK" != bad
SH
export CHECKLOG="$T/checklog"
: >"$CHECKLOG"
cat >"$T/t.ini" <<INI
[drove]
check = sh $T/check.sh

[backend agent]
type = exec
command = sh $T/agent.sh

[task x]
isolation = worktree
prompt = Edit b.txt
  sed -i 2s/.*/X/ b.txt

[task bad]
isolation = worktree
prompt = Edit c.txt; its check fails
  sed -i 2s/.*/BAD/ c.txt

[task y]
isolation = worktree
prompt = Edit the file the check changed, add the one it made
  sed -i 2s/.*/Y/ a.txt
  echo tracked >build.out
INI
base=$(git rev-parse main)
drove run "$T/t.ini"
expect_eq "$rc" 1 "the check that fails fails the run"
mine='?? keep/old.txt ?? notes.txt '
expect_eq "$(cat "$CHECKLOG")" "x: $mine
bad: $mine
y: $mine
final: $mine" "every check starts on the merged commit, the user's files there"
expect_py 't["x"]["merge_status"] == "merged" and t["bad"]["merge_status"] == "check_failed" and t["y"]["merge_status"] == "merged"' \
    "x and y merged, bad's merge undone"
expect_has "$err" "final check passed on 'main'" "the final check passed"
expect_eq "$(git status --porcelain -uall | grep -v '^?? .drove/')" "?? keep/old.txt
?? notes.txt" "after the run the tree is main's commit and the user's files"
expect_eq "$(cat notes.txt keep/old.txt)" "mine
old" "the user's untracked files are as they were"
expect_eq "$(cat build.out)" tracked "build.out is y's, not the check's"
expect_eq "$(sed -n 2p a.txt)$(sed -n 6p a.txt)$(sed -n 2p b.txt)$(sed -n 2p c.txt)" \
    YX2 "a.txt is y's (the check's line is gone), b.txt x's, c.txt as before"
[ -e keep/new.txt ] && fail "the check's keep/new.txt is left" ||
    ok "the check's file in the user's directory is removed"
git merge-base --is-ancestor "$base" main && ok "main only moved forward" ||
    fail "main lost its history"

# a check on a tree where the build output is ignored: ignored files are
# not the merge's concern and stay
git reset -q --hard "$base"
printf 'build.out\n' >.git/info/exclude
: >"$CHECKLOG"
sed -i '/^\[task bad\]/,/^$/d' "$T/t.ini"
sed -i '/echo tracked >build.out/d' "$T/t.ini"
drove run "$T/t.ini"
expect_eq "$rc" 0 "no check fails: the run succeeds"
expect_eq "$(cat build.out)" output "an ignored file the check made stays"
expect_eq "$(git status --porcelain -uall | grep -v '^?? .drove/')" "?? keep/old.txt
?? notes.txt" "ignored output aside, the tree is main's commit"
finish
