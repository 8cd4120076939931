# Shared by the HTTP end-to-end tests: a temp dir, free ports, waiting for
# a server, and certificates made with the openssl CLI.  Source it.

: "${DROVE_ROOT:?DROVE_ROOT must point at the repository}"
# ok, fail (counts and goes on), die (ends the test), skip, need, finish
. "$DROVE_ROOT/tests/e2e/lib.sh"

PIDS=()
kill_pids() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
cleanup_hooks+=(kill_pids)

free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT [HOST]: up to 10 s for a listener (bash's /dev/tcp: a
# loopback connect is refused or accepted at once)
wait_port() {
	local i
	for i in $(seq 1 100); do
		(exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	die "nothing listens on ${2:-127.0.0.1}:$1"
}

# start_s_server LOG ARGS...: openssl s_server -www with ARGS on 127.0.0.1
# at a port the kernel picks, output in LOG; once it listens (it prints
# "ACCEPT 127.0.0.1:PORT"), sets S_PORT
start_s_server() {
	local log=$1
	shift
	openssl s_server -accept 127.0.0.1:0 -www "$@" >"$log" 2>&1 &
	PIDS+=($!)
	wait_for "grep -q '^ACCEPT 127.0.0.1:[0-9]' '$log'" 10 ||
	    die "s_server did not start: $(cat "$log")"
	S_PORT=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log")
}

# expect_fail PATTERN CMD...: CMD must exit 1 with one stderr line
# matching PATTERN
expect_fail() {
	local pat=$1 rc
	shift
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" != 1 ]; then
		fail "'$*' exited $rc, expected 1 (stderr: $(cat "$T/err"))"
	elif [ "$(wc -l <"$T/err")" != 1 ]; then
		fail "'$*' printed $(wc -l <"$T/err") lines on stderr: $(cat "$T/err")"
	elif ! grep -Eq -- "$pat" "$T/err"; then
		fail "'$*': stderr '$(cat "$T/err")' does not match '$pat'"
	else
		ok "$(cat "$T/err")"
	fi
}

OSSL_EXT="$T/ext.cnf"

# make_ca NAME SUBJECT [ISSUER]: a CA key and certificate in $T/NAME.*;
# self-signed without ISSUER
make_ca() {
	local n=$1 subj=$2 iss=${3:-}
	openssl genrsa -out "$T/$n.key" 2048 2>/dev/null
	if [ -z "$iss" ]; then
		openssl req -x509 -new -key "$T/$n.key" -subj "$subj" -days 30 \
		    -addext basicConstraints=critical,CA:TRUE \
		    -addext keyUsage=critical,keyCertSign,cRLSign \
		    -out "$T/$n.pem" 2>/dev/null
	else
		openssl req -new -key "$T/$n.key" -subj "$subj" \
		    -out "$T/$n.csr" 2>/dev/null
		printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$T/$n.ext"
		openssl x509 -req -in "$T/$n.csr" -CA "$T/$iss.pem" \
		    -CAkey "$T/$iss.key" -CAcreateserial -days 30 \
		    -extfile "$T/$n.ext" -out "$T/$n.pem" 2>/dev/null
	fi
	[ -s "$T/$n.pem" ] || die "cannot make CA $n"
}

# make_leaf NAME ISSUER SAN [BITS] [START END]: a server certificate
# signed by ISSUER ("self" for self-signed); START/END as YYMMDDHHMMSSZ
make_leaf() {
	local n=$1 iss=$2 san=$3 bits=${4:-2048} start=${5:-} end=${6:-}
	openssl genrsa -out "$T/$n.key" "$bits" 2>/dev/null
	printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' \
	    "$san" >"$T/$n.ext"
	if [ "$iss" = self ]; then
		openssl req -x509 -new -key "$T/$n.key" -subj "/CN=$n" -days 30 \
		    -addext "subjectAltName=$san" -out "$T/$n.pem" 2>/dev/null
	elif [ -n "$start" ]; then
		# openssl ca is the CLI tool that takes explicit dates
		mkdir -p "$T/ca-$n"
		: >"$T/ca-$n/index.txt"
		cat >"$T/ca-$n/ca.cnf" <<CNF
[ca]
default_ca = c
[c]
database = $T/ca-$n/index.txt
new_certs_dir = $T/ca-$n
serial = $T/ca-$n/serial
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
CNF
		echo 01 >"$T/ca-$n/serial"
		openssl req -new -key "$T/$n.key" -subj "/CN=$n" \
		    -out "$T/$n.csr" 2>/dev/null
		openssl ca -batch -config "$T/ca-$n/ca.cnf" -cert "$T/$iss.pem" \
		    -keyfile "$T/$iss.key" -startdate "$start" -enddate "$end" \
		    -extfile "$T/$n.ext" -in "$T/$n.csr" -out "$T/$n.pem" \
		    >/dev/null 2>&1
	else
		openssl req -new -key "$T/$n.key" -subj "/CN=$n" \
		    -out "$T/$n.csr" 2>/dev/null
		openssl x509 -req -in "$T/$n.csr" -CA "$T/$iss.pem" \
		    -CAkey "$T/$iss.key" -CAcreateserial -days 30 \
		    -extfile "$T/$n.ext" -out "$T/$n.pem" 2>/dev/null
	fi
	[ -s "$T/$n.pem" ] || die "cannot make certificate $n"
}

LOCAL_SAN="DNS:localhost,IP:127.0.0.1,IP:::1"

# start_nginx CONF_BODY: runs nginx in the foreground with the http{}
# body given; $NGX_DIR holds its files
start_nginx() {
	need nginx
	NGX_DIR=$T/nginx
	mkdir -p "$NGX_DIR/tmp"
	local mod=""
	[ -f /usr/lib/nginx/modules/ngx_http_echo_module.so ] &&
	    mod="load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;"
	cat >"$NGX_DIR/nginx.conf" <<CONF
$mod
worker_processes 1;
daemon off;
master_process off;
pid $NGX_DIR/nginx.pid;
error_log $NGX_DIR/error.log warn;
events { worker_connections 4096; }
http {
	default_type application/octet-stream;
	types { text/plain txt; text/event-stream sse; }
	client_body_temp_path $NGX_DIR/tmp/body;
	proxy_temp_path $NGX_DIR/tmp/proxy;
	fastcgi_temp_path $NGX_DIR/tmp/fastcgi;
	uwsgi_temp_path $NGX_DIR/tmp/uwsgi;
	scgi_temp_path $NGX_DIR/tmp/scgi;
	log_format t '\$connection \$connection_requests \$ssl_session_reused \$request \$status';
	access_log $NGX_DIR/access.log t;
	keepalive_requests 100000;
	keepalive_timeout 60s;
$1
}
CONF
	nginx -p "$NGX_DIR" -c "$NGX_DIR/nginx.conf" -e "$NGX_DIR/error.log" \
	    >"$NGX_DIR/stdout" 2>&1 &
	PIDS+=($!)
	NGX_PID=$!
}

# start_mock NAME SCRIPT ARGS...: runs tests/mock/SCRIPT PORTFILE ARGS...;
# sets MOCK_PORT
start_mock() {
	local pf=$T/$1.port i
	shift
	python3 "$DROVE_ROOT/tests/mock/$1" "$pf" "${@:2}" \
	    >>"$T/mock.log" 2>&1 &
	PIDS+=($!)
	for i in $(seq 1 100); do
		[ -s "$pf" ] && break
		sleep 0.1
	done
	[ -s "$pf" ] || die "mock $1 did not start"
	MOCK_PORT=$(cat "$pf")
}
