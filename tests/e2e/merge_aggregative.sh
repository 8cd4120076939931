# aggregative: parts in declared order with headers, failed and empty
# parts, and a summary by a backend that keeps the parts.
. "$(dirname "$0")/lib.sh"

head='[backend sh]
type = exec
command = sh -c '"'"'read p; case $p in FAIL) exit 1 ;; EMPTY) ;; *) echo "$p" ;; esac'"'"'
'
printf '%s%s\n' "$head" '[task a]
prompt = alpha
[task b]
prompt = EMPTY
[task c]
prompt = gamma
[task r]
prompt = rep
replicas = 2
merge = aggregative
header = [{{name}} {{replica}}]
[task all]
inputs = c, b, a, r
merge = aggregative
header = ## {{name}}
separator = --\n' >a.ini
drove run a.ini
expect_eq "$rc" 0 "aggregative: run succeeds"
expect_eq "$(cat .drove/runs/last/tasks/r.out)" "[r 0]
rep
[r 1]
rep" "replicas: one part per replica"
expect_eq "$out" "## c
gamma
--
## b
--
## a
alpha
--
## r
[r 0]
rep
[r 1]
rep" "declared order, headers, separator; an empty part keeps its header"

# a failed input is left out when the run keeps going
printf '%s%s\n' "$head" '[task a]
prompt = alpha
[task b]
prompt = FAIL
[task all]
inputs = a, b
merge = aggregative' >f.ini
drove run f.ini -k
expect_eq "$rc" 1 "a failed input: the run fails"
expect_py 't["all"]["status"] == "skipped"' "a merge node waits for every input: skipped"

# a task whose replicas partly fail: the rest are aggregated
printf '%s\n' '[backend sh]
type = exec
command = sh -c '"'"'[ "$DROVE_REPLICA" = 1 ] && exit 1; echo "r$DROVE_REPLICA"'"'"'
[task r]
prompt = x
replicas = 3
merge = aggregative' >p.ini
drove run p.ini
expect_eq "$rc" 0 "partly failed replicas: merged"
expect_eq "$out" "r0
r2" "partly failed replicas: the good parts"

# summarize = BACKEND: the summary is the result, the parts are kept
cat >sum.sh <<'SH'
cat >"$1"
echo "summary of $(grep -c '^## ' "$1") parts"
SH
printf '%s%s\n' "$head" "[drove]
backend = sh
[backend sum]
type = exec
command = sh $T/sum.sh $T/seen
[task a]
prompt = alpha
[task b]
prompt = beta
[task all]
inputs = a, b
merge = aggregative
header = ## {{name}}
summarize = sum
summarize_prompt = Boil these down.
output = out/all.md" >s.ini
drove run s.ini
expect_eq "$rc" 0 "summarize: run succeeds"
expect_eq "$out" "summary of 2 parts" "summarize: the summary is the result"
expect_eq "$(cat out/all.md)" "summary of 2 parts" "summarize: to output"
expect_eq "$(cat seen)" "Boil these down.

## a
alpha
## b
beta" "summarize: the backend saw the prompt and every part"
expect_eq "$(cat .drove/runs/last/tasks/all.merge/parts.md)" "## a
alpha
## b
beta" "summarize: the parts are kept"

# a summariser that fails fails the task with its reason
sed -i "s|command = sh $T/sum.sh $T/seen|command = sh -c 'echo no credit >\&2; exit 4'|" s.ini
drove run s.ini
expect_eq "$rc" 1 "summarize fails: exit 1"
expect_has "$err" "aggregative merge: summarize: backend 'sum' failed: command 'sh' exited with status 4: no credit" "summarize fails: reason"

# load errors
printf '%s%s\n' "$head" '[task a]
prompt = alpha
[task all]
inputs = a
summarize = nosuch' >bad.ini
drove run bad.ini
expect_eq "$rc" 2 "unknown summarize backend: exit 2"
expect_has "$err" "bad.ini:8: task 'all': unknown backend 'nosuch'" "unknown summarize backend: message"
printf '%s%s\n' "$head" '[task a]
prompt = alpha
[task all]
inputs = a
summarize_prompt = Short.' >bad.ini
drove run bad.ini
expect_eq "$rc" 2 "summarize_prompt alone: exit 2"
expect_has "$err" "bad.ini:8: task 'all': summarize_prompt without summarize = BACKEND" "summarize_prompt alone: message"
finish
