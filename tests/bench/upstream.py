#!/usr/bin/env python3
"""The benchmark's upstream: plain HTTP/1.1 on loopback behind nginx (which
terminates TLS).  Each POST waits a fixed latency, then answers with one
streamed Anthropic Messages answer (.../v1/messages) or OpenAI chat
completion (.../chat/completions), the bytes built by tests/mock/llm_mock.py,
so every client reads exactly what drove's tests read.

usage: upstream.py PORTFILE [--latency S] [--probe-to PORT] [--seconds S]

PORTFILE gets "HTTP_PORT PROBE_PORT" once both listen (PROBE_PORT 0
without --probe-to).  The probe is a TCP relay to 127.0.0.1:PORT (nginx)
that notes the time the kernel received each connection's first byte
(SO_TIMESTAMPNS, CLOCK_REALTIME seconds): the
benchmark's "start to first request byte" (--probe-to self: to this
server's own HTTP port, for the smoke test).
GET /stats    {"requests", "inflight", "max_inflight", "errors",
              "answered_s": first request to last answer written}; ?reset
              zeroes the counters (max_inflight restarts from inflight)
GET /probe    {"first_byte": [CLOCK_REALTIME seconds...]}; ?reset empties it
Connections are kept alive.  The server exits after --seconds (600).
"""
import asyncio
import json
import os
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True  # nothing written into the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "mock"))
import llm_mock  # noqa: E402  (the byte formats drove's tests use)

# the answer every client gets: 400 characters in 8-character deltas
REPLY = ("drove benchmark answer: the quick brown fox jumps over the lazy "
         "dog. ") * 6
REPLY = REPLY[:400]
DELTA = 8
MAX_HEAD = 65536
MAX_BODY = 1 << 20

STATS = {"requests": 0, "inflight": 0, "max_inflight": 0, "errors": 0,
         "first_request": None, "last_answer": None}
PROBE = []
CACHE = {}


def answer(api, req):
    """The whole response (head and chunked body) for one request; the
    same request shape always gets the same bytes, so they are made once."""
    model = req.get("model") or ("claude-bench" if api == "anthropic"
                                 else "gpt-bench")
    include = bool((req.get("stream_options") or {}).get("include_usage"))
    key = (api, model, include)
    if key in CACHE:
        return CACHE[key]
    usage = {"in": 12, "out": len(llm_mock.pieces(REPLY, DELTA)),
             "cache_read": 0, "cache_write": 0}
    d = {"delta": str(DELTA)}
    if api == "anthropic":
        ev, _, _ = llm_mock.anthropic_stream(req, d, REPLY, usage, 1)
        ctype = "text/event-stream; charset=utf-8"
    else:
        ev, _, _ = llm_mock.openai_stream(req, d, REPLY, usage, 1)
        ctype = "text/event-stream"
    head = ("HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
            "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n"
            "request-id: req_bench\r\n\r\n" % ctype).encode()
    body = b"".join(llm_mock.chunked(e) for e in ev) + b"0\r\n\r\n"
    CACHE[key] = (head, body)
    return CACHE[key]


def simple(status, obj):
    body = json.dumps(obj).encode()
    return (b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (status, len(body), body))


