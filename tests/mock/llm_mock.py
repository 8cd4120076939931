#!/usr/bin/env python3
"""A loopback LLM API server for tests: Anthropic Messages and OpenAI chat
completions, streamed, byte for byte as the real APIs send them.

usage: llm_mock.py PORTFILE [--cert PEM --key PEM] [--stats FILE]
                   [--log FILE] [--api-key KEY] [--max-inflight N]
                   [--host 127.0.0.1] [--always 'k=v ...']

POST .../v1/messages speaks Anthropic, POST .../chat/completions OpenAI.
Each request is scripted by a directive in its prompt, [[k=v k2=v2 ...]]:
  reply=TEXT     the answer (default: "reply to: " + the prompt without the
                 directive); '_' in TEXT stands for a space
  reply_file=PATH  the answer is the contents of the file PATH
  delta=N        characters per text delta (default 4)
  chunk=N        write the response in pieces of N bytes (down to 1)
  latency=S      wait S seconds before the response head (slow first byte)
  gap=S          wait S seconds between events
  in=N out=N     usage to report (default: bytes of the prompt; deltas)
  cache_read=N cache_write=N
  fail=CODE[xN]  answer the first N requests of this prompt (all without N)
                 with CODE (429, 529, 500, 400, 401, 404, ...)
  ra=ms:V | ra=s:V | ra=date:V   retry-after-ms, retry-after in seconds or
                 as an HTTP date V seconds ahead, sent with fail
  retry=true|false   x-should-retry header sent with fail
  quota          a 429 that is OpenAI's insufficient_quota
  spend          a 429 that is Anthropic's "extra usage" answer: a spend
                 limit, no retry-after (send it with fail=429)
  err=N          an error event mid-stream on the first N requests
                 (0: every request); the stream then ends
  drop=N         the connection drops mid-stream on the first N requests
                 (0: every request)
  thinking tool unknown blocks=N   Anthropic extras: a thinking block, a
                 tool_use block, an unknown event type, N text blocks
  noinclude      OpenAI: behave like a server that ignores include_usage
  nullchoices    OpenAI: the usage chunk has "choices": null
--max-inflight N answers 429 (retry-after-ms: 50) to a request that
arrives while N are being answered.
--always 'k=v ...' applies those directives to every request, under the
prompt's own (--always 'fail=529': a provider down for everyone).
Stats (JSON, rewritten after every request): requests, per-path counts,
max_inflight, max_connections, tokens_in/out sent, statuses.  The log has
one JSON line per request: time, api, prompt, model, max_tokens,
temperature, system, the headers that are not secrets, status, auth.
"""
import email.utils
import json
import os
import re
import socket
import ssl
import sys
import threading
import time

LOCK = threading.Lock()
STATS = {"requests": 0, "inflight": 0, "max_inflight": 0,
         "connections": 0, "max_connections": 0, "tokens_in": 0,
         "tokens_out": 0, "cache_read": 0, "cache_write": 0,
         "statuses": {}, "by_api": {}}
COUNTS = {}
OPTS = {}


def save_stats():
    path = OPTS.get("stats")
    if not path:
        return
    with open(path + ".tmp", "w") as f:
        json.dump(STATS, f)
    os.replace(path + ".tmp", path)


def log_line(d):
    path = OPTS.get("log")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(d) + "\n")


def parse_directive(prompt):
    m = re.search(r"\[\[(.*?)\]\]", prompt)
    d = {}
    if not m:
        return prompt, d
    for part in m.group(1).split():
        if "=" in part:
            k, v = part.split("=", 1)
            d[k] = v
        else:
            d[part] = "1"
    clean = (prompt[:m.start()] + prompt[m.end():]).strip()
    return clean, d


def count_limit(v):
    """'429x2' -> (429, 2); '500' -> (500, None)"""
    if "x" in v:
        a, b = v.split("x", 1)
        return int(a), int(b)
    return int(v), None


class Conn:
    def __init__(self, sock, chunk):
        self.s = sock
        self.chunk = chunk

    def send(self, data):
        if self.chunk and self.chunk > 0:
            for i in range(0, len(data), self.chunk):
                self.s.sendall(data[i:i + self.chunk])
        else:
            self.s.sendall(data)


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
    body, buf = buf[:n], buf[n:]
    return (method, target, hdrs, body), buf


