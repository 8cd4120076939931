# Shared helpers for end-to-end tests: sourced, not run.
# Each test runs in its own temp directory, removed on exit.
#
# Reporting, the same in every e2e script (lib/http.bash and lib/llm.bash
# source this file):
#   ok WHAT     one passed check: prints "ok: WHAT".
#   fail WHAT   one failed check: prints "FAIL: WHAT", counts it and goes
#               on, so one run reports every failed check.  The test fails
#               at finish, or at exit if the script ends without finish;
#               a fail in a subshell counts too.
#   die WHAT    a broken precondition (a server that did not start, a file
#               that cannot be made): prints "FAIL: WHAT" and ends the test
#               at once with status 1.
#   skip WHY    ends the test as skipped (status 77).
#   finish      ends the test: status 1 if any check failed, else 0.
set -u
: "${DROVE:?DROVE must name the drove binary}"
ROOT=${DROVE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d "${TMPDIR:-/tmp}/drove-e2e.XXXXXX")
cleanup_hooks=()
cleanup() {
	local st=$? h
	for h in "${cleanup_hooks[@]}"; do eval "$h"; done
	# a failed check fails the test however the script ended
	if [ -s "$T/.failed" ] && { [ "$st" = 0 ] || [ "$st" = 77 ]; }; then
		echo "FAIL: $(wc -l <"$T/.failed") failed checks" >&2
		st=1
	fi
	rm -rf "$T"
	exit "$st"
}
trap cleanup EXIT
cd "$T"
nfail=0

