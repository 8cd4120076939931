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
# localhost as ::1 and 127.0.0.1, as Debian's own /etc/hosts has it, with
# the server on 127.0.0.1 only: a refused ::1 is no connection, and once
# 127.0.0.1 has taken one the next connections go there first (a private
# mount namespace puts that hosts file in place for drove alone)
printf '::1 localhost\n127.0.0.1 localhost\n' >hosts.dual
if [ "$(id -u)" = 0 ] && command -v strace >/dev/null &&
    unshare -m true 2>/dev/null; then
	{
		backends "$P" "$(printf 'concurrency = 30')" |
		    sed "s|https://127.0.0.1:|https://localhost:|"
		for i in 1 2; do
			printf '[task a%d]\nbackend = claude\nprompt = a%d [[latency=0.3]]\n' $i $i
		done
		for i in $(seq 1 10); do
			printf '[task b%d]\nbackend = claude\nafter = a1, a2\nprompt = b%d [[latency=0.3]]\n' $i $i
		done
	} >dual.ini
	rm -rf .drove
	unshare -m sh -c 'mount --bind "$1" /etc/hosts && shift &&
	    exec strace -f -qq -e trace=connect -o connects.txt "$@"' sh \
	    "$T/hosts.dual" "$DROVE" run dual.ini -j 30 >"$T/.out" 2>"$T/.err"
	rc=$? err=$(cat "$T/.err")
	expect_eq "$rc" 0 "localhost on ::1 and 127.0.0.1, the server on 127.0.0.1"
	# TCP connects only (the resolver's own UDP probes return 0)
	v6=$(grep -E "AF_INET6.*htons\($P\).*(EINPROGRESS|ECONNREFUSED)" connects.txt | grep -c .)
	v4=$(grep -E "AF_INET,.*htons\($P\).*(EINPROGRESS|ECONNREFUSED)" connects.txt | grep -c .)
	check_many \
	    's["net"]["tls_full_handshakes"] + s["net"]["tls_resumed_handshakes"] == s["net"]["connections"]' "a refused ::1 is not counted as a connection" \
	    "s['net']['connections'] == $v4" "the connections counted are the ones made to 127.0.0.1 ($v4)"
	expect_eq "$([ "$v6" -ge 1 ] && [ "$v6" -le 2 ] && echo ok)" ok \
	    "::1 is tried by the first wave's calls only ($v6 tries, $v4 connects to 127.0.0.1)"
	expect_eq "$([ "$v4" -ge 10 ] && echo ok)" ok \
	    "the second wave made new connections ($v4 to 127.0.0.1 in all)"
else
	echo "# skipped the ::1 case: needs root, strace and unshare -m"
fi
finish
