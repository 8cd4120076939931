#!/usr/bin/env bash
# Side-by-side benchmark: drove against curl --parallel, Node (fetch and the
# official @anthropic-ai/sdk and openai packages), Python asyncio with
# aiohttp, xargs -P and GNU parallel, on one endpoint in one run.
#   tests/bench/compare.sh [quick|full]
# quick: N = 10 and 100; full adds N = 1,000 and a 10,000-task exec run.
# The endpoint: nginx on 127.0.0.1 terminating TLS with a certificate made
# here, in front of tests/bench/upstream.py.  Everything started here is
# stopped on exit, on failure and on a signal.
# Environment: BENCH_LATENCY (1.0 s), BENCH_REPS (3), BENCH_CERT (ecdsa or
# rsa), BENCH_ONLY (a comma list of clients, e.g. drove,node fetch),
# BENCH_N (a comma list of N), BENCH_CASES (a comma list of http, first,
# exec, graph, many; all by default), BENCH_GRAPH_N (the graph case's task
# counts; 10000, and 100000 in full),
# DROVE_BENCH_CACHE (where the npm packages go; ~/.cache/drove-bench).
set -u
SIZE=${1:-full}
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
: "${DROVE:=$ROOT/build/drove}"
export DROVE
LATENCY=${BENCH_LATENCY:-1.0}
REPS=${BENCH_REPS:-3}
B=$ROOT/tests/bench

T=$(mktemp -d "${TMPDIR:-/tmp}/drove-bench.XXXXXX")
PIDS=()
cleanup() {
	local p i
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	# bounded: up to 5 s for them to go, then KILL
	for i in $(seq 50); do
		local alive=0
		for p in "${PIDS[@]}"; do
			kill -0 "$p" 2>/dev/null && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "bench: $*" >&2; exit 1; }
command -v nginx >/dev/null ||
    die "nginx is not installed (apt-get install nginx-light)"
command -v openssl >/dev/null || die "openssl is not installed"
[ -x "$DROVE" ] || die "no drove binary at $DROVE"

# the npm packages, pinned by package-lock.json, in a cache directory
# keyed by the lock's hash; never inside the repository
NODE_MODULES=""
if command -v npm >/dev/null && command -v node >/dev/null; then
	h=$(sha256sum "$B/package-lock.json" | cut -c1-16)
	NC=${DROVE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drove-bench}/node-$h
	if [ ! -f "$NC/.installed" ]; then
		mkdir -p "$NC"
		cp "$B/package.json" "$B/package-lock.json" "$NC/"
		echo "bench: npm ci into $NC" >&2
		(cd "$NC" && timeout 300 npm ci --no-audit --no-fund \
		    --ignore-scripts >npm.log 2>&1)
		rc=$?
		if [ $rc = 0 ]; then
			touch "$NC/.installed"
		else
			# npm's own error code (npm 9 says "npm ERR! code X",
			# npm 10 and later "npm error code X")
			why=$(sed -n -E 's/^npm (ERR!|error) code (.*)/\2/p' \
			    "$NC/npm.log" | head -1)
			[ $rc = 124 ] && why="timed out after 300 s"
			echo "bench: npm ci failed (${why:-exit $rc}; see" \
			    "$NC/npm.log); the SDK clients are skipped" >&2
		fi
	fi
	[ -f "$NC/.installed" ] && NODE_MODULES=$NC/node_modules
fi

# descriptors: each call needs one in the client and two in nginx
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" -ge 4200 ] 2>/dev/null || [ "$(ulimit -n)" = unlimited ] ||
    die "open-file limit $(ulimit -n) is below the 4,200 that 1,000 calls need"

# a CA and a server certificate for 127.0.0.1, made now: ECDSA P-256 (as
# Cloudflare-fronted APIs serve to clients that offer it), or with
# BENCH_CERT=rsa RSA 2048
case "${BENCH_CERT:-ecdsa}" in
ecdsa) newkey() {
	openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null
} ;;
rsa) newkey() { openssl genrsa -out "$1" 2048 2>/dev/null; } ;;
*) die "BENCH_CERT is ecdsa or rsa" ;;
esac
newkey "$T/ca.key" &&
    openssl req -x509 -new -key "$T/ca.key" -subj "/CN=drove bench CA" \
	-days 2 -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign \
	-out "$T/ca.pem" 2>/dev/null &&
    newkey "$T/srv.key" &&
    openssl req -new -key "$T/srv.key" -subj "/CN=127.0.0.1" \
	-out "$T/srv.csr" 2>/dev/null &&
    printf '%s\n' basicConstraints=CA:FALSE \
	keyUsage=critical,digitalSignature,keyEncipherment \
	extendedKeyUsage=serverAuth \
	subjectAltName=IP:127.0.0.1,DNS:localhost >"$T/srv.ext" &&
    openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
	-CAcreateserial -days 2 -extfile "$T/srv.ext" -out "$T/srv.pem" 2>/dev/null ||
    die "cannot make the certificates"

