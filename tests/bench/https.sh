#!/usr/bin/env bash
# HTTPS benchmark: N concurrent HTTPS requests (default
# 1000) from one drove process to nginx on loopback; reports wall time, CPU
# time, peak RSS and memory per open TLS connection (goal: <= 64 KiB).
#   tests/bench/https.sh [N]
set -u
cd "$(dirname "$0")/../.."
export DROVE_ROOT=$(pwd)
export DROVE=${DROVE:-$DROVE_ROOT/build/drove}
N=${1:-1000}
. "$DROVE_ROOT/tests/e2e/lib/http.bash"
need nginx
need openssl

# each connection needs a descriptor in drove and one in nginx
hard=$(ulimit -Hn)
want=$((N * 2 + 256))
[ "$hard" != unlimited ] && [ "$hard" -lt "$want" ] && want=$hard
ulimit -n "$want" 2>/dev/null
if [ "$(ulimit -n)" -lt $((N + 64)) ]; then
	echo "bench: open-file limit $(ulimit -n) is too low for $N connections" >&2
	exit 1
fi

make_ca root "/CN=drove bench root"
make_leaf srv root "$LOCAL_SAN"
mkdir -p "$T/www"
head -c 1024 /dev/zero | tr '\0' x >"$T/www/1k.txt"
P=$(free_port)
start_nginx "
	server {
		listen 127.0.0.1:$P ssl backlog=4096;
		ssl_certificate $T/srv.pem;
		ssl_certificate_key $T/srv.key;
		root $T/www;
		access_log off;
	}"
sed -i "s/^worker_processes 1;/worker_processes 1;\nworker_rlimit_nofile $((N * 2 + 256));/" \
    "$NGX_DIR/nginx.conf"
kill "$NGX_PID" 2>/dev/null; wait "$NGX_PID" 2>/dev/null
nginx -p "$NGX_DIR" -c "$NGX_DIR/nginx.conf" -e "$NGX_DIR/error.log" \
    >"$NGX_DIR/stdout" 2>&1 &
PIDS+=($!)
wait_port "$P"

echo "== case 1: $N concurrent HTTPS requests, one process, loopback nginx"
python3 - "$DROVE" "$N" "https://127.0.0.1:$P/1k.txt" "$T/root.pem" <<'PY'
import resource, subprocess, sys, time
drove, n, url, ca = sys.argv[1:5]
t0 = time.monotonic()
p = subprocess.run([drove, "fetch", "-P", n, "--stats", url, "--ca-file", ca],
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
stats = {}
for line in p.stderr.split("\n"):
    for kv in line.split():
        if "=" in kv:
            k, v = kv.split("=", 1)
            stats[k] = v
if p.returncode != 0:
    print("bench: drove failed (exit %d): %s" % (p.returncode, p.stderr.strip()))
    sys.exit(1)
conns = int(stats.get("peak_conns", "0"))
before = int(stats.get("rss_before_kb", "0"))
# peak RSS over the most connections open at once, less the RSS before
per = (ru.ru_maxrss - before) / conns if conns else float("nan")
print("requests            %s (failed %s)" % (n, stats.get("failed")))
print("wall time           %.3f s (requests alone %s s)" % (wall, stats.get("wall_s")))
print("CPU time            %.3f s user, %.3f s system" % (ru.ru_utime, ru.ru_stime))
print("peak RSS            %d KiB" % ru.ru_maxrss)
print("open TLS conns      %d at peak" % conns)
print("memory per conn     %.1f KiB (goal <= 64 KiB)%s" % (per, "" if per <= 64 else "  ** over goal **"))
PY