def chunked(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def anthropic_error_body(etype, msg):
    return json.dumps({"type": "error", "error": {"type": etype,
                       "message": msg},
                       "request_id": "req_mock"}).encode()


def openai_error_body(etype, msg, code):
    return json.dumps({"error": {"message": msg, "type": etype,
                       "param": None, "code": code}}).encode()


def error_for(api, code, d):
    if api == "anthropic":
        kinds = {400: "invalid_request_error", 401: "authentication_error",
                 403: "permission_error", 404: "not_found_error",
                 408: "timeout_error", 409: "conflict_error",
                 429: "rate_limit_error", 500: "api_error",
                 529: "overloaded_error"}
        t = kinds.get(code, "api_error")
        msgs = {429: "Number of requests has exceeded your rate limit",
                529: "Overloaded", 401: "invalid x-api-key",
                400: "max_tokens: field required (mock)",
                404: "model: no-such-model"}
        if code == 429 and "spend" in d:
            return anthropic_error_body(t, "Extra usage is required for "
                                        "long context requests.")
        return anthropic_error_body(t, msgs.get(code, "mock error %d" % code))
    if code == 429 and "quota" in d:
        return openai_error_body("insufficient_quota",
                                 "You exceeded your current quota, please "
                                 "check your plan and billing details.",
                                 "insufficient_quota")
    kinds = {400: ("invalid_request_error", None),
             401: ("invalid_request_error", "invalid_api_key"),
             404: ("invalid_request_error", "model_not_found"),
             429: ("requests", "rate_limit_exceeded"),
             500: ("server_error", None)}
    t, c = kinds.get(code, ("server_error", None))
    msgs = {401: "Incorrect API key provided: sk-mo***key.",
            404: "The model `no-such-model` does not exist",
            429: "Rate limit reached for requests"}
    return openai_error_body(t, msgs.get(code, "mock error %d" % code), c)


REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 408: "Request Timeout",
           409: "Conflict", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable",
           529: "Overloaded"}


def send_error(conn, api, code, d, entry=None):
    body = error_for(api, code, d)
    h = ["HTTP/1.1 %d %s" % (code, REASONS.get(code, "Error")),
         "Content-Type: application/json",
         "Content-Length: %d" % len(body)]
    ra = d.get("ra")
    if ra:
        kind, v = ra.split(":", 1)
        if kind == "ms":
            h.append("retry-after-ms: %s" % v)
        elif kind == "s":
            h.append("retry-after: %s" % v)
        elif kind == "date":
            h.append("retry-after: %s" % email.utils.formatdate(
                time.time() + float(v), usegmt=True))
    if "retry" in d:
        h.append("x-should-retry: %s" % d["retry"])
    if entry is not None:
        # before the send: the client cannot have the answer any sooner
        # ("end", taken after, can come late on a busy machine)
        entry["sent"] = time.time()
    conn.send(("\r\n".join(h) + "\r\n\r\n").encode() + body)


def pieces(text, n):
    return [text[i:i + n] for i in range(0, len(text), n)] or [""]


def sse(event, obj):
    data = json.dumps(obj, separators=(",", ":"))
    if event is None:
        return ("data: %s\n\n" % data).encode()
    return ("event: %s\ndata: %s\n\n" % (event, data)).encode()


def anthropic_stream(req, d, reply, usage, nreq):
    model = req.get("model", "claude-mock")
    ev = []
    u0 = {"input_tokens": usage["in"],
          "cache_creation_input_tokens": usage["cache_write"],
          "cache_read_input_tokens": usage["cache_read"],
          "output_tokens": 1}
    ev.append(sse("message_start", {"type": "message_start", "message": {
        "id": "msg_mock%d" % nreq, "type": "message", "role": "assistant",
        "content": [], "model": model, "stop_reason": None,
        "stop_sequence": None, "usage": u0}}))
    idx = 0
    if "thinking" in d:
        ev.append(sse("content_block_start", {
            "type": "content_block_start", "index": idx,
            "content_block": {"type": "thinking", "thinking": "",
                              "signature": ""}}))
        ev.append(sse("content_block_delta", {
            "type": "content_block_delta", "index": idx,
            "delta": {"type": "thinking_delta",
                      "thinking": "Let me think."}}))
        ev.append(sse("content_block_delta", {
            "type": "content_block_delta", "index": idx,
            "delta": {"type": "signature_delta",
                      "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"}}))
        ev.append(sse("content_block_stop", {"type": "content_block_stop",
                                             "index": idx}))
        idx += 1
    ev.append(sse("ping", {"type": "ping"}))
    if "unknown" in d:
        ev.append(sse("future_event", {"type": "future_event",
                                       "what": "ignore me"}))
    nblocks = int(d.get("blocks", "1"))
    parts = [reply[i * len(reply) // nblocks:(i + 1) * len(reply) // nblocks]
             for i in range(nblocks)]
    err_at = None
    for b, part in enumerate(parts):
        ev.append(sse("content_block_start", {
            "type": "content_block_start", "index": idx,
            "content_block": {"type": "text", "text": ""}}))
        for p in pieces(part, int(d.get("delta", "4"))):
            ev.append(sse("content_block_delta", {
                "type": "content_block_delta", "index": idx,
                "delta": {"type": "text_delta", "text": p}}))
            if err_at is None and b == len(parts) - 1:
                err_at = len(ev)
        ev.append(sse("content_block_stop", {"type": "content_block_stop",
                                             "index": idx}))
        idx += 1
    if "tool" in d:
        ev.append(sse("content_block_start", {
            "type": "content_block_start", "index": idx,
            "content_block": {"type": "tool_use", "id": "toolu_mock",
                              "name": "get_weather", "input": {}}}))
        for p in ['{"loc', 'ation": "Par', 'is"}']:
            ev.append(sse("content_block_delta", {
                "type": "content_block_delta", "index": idx,
                "delta": {"type": "input_json_delta", "partial_json": p}}))
        ev.append(sse("content_block_stop", {"type": "content_block_stop",
                                             "index": idx}))
    ev.append(sse("message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": usage["out"]}}))
    ev.append(sse("message_stop", {"type": "message_stop"}))
    error_ev = sse("error", {"type": "error", "error": {
        "type": "overloaded_error", "message": "Overloaded"}})
    return ev, err_at, error_ev


