#!/usr/bin/env bash
# drove report --svg shows rate limits: a task answered 429 twice gets two
# rate-limited attempts, each followed by its wait, then an ok attempt.
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

start_llm storm
P=$MOCK_PORT
{
	backends "$P"
	printf '[task lim]\nbackend = claude\nretries = 0\nprompt = x [[fail=429x2 ra=ms:300]]\n'
} >r.ini
drove run r.ini
expect_eq "$rc" 0 "the rate-limited task succeeds"
drove report --svg r.svg
expect_eq "$rc" 0 "and is drawn"
python3 - r.svg >py.out 2>&1 <<'PY' || fail "rate limits not drawn: $(tail -3 py.out)"
import sys, xml.etree.ElementTree as E
ns = "{http://www.w3.org/2000/svg}"
root = E.parse(sys.argv[1]).getroot()
bars = []
for g in root.iter(ns + "g"):
    t, r = g.find(ns + "title"), g.find(ns + "rect")
    if t is not None and r is not None and t.text.startswith("lim:"):
        bars.append((float(r.get("x")), t.text, r.get("fill")))
bars.sort()
kinds = ["wait" if "waits" in t else "rate-limited, retried"
         if "s): rate-limited, retried: " in t else "ok" if "s): ok" in t
         else t for _, t, _ in bars]
print(kinds)
assert [k for k in kinds if k != "wait"] == ["rate-limited, retried"] * 2 + ["ok"], kinds
waits = [t for _, t, _ in bars if "waits" in t]
assert len(waits) == 2 and all("(rate limit)" in w for w in waits), waits
# each wait at least the server's 300 ms hint, drawn after its attempt
assert all(float(w.split("waits ")[1].split(" s")[0]) >= 0.29 for w in waits), waits
print("ok")
PY
[ "$(tail -1 py.out)" = ok ] && ok "two rate-limited attempts with their waits, then ok: $(head -1 py.out)"
finish
