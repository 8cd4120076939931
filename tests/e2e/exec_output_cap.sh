# The 64 MiB cap on an exec agent's output: an agent that writes more is
# stopped, its task fails (once, no retry) and the error says why.
. "$(dirname "$0")/lib.sh"

cat >big.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'cat >/dev/null; head -c 70000000 /dev/zero; sleep 30'
[task big]
prompt = p
retries = 2
INI
drove run big.ini
expect_eq "$rc" 1 "over the cap: the run fails"
expect_has "$err" "passed 64 MiB, the output cap: the command was stopped" \
    "over the cap: the error says so"
expect_py 't["big"]["status"] == "failed"' "over the cap: the task failed"
expect_py '"passed 64 MiB" in t["big"]["error"]' "over the cap: summary error"
expect_py 't["big"].get("attempts", 1) == 1' "over the cap: not retried"
expect_py 's["wall_s"] < 25' "over the cap: the agent was stopped, not waited for"

# exactly at the cap: kept whole
rm -rf .drove
cat >fits.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'cat >/dev/null; head -c 67108864 /dev/zero | tr "\0" x'
[task fits]
prompt = p
INI
drove run fits.ini -q
expect_eq "$rc" 0 "at the cap: the run succeeds"
expect_eq "$(wc -c <"$T/.out" | tr -d ' ')" 67108865 "at the cap: all 64 MiB (and a newline) on stdout"

finish
