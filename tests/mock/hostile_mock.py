#!/usr/bin/env python3
"""A loopback plain-HTTP server that speaks the Anthropic Messages stream
badly on purpose, for the defences of the API backends and drove fetch.

usage: hostile_mock.py PORTFILE [--cert PEM --key PEM]

POST .../v1/messages: the prompt's directive [[MODE]] picks the answer:
  endless    a stream of text deltas that never ends
  trickle    a head, then one byte every 0.1 s, never a whole event
  badjson    one event whose data is not JSON, then a normal end
  echo       a normal answer that quotes the API key (x-api-key) whole,
             split by a line break and cut to its first 12 characters
  echoerr    a 400 whose error message quotes the key split by a line
             break after 5 characters, and the key cut
  gzip       a 200 whose body is gzip-compressed (never asked for)
  ra1e300    first request: 429 with retry-after 1e300 and retry-after-ms
             1e300; then a normal answer
  extra      the answer "answer to: PROMPT", then at once a second,
             unasked answer "EXTRA" on the same connection (over TLS as
             a record of its own)
  stream     "[[stream]] GATE": "first streamed words ", then, once the
             file GATE exists (at most 60 s), the key whole, split by a
             line break and cut to 13 characters, each copy spread over
             several text deltas 0.15 s apart, then the end
  fuzz       "[[fuzz]] SEED": text with copies of the key (whole, cut,
             split by line breaks) and bytes of it, cut at random into
             text deltas of 1 to 9 bytes (random.Random(SEED))
  ok         a normal answer "fine"
GET /redirect: 302 to /elsewhere with an empty body.
"""
import gzip
import json
import os
import random
import socket
import ssl
import sys
import threading
import time

COUNTS = {}
LOCK = threading.Lock()


def sse(event, obj):
    return ("event: %s\ndata: %s\n\n" % (event, json.dumps(obj))).encode()


def chunk(b):
    return b"%x\r\n%s\r\n" % (len(b), b)


def stream_head():
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")


