# Shared helpers for end-to-end tests: sourced, not run.
# Each test runs in its own temp directory, removed on exit.
set -u
: "${DROVE:?DROVE must name the drove binary}"
ROOT=${DROVE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d "${TMPDIR:-/tmp}/drove-e2e.XXXXXX")
cleanup_hooks=()
cleanup() {
	for h in "${cleanup_hooks[@]}"; do eval "$h"; done
	rm -rf "$T"
}
trap cleanup EXIT
cd "$T"
nfail=0

fail() { echo "FAIL: $*" >&2; nfail=$((nfail + 1)); }
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
# expect_py 'python expression over s (summary.json) and t (tasks)' WHAT
expect_py() {
	local f=${3:-.drove/runs/last/summary.json}
	if python3 - "$f" "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
t = s.get("tasks", {})
ok = eval(sys.argv[2])
if not ok:
    print("summary:", json.dumps(s, indent=1)[:3000], file=sys.stderr)
sys.exit(0 if ok else 1)
PY
	then ok "$2"; else fail "$2: ($1) is false"; fi
}
# run drove, capturing stdout, stderr and status into $out $err $rc
drove() {
	"$DROVE" "$@" >"$T/.out" 2>"$T/.err"
	rc=$?
	out=$(cat "$T/.out")
	err=$(cat "$T/.err")
}
finish() {
	if [ "$nfail" -gt 0 ]; then
		echo "--- last stderr:" >&2
		cat "$T/.err" >&2 2>/dev/null
		exit 1
	fi
	exit 0
}
