# -j and per-backend concurrency cap how many agents are in flight.
. "$(dirname "$0")/lib.sh"

# each call records how many calls were in flight when it started
cat >caps.ini <<'INI'
[backend sh]
type = exec
command = sh -c 'mkdir -p live; touch live/$DROVE_TASK; ls live | wc -l >>peaks; sleep 0.5; rm live/$DROVE_TASK; echo ok'
[task a]
prompt = x
[task b]
prompt = x
[task c]
prompt = x
[task d]
prompt = x
[task e]
prompt = x
[task f]
prompt = x
INI
drove run caps.ini -j 2
expect_eq "$rc" 0 "-j 2 run succeeds"
expect_eq "$(sort -n peaks | tail -1)" 2 "-j 2: at most two in flight, and two reached"
rm -f peaks
drove run caps.ini
expect_eq "$(sort -n peaks | tail -1)" 6 "default jobs: all six at once"
rm -f peaks
sed -i 's/^type = exec$/type = exec\nconcurrency = 3/' caps.ini
drove run caps.ini
expect_eq "$(sort -n peaks | tail -1)" 3 "backend concurrency 3"
rm -f peaks
printf '[drove]\njobs = 1\n' >>caps.ini
drove run caps.ini
expect_eq "$(sort -n peaks | tail -1)" 1 "[drove] jobs = 1 runs one at a time"
finish
