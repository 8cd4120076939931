#!/usr/bin/env bash
# drove doctor: one line per backend, ok or the reason (key, CA bundle,
# DNS, TCP, TLS); --probe sends a one-token request; the key never shows.
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

"$DROVE" doctor --help | grep -q 'usage: drove doctor' || fail "--help"
start_llm mock
P=$MOCK_PORT
backends "$P" >ok.ini
drove doctor ok.ini --probe
expect_eq "$rc" 0 "doctor --probe: exit 0"
expect_eq "$(grep -c ' ok: ' <<<"$out")" 2 "two ok lines"
expect_has "$out" "key in MOCK_ANTHROPIC_KEY, CA bundle $T/root.pem, DNS, TCP and TLS connect ok, probe answered" "anthropic line"
expect_not_has "$out$err" "$KEY" "the key is never shown"
check 'st["requests"] == 2 and all(e["max_tokens"] == 1 for e in log)' "the probe asked for one token"

MOCK_OPENAI_KEY= drove doctor ok.ini
expect_eq "$rc" 1 "a missing key: exit 1"
expect_has "$out" "gpt              openai     FAILED: no key: MOCK_OPENAI_KEY is not set" "missing key named"
PF=$(free_port)
sed "s/127.0.0.1:$P/127.0.0.1:$PF/" ok.ini >refused.ini
drove doctor refused.ini
expect_has "$out" "TCP: cannot connect to 127.0.0.1 port $PF: connection refused" "refused connection named"
sed "s|^ca_file = .*|ca_file = $T/llm.pem|" ok.ini | sed "s/127.0.0.1:$P/localhost.invalid:$P/" >dns.ini
drove doctor dns.ini
expect_has "$out" "DNS: cannot resolve 'localhost.invalid'" "DNS failure named"
grep -v '^ca_file' ok.ini >noca.ini
SSL_CERT_FILE=$T/llm.key drove doctor noca.ini
expect_eq "$rc" 1 "a bad CA bundle: exit 1"
expect_has "$out" "CA bundle" "CA bundle failure named"
make_ca other "/CN=another root"
SSL_CERT_FILE=$T/other.pem drove doctor noca.ini
expect_has "$out" "TLS: TLS verify failed" "TLS failure named"
printf '[backend sh]\ntype = exec\ncommand = no-such-agent-cmd -p\n' >exec.ini
drove doctor exec.ini
expect_has "$out" "command 'no-such-agent-cmd' not found in PATH" "exec command checked"
finish
