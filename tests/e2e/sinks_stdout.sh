# What a run prints on stdout: the sinks' outputs, a "==> name <==" header
# before each when there are several sinks, and nothing at all for a sink
# whose output is empty.
. "$(dirname "$0")/lib.sh"

# 2,000 sinks with empty output: no headers, empty stdout
{
	echo '[backend sh]'
	echo 'type = exec'
	echo "command = sh -c 'cat >/dev/null'"
	echo '[drove]'
	echo 'jobs = 50'
	for i in $(seq 1 2000); do printf '[task t%s]\nprompt = p\n' "$i"; done
} >empty.ini
drove run empty.ini -q
expect_eq "$rc" 0 "2,000 empty sinks: the run succeeds"
expect_eq "$(wc -c <"$T/.out" | tr -d ' ')" 0 "2,000 empty sinks: nothing on stdout"
expect_not_has "$out" "==>" "2,000 empty sinks: no headers"

# one sink with output among several: printed with its header
rm -rf .drove
cat >lone.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'cat >/dev/null; [ "$DROVE_TASK" = b ] && echo hello || :'
[task a]
prompt = p
[task b]
prompt = p
[task c]
prompt = p
INI
drove run lone.ini -q
expect_eq "$rc" 0 "lone output: the run succeeds"
expect_eq "$out" "$(printf '==> b <==\nhello')" "lone output: with its header, no empty ones"

# a single sink: its output without a header
rm -rf .drove
printf '[backend sh]\ntype = exec\ncommand = echo one\n[task only]\nprompt = p\n' >one.ini
drove run one.ini -q
expect_eq "$rc" 0 "one sink: the run succeeds"
expect_eq "$out" "one" "one sink: no header"

finish
