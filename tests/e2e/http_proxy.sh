#!/usr/bin/env bash
# HTTPS through a CONNECT proxy (tests/mock/connect_proxy.py), with and
# without credentials, and NO_PROXY.
. "$DROVE_ROOT/tests/e2e/lib/http.bash"
need openssl

make_ca root "/CN=drove test root"
make_leaf srv root "$LOCAL_SAN"
SP=$(free_port)
openssl s_server -accept "127.0.0.1:$SP" -cert "$T/srv.pem" -key "$T/srv.key" \
    -www -quiet >"$T/s_server.log" 2>&1 &
PIDS+=($!)
wait_port "$SP"
CA=(--ca-file "$T/root.pem")
U="https://localhost:$SP/"

start_mock open connect_proxy.py "$T/open.log"
OPEN=$MOCK_PORT
start_mock auth connect_proxy.py "$T/auth.log" 'user:p@ss word'
AUTH=$MOCK_PORT

# no credentials
HTTPS_PROXY=http://127.0.0.1:$OPEN "$DROVE" fetch "$U" "${CA[@]}" >"$T/o" ||
    fail "fetch through the proxy failed"
grep -q s_server "$T/o" || fail "proxy: unexpected body"
grep -q "^CONNECT localhost:$SP auth=-$" "$T/open.log" ||
    fail "proxy log: $(cat "$T/open.log")"

# lower-case variable, credentials from the URL's user info (decoded)
want="Basic $(printf 'user:p@ss word' | base64)"
https_proxy="http://user:p%40ss%20word@127.0.0.1:$AUTH" "$DROVE" fetch "$U" "${CA[@]}" \
    >"$T/o" || fail "fetch through the authenticating proxy failed"
grep -q s_server "$T/o" || fail "auth proxy: unexpected body"
grep -qF "CONNECT localhost:$SP auth=$want" "$T/auth.log" ||
    fail "auth proxy log: $(cat "$T/auth.log")"

# wrong or missing credentials
expect_fail "proxy 127.0.0.1 port $AUTH refused CONNECT: 407" \
    env HTTPS_PROXY="http://user:wrong@127.0.0.1:$AUTH" "$DROVE" fetch "$U" "${CA[@]}"
expect_fail "refused CONNECT: 407" \
    env HTTPS_PROXY="http://127.0.0.1:$AUTH" "$DROVE" fetch "$U" "${CA[@]}"

n=$(wc -l <"$T/open.log")
# NO_PROXY bypasses the proxy, by name or domain suffix or "*"
for np in localhost .localhost '*' 'example.com, localhost:123'; do
	HTTPS_PROXY=http://127.0.0.1:$OPEN NO_PROXY=$np "$DROVE" fetch "$U" "${CA[@]}" \
	    >/dev/null || fail "NO_PROXY=$np fetch failed"
done
[ "$(wc -l <"$T/open.log")" = "$n" ] || fail "NO_PROXY was not honoured: $(cat "$T/open.log")"
# a proxy that is down is a connect error naming the proxy
P=$(free_port)
expect_fail "cannot connect to 127.0.0.1 port $P: connection refused" \
    env HTTPS_PROXY="http://127.0.0.1:$P" "$DROVE" fetch "$U" "${CA[@]}"
echo "proxy checks passed"
