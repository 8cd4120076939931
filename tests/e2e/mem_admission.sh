# mem = SIZE on an exec backend: a new agent starts only while the
# machine's available memory, less what running agents reserved, covers
# it; the rest wait for memory.  A bad size, mem on an API backend and
# more than the machine holds are load errors.
. "$(dirname "$0")/lib.sh"

avail=$(awk '/^MemAvailable:/ { printf "%.0f\n", $2 * 1024 }' /proc/meminfo)
total=$(awk '/^MemTotal:/ { printf "%.0f\n", $2 * 1024 }' /proc/meminfo)
[ -n "$avail" ] && [ -n "$total" ] || skip "no MemAvailable in /proc/meminfo"
# 40 % each: two fit, a third would need 120 % of what was available
# when the run began, more than the machine holds when that was over
# 5/6 of its memory (else memory freed elsewhere might let one more in)
mem=$((avail * 4 / 10))

# each agent records how many agents were in flight when it started
cat >mem.ini <<INI
[backend sh]
type = exec
command = sh -c 'mkdir -p live; touch live/\$DROVE_TASK; ls live | wc -l >>peaks; sleep 1; rm live/\$DROVE_TASK; echo ok'
mem = $mem
[task a]
backend = sh
prompt = x
[task b]
backend = sh
prompt = x
[task c]
backend = sh
prompt = x
[task d]
backend = sh
prompt = x
INI
drove run mem.ini --json -v
expect_eq "$rc" 0 "four tasks of 40 % of available memory each succeed"
expect_eq "$(sort -n peaks | tail -1)" 2 "at most two agents at once, and two reached"
expect_has "$err" "waiting for memory" "the view says a task waits for memory"
# the journal's starts and ends tell the same: never three at once
py=$(python3 - .drove/runs/last/journal.jsonl "$mem" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
pts = []
for e in ev:
    if e.get("event") == "task_start":
        pts.append((e["t"], 1))
    if e.get("event") == "task_done":
        pts.append((e["end_s"], -1))
cur = peak = 0
for _, d in sorted(pts, key=lambda p: (p[0], p[1])):
    cur += d
    peak = max(peak, cur)
waits = [e for e in ev if e.get("event") == "task_wait"]
print(peak, len(pts), sorted(set(e["reason"] for e in waits)),
    all(e.get("mem") == int(sys.argv[2]) and 0 <= e.get("mem_free", -1) <
    e["mem"] for e in waits))
PY
)
expect_eq "$py" "2 8 ['memory'] True" "journal: at most two running, waits for memory with mem and mem_free"
expect_has "$out" '"event":"task_wait","task":"c","replica":0,"reason":"memory"' "--json: c waits for memory"

# sizes: bytes or K, M, G, T with a decimal point
for v in 1048576 512M 1G 1.5G 2k 0; do
	sed "s/^mem = .*/mem = $v/" mem.ini >size.ini
	drove graph size.ini
	expect_eq "$rc" 0 "mem = $v loads"
done
for v in 1.5x 12MB -1G 0x100 1e9 '' G; do
	sed "s/^mem = .*/mem = $v/" mem.ini >size.ini
	drove graph size.ini
	expect_eq "$rc" 2 "mem = '$v' is a load error"
	expect_has "$err" "size.ini:4: backend 'sh': bad value '$v' for 'mem' (expected a size" "mem = '$v': file:line and the expected form"
done

# more than the machine holds: refused before anything runs
sed "s/^mem = .*/mem = $((total + 1048576))/" mem.ini >big.ini
nruns=$(ls .drove/runs | wc -l)
drove run big.ini
expect_eq "$rc" 2 "mem over the machine's memory: exit 2"
expect_has "$err" "big.ini:4: backend 'sh': mem = " "names file:line and the backend"
expect_has "$err" "is more than this machine's memory" "says why"
expect_eq "$(ls .drove/runs | wc -l)" "$nruns" "no run started"

# an API backend's calls take no memory here
printf '[backend api]\ntype = openai\nbase_url = http://127.0.0.1:9/v1\nmem = 1G\n[task a]\nbackend = api\nprompt = x\n' >api.ini
drove graph api.ini
expect_eq "$rc" 2 "mem on an openai backend: exit 2"
expect_has "$err" "api.ini:4: backend 'api': 'mem' is for exec backends" "says mem is for exec backends"
finish
