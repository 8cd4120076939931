#!/usr/bin/env python3
"""A small HTTP CONNECT proxy on loopback, for client tests.

usage: connect_proxy.py PORTFILE LOGFILE [USER:PASS]
Writes its port to PORTFILE and one line per CONNECT to LOGFILE:
"CONNECT host:port auth=<Proxy-Authorization or ->".  With USER:PASS, a
request without those Basic credentials gets 407.  Lives at most 120 s.
"""
import base64
import os
import select
import socket
import sys
import threading
import time


def pipe(a, b):
    socks = [a, b]
    try:
        while True:
            r, _, _ = select.select(socks, [], [], 30)
            if not r:
                return
            for s in r:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        pass
    finally:
        a.close()
        b.close()


def handle(c, log, cred, lock):
    head = b""
    while b"\r\n\r\n" not in head:
        d = c.recv(4096)
        if not d:
            c.close()
            return
        head += d
    lines = head.split(b"\r\n")
    parts = lines[0].decode().split()
    auth = "-"
    for ln in lines[1:]:
        if ln.lower().startswith(b"proxy-authorization:"):
            auth = ln.split(b":", 1)[1].strip().decode()
    with lock:
        with open(log, "a") as f:
            f.write("%s %s auth=%s\n" % (parts[0], parts[1], auth))
    if parts[0] != "CONNECT":
        c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
        c.close()
        return
    if cred is not None:
        want = "Basic " + base64.b64encode(cred.encode()).decode()
        if auth != want:
            c.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                      b"Proxy-Authenticate: Basic realm=\"t\"\r\n"
                      b"Content-Length: 0\r\n\r\n")
            c.close()
            return
    host, port = parts[1].rsplit(":", 1)
    host = host.strip("[]")
    try:
        u = socket.create_connection((host, int(port)), 5)
    except OSError:
        c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        c.close()
        return
    c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    pipe(c, u)


def main():
    portfile, log = sys.argv[1], sys.argv[2]
    cred = sys.argv[3] if len(sys.argv) > 3 else None
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    lock = threading.Lock()
    s.settimeout(1)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(c, log, cred, lock),
                         daemon=True).start()


if __name__ == "__main__":
    main()
