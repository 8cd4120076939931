#!/usr/bin/env bash
# What a TLS handshake costs: drove offers X25519 first (the NIST curves
# after it) and a short list of suites, ECDHE with an AEAD cipher first,
# and an OpenSSL server that follows the client's order picks them.
. "$DROVE_ROOT/tests/e2e/lib/http.bash"
need openssl

make_ca root "/CN=drove handshake root"
make_leaf srv root "$LOCAL_SAN"

# s_server -www answers with what it saw of the handshake
start_s_server "$T/s1.log" -cert "$T/srv.pem" -key "$T/srv.key"
"$DROVE" fetch "https://127.0.0.1:$S_PORT/" --ca-file "$T/root.pem" \
    >"$T/page1" 2>"$T/err1" || fail "fetch failed: $(cat "$T/err1")"
grep -q '^Supported groups: x25519:secp256r1:secp384r1' "$T/page1" ||
    fail "groups offered: $(grep -i groups "$T/page1")"
grep -q '^Shared groups: x25519' "$T/page1" ||
    fail "groups shared: $(grep -i groups "$T/page1")"
grep -Eq '^New, TLSv1\.2, Cipher is ECDHE-RSA-(AES128-GCM-SHA256|CHACHA20-POLY1305)$' \
    "$T/page1" || fail "suite: $(grep -i 'cipher is' "$T/page1")"

# the suites offered are a short list, ECDHE with AEAD first: none of
# mbedTLS's long tail (Camellia, CCM, static ECDH, DHE with CBC)
common=$(sed -n '/^Ciphers common between both SSL end points:$/,/^Signature Algorithms/p' \
    "$T/page1" | sed '1d;$d' | tr -s ' \n' '\n\n' | grep -c .)
[ "$common" -ge 10 ] && [ "$common" -le 23 ] ||
    fail "suites in common with OpenSSL: $common"
sed -n '/^Ciphers common/,/^Signature Algorithms/p' "$T/page1" |
    grep -Eq 'CAMELLIA|CCM|ARIA|(^| )DHE-RSA-AES(128|256)-SHA(256)?( |$)' &&
    fail "long-tail suites offered: $(sed -n '/^Ciphers common/,/^Signature/p' "$T/page1")"

# a server of the old kind, RSA key exchange with CBC only: still spoken
start_s_server "$T/s0.log" -cert "$T/srv.pem" -key "$T/srv.key" \
    -tls1_2 -cipher AES128-SHA
"$DROVE" fetch "https://127.0.0.1:$S_PORT/" --ca-file "$T/root.pem" \
    >"$T/page0" 2>"$T/err0" || fail "RSA/CBC-only fetch: $(cat "$T/err0")"
grep -q ', Cipher is AES128-SHA$' "$T/page0" &&
    grep -Eq '^ +Protocol +: TLSv1\.2$' "$T/page0" ||
    fail "RSA/CBC-only: $(grep -i 'cipher is' "$T/page0")"

# a server that takes X25519 only: the handshake is made on it
start_s_server "$T/s2.log" -cert "$T/srv.pem" -key "$T/srv.key" \
    -groups X25519
"$DROVE" fetch "https://127.0.0.1:$S_PORT/" --ca-file "$T/root.pem" \
    >"$T/page2" 2>"$T/err2" || fail "X25519-only fetch: $(cat "$T/err2")"
grep -q '^Shared groups: x25519$' "$T/page2" ||
    fail "X25519-only: $(grep -i groups "$T/page2")"

# and one that takes secp521r1 only still works
start_s_server "$T/s3.log" -cert "$T/srv.pem" -key "$T/srv.key" \
    -groups P-521
"$DROVE" fetch "https://127.0.0.1:$S_PORT/" --ca-file "$T/root.pem" \
    >"$T/page3" 2>"$T/err3" || fail "P-521-only fetch: $(cat "$T/err3")"
grep -q '^Shared groups: secp521r1$' "$T/page3" ||
    fail "P-521-only: $(grep -i groups "$T/page3")"

# Coalescing: 50 connections to one origin at once, no session saved yet:
# one full handshake, the others wait for its session and resume it.
# nginx logs per request whether the session was reused ("r") or not (".").
need nginx
P=$(free_port)
N=$(free_port)
W=$T/www
mkdir -p "$W"
echo "hello" >"$W/small.txt"
start_nginx "
	server {
		listen 127.0.0.1:$P ssl;
		ssl_certificate $T/srv.pem;
		ssl_certificate_key $T/srv.key;
		ssl_session_cache shared:S:1m;
		ssl_session_tickets on;
		root $W;
	}
	server {
		listen 127.0.0.1:$N ssl;
		ssl_certificate $T/srv.pem;
		ssl_certificate_key $T/srv.key;
		ssl_session_cache off;
		ssl_session_tickets off;
		root $W;
	}"
wait_port "$P"
wait_port "$N"
logged() { [ "$(wc -l <"$NGX_DIR/access.log")" -ge "$1" ]; }
wait_for 'logged 2' 5
: >"$NGX_DIR/access.log"
"$DROVE" fetch --stats -P 50 -H 'Connection: close' \
    "https://127.0.0.1:$P/small.txt" --ca-file "$T/root.pem" \
    >"$T/o50" 2>"$T/e50" || fail "50 at once: $(cat "$T/e50")"
[ "$(grep -c '^hello$' "$T/o50")" = 50 ] || fail "50 at once: bodies missing"
grep -Eq 'connects=50 .*resumed=49' "$T/e50" ||
    fail "50 at once: $(cat "$T/e50")"
wait_for 'logged 50' 10 || fail "nginx logged $(wc -l <"$NGX_DIR/access.log")"
full=$(awk '$3 == "."' "$NGX_DIR/access.log" | wc -l)
reused=$(awk '$3 == "r"' "$NGX_DIR/access.log" | wc -l)
[ "$full" = 1 ] && [ "$reused" = 49 ] ||
    fail "50 at once: $full full and $reused resumed handshakes"

# a server that keeps no session: nobody waits for one, all 50 succeed
: >"$NGX_DIR/access.log"
"$DROVE" fetch --stats -P 50 -H 'Connection: close' \
    "https://127.0.0.1:$N/small.txt" --ca-file "$T/root.pem" \
    >"$T/on" 2>"$T/en" || fail "no sessions: $(cat "$T/en")"
[ "$(grep -c '^hello$' "$T/on")" = 50 ] || fail "no sessions: bodies missing"
grep -q 'connects=50 .*resumed=0' "$T/en" || fail "no sessions: $(cat "$T/en")"

# a certificate that fails verification: every request fails with the
# reason, none waits for a session that never comes
"$DROVE" fetch -P 20 "https://127.0.0.1:$P/small.txt" \
    --ca-file "$T/srv.pem" >/dev/null 2>"$T/ev" && fail "untrusted: exit 0"
n=$(grep -c 'TLS verify failed' "$T/ev")
[ "$n" -ge 1 ] || fail "untrusted: $(head -3 "$T/ev")"

finish
