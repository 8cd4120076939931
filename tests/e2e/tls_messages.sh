#!/usr/bin/env bash
# TLS failures that mbedTLS reports as bare codes get a sentence: a
# certificate whose extended key usage leaves out server authentication,
# and https:// to a port that speaks plain HTTP.
. "$DROVE_ROOT/tests/e2e/lib/http.bash"
need openssl

make_ca root "/CN=drove tls messages root"
# a leaf for clients only: extendedKeyUsage = clientAuth
openssl genrsa -out "$T/client.key" 2048 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\nsubjectAltName=%s\n' \
    "$LOCAL_SAN" >"$T/client.ext"
openssl req -new -key "$T/client.key" -subj "/CN=clientonly" \
    -out "$T/client.csr" 2>/dev/null
openssl x509 -req -in "$T/client.csr" -CA "$T/root.pem" -CAkey "$T/root.key" \
    -CAcreateserial -days 30 -extfile "$T/client.ext" \
    -out "$T/client.pem" 2>/dev/null
[ -s "$T/client.pem" ] || die "cannot make the client-only certificate"

PORT=$(free_port)
openssl s_server -accept "127.0.0.1:$PORT" -cert "$T/client.pem" \
    -key "$T/client.key" -www -quiet >"$T/s_server.log" 2>&1 &
PIDS+=($!)
wait_port "$PORT"
expect_fail '^drove: fetch: TLS verify failed: certificate is not for a TLS server \(its key usage or extended key usage does not allow server authentication\)$' \
    "$DROVE" fetch "https://localhost:$PORT/" --ca-file "$T/root.pem"

# https:// to a plain HTTP server (it answers the ClientHello with a 400)
PORT=$(free_port)
(cd "$T" && exec python3 -m http.server --bind 127.0.0.1 "$PORT") \
    >"$T/plain.log" 2>&1 &
PIDS+=($!)
wait_port "$PORT"
expect_fail '^drove: fetch: TLS handshake failed: the server did not answer TLS \(is it plain HTTP\? then use http://\)$' \
    "$DROVE" fetch "https://127.0.0.1:$PORT/" --ca-file "$T/root.pem"
finish
