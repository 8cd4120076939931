#!/usr/bin/env python3
"""Side-by-side benchmark of drove against what a user would write instead.
Started by tests/bench/compare.sh, which owns the endpoint (nginx in front of
tests/bench/upstream.py) and stops it; this script only runs clients, one at
a time, each in its own process group, killed when it overruns its limit.

usage: compare.py --size quick|full --base URL --probe URL --upstream PORT
                  --ca FILE --tmp DIR [--node-modules DIR] [--latency S]
                  [--reps N] [--endpoint-pids PID,PID]

Every client is measured the same way, run by GNU time (/usr/bin/time):
wall time from spawn to reaping (CLOCK_MONOTONIC), CPU time (user + system
of its process tree: every descendant it reaped) and peak RSS (the largest
resident set of any process of the tree).  Each number is the
median over --reps runs; the clients' order rotates from run to run.
The start-to-first-byte case is the exception: see first_byte.
Exits 1 when a client failed or returned wrong answers.
"""
import argparse
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # nothing written into the tree
sys.path.insert(0, HERE)
import upstream  # noqa: E402  (the answer every call gets)
import graph_ini  # noqa: E402  (the large task file)

DROVE = os.environ.get("DROVE", "drove")
PY_AIOHTTP = os.environ.get("BENCH_PYTHON", "/usr/bin/python3")
TIME = "/usr/bin/time"
LIMIT_S = 240
FAILED = []
CURRENT = {"pgid": None, "client": None}
TLS_SEEN = {}


def die_with_client(signum, frame):
    if CURRENT["pgid"]:
        try:
            os.killpg(CURRENT["pgid"], signal.SIGKILL)
        except OSError:
            pass
    sys.exit(128 + signum)


def proc_cpu(pid):
    """user + system seconds of a live process, 0 when it is gone"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read().rsplit(")", 1)[1].split()
        return (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def endpoint_pids(roots):
    """the endpoint's processes: the given ones and their children"""
    pids = set(roots)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid in roots:
            pids.add(int(d))
    return pids


def log_size():
    try:
        return os.path.getsize(ARGS.access_log)
    except OSError:
        return 0


def handshakes(since, requests):
    """(full, resumed) TLS handshakes nginx logged after byte offset
    SINCE; waits up to 2 s for the REQUESTS lines (nginx logs a request
    when it has sent the last byte, which may be after the client left)"""
    lines = []
    for _ in range(40):
        try:
            with open(ARGS.access_log, "rb") as f:
                f.seek(since)
                lines = f.read().decode(errors="replace").split("\n")
        except OSError:
            return None, None
        lines = [ln.split() for ln in lines if ln.strip()]
        if len(lines) >= requests:
            break
        time.sleep(0.05)
    new = [ln for ln in lines if len(ln) >= 2 and ln[1] == "1"]
    kinds = {}
    for ln in new:
        k = " ".join(ln[2:])
        kinds[k] = kinds.get(k, 0) + 1
    TLS_SEEN.update(kinds and {CURRENT["client"]: max(kinds,
                                                      key=kinds.get)})
    return (sum(1 for ln in new if ln[0] != "r"),
            sum(1 for ln in new if ln[0] == "r"))