fail() {
	echo "FAIL: $*" >&2
	nfail=$((nfail + 1))
	echo "$*" >>"$T/.failed"
}
die() { fail "$@"; exit 1; }
skip() { echo "skip: $*" >&2; exit 77; }
need() { command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed"; }
ok() { echo "ok: $*"; }
# expect_eq GOT WANT WHAT
expect_eq() {
	if [ "$1" = "$2" ]; then ok "$3"; else fail "$3: got '$1', want '$2'"; fi
}
# expect_has HAYSTACK NEEDLE WHAT
expect_has() {
	case "$1" in
	*"$2"*) ok "$3" ;;
	*) fail "$3: '$2' not in: $1" ;;
	esac
}
expect_not_has() {
	case "$1" in
	*"$2"*) fail "$3: '$2' unexpectedly in: $1" ;;
	*) ok "$3" ;;
	esac
}
# expect_py_many [-f FILE] EXPR WHAT [EXPR WHAT...]: each EXPR a python
# expression over s (FILE, by default the last run's summary.json) and t
# (its tasks), all judged by one python3; one ok or FAIL line for each
# WHAT, in order.  An EXPR that raises is false.
expect_py_many() {
	local f=.drove/runs/last/summary.json i r=() a
	if [ "$1" = -f ]; then
		f=$2
		shift 2
	fi
	mapfile -t r < <(python3 - "$f" "$@" <<'PY'
import json, sys
_f, _a = sys.argv[1], sys.argv[2:]
s = json.load(open(_f))
t = s.get("tasks", {})
_bad = 0
for _i in range(0, len(_a) - 1, 2):
    sys.argv = ["-", _f, _a[_i]]    # as for one python3 per check
    try:
        _ok = bool(eval(_a[_i]))
    except Exception as _e:
        print("%s: %s: %s" % (_a[_i + 1], type(_e).__name__, _e),
              file=sys.stderr)
        _ok = False
    print(1 if _ok else 0, flush=True)
    _bad += not _ok
if _bad:
    print("summary:", json.dumps(s, indent=1)[:3000], file=sys.stderr)
PY
)
	a=("$@")
	for ((i = 0; i + 1 < ${#a[@]}; i += 2)); do
		if [ "${r[i / 2]:-}" = 1 ]; then
			ok "${a[i + 1]}"
		else
			fail "${a[i + 1]}: (${a[i]}) is false"
		fi
	done
}
# expect_py EXPR WHAT [FILE]: one check of expect_py_many
expect_py() { expect_py_many -f "${3:-.drove/runs/last/summary.json}" "$1" "$2"; }
# wait_for COND [SECONDS]: evaluates the shell condition COND every 0.05 s
# until it holds (status 0) or SECONDS (default 10) have passed (status 1).
# For letting something happen (a file, a journal line, a process state)
# instead of sleeping a fixed time.  Bounded in time and in count.
wait_for() {
	local cond=$1 us i n end
	us=$(awk -v s="${2:-10}" 'BEGIN { print int(s * 1000000) }')
	n=$((us / 50000 + 1))
	end=$((${EPOCHREALTIME/./} + us))
	for ((i = 0; i < n; i++)); do
		eval "$cond" && return 0
		[ "${EPOCHREALTIME/./}" -ge "$end" ] && break
		sleep 0.05
	done
	eval "$cond"
}
# holds_for COND SECONDS: COND stays true for SECONDS (checked every
# 0.05 s); status 1 as soon as it does not.  For checking that something
# does not happen too early.
holds_for() {
	local cond=$1 us i n end
	us=$(awk -v s="$2" 'BEGIN { print int(s * 1000000) }')
	n=$((us / 50000 + 1))
	end=$((${EPOCHREALTIME/./} + us))
	for ((i = 0; i < n; i++)); do
		eval "$cond" || return 1
		[ "${EPOCHREALTIME/./}" -ge "$end" ] && return 0
		sleep 0.05
	done
	eval "$cond"
}
# journal_has TASK STATUS: drove's journal of the last run records TASK
# as finished with STATUS
journal_has() {
	grep -q "\"ev\":\"task\",\"task\":\"$1\",\"status\":\"$2\"" \
	    .drove/runs/last/journal.jsonl 2>/dev/null
}
# run drove, capturing stdout, stderr and status into $out $err $rc
drove() {
	"$DROVE" "$@" >"$T/.out" 2>"$T/.err"
	rc=$?
	out=$(cat "$T/.out")
	err=$(cat "$T/.err")
}
finish() {
	if [ -s "$T/.failed" ]; then
		echo "--- last stderr:" >&2
		cat "$T/.err" >&2 2>/dev/null
		exit 1
	fi
	exit 0
}
# git_repo DIR FILE...: a git repository on branch main with one commit
# holding FILE... (each five lines, 1 to 5).  git runs with no global or
# system configuration and user.useConfigOnly, so nobody has an identity:
# drove's own commits must work without one, as on a fresh CI machine.
# Skips the test when git is missing.
git_repo() {
	command -v git >/dev/null 2>&1 || { echo "skip: no git"; exit 77; }
	local dir=$1 f
	shift
	export HOME="$T/home" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
	unset GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME \
	    GIT_COMMITTER_EMAIL EMAIL GIT_DIR GIT_WORK_TREE
	mkdir -p "$HOME" "$dir"
	git -C "$dir" init -q
	git -C "$dir" symbolic-ref HEAD refs/heads/main
	git -C "$dir" config user.useConfigOnly true
	for f in "$@"; do printf '1\n2\n3\n4\n5\n' >"$dir/$f"; done
	git -C "$dir" add -A
	git -C "$dir" -c user.name=test -c user.email=test@example.com \
	    commit -q -m init
}
# A scripted agent for git tests: the prompt's first line is its title,
# the rest is shell run with -e in the agent's working directory.  Each run
# appends "TASK PID PWD DROVE_WORKTREE" to $RUNLOG.
write_git_agent() {
	cat >"$T/agent.sh" <<'SH'
echo "$DROVE_TASK $$ $(pwd) ${DROVE_WORKTREE:-}" >>"$RUNLOG"
sed 1d | sh -e
SH
	export RUNLOG="$T/runlog"
	: >"$RUNLOG"
}
# runs TASK: how many times TASK's agent started
runs() { awk -v t="$1" '$1 == t' "$RUNLOG" | wc -l | tr -d ' '; }
