#!/usr/bin/env bash
# HTTPS through a CONNECT proxy (tests/mock/connect_proxy.py), with and
# without credentials, and NO_PROXY (exact names, domain suffixes at a
# label boundary, ports, "*", IPv6 literals, no_proxy) both ways.
. "$DROVE_ROOT/tests/e2e/lib/http.bash"
need openssl

make_ca root "/CN=drove test root"
make_leaf srv root "$LOCAL_SAN"
start_s_server "$T/s_server.log" -cert "$T/srv.pem" -key "$T/srv.key"
SP=$S_PORT
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

# proxied HOST [VAR=VALUE...]: a fetch of https://HOST:$SP/ through the open
# proxy, with the given environment, went to the proxy.  Names other than
# localhost do not resolve, so only the proxy's log says which way it went.
proxied() {
	local h=$1 before
	shift
	before=$(grep -cF "CONNECT $h:$SP " "$T/open.log")
	env -u NO_PROXY -u no_proxy HTTPS_PROXY="http://127.0.0.1:$OPEN" "$@" \
	    "$DROVE" fetch --connect-timeout 2 "https://$h:$SP/" "${CA[@]}" \
	    >/dev/null 2>&1
	[ "$(grep -cF "CONNECT $h:$SP " "$T/open.log")" -gt "$before" ]
}
# bypass HOST NO_PROXY: NO_PROXY sends HOST past the proxy
bypass() {
	if proxied "$1" NO_PROXY="$2"; then
		fail "NO_PROXY='$2' did not bypass the proxy for $1"
	else
		ok "NO_PROXY='$2' bypasses the proxy for $1"
	fi
}
# via HOST NO_PROXY: NO_PROXY does not match HOST
via() {
	if proxied "$1" NO_PROXY="$2"; then
		ok "NO_PROXY='$2' still proxies $1"
	else
		fail "NO_PROXY='$2' bypassed the proxy for $1"
	fi
}
proxied localhost || fail "a fetch without NO_PROXY did not use the proxy"
# exact names, any case, in a list with or without blanks
bypass localhost LocalHost
bypass localhost 'example.com,localhost'
bypass localhost ' example.com , localhost '
via localhost example.com
via localhost localhost.example
via localhost ''
# a domain suffix matches at a label boundary only, with or without the
# leading dot
bypass api.example .example
bypass api.example example
bypass a.b.example b.example
bypass a.b.example .b.example
via localhost calhost
via localhost .calhost
via api.example pi.example
via api.example .api.example.com
via example .api.example
# a port in the entry is ignored: a name matches whatever the port
bypass localhost localhost:1
bypass api.example .example:8443
# '*' alone matches everything
bypass api.example '*'
# IPv6 literals, bare or bracketed with a port
bypass '[::1]' ::1
bypass '[::1]' '[::1]:8443'
bypass '[::1]' 'example.com,[::1]'
via '[::1]' ::2
via '[::1]' '[::2]:8443'
# the lower-case variable, used when NO_PROXY is unset or empty
if proxied localhost no_proxy=localhost; then
	fail "no_proxy=localhost did not bypass"
elif proxied localhost NO_PROXY= no_proxy=localhost; then
	fail "an empty NO_PROXY hid no_proxy"
elif ! proxied localhost no_proxy=example.com; then
	fail "no_proxy=example.com bypassed the proxy for localhost"
else
	ok "no_proxy"
fi
# a proxy that is down is a connect error naming the proxy
P=$(free_port)
expect_fail "cannot connect to 127.0.0.1 port $P: connection refused" \
    env HTTPS_PROXY="http://127.0.0.1:$P" "$DROVE" fetch "$U" "${CA[@]}"
finish
