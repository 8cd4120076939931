#!/usr/bin/env bash
# The certificate matrix, made at test time and served by openssl s_server:
# only the valid chains connect, and each bad one fails naming its check.
. "$DROVE_ROOT/tests/e2e/lib/http.bash"
need openssl

make_ca root "/CN=drove test root"
make_ca inter "/CN=drove test intermediate" root
make_ca other "/CN=drove other root"
make_leaf valid root "$LOCAL_SAN"
make_leaf viainter inter "$LOCAL_SAN"
make_leaf expired root "$LOCAL_SAN" 2048 200101000000Z 210101000000Z
make_leaf future root "$LOCAL_SAN" 2048 350101000000Z 360101000000Z
make_leaf wronghost root "DNS:wrong.example,IP:10.9.9.9"
make_leaf selfsigned self "$LOCAL_SAN"
make_leaf untrusted other "$LOCAL_SAN"
make_leaf weak root "$LOCAL_SAN" 1024
make_leaf dnsonly root "DNS:localhost"

# serve NAME [CHAIN...]: s_server with NAME's key and certificate,
# sending the extra CHAIN certificates; sets PORT
serve() {
	local n=$1 chain=""
	shift
	nserved=$((${nserved:-0} + 1))
	cat /dev/null >"$T/$n.chain"
	for c in "$@"; do cat "$T/$c.pem" >>"$T/$n.chain"; done
	[ $# -gt 0 ] && chain="-cert_chain $T/$n.chain"
	# shellcheck disable=SC2086
	start_s_server "$T/$n.$nserved.log" -cert "$T/$n.pem" \
	    -key "$T/$n.key" $chain -cipher 'DEFAULT:@SECLEVEL=0'
	PORT=$S_PORT
}

CA=(--ca-file "$T/root.pem")

serve valid
if ! out=$("$DROVE" fetch "https://localhost:$PORT/" "${CA[@]}"); then
	fail "valid certificate refused"
elif ! echo "$out" | grep -q 's_server'; then
	fail "valid: unexpected body"
elif ! "$DROVE" fetch "https://127.0.0.1:$PORT/" "${CA[@]}" >/dev/null; then
	fail "valid: IP SAN refused"
else
	ok "valid"
fi

serve viainter inter
"$DROVE" fetch "https://localhost:$PORT/" "${CA[@]}" >/dev/null &&
    ok "valid through an intermediate" ||
    fail "valid chain through an intermediate refused"

serve expired
expect_fail '^drove: fetch: TLS verify failed: certificate has expired$' \
    "$DROVE" fetch "https://localhost:$PORT/" "${CA[@]}"

serve future
expect_fail '^drove: fetch: TLS verify failed: certificate is not yet valid$' \
    "$DROVE" fetch "https://localhost:$PORT/" "${CA[@]}"

serve wronghost
expect_fail "TLS verify failed: certificate does not match host name 'localhost'" \
    "$DROVE" fetch "https://localhost:$PORT/" "${CA[@]}"
expect_fail 'TLS verify failed: certificate is not valid for IP address 127.0.0.1' \
    "$DROVE" fetch "https://127.0.0.1:$PORT/" "${CA[@]}"

serve selfsigned
expect_fail 'TLS verify failed: self-signed certificate$' \
    "$DROVE" fetch "https://localhost:$PORT/" "${CA[@]}"

serve untrusted other
expect_fail 'TLS verify failed: certificate chain ends in an untrusted root' \
    "$DROVE" fetch "https://localhost:$PORT/" "${CA[@]}"

serve viainter
expect_fail 'TLS verify failed: unknown issuer .*intermediate certificate is missing' \
    "$DROVE" fetch "https://localhost:$PORT/" "${CA[@]}"

serve weak
expect_fail 'TLS verify failed: certificate key is too weak' \
    "$DROVE" fetch "https://localhost:$PORT/" "${CA[@]}"

# mbedTLS alone would accept this for 127.0.0.1: no IP address in it
serve dnsonly
"$DROVE" fetch "https://localhost:$PORT/" "${CA[@]}" >/dev/null || fail "dnsonly by name"
expect_fail 'TLS verify failed: certificate is not valid for IP address 127.0.0.1' \
    "$DROVE" fetch "https://127.0.0.1:$PORT/" "${CA[@]}"

# without the test root, even the valid server is untrusted
serve valid
expect_fail 'TLS verify failed' env SSL_CERT_FILE="$T/other.pem" \
    "$DROVE" fetch "https://localhost:$PORT/"
expect_fail "cannot read CA file|no usable CA" \
    "$DROVE" fetch "https://localhost:$PORT/" --ca-file "$T/missing.pem"
finish
