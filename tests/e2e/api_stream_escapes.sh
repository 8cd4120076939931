#!/usr/bin/env bash
# Answers whose text needs every JSON string escape (quotes, backslashes,
# \n, \t, control bytes as \u00XX, non-ASCII as \uXXXX, emoji as surrogate
# pairs, U+2028) come out byte for byte from both backends, whatever the
# deltas and however the stream is cut into reads; so do the events the
# backends read without jansson and those they leave to it (thinking and
# tool blocks, an unknown event, OpenAI's usage chunk and null choices).
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

start_llm mock
P=$MOCK_PORT
python3 - "$T/reply.txt" <<'PY'
import sys
s = ('He said "hi" \\ back\\slash /slash\n\ttab\n'
     '\x01\x07\x1f\x7f caf\u00e9 na\u00efve \u4e2d\u6587 \u20ac '
     '\U0001F600\U0001F680 \u2028\u2029 \ufeff \\u0041 "\\"" end\n')
open(sys.argv[1], "w", encoding="utf-8", newline="").write(s * 3)
PY
{
	backends "$P"
	n=0
	for be in claude gpt; do
		for c in 1 5 64 4096; do
			for d in 1 3 17; do
				n=$((n + 1))
				cat <<INI
[task t$n]
backend = $be
prompt = esc $n [[reply_file=$T/reply.txt chunk=$c delta=$d]]
INI
			done
		done
	done
	cat <<INI
[task extras]
backend = claude
prompt = x [[thinking tool unknown blocks=3 chunk=2 reply_file=$T/reply.txt]]
[task nullc]
backend = gpt
prompt = x [[nullchoices cache_read=3 chunk=3 reply_file=$T/reply.txt]]
INI
} >esc.ini
drove run esc.ini -j 30
[ "$rc" = 0 ] || fail "escapes: exit $rc: $err"
bad=0
for f in .drove/runs/last/tasks/t*.out .drove/runs/last/tasks/extras.out \
    .drove/runs/last/tasks/nullc.out; do
	cmp -s "$f" "$T/reply.txt" || { bad=1; echo "differs: $f"; }
done
[ $bad = 0 ] && echo "ok: 26 answers byte for byte" || fail "answers differ"
check_many \
    't["nullc"]["cache_read"] == 3 and t["extras"]["status"] == "ok"' \
    "usage and extra blocks still read"
