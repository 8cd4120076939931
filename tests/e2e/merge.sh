# additive writes each task's result to its own file; aggregative
# concatenates a merge node's inputs in declared order.
. "$(dirname "$0")/lib.sh"

cat >m.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'sleep 0.$((RANDOM % 3)); printf "%s says " "$DROVE_TASK"; cat'
[task one]
prompt = 1
output = out/{{name}}.txt
[task two]
prompt = 2
output = out/{{name}}.txt
[task three]
prompt = 3
[task all]
inputs = three, one, two
merge = aggregative
header = -- {{name}}
output = out/all.txt
INI
drove run m.ini
expect_eq "$rc" 0 "merge run succeeds"
expect_eq "$(cat out/one.txt)" "one says 1" "additive: one's own file"
expect_eq "$(cat out/two.txt)" "two says 2" "additive: two's own file"
expect_eq "$(cat out/all.txt)" "-- three
three says 3
-- one
one says 1
-- two
two says 2" "aggregative: declared order with headers"
expect_eq "$out" "$(cat out/all.txt)" "stdout carries the sink (the merge node)"
expect_py 't["all"]["status"] == "ok" and t["all"]["backend"] is None' "merge node in the summary"

# a task's result never overwrites another task's file
cat >clash.ini <<'INI'
[backend sh]
type = exec
command = cat
[task a]
prompt = A
output = mine.txt
[task b]
prompt = B
replicas = 2
output = mine.txt
INI
drove run clash.ini
expect_eq "$rc" 2 "two tasks declaring one output: load error"
expect_has "$err" "belongs to task 'a'" "the owner is named"

cat >rep.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'echo "replica $DROVE_REPLICA"'
[task r]
prompt = x
replicas = 3
output = reps/{{replica}}.txt
INI
drove run rep.ini
expect_eq "$rc" 0 "replicas run"
expect_eq "$(cat reps/0.txt reps/1.txt reps/2.txt | tr '\n' ,)" "replica 0,replica 1,replica 2," "additive: each replica to its own file"
expect_eq "$(cat .drove/runs/last/tasks/r.out | tr '\n' ,)" "replica 0,replica 1,replica 2," "merged result has the parts in order"
finish