def start_events():
    return [sse("message_start", {"type": "message_start", "message": {
        "id": "msg_h", "type": "message", "role": "assistant",
        "content": [], "model": "m", "usage": {"input_tokens": 1,
                                              "output_tokens": 1}}}),
            sse("content_block_start", {
                "type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}})]


def delta(text):
    return sse("content_block_delta", {"type": "content_block_delta",
                                       "index": 0, "delta": {
                                           "type": "text_delta",
                                           "text": text}})


def end_events():
    return [sse("content_block_stop", {"type": "content_block_stop",
                                       "index": 0}),
            sse("message_delta", {"type": "message_delta", "delta": {
                "stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}),
            sse("message_stop", {"type": "message_stop"})]


def answer(c, text):
    ev = start_events() + [delta(text)] + end_events()
    c.sendall(stream_head() + b"".join(chunk(e) for e in ev) +
              b"0\r\n\r\n")


def read_request(c, buf):
    while b"\r\n\r\n" not in buf:
        d = c.recv(65536)
        if not d:
            return None, buf
        buf += d
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    hdrs = {}
    for ln in lines[1:]:
        k, v = ln.split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    while len(buf) < n:
        d = c.recv(65536)
        if not d:
            return None, buf
        buf += d
    return (method, target, hdrs, buf[:n]), buf[n:]


def handle(c, method, target, hdrs, body):
    """Answers one request; False when the connection must close."""
    if method == "GET" and target == "/redirect":
        c.sendall(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n"
                  b"Content-Length: 0\r\n\r\n")
        return True
    req = json.loads(body or b"{}")
    prompt = (req.get("messages") or [{}])[-1].get("content", "")
    mode = prompt.split("[[", 1)[1].split("]]", 1)[0] \
        if "[[" in prompt else "ok"
    key = hdrs.get("x-api-key", "")
    with LOCK:
        COUNTS[prompt] = COUNTS.get(prompt, 0) + 1
        n = COUNTS[prompt]
    if mode == "endless":
        c.sendall(stream_head() + b"".join(chunk(e)
                                           for e in start_events()))
        piece = chunk(delta("x" * 60000))
        deadline = time.time() + 60
        while time.time() < deadline:
            c.sendall(piece)
        return False
    if mode == "trickle":
        c.sendall(stream_head())
        line = chunk(b"event: content_block_delta\n" * 100)
        for b in line:
            c.sendall(bytes([b]))
            time.sleep(0.1)
        return False
    if mode == "badjson":
        ev = start_events() + [b"event: content_block_delta\n"
                               b"data: {\"type\": oops\n\n",
                               delta("fine")] + end_events()
        c.sendall(stream_head() + b"".join(chunk(e) for e in ev) +
                  b"0\r\n\r\n")
        return True
    if mode == "echo":
        answer(c, "whole %s; split %s\n%s; cut %s." % (
            key, key[:10], key[10:], key[:12]))
        return True
    if mode == "stream":
        gate = prompt.split("]]", 1)[1].strip()
        c.sendall(stream_head() + b"".join(chunk(e) for e in start_events())
                  + chunk(delta("first streamed words ")))
        deadline = time.time() + 60
        while not os.path.exists(gate) and time.time() < deadline:
            time.sleep(0.05)
        for p in ["whole ", key[:3], key[3:9], key[9:17], key[17:],
                  "; split ", key[:6], key[6:10] + "\n", key[10:],
                  "; cut ", key[:5], key[5:13], ".\n"]:
            c.sendall(chunk(delta(p)))
            time.sleep(0.15)
        c.sendall(b"".join(chunk(e) for e in end_events()) + b"0\r\n\r\n")
        return True
    if mode == "fuzz":
        rnd = random.Random(prompt.split("]]", 1)[1].strip())
        text = ""
        for _ in range(40):
            a = rnd.randrange(len(key))
            b = rnd.randrange(a, len(key) + 1)
            piece = key if rnd.random() < 0.3 else key[a:b]
            if rnd.random() < 0.3 and len(piece) > 2:
                k = rnd.randrange(1, len(piece))
                piece = piece[:k] + rnd.choice(["\n", "\r\n", "\n\n"]) + \
                    piece[k:]
            text += piece + rnd.choice(["", " ", "x", "-", "\n", key[-1]])
        ev = start_events()
        i = 0
        while i < len(text):
            n = rnd.randrange(1, 10)
            ev.append(delta(text[i:i + n]))
            i += n
        c.sendall(stream_head() + b"".join(chunk(e) for e in ev +
                                           end_events()) + b"0\r\n\r\n")
        return True
    if mode == "echoerr":
        msg = "invalid x-api-key %s\n%s (cut: %s)" % (key[:5], key[5:],
                                                      key[:12])
        b = json.dumps({"type": "error", "error": {
            "type": "invalid_request_error", "message": msg}}).encode()
        c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: "
                  b"application/json\r\nContent-Length: %d\r\n\r\n%s"
                  % (len(b), b))
        return True
    if mode == "gzip":
        ev = start_events() + [delta("fine")] + end_events()
        b = gzip.compress(b"".join(ev))
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                  b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
                  % (len(b), b))
        return True
    if mode == "extra":
        # corked: both answers reach the peer together, as two TLS
        # records, so the extra one is waiting when the first is read
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        answer(c, "answer to: " + prompt.split("]]", 1)[1].strip())
        answer(c, "EXTRA")
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
        return True
    if mode == "ra1e300" and n == 1:
        b = json.dumps({"type": "error", "error": {
            "type": "rate_limit_error", "message": "slow down"}}).encode()
        c.sendall(b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 1e300\r\n"
                  b"retry-after-ms: 1e300\r\nContent-Length: %d\r\n\r\n%s"
                  % (len(b), b))
        return True
    answer(c, "fine")
    return True


def serve(c, ctx):
    buf = b""
    try:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ctx is not None:
            c = ctx.wrap_socket(c, server_side=True)
        c.settimeout(30)
        while True:
            r, buf = read_request(c, buf)
            if r is None or not handle(c, *r):
                break
    except (OSError, ValueError, ssl.SSLError):
        pass
    finally:
        c.close()


def main():
    portfile = sys.argv[1]
    ctx = None
    if len(sys.argv) > 3 and sys.argv[2] == "--cert":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[3], sys.argv[5])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    deadline = time.time() + 170
    s.settimeout(1)
    while time.time() < deadline:
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(c, ctx), daemon=True).start()


if __name__ == "__main__":
    main()