def openai_stream(req, d, reply, usage, nreq):
    model = req.get("model", "gpt-mock")
    include = bool((req.get("stream_options") or {}).get("include_usage")) \
        and "noinclude" not in d
    base = {"id": "chatcmpl-mock%d" % nreq, "object": "chat.completion.chunk",
            "created": 1700000000, "model": model,
            "system_fingerprint": "fp_mock"}

    def chunk(choices, usage_v=None, final=False):
        o = dict(base)
        o["choices"] = choices
        if include:
            o["usage"] = usage_v
        return sse(None, o)
    ev = [chunk([{"index": 0, "delta": {"role": "assistant", "content": ""},
                  "logprobs": None, "finish_reason": None}])]
    err_at = None
    for p in pieces(reply, int(d.get("delta", "4"))):
        ev.append(chunk([{"index": 0, "delta": {"content": p},
                          "logprobs": None, "finish_reason": None}]))
        if err_at is None:
            err_at = len(ev)
    ev.append(chunk([{"index": 0, "delta": {}, "logprobs": None,
                      "finish_reason": "stop"}]))
    if include:
        u = {"prompt_tokens": usage["in"], "completion_tokens": usage["out"],
             "total_tokens": usage["in"] + usage["out"]}
        if usage["cache_read"]:
            u["prompt_tokens_details"] = {"cached_tokens":
                                          usage["cache_read"]}
        o = dict(base)
        o["choices"] = None if "nullchoices" in d else []
        o["usage"] = u
        ev.append(sse(None, o))
    ev.append(b"data: [DONE]\n\n")
    error_ev = sse(None, {"error": {"message": "The server had an error "
                                    "while processing your request.",
                                    "type": "server_error", "param": None,
                                    "code": None}})
    return ev, err_at, error_ev


def first_n(d, key, n):
    """True when directive key applies to the n-th (1-based) request."""
    if key not in d:
        return False
    lim = int(d[key])
    return lim == 0 or n <= lim