# wait_file FILE: up to 10 s for FILE to appear
wait_file() {
	local i
	for i in $(seq 100); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# nginx first (the probe relays to it), on a port chosen by the kernel:
# take a free one, and retry a few times if somebody took it meanwhile
free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
N=$T/nginx
mkdir -p "$N/tmp"
UPORTS=$T/upstream.ports
NGX_OK=0
for try in 1 2 3; do
	P=$(free_port)
	# the upstream is started first so nginx can name its port; the probe
	# relays to nginx's port
	rm -f "$UPORTS"
	python3 "$B/upstream.py" "$UPORTS" --latency "$LATENCY" \
	    --probe-to "$P" --seconds 1800 >"$T/upstream.log" 2>&1 &
	UPID=$!
	wait_file "$UPORTS" ||
	    die "the upstream did not start: $(cat "$T/upstream.log")"
	read -r UP PROBE <"$UPORTS"
	user=""
	[ "$(id -u)" = 0 ] && user="user root;"
	cat >"$N/nginx.conf" <<CONF
$user
worker_processes 2;
worker_rlimit_nofile 16384;
daemon off;
pid $N/nginx.pid;
error_log $N/error.log warn;
events { worker_connections 8192; }
http {
	client_body_temp_path $N/tmp/body;
	proxy_temp_path $N/tmp/proxy;
	fastcgi_temp_path $N/tmp/fastcgi;
	uwsgi_temp_path $N/tmp/uwsgi;
	scgi_temp_path $N/tmp/scgi;
	# per request: the TLS session was resumed (r) or not (.), the
	# request's number on its connection (1: a new connection), and what
	# the handshake chose
	log_format hs '\$ssl_session_reused \$connection_requests '
	    '\$ssl_protocol \$ssl_cipher \$ssl_curve';
	access_log $N/access.log hs;
	keepalive_requests 100000;
	keepalive_timeout 60s;
	upstream api { server 127.0.0.1:$UP; keepalive 1024; }
	server {
		listen 127.0.0.1:$P ssl backlog=4096;
		ssl_certificate $T/srv.pem;
		ssl_certificate_key $T/srv.key;
		# as the real APIs: TLS 1.3 for who offers it (nginx 1.22's
		# default stops at 1.2)
		ssl_protocols TLSv1.2 TLSv1.3;
		ssl_session_cache shared:S:10m;
		ssl_session_tickets on;
		location / {
			proxy_pass http://api;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_buffering off;
			proxy_read_timeout 120s;
		}
	}
}
CONF
	nginx -p "$N" -c "$N/nginx.conf" -e "$N/error.log" >"$N/stdout" 2>&1 &
	NPID=$!
	PIDS+=("$NPID" "$UPID")
	ok=0
	for i in $(seq 100); do
		kill -0 "$NPID" 2>/dev/null || break
		if curl -s -o /dev/null --cacert "$T/ca.pem" \
		    "https://127.0.0.1:$P/stats"; then
			ok=1
			break
		fi
		sleep 0.1
	done
	if [ $ok = 1 ]; then
		NGX_OK=1
		break
	fi
	kill "$NPID" "$UPID" 2>/dev/null
	wait "$NPID" "$UPID" 2>/dev/null
	PIDS=()
done
[ $NGX_OK = 1 ] ||
    die "nginx did not start: $(cat "$N/error.log" "$N/stdout" 2>/dev/null)"

python3 "$B/compare.py" --size "$SIZE" --base "https://127.0.0.1:$P" \
    --probe "https://127.0.0.1:$PROBE" --upstream "$UP" --ca "$T/ca.pem" \
    --tmp "$T" --node-modules "$NODE_MODULES" --latency "$LATENCY" \
    --reps "$REPS" --endpoint-pids "$NPID,$UPID" \
    --cert "${BENCH_CERT:-ecdsa}" --access-log "$N/access.log" &
CPID=$!
PIDS+=("$CPID")
wait "$CPID"