class Http(asyncio.Protocol):
    def __init__(self, latency):
        self.latency = latency
        self.buf = b""
        self.tr = None
        self.busy = False

    def connection_made(self, tr):
        self.tr = tr

    def connection_lost(self, exc):
        self.tr = None

    def data_received(self, data):
        self.buf += data
        if len(self.buf) > MAX_HEAD + MAX_BODY:
            STATS["errors"] += 1
            self.tr.close()
            return
        if not self.busy:
            self.next_request()

    def next_request(self):
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        lines = self.buf[:end].decode("latin-1").split("\r\n")
        try:
            method, target, _ = lines[0].split(" ", 2)
            hdrs = {}
            for ln in lines[1:]:
                k, v = ln.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
            n = int(hdrs.get("content-length", "0"))
        except ValueError:
            STATS["errors"] += 1
            self.tr.close()
            return
        if len(self.buf) < end + 4 + n:
            return
        body = self.buf[end + 4:end + 4 + n]
        self.buf = self.buf[end + 4 + n:]
        self.handle(method, target, body)

    def handle(self, method, target, body):
        path, _, query = target.partition("?")
        if method == "GET" and path == "/stats":
            st = dict(STATS)
            # the time from the first call's request to the last answer
            # handed to the kernel: no client can end before it
            st["answered_s"] = (STATS["last_answer"] -
                                STATS["first_request"]) \
                if STATS["last_answer"] is not None else None
            self.tr.write(simple(200, st))
            if query == "reset":
                STATS.update(requests=0, errors=0,
                             max_inflight=STATS["inflight"],
                             first_request=None, last_answer=None)
            return self.next_request()
        if method == "GET" and path == "/probe":
            self.tr.write(simple(200, {"first_byte": PROBE}))
            if query == "reset":
                PROBE.clear()
            return self.next_request()
        api = "anthropic" if path.endswith("/v1/messages") else \
            "openai" if path.endswith("/chat/completions") else None
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            req = None
        if method != "POST" or api is None or not isinstance(req, dict) \
                or not req.get("stream"):
            STATS["errors"] += 1
            self.tr.write(simple(404 if api is None else 400,
                                 {"error": "not a streamed call"}))
            return self.next_request()
        STATS["requests"] += 1
        if STATS["first_request"] is None:
            STATS["first_request"] = time.monotonic()
        STATS["inflight"] += 1
        STATS["max_inflight"] = max(STATS["max_inflight"],
                                    STATS["inflight"])
        self.busy = True
        asyncio.get_running_loop().call_later(self.latency, self.respond,
                                              answer(api, req))

    def respond(self, resp):
        STATS["inflight"] -= 1
        self.busy = False
        if self.tr is None:
            STATS["errors"] += 1
            return
        self.tr.write(resp[0] + resp[1])
        STATS["last_answer"] = time.monotonic()
        self.next_request()


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux


def probe_conn(cs, to_port):
    """one relayed connection: the first byte's kernel receive time
    (SO_TIMESTAMPNS, CLOCK_REALTIME; the clock on return where there is
    none), then bytes both ways until either side closes"""
    try:
        cs.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        first, anc, _, _ = cs.recvmsg(65536, socket.CMSG_SPACE(16))
        now = time.clock_gettime(time.CLOCK_REALTIME)
        if not first:
            cs.close()
            return
        t = now
        for lvl, typ, d in anc:
            if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and \
                    len(d) >= 16:
                sec, ns = struct.unpack("qq", d[:16])
                t = sec + ns / 1e9
        PROBE.append(t)
        us = socket.create_connection(("127.0.0.1", to_port))
    except OSError:
        cs.close()
        return
    us.sendall(first)

    def pump(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
    t = threading.Thread(target=pump, args=(us, cs), daemon=True)
    t.start()
    pump(cs, us)
    t.join()
    cs.close()
    us.close()


def probe_listen(to_port):
    """the probe relay, on threads and blocking sockets (off the asyncio
    loop, whose wake-up would add to what it measures); returns its
    port"""
    ls = socket.socket()
    # set on the listener too: receive timestamps are taken only while
    # some socket asked for them
    ls.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)

    def accept():
        while True:
            cs, _ = ls.accept()
            threading.Thread(target=probe_conn, args=(cs, to_port),
                             daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()
    return ls.getsockname()[1]


async def main():
    args = sys.argv[1:]
    portfile = args.pop(0)
    latency, probe_to, seconds = 1.0, 0, 600.0
    while args:
        a = args.pop(0)
        if a == "--latency":
            latency = float(args.pop(0))
        elif a == "--probe-to":
            v = args.pop(0)
            probe_to = -1 if v == "self" else int(v)
        elif a == "--seconds":
            seconds = float(args.pop(0))
        else:
            sys.exit("upstream.py: unknown option " + a)
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: Http(latency), "127.0.0.1", 0,
                                   backlog=4096)
    port = srv.sockets[0].getsockname()[1]
    pport = 0
    if probe_to:
        pport = probe_listen(port if probe_to < 0 else probe_to)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d %d\n" % (port, pport))
    os.rename(portfile + ".tmp", portfile)
    await asyncio.sleep(seconds)


if __name__ == "__main__":
    asyncio.run(main())