def http_get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def measure(argv, env=None, cwd=None, stdin=None, nofile=None):
    """run argv to its end under /usr/bin/time; returns (rc, wall, cpu,
    maxrss KiB, stdout, stderr), rc None when it overran LIMIT_S and was
    killed.  time(1) is the parent because a child forked from this
    Python process would count Python's resident set as its own peak."""
    tf = os.path.join(ARGS.tmp, "client.time")
    argv = [TIME, "-f", "%U %S %M", "-o", tf] + argv
    out = open(os.path.join(ARGS.tmp, "client.out"), "w+b")
    err = open(os.path.join(ARGS.tmp, "client.err"), "w+b")
    inp = open(stdin, "rb") if stdin else subprocess.DEVNULL

    def pre():
        # soft and hard: drove raises its soft limit to the hard one
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    t0 = time.monotonic()
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=inp, stdout=out,
                         stderr=err, start_new_session=True,
                         preexec_fn=pre if nofile else None)
    CURRENT["pgid"] = p.pid
    over = []

    def overrun():
        over.append(1)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
    timer = threading.Timer(LIMIT_S, overrun)
    timer.start()
    _, status, _ = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    timer.cancel()
    rc = None if over else os.waitstatus_to_exitcode(status)
    # whatever the client left behind goes with it
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        pass
    CURRENT["pgid"] = None
    p.returncode = -9 if rc is None else rc
    if stdin:
        inp.close()
    out.seek(0)
    err.seek(0)
    o, e = out.read(), err.read()
    out.close()
    err.close()
    try:
        with open(tf) as f:
            u, s, m = f.read().strip().split("\n")[-1].split()
        cpu, rss = float(u) + float(s), int(m)
    except (OSError, ValueError):
        # no figures from time(1): the run does not count
        cpu, rss = 0.0, 0
        if rc == 0:
            rc = -1
    return rc, wall, cpu, rss, o, e


# ---------------------------------------------------------------- clients

def drove_ini(path, api, n, base):
    with open(path, "w") as f:
        f.write("[drove]\nbackend = b\n\n[backend b]\n")
        if api == "anthropic":
            f.write("type = anthropic\nmodel = claude-bench\n"
                    "base_url = %s\n" % base)
        else:
            f.write("type = openai\nmodel = gpt-bench\n"
                    "base_url = %s/v1\n" % base)
        f.write("api_key_env = BENCH_KEY\nca_file = %s\nmax_tokens = 1024\n"
                "retries = 0\n\n" % ARGS.ca)
        for i in range(n):
            f.write("[task t%d]\nprompt = Say something.\n" % i)


def exec_ini(path, command, n, chains=0):
    with open(path, "w") as f:
        f.write("[backend sh]\ntype = exec\ncommand = %s\n\n" % command)
        for i in range(n):
            f.write("[task t%d]\nprompt = %d\n" % (i, i))
            if chains and i >= chains:
                f.write("after = t%d\n" % (i - chains))


def env_for(kind):
    env = dict(os.environ)
    env["BENCH_KEY"] = "sk-bench"
    env["XDG_CONFIG_HOME"] = os.path.join(ARGS.tmp, "xdg")
    env.pop("DROVE_CONFIG", None)
    env["NODE_EXTRA_CA_CERTS"] = ARGS.ca
    if ARGS.node_modules:
        env["NODE_PATH"] = ARGS.node_modules
    env.pop("HTTPS_PROXY", None)
    env.pop("https_proxy", None)
    return env


def http_client(name, n, base):
    """(argv, cwd, check) for one HTTP client; check(stdout) -> error
    text or None"""
    t = ARGS.tmp
    reply = upstream.REPLY.encode()

    def count_reply(o):
        k = o.count(reply)
        return None if k == n else "%d of %d answers right" % (k, n)
    if name.startswith("drove"):
        api = "openai" if "openai" in name else "anthropic"
        ini = os.path.join(t, "http-%s-%d.ini" % (api, n))
        if not os.path.exists(ini):
            drove_ini(ini, api, n, base)
        return ([DROVE, "run", ini, "-q", "-j", str(n), "--run-dir",
                 os.path.join(t, "runs")], t, count_reply)
    if name == "curl --parallel":
        body = os.path.join(t, "body.json")
        with open(body, "w") as f:
            json.dump({"model": "claude-bench", "max_tokens": 1024,
                       "stream": True, "messages": [
                           {"role": "user", "content": "Say something."}]},
                      f)

        def count_stops(o):
            k = o.count(b"event: message_stop")
            return None if k == n else "%d of %d streams whole" % (k, n)
        return (["curl", "--parallel", "--parallel-immediate",
                 "--parallel-max", str(n), "-sS", "--fail",
                 "--cacert", ARGS.ca,
                 "-H", "x-api-key: sk-bench",
                 "-H", "anthropic-version: 2023-06-01",
                 "-H", "content-type: application/json",
                 "-d", "@" + body, "%s/v1/messages?n=[1-%d]" % (base, n)],
                t, count_stops)
    if name.startswith("node"):
        kind = name.split()[-1]
        return (["node", os.path.join(HERE, "client.js"), kind, str(n),
                 base], t, count_reply)
    if name == "python aiohttp":
        return ([PY_AIOHTTP, os.path.join(HERE, "client_aiohttp.py"),
                 str(n), base, ARGS.ca], t, count_reply)
    raise ValueError(name)


