#!/usr/bin/env bash
# What a TLS handshake costs: drove offers X25519 first (the NIST curves
# after it) and an ECDHE suite with an AEAD cipher, and an OpenSSL server
# that follows the client's order picks them.
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

finish
