#!/usr/bin/env python3
"""A loopback TCP server that misbehaves on purpose, for client tests.

usage: http_mock.py PORTFILE MODE [HOST]
Writes the port it listens on to PORTFILE.  MODES:
  silent      accept and never answer (first-byte or TLS handshake timeout)
  stall       send a head and part of the body, then nothing (idle timeout)
  garbage     answer with bytes that are not HTTP (protocol error)
  stale       answer the first request on each connection with keep-alive,
              then close it without a word (a pooled connection gone bad)
  sse         a slow event stream: one event every 50 ms, forever
"""
import socket
import sys
import threading
import time


def read_head(c):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(65536)
        if not chunk:
            return None
        data += chunk
    return data


def handle(mode, c):
    try:
        if mode == "silent":
            time.sleep(60)
        elif mode == "stall":
            read_head(c)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
            time.sleep(60)
        elif mode == "garbage":
            read_head(c)
            c.sendall(b"SPDY/9 what\r\n\r\n")
            time.sleep(1)
        elif mode == "stale":
            if read_head(c) is None:
                return
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
            # the peer keeps this connection; drop it once it has read
            time.sleep(0.3)
        elif mode == "sse":
            read_head(c)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream"
                      b"\r\nTransfer-Encoding: chunked\r\n\r\n")
            n = 0
            while True:
                ev = b"data: %d\n\n" % n
                c.sendall(b"%x\r\n%s\r\n" % (len(ev), ev))
                n += 1
                time.sleep(0.05)
    except OSError:
        pass
    finally:
        c.close()


def main():
    portfile, mode = sys.argv[1], sys.argv[2]
    host = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    s.listen(128)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    deadline = time.time() + 120
    s.settimeout(1)
    while time.time() < deadline:
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(mode, c), daemon=True).start()


if __name__ == "__main__":
    main()
