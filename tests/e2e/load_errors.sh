# Every bad input is one line naming file and line, exit status 2, and
# nothing runs.
. "$(dirname "$0")/lib.sh"

head='[backend sh]
type = exec
command = sh -c "touch ran-$DROVE_TASK; cat"
'
# case NAME EXPECTED-SUBSTRING INI-BODY
check() {
	printf '%s%s\n' "$head" "$3" >bad.ini
	rm -f ran-*
	drove run bad.ini
	expect_eq "$rc" 2 "$1: exit status 2"
	expect_has "$err" "$2" "$1: message"
	expect_eq "$(printf '%s\n' "$err" | wc -l)" 1 "$1: one line"
	expect_eq "$(ls ran-* 2>/dev/null | wc -l)" 0 "$1: nothing ran"
}
check cycle "bad.ini:5: cycle: a -> b -> a" '[task a]
after = b
prompt = x
[task b]
after = a
prompt = y'
check unknown-dep "bad.ini:6: task 'a' depends on 'c', which does not exist" '[task a]
prompt = x
after = c'
check unknown-ref "'nope'" '[task a]
prompt = use {{nope}}'
check unknown-backend "bad.ini:5: task 'docs': unknown backend 'gtp4'" '[task docs]
backend = gtp4
prompt = x'
check duplicate-task "bad.ini:6: duplicate task 'a' (first declared on line 4)" '[task a]
prompt = x
[task a]
prompt = y'
check unknown-key "bad.ini:5: task 'a': unknown key 'promt'" '[task a]
promt = x'
check bad-number "bad.ini:5: task 'a': bad value 'many' for 'retries'" '[task a]
retries = many
prompt = x'
check empty-prompt "task 'a': empty prompt" '[task a]
prompt =   '
check malformed-header "bad.ini:4:" '[task a
prompt = x'
check unknown-section "bad.ini:4:" '[tsk a]
prompt = x'
printf '[backend sh]\ntype = nosuch\n[task a]\nprompt = x\n' >bad.ini
drove run bad.ini
expect_eq "$rc" 2 "unknown backend type: exit 2"
expect_has "$err" "bad.ini:2: backend 'sh': unknown type 'nosuch'" "unknown backend type: message"
check bad-jobs "bad.ini:5:" '[drove]
jobs = lots
[task a]
prompt = x'
check duplicate-output "task 'b': output" '[task a]
prompt = x
output = same.txt
[task b]
prompt = y
output = same.txt'

drove run does-not-exist.ini
expect_eq "$rc" 2 "missing file: exit 2"
expect_has "$err" "does-not-exist.ini" "missing file named"

drove run
expect_eq "$rc" 2 "no file: usage error"
drove frobnicate
expect_eq "$rc" 2 "unknown command: exit 2"
drove run x.ini -j -1
expect_eq "$rc" 2 "bad -j: exit 2"
finish