def handle_one(conn, method, target, hdrs, body):
    api = "anthropic" if target.endswith("/v1/messages") else \
        "openai" if target.endswith("/chat/completions") else None
    if method != "POST" or api is None:
        msg = b"not found\n"
        conn.send(b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s"
                  % (len(msg), msg))
        return 404, {}
    req = json.loads(body or b"{}")
    msgs = req.get("messages") or [{}]
    prompt = msgs[-1].get("content", "")
    system = req.get("system")
    if api == "openai" and msgs and msgs[0].get("role") == "system":
        system = msgs[0].get("content")
    clean, d = parse_directive(prompt)
    if OPTS.get("always"):
        d = dict(parse_directive("[[%s]]" % OPTS["always"])[1], **d)
    key = api + "|" + prompt
    with LOCK:
        COUNTS[key] = COUNTS.get(key, 0) + 1
        n = COUNTS[key]
        STATS["requests"] += 1
        STATS["by_api"][api] = STATS["by_api"].get(api, 0) + 1
        STATS["inflight"] += 1
        STATS["max_inflight"] = max(STATS["max_inflight"],
                                    STATS["inflight"])
        over = OPTS.get("max_inflight") and \
            STATS["inflight"] > OPTS["max_inflight"]
    entry = {"t": time.time(), "api": api, "prompt": prompt, "n": n,
             "model": req.get("model"), "max_tokens": req.get("max_tokens"),
             "temperature": req.get("temperature"), "system": system,
             "stream": req.get("stream"),
             "stream_options": req.get("stream_options"),
             "headers": {k: v for k, v in hdrs.items()
                         if k not in ("x-api-key", "authorization")}}
    status = 200
    usage = {"in": 0, "out": 0, "cache_read": 0, "cache_write": 0}
    try:
        want = OPTS.get("api_key")
        if want:
            got = hdrs.get("x-api-key") if api == "anthropic" else \
                hdrs.get("authorization", "")[len("Bearer "):]
            entry["auth"] = "ok" if got == want else "bad"
            if got != want:
                status = 401
                send_error(conn, api, 401, d, entry)
                return status, entry
        if over:
            status = 429
            send_error(conn, api, 429, {"ra": "ms:50"}, entry)
            return status, entry
        if "latency" in d:
            time.sleep(float(d["latency"]))
        if "fail" in d:
            code, lim = count_limit(d["fail"])
            if lim is None or n <= lim:
                status = code
                send_error(conn, api, code, d, entry)
                return status, entry
        if "reply_file" in d:
            with open(d["reply_file"], encoding="utf-8") as f:
                reply = f.read()
        elif "reply" in d:
            reply = d["reply"].replace("_", " ")
        else:
            reply = "reply to: " + clean
        nd = len(pieces(reply, int(d.get("delta", "4"))))
        usage = {"in": int(d.get("in", len(prompt.encode()))),
                 "out": int(d.get("out", nd)),
                 "cache_read": int(d.get("cache_read", "0")),
                 "cache_write": int(d.get("cache_write", "0"))}
        if api == "anthropic":
            ev, err_at, error_ev = anthropic_stream(req, d, reply, usage, n)
            ctype = "text/event-stream; charset=utf-8"
        else:
            ev, err_at, error_ev = openai_stream(req, d, reply, usage, n)
            ctype = "text/event-stream"
        head = ("HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
                "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n"
                "request-id: req_mock%d\r\n\r\n" % (ctype, n)).encode()
        conn.send(head)
        gap = float(d.get("gap", "0"))
        do_err = first_n(d, "err", n)
        do_drop = first_n(d, "drop", n)
        for i, e in enumerate(ev):
            if (do_err or do_drop) and i == err_at:
                if do_drop:
                    status = -1
                    raise ConnectionAbortedError("drop")
                conn.send(chunked(error_ev))
                conn.send(b"0\r\n\r\n")
                status = -2
                return status, entry
            conn.send(chunked(e))
            if gap:
                time.sleep(gap)
        conn.send(b"0\r\n\r\n")
        with LOCK:
            STATS["tokens_in"] += usage["in"]
            STATS["tokens_out"] += usage["out"]
            STATS["cache_read"] += usage["cache_read"]
            STATS["cache_write"] += usage["cache_write"]
        return status, entry
    finally:
        entry["status"] = status
        entry["usage"] = usage if status == 200 else None
        entry["end"] = time.time()
        with LOCK:
            STATS["inflight"] -= 1
            s = str(status)
            STATS["statuses"][s] = STATS["statuses"].get(s, 0) + 1
            log_line(entry)
            save_stats()


def serve(c):
    with LOCK:
        STATS["connections"] += 1
        STATS["max_connections"] = max(STATS["max_connections"],
                                       STATS["connections"])
    buf = b""
    try:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if OPTS.get("ctx"):
            c = OPTS["ctx"].wrap_socket(c, server_side=True)
        c.settimeout(30)
        while True:
            r, buf = read_request(c, buf)
            if r is None:
                break
            method, target, hdrs, body = r
            clean, d = "", {}
            try:
                p = json.loads(body or b"{}").get("messages") or [{}]
                clean, d = parse_directive(p[-1].get("content", ""))
            except (ValueError, AttributeError):
                pass
            conn = Conn(c, int(d.get("chunk", "0")))
            status, _ = handle_one(conn, method, target, hdrs, body)
            if status == -1:
                break
    except (OSError, ssl.SSLError, ValueError):
        pass
    finally:
        with LOCK:
            STATS["connections"] -= 1
        try:
            c.close()
        except OSError:
            pass


def main():
    args = sys.argv[1:]
    portfile = args.pop(0)
    host = "127.0.0.1"
    cert = key = None
    while args:
        a = args.pop(0)
        if a == "--cert":
            cert = args.pop(0)
        elif a == "--key":
            key = args.pop(0)
        elif a == "--stats":
            OPTS["stats"] = args.pop(0)
        elif a == "--log":
            OPTS["log"] = args.pop(0)
        elif a == "--api-key":
            OPTS["api_key"] = args.pop(0)
        elif a == "--max-inflight":
            OPTS["max_inflight"] = int(args.pop(0))
        elif a == "--always":
            OPTS["always"] = args.pop(0)
        elif a == "--host":
            host = args.pop(0)
        else:
            sys.exit("llm_mock.py: unknown option " + a)
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        OPTS["ctx"] = ctx
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    s.listen(256)
    save_stats()
    with open(portfile + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    deadline = time.time() + 300
    s.settimeout(1)
    while time.time() < deadline:
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
