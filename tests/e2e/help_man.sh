# The documentation contract: every command of 'drove --help' has a
# section in docs/drove.1 that names every option its --help gives (and
# the reverse), and states the same exit codes as its --help; the bash
# completion completes every command and its options; every INI
# key the code accepts (the key lists in core/ and plugins/) has a row in
# the man page's table for its section, and every row is a key the code
# accepts; the man page renders without warnings.
. "$(dirname "$0")/lib.sh"
need python3

MANPAGE=$ROOT/docs/drove.1
[ -f "$MANPAGE" ] || die "no $MANPAGE"

if command -v man >/dev/null 2>&1; then
	w=$(MANWIDTH=80 man --warnings -l "$MANPAGE" 2>&1 >/dev/null)
	expect_eq "$w" "" "the man page renders without warnings"
fi

# python3 prints one "ok<TAB>WHAT" or "fail<TAB>WHAT" line per check
while IFS=$'\t' read -r verdict what; do
	case $verdict in
	ok) ok "$what" ;;
	*) fail "$what" ;;
	esac
done < <(python3 - "$DROVE" "$MANPAGE" "$ROOT" <<'PY' 2>&1 || echo "fail	the checker itself failed"
import glob, os, re, subprocess, sys

drove, manpath, root = sys.argv[1:4]

def say(good, what):
    print(("ok" if good else "fail") + "\t" + what.replace("\n", " "))

# --- the man page as text, by section ---------------------------------
ESC = [(r"\-", "-"), (r"\(dq", '"'), (r"\(lq", '"'), (r"\(rq", '"'),
       (r"\(em", "--"), (r"\(en", "-"), (r"\&", ""), (r"\e", "\\"),
       (r"\ ", " "), (r"\|", "")]

def unescape(s):
    s = re.sub(r"\\f(\[[A-Z]*\]|[BIRP])", "", s)
    for a, b in ESC:
        s = s.replace(a, b)
    return s

def macro_args(rest):
    return [m.group(1) if m.group(1) is not None else m.group(2)
            for m in re.finditer(r'"([^"]*)"|(\S+)', rest)]

sections = {}          # (SH, SS) -> [plain text lines]
tables = []            # (SH, SS, [row keys])
sh = ss = ""
in_table = None
for raw in open(manpath, encoding="utf-8"):
    line = raw.rstrip("\n")
    if line.startswith(".SH"):
        sh, ss = unescape(" ".join(macro_args(line[3:]))), ""
        continue
    if line.startswith(".SS"):
        ss = unescape(" ".join(macro_args(line[3:])))
        continue
    if line.startswith(".TS"):
        in_table = {"fmt": True, "rows": [], "block": False}
        continue
    if line.startswith(".TE"):
        tables.append((sh, ss, in_table["rows"]))
        in_table = None
        continue
    if in_table is not None:
        if in_table["block"]:
            if line.startswith("T}"):
                in_table["block"] = False
            else:
                sections.setdefault((sh, ss), []).append(unescape(line))
            continue
        if in_table["fmt"]:
            if line.rstrip().endswith("."):
                in_table["fmt"] = False
            continue
        if line.strip() in ("_", "=") or not line.strip():
            continue
        cells = line.split("@")
        key = unescape(cells[0]).strip()
        if key != "key":
            in_table["rows"].append(key)
        if line.rstrip().endswith("T{"):
            in_table["block"] = True
        sections.setdefault((sh, ss), []).append(unescape(line))
        continue
    if line.startswith(".\\\"") or line.startswith("'\\\""):
        continue
    if line.startswith("."):
        m = re.match(r"\.([A-Za-z]+)\s*(.*)", line)
        if not m:
            continue
        name, rest = m.groups()
        if name in ("B", "I", "SM", "SB"):
            text = " ".join(macro_args(rest))
        elif name in ("BR", "RB", "IR", "RI", "BI", "IB"):
            text = "".join(macro_args(rest))
        else:
            continue
    else:
        text = line
    sections.setdefault((sh, ss), []).append(unescape(text))

def section_text(sh_name, ss_name):
    return "\n".join(sections.get((sh_name, ss_name), []))

OPT = re.compile(r"(?<![\w\-/.$])(--?[A-Za-z][A-Za-z0-9-]*)")
IGNORED = {"-h", "--help"}

def options(text):
    return {o.rstrip("-") for o in OPT.findall(text)} - IGNORED

def exit_codes(text, word):
    m = re.search(word + r"\s*:?(.*?)(?:\.\s*$|\.\s*\n|\Z)", text,
                  re.S | re.I)
    if not m:
        return None
    return sorted({int(c) for c in
                   re.findall(r"(?:^|[:,;]|\band)\s*(\d{1,3})\b",
                              m.group(1))})

# --- commands ----------------------------------------------------------
top = subprocess.run([drove, "--help"], capture_output=True, text=True)
say(top.returncode == 0, "drove --help exits 0")
say(exit_codes(top.stdout, "exit status"), "drove --help states its exit status")
cmds, in_cmds = [], False
for l in top.stdout.splitlines():
    if l.strip().lower().startswith("commands:"):
        in_cmds = True
        continue
    if in_cmds:
        m = re.match(r"  ([a-z][a-z-]*)\b", l)
        if m:
            cmds.append(m.group(1))
        elif not l.startswith("   "):
            in_cmds = False
say(len(cmds) >= 9, "drove --help lists the commands (%s)" % " ".join(cmds))
man_cmds = [ss for (s, ss) in sections if s == "COMMANDS" and ss]
for c in cmds:
    say(c in man_cmds, "drove.1 has a COMMANDS section for '%s'" % c)
for c in man_cmds:
    say(c in cmds, "drove.1's command '%s' is in drove --help" % c)

for c in cmds:
    h = subprocess.run([drove, c, "--help"], capture_output=True,
                       text=True)
    say(h.returncode == 0 and h.stdout.startswith("usage: drove " + c),
        "drove %s --help prints its usage on stdout, exit 0" % c)
    help_text = h.stdout
    man_text = section_text("COMMANDS", c)
    hopts, mopts = options(help_text), options(man_text)
    missing = sorted(hopts - mopts)
    say(not missing, "drove.1 '%s' names every option of its --help%s"
        % (c, ": missing " + " ".join(missing) if missing else ""))
    extra = sorted(mopts - hopts)
    say(not extra, "drove %s --help names every option drove.1 gives it%s"
        % (c, ": missing " + " ".join(extra) if extra else ""))
    he = exit_codes(help_text, "exit status")
    me = exit_codes(man_text, "exit status")
    say(he, "drove %s --help states its exit status" % c)
    say(he is not None and he == me,
        "drove.1 '%s' states the same exit codes as --help (%s vs %s)"
        % (c, he, me))

# every long option the code parses (getopt tables, strcmp on argv) is
# in some command's --help: none hides from the documentation
all_help = set()
for c in cmds:
    all_help |= options(subprocess.run([drove, c, "--help"],
                                       capture_output=True,
                                       text=True).stdout)
parsed = set()
for path in glob.glob(os.path.join(root, "core", "*.c")):
    src = open(path, encoding="utf-8").read()
    parsed |= {"--" + o for o in re.findall(
        r'\{\s*"([a-z][a-z-]*)",\s*(?:no|required|optional)_argument', src)}
    parsed |= set(re.findall(r'strcmp\(\w+(?:\[\w+\])?,\s*"(--[a-z][a-z-]*)"\)',
                             src))
hidden = sorted(parsed - all_help - IGNORED - {"--plugin-dir", "--version"})
say(len(parsed) > 20 and not hidden,
    "every long option the code parses is in a --help (%d)%s" %
    (len(parsed), ": not " + " ".join(hidden) if hidden else ""))

# --- bash completion -----------------------------------------------------
comp = open(os.path.join(root, "completion", "drove.bash"),
            encoding="utf-8").read()
copts = {}
for names, words in re.findall(r'([a-z|-]+)\) opts="([^"]*)"', comp):
    for n in names.split("|"):
        copts[n] = set(words.split())
m = re.search(r'compgen -W "([^"]*)"', comp)
ctop = set(m.group(1).split()) if m else set()
for c in cmds:
    h = subprocess.run([drove, c, "--help"], capture_output=True,
                       text=True)
    missing = sorted(options(h.stdout) - copts.get(c, set()))
    say(c in ctop and c in copts and not missing,
        "completion/drove.bash completes '%s' and its options%s" %
        (c, ": missing " + " ".join(missing) if missing else ""))

# --- INI keys ----------------------------------------------------------
ARR = re.compile(r"static\s+const\s+char\s*\*\s*const\s+(\w*keys)\s*\[\]\s*"
                 r"=\s*\{(.*?)\};", re.S)
srcs = sorted(glob.glob(os.path.join(root, "core", "*.c")) +
              glob.glob(os.path.join(root, "plugins", "*.c")) +
              glob.glob(os.path.join(root, "plugins", "lib", "*.c")))
code = []      # (kind, type or None, key, where)
for path in srcs:
    rel = os.path.relpath(path, root)
    base = os.path.basename(path)
    text = re.sub(r"/\*.*?\*/", "", open(path, encoding="utf-8").read(),
                  flags=re.S)
    for m in ARR.finditer(text):
        arr, body = m.groups()
        if rel == "core/setup.c" and arr == "drove_keys":
            kind, typ = "[drove]", None
        elif rel == "core/backend.c":
            kind, typ = "[backend", None
        elif base.startswith("backend_"):
            kind, typ = "[backend", base[len("backend_"):-2]
        elif rel in ("core/graph.c", "core/plan_cmd.c") or \
                base.startswith("merge_"):
            kind, typ = "[task", None
        elif rel == "core/registry.c":
            kind, typ = "[plugin", None
        else:
            kind, typ = None, None
        for k in re.findall(r'"([^"]+)"', body):
            code.append((kind, typ, k, "%s %s" % (rel, arr)))
say(len(code) > 60, "key lists found in the code (%d keys)" % len(code))

def table_keys(pred):
    out = set()
    for s, ss, rows in tables:
        if pred(ss):
            out.update(rows)
    return out

all_rows = table_keys(lambda ss: True)
for kind, typ, key, where in code:
    if kind is None:
        good = key in all_rows
        what = "a table"
    elif kind == "[backend":
        good = key in table_keys(lambda ss: ss.startswith("[backend") and
                                 ("type =" not in ss or
                                  (typ is not None and typ in ss)))
        what = "the [backend] table" + (" or its type's" if typ else "")
    else:
        good = key in table_keys(lambda ss: ss.startswith(kind))
        what = "a %s table" % kind
    if not good:
        say(False, "key '%s' (%s) has a row in %s of drove.1" %
            (key, where, what))
say(True, "every key of the code's lists is looked up in drove.1")
code_keys = {k for _, _, k, _ in code}
stale = ["%s: %s" % (ss, key) for s, ss, rows in tables for key in rows
         if key not in code_keys]
say(not stale, "every row of drove.1's tables is a key the code accepts%s"
    % (": not " + ", ".join(stale) if stale else ""))
say(any(ss.startswith("[drove]") for _, ss, _ in tables) and
    any(ss.startswith("[task") for _, ss, _ in tables),
    "drove.1 has the [drove], [backend] and [task] tables")
PY
)
finish