def available(name):
    if name.startswith("node") and not shutil.which("node"):
        return "node is not installed"
    if name in ("node anthropic", "node openai"):
        if not ARGS.node_modules:
            return "the npm packages are not installed"
        v = version(["node", "--version"])
        if not v.startswith("v") or int(v[1:].split(".")[0]) < 20:
            # both SDKs support Node 20 LTS and later (their READMEs)
            return "the SDKs need Node 20 or later, this is node %s" % v
    if name == "python aiohttp":
        r = subprocess.run([PY_AIOHTTP, "-c", "import aiohttp"],
                           capture_output=True)
        if r.returncode:
            return "python3-aiohttp is not installed"
    if name.startswith("curl") and not shutil.which("curl"):
        return "curl is not installed"
    return None


HTTP_CLIENTS = ["drove", "curl --parallel", "node fetch", "node anthropic",
                "python aiohttp", "drove (openai)", "node openai"]
# each client's ratios are against drove speaking the same API format
REF = {"node openai": "drove (openai)", "drove (openai)": "drove (openai)"}


CLEARED = [0]


def clear_runs():
    """Moves the last run directory aside; compare.sh deletes them all when
    the bench ends.  Not deleted here: on ext4 without a journal (this
    machine's root) the kernel skips inodes freed in the last 60 s (360 s
    while their table block is dirty) when it allocates new ones, checking
    each, so a client that makes 1,000 files right after the previous
    repetition's 1,000 were deleted pays several times the file-creation
    cost of one that does not (docs/BENCHMARKS.md, "exec")."""
    runs = os.path.join(ARGS.tmp, "runs")
    if not os.path.exists(runs):
        return
    old = os.path.join(ARGS.tmp, "old")
    os.makedirs(old, exist_ok=True)
    CLEARED[0] += 1
    os.rename(runs, os.path.join(old, "runs-%d" % CLEARED[0]))


def run_http_case(n, clients):
    res = {c: [] for c in clients}
    roots = ARGS.endpoint_pids
    for rep in range(ARGS.reps):
        k = rep % len(clients)
        for c in clients[k:] + clients[:k]:
            argv, cwd, check = http_client(c, n, ARGS.base)
            http_get(ARGS.upstream + "/stats?reset")
            eps = endpoint_pids(roots)
            e0 = sum(proc_cpu(p) for p in eps)
            off = log_size()
            CURRENT["client"] = c
            rc, wall, cpu, rss, o, e = measure(argv, env_for(c), cwd)
            e1 = sum(proc_cpu(p) for p in eps)
            st = http_get(ARGS.upstream + "/stats")
            full, resumed = handshakes(off, st["requests"])
            clear_runs()
            bad = None
            if rc is None:
                bad = "overran %d s" % LIMIT_S
            elif rc != 0:
                bad = "exit %d: %s" % (rc, e.decode(errors="replace")
                                       .strip()[-200:])
            else:
                bad = check(o)
            if bad:
                FAILED.append("%s N=%d: %s" % (c, n, bad))
                res[c].append(None)
                print("  %s N=%d: FAILED: %s" % (c, n, bad), flush=True)
                continue
            res[c].append({"wall": wall, "cpu": cpu, "rss": rss,
                           "inflight": st["max_inflight"],
                           "ep_cpu": e1 - e0, "full": full,
                           "answered": st.get("answered_s"),
                           "resumed": resumed})
            time.sleep(0.3)
    return res


def med(runs, key):
    v = [r[key] for r in runs if r and r.get(key) is not None]
    return statistics.median(v) if v else None


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.2fx" % (a / b)


