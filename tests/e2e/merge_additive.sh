# additive: every source writes its own file; two sources declaring one
# path is a load error, and a task never writes another task's file.
. "$(dirname "$0")/lib.sh"

head='[backend sh]
type = exec
command = sh -c '"'"'touch ran-$DROVE_TASK; [ "$DROVE_REPLICA" = 2 ] && exit 1; echo "$DROVE_TASK $DROVE_REPLICA"'"'"'
'
load_error() {	# WHAT EXPECTED INI-BODY
	printf '%s%s\n' "$head" "$3" >bad.ini
	rm -f ran-*
	drove run bad.ini
	expect_eq "$rc" 2 "$1: exit 2"
	expect_has "$err" "$2" "$1: message"
	expect_eq "$(ls ran-* 2>/dev/null | wc -l)" 0 "$1: nothing ran"
}
load_error "replicas share one file" \
    "bad.ini:7: task 'r': output 'out/r.txt' would be written by replicas 0 and 1 (put {{replica}} in output)" '[task r]
prompt = x
replicas = 3
output = out/{{name}}.txt'
load_error "merge node inputs share one file" \
    "bad.ini:11: task 'n': output 'out/all.txt' would be written for inputs 'a' and 'b' (put {{name}} in output)" '[task a]
prompt = x
[task b]
prompt = y
[task n]
inputs = a, b
merge = additive
output = out/all.txt'
load_error "a replica's file is another task's" \
    "bad.ini:10: task 'r': output 'out/1.txt' belongs to task 'one'" '[task one]
prompt = x
output = out/1.txt
[task r]
prompt = y
replicas = 2
output = out/{{replica}}.txt'
load_error "{{name}} collides with a declared file" \
    "bad.ini:9: task 'b': output 'a.txt' belongs to task 'a'" '[task a]
prompt = x
output = {{name}}.txt
[task b]
prompt = y
output = a.txt'
load_error "merge node input file is its source's" \
    "bad.ini:12: task 'n': output 'out/a.txt' belongs to task 'a'" '[task a]
prompt = x
output = out/{{name}}.txt
[task b]
prompt = y
[task n]
inputs = a, b
merge = additive
output = out/{{name}}.txt'

# replicas each to their own file; a failed replica writes nothing and
# the others still land
printf '%s%s\n' "$head" '[task r]
prompt = x
replicas = 4
output = out/{{name}}-{{replica}}.txt' >ok.ini
drove run ok.ini
expect_eq "$rc" 0 "a failed replica does not fail the task"
expect_eq "$(cat out/r-0.txt out/r-1.txt out/r-3.txt | tr '\n' ,)" "r 0,r 1,r 3," "each replica's own file"
test -e out/r-2.txt && fail "the failed replica wrote nothing" || ok "the failed replica wrote nothing"

# a merge node writes each input to a file of its own
printf '%s%s\n' "$head" '[task a]
prompt = x
[task b]
prompt = y
[task n]
inputs = a, b
merge = additive
output = copies/{{name}}.txt' >node.ini
drove run node.ini
expect_eq "$rc" 0 "additive merge node runs"
expect_eq "$(cat copies/a.txt copies/b.txt | tr '\n' ,)" "a 0,b 0," "each input to its own file"
expect_eq "$out" "a 0
b 0" "the merged result is the parts in order"
finish
