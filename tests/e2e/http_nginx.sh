#!/usr/bin/env bash
# drove fetch against nginx over TLS and plain HTTP on loopback: content,
# keep-alive reuse, TLS session resumption, chunked bodies, a 50 MB body,
# IPv6 literals, and an event stream.
. "$DROVE_ROOT/tests/e2e/lib/http.bash"
need nginx
need openssl

make_ca root "/CN=drove test root"
make_leaf srv root "$LOCAL_SAN"
P=$(free_port)
H=$(free_port)
W=$T/www
mkdir -p "$W"
echo "hello from nginx" >"$W/small.txt"
head -c $((50 * 1024 * 1024)) /dev/urandom >"$W/big.bin"
printf 'event: add\ndata: 1\n\n: comment\ndata: two\ndata: lines\nid: 7\n\n' >"$W/ev.sse"
IPV6=1
python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null || IPV6=0
L6=""
[ "$IPV6" = 1 ] && L6="listen [::1]:$P ssl;"

start_nginx "
	server {
		listen 127.0.0.1:$P ssl;
		$L6
		ssl_certificate $T/srv.pem;
		ssl_certificate_key $T/srv.key;
		ssl_session_cache shared:S:1m;
		ssl_session_tickets on;
		root $W;
		location /chunked { echo 'chunk one'; echo_flush; echo 'chunk two'; }
	}
	server {
		listen 127.0.0.1:$H;
		root $W;
		location /chunked { echo 'plain one'; echo_flush; echo 'plain two'; }
	}"
wait_port "$P"
wait_port "$H"
CA=(--ca-file "$T/root.pem")

# content over TLS, by name
out=$("$DROVE" fetch "https://localhost:$P/small.txt" "${CA[@]}") ||
    fail "fetch small.txt failed"
[ "$out" = "hello from nginx" ] || fail "small.txt: got '$out'"

# the CA can also come from SSL_CERT_FILE
out=$(SSL_CERT_FILE=$T/root.pem "$DROVE" fetch "https://127.0.0.1:$P/small.txt") ||
    fail "fetch with SSL_CERT_FILE failed"
[ "$out" = "hello from nginx" ] || fail "SSL_CERT_FILE: got '$out'"

# three requests in one process share one connection (nginx logs a request
# once it is done, possibly after the client has gone: wait for the
# earlier lines to land before the log is emptied)
# logged N: nginx's access log holds N requests
logged() { [ "$(wc -l <"$NGX_DIR/access.log")" -ge "$1" ]; }
wait_for 'logged 2' 5
: >"$NGX_DIR/access.log"
"$DROVE" fetch --stats "https://127.0.0.1:$P/small.txt" \
    "https://127.0.0.1:$P/small.txt" "https://127.0.0.1:$P/small.txt" \
    "${CA[@]}" >"$T/o3" 2>"$T/e3" || fail "keep-alive fetch failed: $(cat "$T/e3")"
[ "$(grep -c 'hello from nginx' "$T/o3")" = 3 ] || fail "keep-alive: bodies missing"
grep -q 'connects=1 reuses=2' "$T/e3" || fail "keep-alive: $(cat "$T/e3")"
wait_for 'logged 3' 5
[ "$(awk '{print $1}' "$NGX_DIR/access.log" | sort -u | wc -l)" = 1 ] ||
    fail "keep-alive: nginx saw several connections: $(cat "$NGX_DIR/access.log")"
[ "$(awk '{print $2}' "$NGX_DIR/access.log" | tr '\n' ' ')" = "1 2 3 " ] ||
    fail "keep-alive: requests per connection: $(cat "$NGX_DIR/access.log")"

# Connection: close forces new connections; the TLS session is resumed
: >"$NGX_DIR/access.log"
"$DROVE" fetch --stats -H 'Connection: close' "https://127.0.0.1:$P/small.txt" \
    "https://127.0.0.1:$P/small.txt" "${CA[@]}" >/dev/null 2>"$T/e4" ||
    fail "resumption fetch failed: $(cat "$T/e4")"
grep -q 'connects=2 reuses=0 resumed=1' "$T/e4" || fail "resumption: $(cat "$T/e4")"
wait_for 'logged 2' 5
[ "$(awk '{print $3}' "$NGX_DIR/access.log" | tr '\n' ' ')" = ". r " ] ||
    fail "resumption: nginx log: $(cat "$NGX_DIR/access.log")"

# chunked bodies, TLS and plain
out=$("$DROVE" fetch "https://localhost:$P/chunked" "${CA[@]}") || fail "chunked TLS"
[ "$out" = $'chunk one\nchunk two' ] || fail "chunked TLS: got '$out'"
out=$("$DROVE" fetch "http://127.0.0.1:$H/chunked") || fail "chunked plain"
[ "$out" = $'plain one\nplain two' ] || fail "chunked plain: got '$out'"

# plain HTTP keep-alive
"$DROVE" fetch --stats "http://localhost:$H/small.txt" "http://localhost:$H/small.txt" \
    >/dev/null 2>"$T/e5" || fail "plain keep-alive failed"
grep -q 'connects=1 reuses=1' "$T/e5" || fail "plain keep-alive: $(cat "$T/e5")"

# a 50 MB body arrives intact
start=$(date +%s.%N)
"$DROVE" fetch "https://localhost:$P/big.bin" "${CA[@]}" >"$T/big.out" ||
    fail "50 MB fetch failed"
end=$(date +%s.%N)
cmp -s "$W/big.bin" "$T/big.out" || fail "50 MB body differs"
echo "50 MB over TLS in $(echo "$end - $start" | bc 2>/dev/null || echo '?') s"

# HEAD: headers only
out=$("$DROVE" fetch -X HEAD "https://localhost:$P/big.bin" "${CA[@]}") || fail "HEAD failed"
[ -z "$out" ] || fail "HEAD printed a body"

# an IPv6 literal, checked against the certificate's IP addresses
if [ "$IPV6" = 1 ]; then
	out=$("$DROVE" fetch "https://[::1]:$P/small.txt" "${CA[@]}") ||
	    fail "IPv6 fetch failed"
	[ "$out" = "hello from nginx" ] || fail "IPv6: got '$out'"
fi

# an event stream
"$DROVE" fetch --sse "https://localhost:$P/ev.sse" "${CA[@]}" >"$T/sse" ||
    fail "SSE fetch failed"
cat >"$T/sse.want" <<'J'
{"event": "add", "data": "1", "id": ""}
{"event": "message", "data": "two\nlines", "id": "7"}
J
cmp -s "$T/sse" "$T/sse.want" || fail "SSE output: $(cat "$T/sse")"

# a 404 is reported and fails the command
expect_fail 'HTTP 404' "$DROVE" fetch "https://localhost:$P/nope" "${CA[@]}"
finish