def http_table(n, res, skipped):
    print("\n### N = %d concurrent streamed calls, latency %.2f s "
          "(median of %d)\n" % (n, ARGS.latency, ARGS.reps))
    print("| client | wall s | x | CPU s | x | peak RSS MiB | x "
          "| in flight | TLS full/resumed | endpoint CPU s "
          "| answered s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = {}
    for c, runs in res.items():
        rows[c] = {k: med(runs, k) for k in
                   ("wall", "cpu", "rss", "inflight", "ep_cpu", "full",
                    "resumed", "answered")}
    for c, r in rows.items():
        ref = rows.get(REF.get(c, "drove"), {})
        bad = "" if all(runs for runs in res[c]) else " (some runs FAILED)"
        rss = r["rss"] / 1024 if r["rss"] is not None else None
        rrss = ref.get("rss") / 1024 if ref.get("rss") else None
        print("| %s%s | %s | %s | %s | %s | %s | %s | %s | %s/%s | %s "
              "| %s |" % (
            c, bad, fmt(r["wall"], ".2f"), ratio(r["wall"], ref.get("wall")),
            fmt(r["cpu"], ".2f"), ratio(r["cpu"], ref.get("cpu")),
            fmt(rss, ".1f"), ratio(rss, rrss),
            fmt(r["inflight"], ".0f"), fmt(r["full"], ".0f"),
            fmt(r["resumed"], ".0f"), fmt(r["ep_cpu"], ".2f"),
            fmt(r["answered"], ".2f")))
    for c, why in skipped.items():
        print("| %s | skipped: %s | | | | | | | | | |" % (c, why))
    notes = ["x: the client's number over drove's (node openai over "
             "drove (openai)); floor: %.2f s of latency plus one "
             "handshake" % ARGS.latency,
             "in flight: most calls the upstream held at once; TLS: "
             "new connections nginx saw with a full or a resumed "
             "handshake; endpoint CPU: nginx and upstream",
             "answered: from the upstream's first request to its last "
             "answer handed to its socket (no client can end sooner)"]
    if n > 300:
        notes.append("curl 7.88 caps --parallel-max at 300")
    for s in notes:
        print("  %s" % s)
    return rows


def exec_case(title, command, n, jobs, floor):
    """drove -j JOBS against xargs -P and GNU parallel, N runs of COMMAND"""
    t = ARGS.tmp
    ini = os.path.join(t, "exec-%d.ini" % n)
    exec_ini(ini, command, n)
    lines = os.path.join(t, "lines-%d" % n)
    with open(lines, "w") as f:
        f.write("".join("%d\n" % i for i in range(n)))
    words = command.split()
    clients = {
        "drove": ([DROVE, "run", ini, "-q", "-j", str(jobs), "--run-dir",
                   os.path.join(t, "runs")], None),
        "xargs -P %d" % jobs: (["xargs", "-P", str(jobs), "-I{}"] + words,
                               lines),
        "parallel -j %d" % jobs: (["parallel", "--will-cite", "-j",
                                   str(jobs), "-N0"] + words, lines),
    }
    if not shutil.which("parallel"):
        del clients["parallel -j %d" % jobs]
    names = list(clients)
    res = {c: [] for c in names}
    for rep in range(ARGS.reps):
        k = rep % len(names)
        for c in names[k:] + names[:k]:
            argv, stdin = clients[c]
            rc, wall, cpu, rss, o, e = measure(argv, env_for(c), t, stdin)
            clear_runs()
            if rc != 0:
                FAILED.append("%s %s: exit %s: %s" % (
                    c, title, rc, e.decode(errors="replace")[-200:]))
                res[c].append(None)
                continue
            res[c].append({"wall": wall, "cpu": cpu, "rss": rss})
    fl = "; floor %.2f s" % floor if floor else ""
    print("\n### exec: %s (median of %d%s)\n" % (title, ARGS.reps, fl))
    print("| runner | wall s | x | CPU s | x | peak RSS MiB | x |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    rows = {c: {k: med(res[c], k) for k in ("wall", "cpu", "rss")}
            for c in names}
    d = rows["drove"]
    for c, r in rows.items():
        rss = r["rss"] / 1024 if r["rss"] is not None else None
        drss = d["rss"] / 1024 if d["rss"] is not None else None
        print("| %s | %s | %s | %s | %s | %s | %s |" % (
            c, fmt(r["wall"], ".2f"), ratio(r["wall"], d["wall"]),
            fmt(r["cpu"], ".2f"), ratio(r["cpu"], d["cpu"]),
            fmt(rss, ".1f"), ratio(rss, drss)))
    return rows


def spawn_bare(argv, env, cwd):
    """runs argv to its end as it is, not under time(1), in its own
    process group; returns (rc, t0, stdout, stderr), t0 the CLOCK_REALTIME
    seconds just before the spawn, rc None when it overran LIMIT_S.
    Without a preexec_fn, Python (3.10 and later) spawns with vfork, so
    the harness adds one vfork before the client's execve and nothing
    else."""
    out = open(os.path.join(ARGS.tmp, "client.out"), "w+b")
    err = open(os.path.join(ARGS.tmp, "client.err"), "w+b")
    t0 = time.clock_gettime(time.CLOCK_REALTIME)
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                         stdout=out, stderr=err, start_new_session=True)
    CURRENT["pgid"] = p.pid
    try:
        rc = p.wait(timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        rc = None
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        pass
    if rc is None:
        p.wait()
    CURRENT["pgid"] = None
    out.seek(0)
    err.seek(0)
    o, e = out.read(), err.read()
    out.close()
    err.close()
    return rc, t0, o, e


def first_byte(clients):
    """milliseconds from spawning each client (one call) to the first
    byte it sends: from just before the harness's spawn (no time(1) in
    between) to the moment the kernel received that byte on the probe
    relay's socket (its receive timestamp, so not the relay's own wake-up);
    the median and the least of BENCH_FIRST_REPS runs (15)"""
    reps = int(os.environ.get("BENCH_FIRST_REPS", "15"))
    res = {c: [] for c in clients}
    for rep in range(reps):
        k = rep % len(clients)
        for c in clients[k:] + clients[:k]:
            argv, cwd, check = http_client(c, 1, ARGS.probe)
            if c.startswith("drove"):
                # its own file: the N = 1 file of the HTTP cases points at
                # nginx, not the probe
                ini = os.path.join(ARGS.tmp, "probe.ini")
                drove_ini(ini, "anthropic", 1, ARGS.probe)
                argv[2] = ini
            http_get(ARGS.upstream + "/probe?reset")
            rc, t0, o, e = spawn_bare(argv, env_for(c), cwd)
            fb = http_get(ARGS.upstream + "/probe")["first_byte"]
            clear_runs()
            if rc != 0 or not fb or check(o):
                FAILED.append("%s first byte: exit %s %s" % (
                    c, rc, e.decode(errors="replace")[-200:]))
                continue
            res[c].append((min(fb) - t0) * 1000)
    print("\n### start to first request byte, one call (median of %d)\n"
          % reps)
    print("| client | ms | least | x |")
    print("|---|---:|---:|---:|")
    d = statistics.median(res["drove"]) if res.get("drove") else None
    for c in clients:
        v = statistics.median(res[c]) if res[c] else None
        print("| %s | %s | %s | %s |" % (c, fmt(v, ".1f"),
              fmt(min(res[c]) if res[c] else None, ".1f"), ratio(v, d)))
    print("  target for drove: at most 5 ms (load average %s)"
          % " ".join(open("/proc/loadavg").read().split()[:3]))


def per_call(tables, clients):
    """(peak RSS at the largest N - at the smallest) over the difference
    in calls the upstream held at once (curl holds at most 300)"""
    lo, hi = min(tables), max(tables)
    print("\n### memory per in-flight call: (peak RSS at N = %d - at "
          "N = %d) / (calls in flight at N = %d - at N = %d)\n"
          % (hi, lo, hi, lo))
    print("| client | KiB per call | x |")
    print("|---|---:|---:|")
    vals = {}
    for c in clients:
        a, b = tables[hi].get(c, {}), tables[lo].get(c, {})
        try:
            vals[c] = (a["rss"] - b["rss"]) / (a["inflight"] -
                                                b["inflight"])
        except (KeyError, TypeError, ZeroDivisionError):
            vals[c] = None
    for c in clients:
        ref = vals.get(REF.get(c, "drove"))
        print("| %s | %s | %s |" % (c, fmt(vals[c], ".1f"),
                                    ratio(vals[c], ref)))
    print("  target for drove: at most 64 KiB")


def graph_load(n):
    t = ARGS.tmp
    ini = os.path.join(t, "graph-%d.ini" % n)
    graph_ini.write(ini, n, chains=100)
    print("\n### load and plan a %d-task graph (%d chains of %d; after =, "
          "{{ref}}, writes, replicas, worktrees, 3 backends: "
          "tests/bench/graph_ini.py; median of %d)\n"
          % (n, 100, n // 100, ARGS.reps))
    print("| command | wall s | CPU s | peak RSS MiB |")
    print("|---|---:|---:|---:|")
    for label, argv in (("drove graph", [DROVE, "graph", ini]),
                        ("drove run --dry-run",
                         [DROVE, "run", ini, "--dry-run", "-q",
                          "--run-dir", os.path.join(t, "runs")])):
        runs = []
        for _ in range(ARGS.reps):
            rc, wall, cpu, rss, o, e = measure(argv, env_for("drove"), t)
            clear_runs()
            if rc != 0:
                FAILED.append("%s %d tasks: exit %s %s" % (
                    label, n, rc, e.decode(errors="replace")[-200:]))
                break
            runs.append({"wall": wall, "cpu": cpu, "rss": rss})
        r = {k: med(runs, k) for k in ("wall", "cpu", "rss")}
        print("| %s | %s | %s | %s |" % (
            label, fmt(r["wall"], ".3f"), fmt(r["cpu"], ".3f"),
            fmt(r["rss"] / 1024 if r["rss"] else None, ".1f")))
    if n == 10000:
        print("  target: at most 0.1 s")


def many_exec(n, jobs, nofile):
    t = ARGS.tmp
    ini = os.path.join(t, "many-%d.ini" % n)
    exec_ini(ini, "true", n)
    runs = os.path.join(t, "runs")
    rc, wall, cpu, rss, o, e = measure(
        [DROVE, "run", ini, "-q", "-j", str(jobs), "--run-dir", runs],
        env_for("drove"), t, nofile=nofile)
    ok = 0
    try:
        with open(os.path.join(runs, "last", "summary.json")) as f:
            s = json.load(f)
        tasks = s.get("tasks")
        if isinstance(tasks, dict):
            tasks = list(tasks.values())
        ok = sum(1 for x in tasks or [] if x.get("status") == "ok")
    except (OSError, ValueError, AttributeError):
        pass
    clear_runs()
    print("\n### %d exec tasks of `true`, -j %d, open-file limit %d, "
          "soft and hard (one run)\n" % (n, jobs, nofile))
    print("| exit | tasks ok | wall s | CPU s | peak RSS MiB |")
    print("|---:|---:|---:|---:|---:|")
    print("| %s | %d | %.2f | %.2f | %.1f |" % (rc, ok, wall, cpu,
                                               rss / 1024))
    if rc != 0 or ok != n:
        FAILED.append("%d exec tasks: exit %s, %d ok: %s" % (
            n, rc, ok, e.decode(errors="replace")[-300:]))


def version(argv, line=0, failed="not installed"):
    """the line of what argv prints (nginx -v prints on stderr); failed
    when it cannot run or exits non-zero (an import error's traceback is
    no version)"""
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            return failed
        return (r.stdout or r.stderr).strip().split("\n")[line].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return failed


def npm_version(pkg):
    try:
        with open(os.path.join(ARGS.node_modules, pkg,
                               "package.json")) as f:
            return json.load(f)["version"]
    except (OSError, ValueError, TypeError):
        return "not installed"


def header():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        with open("/etc/debian_version") as f:
            deb = "Debian " + f.read().strip()
    except OSError:
        deb = platform.platform()
    print("## drove side-by-side benchmark (%s)\n" % ARGS.size)
    print("- machine: %s, %d CPUs, %.1f GiB, %s, Linux %s, load %.2f" % (
        cpu, os.cpu_count(), mem / 2**30, deb, platform.release(),
        os.getloadavg()[0]))
    commit = version(["git", "-C", os.path.dirname(os.path.dirname(HERE)),
                      "describe", "--always", "--dirty"], failed="unknown")
    print("- %s (source %s); %s; %s" % (version([DROVE, "version"]), commit,
                                        version(["curl", "--version"]),
                                        version(["nginx", "-v"])))
    print("- node %s, @anthropic-ai/sdk %s, openai %s; %s, aiohttp %s" % (
        version(["node", "--version"]), npm_version("@anthropic-ai/sdk"),
        npm_version("openai"), version([PY_AIOHTTP, "--version"]),
        version([PY_AIOHTTP, "-c",
                 "import aiohttp; print(aiohttp.__version__)"])))
    print("- %s; %s" % (version(["xargs", "--version"]),
                        version(["parallel", "--version"],
                                failed="GNU parallel not installed")))
    print("- endpoint: nginx on 127.0.0.1 terminating TLS (%s), "
          "upstream asyncio, latency %.2f s, one %d-character answer "
          "in %d-character deltas" % ({"rsa": "RSA 2048"}.get(
              ARGS.cert, "ECDSA P-256"), ARGS.latency, len(upstream.REPLY),
                                      upstream.DELTA))
    sys.stdout.flush()


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", choices=("quick", "full"), default="full")
    ap.add_argument("--base", required=True)
    ap.add_argument("--probe", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--node-modules", default="")
    ap.add_argument("--latency", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--endpoint-pids", default="")
    ap.add_argument("--cert", default="ecdsa")
    ap.add_argument("--access-log", default="")
    ARGS = ap.parse_args()
    ARGS.endpoint_pids = {int(p) for p in ARGS.endpoint_pids.split(",")
                          if p}
    ARGS.upstream = "http://127.0.0.1:%s" % ARGS.upstream
    signal.signal(signal.SIGTERM, die_with_client)
    signal.signal(signal.SIGINT, die_with_client)
    header()

    clients, skipped = [], {}
    only = [c.strip() for c in os.environ.get("BENCH_ONLY", "").split(",")
            if c.strip()]
    for c in HTTP_CLIENTS:
        if only and c not in only:
            continue
        why = available(c)
        if why:
            skipped[c] = why
        else:
            clients.append(c)
    sizes = [10, 100] if ARGS.size == "quick" else [10, 100, 1000]
    if os.environ.get("BENCH_N"):
        sizes = [int(x) for x in os.environ["BENCH_N"].split(",")]
    cases = os.environ.get("BENCH_CASES",
                           "http,first,exec,graph,many").split(",")
    tables = {}
    if "http" in cases:
        for n in sizes:
            res = run_http_case(n, clients)
            tables[n] = http_table(n, res, skipped)
            sys.stdout.flush()
        if len(tables) > 1:
            per_call(tables, clients)
        if TLS_SEEN:
            print("\n### what the TLS handshakes chose (nginx's log: "
                  "protocol, cipher, group)\n")
            print("| client | TLS |")
            print("|---|---|")
            for c in clients:
                print("| %s | %s |" % (c, TLS_SEEN.get(c, "-")))
    if "first" in cases:
        first_byte([c for c in clients if c != "drove (openai)"])
    if "exec" in cases:
        exec_case("1,000 x `true`, -j 50", "true", 1000, 50, 0)
        exec_case("200 x `sleep 0.1`, -j 50", "sleep 0.1", 200, 50, 0.4)
    if "graph" in cases:
        for n in os.environ.get("BENCH_GRAPH_N", "10000" if
                                ARGS.size == "quick" else
                                "10000,100000").split(","):
            graph_load(int(n))
    if "many" in cases and ARGS.size == "full":
        many_exec(10000, 50, 1024)
    if FAILED:
        print("\nFAILED:")
        for f in FAILED:
            print("  " + f)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
