# Shared by the API backend tests: a loopback HTTPS mock of the Anthropic
# and OpenAI APIs (tests/mock/llm_mock.py) with a certificate made now,
# and helpers over its stats and request log.  Source it.
. "$DROVE_ROOT/tests/e2e/lib/http.bash"

KEY=sk-mock-$RANDOM$RANDOM-secret
export MOCK_ANTHROPIC_KEY=$KEY MOCK_OPENAI_KEY=$KEY
make_ca root "/CN=drove llm test root"
make_leaf llm root "$LOCAL_SAN"

# start_llm NAME [mock options...]: sets MOCK_PORT; stats in $T/NAME.stats,
# request log in $T/NAME.log
start_llm() {
	local n=$1
	shift
	start_mock "$n" llm_mock.py --cert "$T/llm.pem" --key "$T/llm.key" \
	    --stats "$T/$n.stats" --log "$T/$n.log" --api-key "$KEY" "$@"
}

# backends PORT [extra lines for both]: an anthropic and an openai backend
backends() {
	cat <<INI
[backend claude]
type = anthropic
model = claude-mock
api_key_env = MOCK_ANTHROPIC_KEY
base_url = https://127.0.0.1:$1
ca_file = $T/root.pem
price_in = 3
price_out = 15
${2:-}

[backend gpt]
type = openai
model = gpt-mock
api_key_env = MOCK_OPENAI_KEY
base_url = https://127.0.0.1:$1/v1
ca_file = $T/root.pem
price_in = 0.5
price_out = 1.5
${2:-}
INI
}

# stat NAME KEY: a number from the mock's stats
stat() {
	python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/$1.stats" "$2"
}

# check_many [-m NAME] PYEXPR WHAT [PYEXPR WHAT...]: each PYEXPR over s
# (summary.json), t (its tasks), ev (the run's journal events), log (mock
# NAME's request log, a list) and st (its stats), NAME by default "mock",
# all judged by one python3; one ok or FAIL line for each WHAT, in order.
# A PYEXPR that raises is false.
check_many() {
	local name=mock i r=() a
	if [ "$1" = -m ]; then
		name=$2
		shift 2
	fi
	mapfile -t r < <(python3 - "$T" "$name" "$@" <<'PY'
import json, sys, glob
T, name, _a = sys.argv[1], sys.argv[2], sys.argv[3:]
try:
    s = json.load(open(".drove/runs/last/summary.json"))
except FileNotFoundError:
    s = {}
t = s.get("tasks", {})
try:
    ev = [json.loads(l) for l in open(".drove/runs/last/journal.jsonl")]
except (FileNotFoundError, ValueError):
    ev = []
try:
    log = [json.loads(l) for l in open(T + "/" + name + ".log")]
except FileNotFoundError:
    log = []
st = json.load(open(T + "/" + name + ".stats"))
_bad = 0
for _i in range(0, len(_a) - 1, 2):
    sys.argv = ["-", _a[_i], T, name]    # as for one python3 per check
    try:
        _ok = bool(eval(_a[_i]))
    except Exception as _e:
        print("%s: %s: %s" % (_a[_i + 1], type(_e).__name__, _e),
              file=sys.stderr)
        _ok = False
    print(1 if _ok else 0, flush=True)
    _bad += not _ok
if _bad:
    print(json.dumps(s, indent=1)[:4000], file=sys.stderr)
    print(json.dumps(st), file=sys.stderr)
    print("\n".join(json.dumps(e) for e in ev)[:4000], file=sys.stderr)
PY
)
	a=("$@")
	for ((i = 0; i + 1 < ${#a[@]}; i += 2)); do
		if [ "${r[i / 2]:-}" = 1 ]; then
			ok "${a[i + 1]}"
		else
			fail "${a[i + 1]}: ${a[i]}"
		fi
	done
}
# check PYEXPR WHAT [NAME]: one check of check_many
check() { check_many -m "${3:-mock}" "$1" "$2"; }

# run drove in $T, capturing stdout, stderr and the exit status
drove() {
	(cd "$T" && "$DROVE" "$@") >"$T/.out" 2>"$T/.err"
	rc=$?
	out=$(cat "$T/.out")
	err=$(cat "$T/.err")
}
cd "$T"
