# A prompt reaches the agent byte for byte as written, or the file is
# refused with its line: <<END blocks, continuation lines that would lose
# text, the {{{{ escape (inline and in prompt_file), and task names too
# long to name the task's files.
. "$(dirname "$0")/lib.sh"

head='[backend sh]
type = exec
command = sh -c "cat >got-$DROVE_TASK; echo out-$DROVE_TASK"
'

# --- a <<END block keeps every byte --------------------------------------
printf '%s' '# Heading
  #include <stdio.h>
; not a comment

	[brackets]
key = value
   END here is text
trailing   ' >want-block
{
	printf '%s[task block]\nprompt = <<END\n' "$head"
	cat want-block
	printf '\nEND\nsystem = s\n'
} >block.ini
drove run block.ini -q
expect_eq "$rc" 0 "<<END block: the run succeeds"
if cmp -s want-block got-block; then
	ok "<<END block: the agent got the prompt byte for byte"
else
	fail "<<END block: the agent got: $(od -c got-block | head -20)"
fi

# --- continuation lines that would lose text are refused ------------------
# case NAME WANT BODY
refused() {
	printf '%s%s\n' "$head" "$3" >lossy.ini
	rm -f got-*
	drove run lossy.ini
	expect_eq "$rc" 2 "$1: exit status 2"
	expect_has "$err" "$2" "$1: file:line and reason"
	expect_has "$err" "'<<END' block" "$1: says how to keep the text"
	expect_eq "$(ls got-* 2>/dev/null | wc -l | tr -d ' ')" 0 "$1: nothing ran"
}
refused indented-hash "lossy.ini:6: indented line starting with '#' after 'prompt'" '[task a]
prompt = Write a C file:
  #include <stdio.h>
  int main(void) { return 0; }'
refused indented-semicolon "lossy.ini:6: indented line starting with ';'" '[task a]
prompt = x
    ; keep me'
refused blank-line "lossy.ini:7: blank line inside the multi-line value of 'prompt'" '[task a]
prompt = first paragraph
  still first

  second paragraph'
refused indentation "lossy.ini:7: line indented differently from line 6" '[task a]
prompt = steps:
  - one
      - one point one'

# the same text as a block runs, and keeps the indentation
printf '%s[task a]\nprompt = <<END\nsteps:\n  - one\n      - one.1\n\n  # done\nEND\n' \
    "$head" >fixed.ini
drove run fixed.ini -q
expect_eq "$rc" 0 "the refused text as a block runs"
expect_eq "$(cat got-a)" "$(printf 'steps:\n  - one\n      - one.1\n\n  # done')" \
    "the block keeps indentation, blank line and '#'"

# --- {{{{ is a literal {{, inline and in prompt_file ----------------------
printf 'deploy with ${{{{ secrets.TOKEN }} after {{a}}\n' >p.txt
printf '%s[task a]\nprompt = A\n[task gha]\nprompt = run: ${{{{ secrets.TOKEN }} {{{{ x }}\n  then {{ a }}\n[task file]\nprompt_file = p.txt\n' \
    "$head" >esc.ini
drove run esc.ini -q
expect_eq "$rc" 0 "escaped braces: the run succeeds"
expect_eq "$(cat got-gha)" "$(printf 'run: ${{ secrets.TOKEN }} {{ x }}\nthen out-a')" \
    "inline: {{{{ reaches the agent as {{, {{a}} is replaced"
expect_eq "$(cat got-file)" 'deploy with ${{ secrets.TOKEN }} after out-a' \
    "prompt_file: {{{{ reaches the agent as {{"
drove graph esc.ini
expect_has "$out" "a -> gha  (reference)" "graph: the reference is an edge"
expect_not_has "$out" "secrets" "graph: the escaped braces are no edge"
# unescaped, it is a reference to a task that does not exist
printf '%s[task gha]\nprompt = run: ${{ secrets.TOKEN }}\n' "$head" >noesc.ini
drove run noesc.ini
expect_eq "$rc" 2 "unescaped {{ secrets.X }}: refused"
expect_has "$err" "noesc.ini:5: task 'gha' depends on 'secrets.TOKEN', which does not exist" \
    "unescaped: file:line"
expect_has "$err" "for a literal {{ write {{{{" "unescaped: the hint names the escape"

# --- a task name too long for its files is refused at load ---------------
long=$(printf 'n%.0s' $(seq 1 201))
printf '%s\n[task %s]\nprompt = x\n' "$head" "$long" >long.ini
nruns=$(ls .drove/runs | wc -l)
drove run long.ini
expect_eq "$rc" 2 "long task name: exit status 2"
expect_has "$err" "long.ini:5: task 'nnnn" "long task name: file:line"
expect_has "$err" "name too long" "long task name: the reason"
expect_eq "$(ls .drove/runs | wc -l)" "$nruns" \
    "long task name: no run was started"
ok200=$(printf 'n%.0s' $(seq 1 200))
printf '%s\n[task %s]\nprompt = x\nreplicas = 2\n' "$head" "$ok200" >ok.ini
drove run ok.ini -q
expect_eq "$rc" 0 "a 200-byte task name runs, with replicas"

finish
