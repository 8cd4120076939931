# drove report --svg draws the run: one lane per slot in use at once, a bar
# per attempt coloured by its outcome (a failure, a retry and its wait),
# names in the bars, a time axis with ticks.  Rendered by headless Chromium and checked by its pixels; --html
# embeds the same picture with the report; a thousand tasks stay usable.
. "$(dirname "$0")/lib.sh"
need chromium
need python3

cat >t.ini <<'INI'
[drove]
backend = sh
[backend sh]
type = exec
command = sh -c 'case $DROVE_TASK in boom) sleep 0.3; exit 2;; esac; sleep 0.8; echo ok'
[task alpha]
prompt = x
[task bravo]
prompt = x
[task charlie]
prompt = x
[task delta]
prompt = x
[task echo]
prompt = x
[task foxtrot]
prompt = x
[task boom]
prompt = x
[backend fl]
type = exec
retries = 1
command = sh -c 'if [ ! -e tried ]; then touch tried; sleep 0.3; exit 1; fi; sleep 0.3; echo ok'
[task flaky]
backend = fl
prompt = x
INI
drove run t.ini -j 3 -k
expect_eq "$rc" 1 "the run ends with its one failure"
drove report --svg t.svg --html t.html
expect_eq "$rc" 0 "report --svg --html"
if python3 - t.svg <<'PY'; then ok "well-formed, a tooltip on every box, the failed attempt named"; else fail "the SVG is not well-formed XML with a title on every box"; fi
import sys, xml.etree.ElementTree as E
ns = "{http://www.w3.org/2000/svg}"
root = E.parse(sys.argv[1]).getroot()
groups = [g for g in root.iter(ns + "g") if g.find(ns + "rect") is not None]
assert groups and all(g.find(ns + "title") is not None for g in groups)
titles = [g.find(ns + "title").text for g in groups]
assert any(t.startswith("boom: attempt 1") and "failed" in t for t in titles), titles
assert any(t.startswith("flaky: attempt 1") and "retried" in t for t in titles), titles
assert any(t.startswith("flaky: waits") for t in titles), titles
PY
expect_has "$(cat t.html)" "<svg" "the page embeds the picture"
expect_has "$(cat t.html)" "foxtrot" "and the table"

h=$(sed -n 's/.*<svg[^>]* height="\([0-9]*\)".*/\1/p' t.svg | head -1)
# one browser for the script: it draws the SVG as a user would see it
timeout 90 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$T/chrome" --screenshot="$T/t.png" \
    --window-size=1200,"$h" "file://$T/t.svg" >chrome.log 2>&1
[ -s t.png ] || die "chromium made no screenshot: $(tail -3 chrome.log)"

python3 - t.png >px.out 2>&1 <<'PY' || fail "pixels: $(tail -3 px.out)"
import struct, sys, zlib

def png(path):
    d = open(path, "rb").read()
    assert d[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    p, idat = 8, b""
    while p < len(d):
        n, typ = struct.unpack(">I4s", d[p:p + 8])
        body = d[p + 8:p + 8 + n]
        if typ == b"IHDR":
            w, h, depth, ctype, _, _, lace = struct.unpack(">IIBBBBB", body)
        elif typ == b"IDAT":
            idat += body
        p += 12 + n
    assert depth == 8 and ctype in (2, 6) and lace == 0, (depth, ctype)
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    rows, prev, q = [], bytearray(stride), 0
    for _ in range(h):
        f, line = raw[q], bytearray(raw[q + 1:q + 1 + stride])
        q += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = line
    return w, h, rows

w, h, px = png(sys.argv[1])
near = lambda p, c, d=24: all(abs(p[k] - c[k]) <= d for k in range(3))
GREEN, RED = (0x7b, 0xc9, 0x6f), (0xe5, 0x73, 0x73)
ORANGE = (0xff, 0xb7, 0x4d)
dark = lambda p: max(p) < 90
# lanes: runs of rows holding ok-green bar pixels, legend rows (top 50 px)
# left out
green = [sum(near(p, GREEN) for p in px[y]) if y > 50 else 0
         for y in range(h)]
bands, y = [], 0
while y < h:
    if green[y] > 40:
        y0 = y
        while y < h and green[y] > 40:
            y += 1
        bands.append((y0, y))
    y += 1
print("lanes", bands)
assert len(bands) == 3, "want 3 lanes of ok bars for -j 3, got %r" % bands
hs = [b - a for a, b in bands]
assert max(hs) - min(hs) <= 2 and min(hs) >= 10, "lanes of one height: %r" % hs
# each lane holds two 0.8 s tasks of a run of about 1.6 s: wide bars
for a, b in bands:
    assert green[(a + b) // 2] > 0.4 * w, "lane %r half empty" % ((a, b),)
# the failure is drawn in red in a lane
red = sum(near(p, RED) for row in px[bands[0][0]:bands[-1][1]] for p in row)
assert red > 100, "no red bar for the failed attempt (%d px)" % red
orange = sum(near(p, ORANGE, 12) for row in px[bands[0][0]:bands[-1][1]]
             for p in row)
assert orange > 100, "no orange bar for the retried attempt (%d px)" % orange
# names: dark text pixels inside the green bars
for a, b in bands:
    txt = sum(dark(p) for row in px[a + 3:b - 3] for p in row)
    assert txt > 30, "no label in lane %r (%d dark px)" % ((a, b), txt)
# the axis: a dark line across most of the width below the lanes, with
# ticks hanging from it
axis = [y for y in range(bands[-1][1], h)
        if sum(dark(p) for p in px[y]) > 0.8 * w]
assert axis, "no axis line below the lanes"
ay = axis[-1]
ticks, x, row = 0, 0, px[ay + 4]
while x < w:
    if dark(row[x]):
        ticks += 1
        while x < w and dark(row[x]):
            x += 1
    x += 1
print("axis at", ay, "ticks", ticks)
assert ticks >= 4, "want tick marks under the axis, got %d" % ticks
# tick labels under the ticks
lab = sum(dark(p) for row in px[ay + 8:ay + 26] for p in row)
assert lab > 40, "no tick labels (%d dark px)" % lab
print("ok")
PY
[ "$(tail -1 px.out)" = ok ] && ok "pixels: 3 lanes, a red and an orange bar, labels, an axis with ticks ($(head -1 px.out))"

# a thousand tasks: lanes scale down, the picture stays on a screen or two
{
	printf '[backend sh]\ntype = exec\ncommand = true\n'
	for i in $(seq 1 1000); do printf '[task t%d]\nprompt = x\n' $i; done
} >k.ini
drove run k.ini -j 40 -q
expect_eq "$rc" 0 "a thousand tasks run"
drove report --svg k.svg
expect_eq "$rc" 0 "and are drawn"
if python3 - k.svg <<'PY'; then ok "1000 tasks: at most 40 lanes, one screen high, a tooltip each"; else fail "1000 tasks: the picture does not scale"; fi
import re, sys, xml.etree.ElementTree as E
s = open(sys.argv[1]).read()
root = E.fromstring(s)
h = int(root.get("height"))
lanes = int(re.search(r"attempts in (\d+) lanes", s).group(1))
assert 2 <= lanes <= 40, lanes
assert h <= 1000, h
assert s.count("<title>t") >= 1000, "a tooltip per attempt"
PY
finish
