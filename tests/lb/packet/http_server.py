#!/usr/bin/env python3
"""A tiny HTTP server for lbd's packet-mode tests.

  http_server.py --port PORT --name NAME     serve until SIGTERM
  http_server.py --print-big-sha             print the SHA-256 of /big

GET /      -> "NAME\n" (and the header X-Served-By: NAME)
GET /big   -> 50 MiB of deterministic bytes (a 1 MiB block repeated)
POST /     -> the SHA-256 (hex) of the request body
anything else -> 404
UDP datagrams to the same port are answered with "NAME\n".
"""
import argparse
import hashlib
import http.server
import signal
import socket
import socketserver
import sys
import threading

BIG_BLOCKS = 50


def big_block():
    out = bytearray()
    seed = b"lbd-packet"
    while len(out) < 1 << 20:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return bytes(out[: 1 << 20])


BLOCK = big_block()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_name_value = "?"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BLOCK) * BIG_BLOCKS))
            self.send_header("X-Served-By", self.server_name_value)
            self.end_headers()
            for _ in range(BIG_BLOCKS):
                self.wfile.write(BLOCK)
            return
        if self.path in ("/", "/health"):
            body = (self.server_name_value + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Served-By", self.server_name_value)
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_error(404)

    def do_POST(self):
        left = int(self.headers.get("Content-Length", "0"))
        h = hashlib.sha256()
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
        body = (h.hexdigest() + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Served-By", self.server_name_value)
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int)
    ap.add_argument("--name")
    ap.add_argument("--print-big-sha", action="store_true")
    args = ap.parse_args()
    if args.print_big_sha:
        h = hashlib.sha256()
        for _ in range(BIG_BLOCKS):
            h.update(BLOCK)
        print(h.hexdigest())
        return 0
    Handler.server_name_value = args.name
    srv = Server(("0.0.0.0", args.port), Handler)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", args.port))

    def echo():
        while True:
            _, peer = udp.recvfrom(2048)
            udp.sendto((args.name + "\n").encode(), peer)

    threading.Thread(target=echo, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
