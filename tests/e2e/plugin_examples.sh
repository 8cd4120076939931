# The example plugins of plugins/examples/ build with nothing but the
# header, as docs/PLUGINS.md says, and the example graph runs through them:
# the backend's answers, the merge's pick, its note, its check and its
# conflict.
. "$(dirname "$0")/lib.sh"

if ldd "$DROVE" 2>&1 | grep -q 'not a dynamic'; then
	skip "static binary cannot load plugins"
fi
need cc
EX=$ROOT/plugins/examples
mkdir ex
# exactly the documented command, then once more as strict as the core
for n in backend_echo merge_longest; do
	(cd "$ROOT" && cc -shared -fPIC -I include -o "$T/ex/$n.so" \
	    "plugins/examples/$n.c") || die "cannot build $n as documented"
	cc -std=c11 -Wall -Wextra -Werror -fvisibility=hidden -shared -fPIC \
	    -I "$ROOT/include" -o "$T/strict.so" "$EX/$n.c" ||
	    fail "$n does not build with -Wall -Wextra -Werror"
done

drove run "$EX/example.ini" --plugin-dir ex --run-dir runs
expect_eq "$rc" 0 "the example graph runs"
expect_eq "$(cat runs/last/tasks/short.out)" "draft: a title" "echo answers"
expect_eq "$(cat runs/last/tasks/pick.out)" \
    "draft: a title, a subtitle and a first paragraph" "the longest wins"
expect_eq "$out" "draft: a title, a subtitle and a first paragraph" \
    "the sink's result on stdout"
expect_py 't["pick"]["longest"]["task"] == "long" and t["pick"]["longest"]["bytes"] == 48' \
    "the merge's note in summary.json" runs/last/summary.json
expect_py 'min(t[n]["end_s"] for n in ("short", "medium", "long")) > max(t[n]["start_s"] for n in ("short", "medium", "long"))' \
    "the three drafts overlap" runs/last/summary.json

# the merge's check: a bad key value stops the run with file:line
sed 's/^min_len = 10/min_len = ten/' "$EX/example.ini" >bad.ini
drove run bad.ini --plugin-dir ex --run-dir runs2
expect_eq "$rc" 2 "check refuses a bad min_len"
expect_has "$err" "bad.ini:$(grep -n '^min_len' bad.ini | cut -d: -f1): task 'pick': bad value 'ten' for 'min_len'" \
    "with file:line"

# a conflict: the longest is under min_len
sed 's/^min_len = 10/min_len = 1000/' "$EX/example.ini" >conflict.ini
drove run conflict.ini --plugin-dir ex --run-dir runs3
expect_eq "$rc" 1 "a conflict fails the task"
expect_has "$err" "under min_len 1000" "with the merge's reason"

# the backend's own check of its section
sed 's/^delay_ms = 300/delay_ms = soon/' "$EX/example.ini" >delay.ini
drove run delay.ini --plugin-dir ex --run-dir runs4
expect_eq "$rc" 2 "open refuses a bad delay_ms"
expect_has "$err" "bad value 'soon' for 'delay_ms'" "with its reason"
# docs/PLUGINS.md shows the examples in full: exactly these files
python3 - "$ROOT" <<'PY' && ok "docs/PLUGINS.md holds the examples as they are" ||
import re, sys
root = sys.argv[1]
doc = open(root + "/docs/PLUGINS.md").read()
inc = re.findall(r"<!-- include (\S+) -->\n```\w*\n(.*?)```", doc, re.S)
names = sorted(f for f, _ in inc)
want = ["plugins/examples/backend_echo.c", "plugins/examples/example.ini",
        "plugins/examples/merge_longest.c"]
if names != want:
    sys.exit("included: %s" % names)
for f, text in inc:
    if open(root + "/" + f).read() != text:
        sys.exit("docs/PLUGINS.md differs from " + f)
PY
    fail "docs/PLUGINS.md differs from plugins/examples/"
finish
