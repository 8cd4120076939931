#!/usr/bin/env bash
# summary.json's "net" and -v count what the network cost: the host name
# is looked up once for the whole run, not once per request; every TLS
# connection is one full or one resumed handshake.
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

start_llm mock
P=$MOCK_PORT
{
	backends "$P" | sed "s|https://127.0.0.1:|https://localhost:|"
	for i in $(seq 1 30); do
		printf '[task t%d]\nbackend = claude\nprompt = n%d [[latency=0.3]]\n' $i $i
	done
} >net.ini
drove run net.ini -j 30 -v
expect_eq "$rc" 0 "30 calls by host name"
check_many \
    's["net"]["dns_lookups"] == 1' "one lookup of 'localhost' for 30 calls" \
    's["net"]["connections"] >= 1' "connections counted ($(python3 -c 'import json; print(json.load(open(".drove/runs/last/summary.json"))["net"])'))" \
    's["net"]["tls_full_handshakes"] + s["net"]["tls_resumed_handshakes"] == s["net"]["connections"]' "each connection one full or one resumed handshake" \
    's["net"]["tls_full_handshakes"] >= 1' "the first handshake is full"
expect_has "$err" "net: " "-v says what the network cost"
expect_has "$err" " DNS lookup" "-v counts the lookups"

# a second wave on the same host once the first has ended: still one
# lookup
{
	backends "$P" "$(printf 'concurrency = 30')" |
	    sed "s|https://127.0.0.1:|https://localhost:|"
	for i in $(seq 1 10); do
		printf '[task a%d]\nbackend = claude\nprompt = a%d [[latency=0.3]]\n' $i $i
	done
	for i in $(seq 1 10); do
		printf '[task b%d]\nbackend = claude\nafter = a1, a2, a3, a4, a5, a6, a7, a8, a9, a10\nprompt = b%d [[latency=0.3]]\n' $i $i
	done
} >waves.ini
drove run waves.ini -j 30
expect_eq "$rc" 0 "two waves"
check_many \
    's["net"]["dns_lookups"] == 1' "one lookup for two waves" \
    's["net"]["tls_full_handshakes"] + s["net"]["tls_resumed_handshakes"] == s["net"]["connections"]' "two waves: every handshake counted"
finish
