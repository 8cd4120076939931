# drove plan loads only the keys its prompt asks for; every prompt_file is
# a regular file of at most 16 MiB; prompt_file and output outside the
# working directory (and the task file's directory) need
# [drove] allow_outside = true, in planned and hand-written files alike.
. "$(dirname "$0")/lib.sh"

mkdir work outside
secret="secret-$$-$RANDOM"
printf '%s\n' "$secret" >outside/secret.txt
cd work

# --- drove plan: a hostile answer ---------------------------------------
cat >agent.sh <<'SH'
n=$(( $(cat count 2>/dev/null || echo 0) + 1 ))
echo "$n" >count
cat >"prompt.$n"
cat "answer.$n"
SH
cat >drove.ini <<'INI'
[backend sh]
type = exec
command = sh agent.sh
INI
printf '[task leak]\nprompt_file = %s\n' "$T/outside/secret.txt" >answer.1
printf '[task a]\nprompt = x\noutput = %s/outside/owned\n' "$T" >answer.2
drove plan "a goal" -o plan.ini
expect_eq "$rc" 1 "plan: two hostile answers fail"
expect_eq "$(cat count)" 2 "plan: the backend was asked twice"
expect_has "$(cat prompt.2)" "plan.ini:2: task 'leak': forbidden key 'prompt_file' (a planned task may use only prompt, after and writes)" \
    "plan: prompt_file in an answer is refused with file:line"
expect_has "$err" "plan.ini:3: task 'a': forbidden key 'output'" \
    "plan: output in an answer is refused with file:line"
expect_not_has "$(cat prompt.*)" "$secret" "plan: the secret never reached the backend"
[ -e "$T/outside/owned" ] && fail "plan: a file was written outside" || ok "plan: nothing written outside"
[ -e plan.ini ] && fail "plan: a refused plan was written" || ok "plan: no plan.ini"
rm -f count prompt.*
printf '[task z]\nprompt_file = /dev/zero\n' >answer.1
printf '[task a]\nbackend = sh\nprompt = x\n' >answer.2
drove plan "a goal" -o plan.ini
expect_eq "$rc" 1 "plan: /dev/zero and backend = are refused too"
expect_has "$(cat prompt.2)" "forbidden key 'prompt_file'" "plan: /dev/zero not read"
expect_has "$err" "forbidden key 'backend'" "plan: backend = refused"
rm -f count prompt.* drove.ini

# --- prompt_file: regular files of at most 16 MiB -------------------------
head='[backend sh]
type = exec
command = sh -c "cat >got-$DROVE_TASK"
'
# check NAME WANT BODY: refused at load, exit 2, nothing ran
check() {
	printf '%s%s\n' "$head" "$3" >t.ini
	rm -f got-*
	drove run t.ini
	expect_eq "$rc" 2 "$1: exit status 2"
	expect_has "$err" "$2" "$1: message with file:line"
	expect_eq "$(ls got-* 2>/dev/null | wc -l | tr -d ' ')" 0 "$1: nothing ran"
}
check dev-zero "t.ini:7: task 'z': prompt_file '/dev/zero' is not a regular file" '[drove]
allow_outside = true
[task z]
prompt_file = /dev/zero'
check dev-zero-outside "t.ini:5: task 'z': prompt_file '/dev/zero' is outside" '[task z]
prompt_file = /dev/zero'
mkfifo fifo
check fifo "t.ini:5: task 'f': prompt_file 'fifo' is not a regular file" '[task f]
prompt_file = fifo'
mkdir dir
check directory "prompt_file 'dir' is not a regular file" '[task d]
prompt_file = dir'
truncate -s $((16 * 1024 * 1024 + 1)) big.txt
check too-big "t.ini:5: task 'b': prompt_file 'big.txt' is larger than 16 MiB" '[task b]
prompt_file = big.txt'
head -c $((16 * 1024 * 1024)) /dev/zero | tr '\0' p >max.txt
printf '%s[task m]\nprompt_file = max.txt\n' "$head" >t.ini
drove graph t.ini
expect_eq "$rc" 0 "a prompt file of exactly 16 MiB loads"
printf 'a\0b' >nul.txt
check nul-byte "t.ini:5: task 'n': prompt_file 'nul.txt' holds a NUL byte at offset 1" '[task n]
prompt_file = nul.txt'

# task files: a pipe is read, /dev/zero stops at the cap
drove graph /dev/zero
expect_eq "$rc" 2 "drove graph /dev/zero: refused"
expect_has "$err" "'/dev/zero' is larger than 16 MiB" "drove graph /dev/zero: the reason"
drove graph <(printf '%s[task p]\nprompt = piped\n' "$head")
expect_eq "$rc" 0 "a task file from a pipe loads"

# --- paths outside the working directory -----------------------------------
check outside-abs "t.ini:5: task 's': prompt_file '$T/outside/secret.txt' is outside the working directory" "[task s]
prompt_file = $T/outside/secret.txt"
check outside-rel "t.ini:5: task 's': prompt_file '../outside/secret.txt' is outside" '[task s]
prompt_file = ../outside/secret.txt'
ln -s "$T/outside/secret.txt" link.txt
check outside-link "prompt_file 'link.txt' is outside" '[task s]
prompt_file = link.txt'
check output-abs "t.ini:6: task 'o': output '$T/outside/owned' is outside the working directory" "[task o]
prompt = x
output = $T/outside/owned"
check output-dotdot "task 'o': output 'new/../../outside/owned' is outside" '[task o]
prompt = x
output = new/../../outside/owned'
ln -s "$T/outside" outlink
check output-link "task 'o': output 'outlink/{{name}}.md' is outside" '[task o]
prompt = x
output = outlink/{{name}}.md'
check output-replica "output 'out/../../outside/r{{replica}}' is outside" '[task o]
prompt = x
replicas = 2
output = out/../../outside/r{{replica}}'
[ -e "$T/outside/owned" ] && fail "nothing was written outside" || ok "nothing was written outside"
expect_has "$err" "set [drove] allow_outside = true" "the message names the way to allow it"

# inside: the working directory, and the task file's own directory
mkdir -p sub/prompts
printf 'from the file dir\n' >sub/prompts/p.txt
printf '%s[task in]\nprompt_file = prompts/p.txt\noutput = sub/res/{{name}}.txt\n' \
    "$head" >sub/t.ini
drove run sub/t.ini -q
expect_eq "$rc" 0 "prompt_file beside the task file and output below the working directory"
expect_eq "$(cat got-in)" "from the file dir" "the prompt file was read"

# allowed: [drove] allow_outside = true
printf '%s[drove]\nallow_outside = true\n[task s]\nprompt_file = %s\noutput = %s/outside/owned\n' \
    "$head" "$T/outside/secret.txt" "$T" >t.ini
drove run t.ini -q
expect_eq "$rc" 0 "allow_outside = true: the run succeeds"
expect_eq "$(cat got-s)" "$secret" "allow_outside: the prompt file outside was read"
[ -e "$T/outside/owned" ] && ok "allow_outside: the output outside was written" ||
    fail "allow_outside: no output outside"
printf '%s[drove]\nallow_outside = maybe\n[task s]\nprompt = x\n' "$head" >t.ini
drove run t.ini
expect_eq "$rc" 2 "allow_outside takes a boolean"
expect_has "$err" "t.ini:5: [drove]: bad value 'maybe' for 'allow_outside'" "allow_outside: file:line"

finish
