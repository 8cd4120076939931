#!/usr/bin/env bash
# Every failure of drove fetch exits 1 with one line naming its cause:
# DNS, refused, each timeout, protocol errors; usage errors exit 2.  Also:
# a pooled connection closed by the server is retried on a new one.
. "$DROVE_ROOT/tests/e2e/lib/http.bash"

"$DROVE" fetch --help | grep -q 'usage: drove fetch' || fail "--help"
"$DROVE" fetch >/dev/null 2>&1; [ $? = 2 ] || fail "no URL should exit 2"
"$DROVE" fetch --bogus http://127.0.0.1/ >/dev/null 2>&1; [ $? = 2 ] || fail "bad option should exit 2"
"$DROVE" fetch ftp://127.0.0.1/ >/dev/null 2>&1; [ $? = 2 ] || fail "bad scheme should exit 2"

expect_fail "cannot resolve 'no-such-host.invalid'" \
    "$DROVE" fetch http://no-such-host.invalid/
P=$(free_port)
expect_fail "cannot connect to 127.0.0.1 port $P: connection refused" \
    "$DROVE" fetch "http://127.0.0.1:$P/"

make_ca root "/CN=drove test root"
start_mock silent http_mock.py silent
expect_fail '^drove: fetch: timeout: no response \(first byte\)' \
    "$DROVE" fetch --first-byte-timeout 0.5 "http://127.0.0.1:$MOCK_PORT/"
expect_fail '^drove: fetch: timeout: TLS handshake' \
    "$DROVE" fetch --tls-timeout 0.5 "https://127.0.0.1:$MOCK_PORT/" --ca-file "$T/root.pem"
start_mock stall http_mock.py stall
expect_fail '^drove: fetch: timeout: idle' \
    "$DROVE" fetch --idle-timeout 0.5 "http://127.0.0.1:$MOCK_PORT/"
grep -q part "$T/out" || fail "the bytes before the stall were not written"
start_mock garbage http_mock.py garbage
expect_fail '^drove: fetch: protocol error: malformed response head' \
    "$DROVE" fetch "http://127.0.0.1:$MOCK_PORT/"

# the server drops the kept-alive connection: the second request is sent
# again on a new one
start_mock stale http_mock.py stale
U="http://127.0.0.1:$MOCK_PORT/"
if ! "$DROVE" fetch --stats "$U" "$U" "$U" >"$T/o" 2>"$T/e"; then
	fail "stale connection not retried: $(cat "$T/e")"
elif [ "$(cat "$T/o")" != $'ok\nok\nok' ]; then
	fail "stale: output $(cat "$T/o")"
elif ! grep -Eq 'retries=[1-9]' "$T/e"; then
	fail "stale: no retry counted: $(cat "$T/e")"
else
	ok "stale pooled connection retried ($(cat "$T/e"))"
fi
finish
