#!/usr/bin/env python3
"""Connection rate probe for bench/packet/compare.sh.

  conn_rate.py server PORT            accept and close, forever (SIGTERM stops)
  conn_rate.py client IP PORT SECS N  N processes open+close connections for
                                      SECS seconds; prints connections/s
Python bounds the rate (a few thousand per second per core); the figure
compares forwarders under the same client, it is not the forwarders' limit.
"""
import multiprocessing
import socket
import sys
import time


def serve(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(4096)
    while True:
        c, _ = s.accept()
        c.close()


def worker(ip, port, secs, out):
    done = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # RST, no TIME_WAIT
        c.settimeout(2)
        try:
            c.connect((ip, port))
            done += 1
        except OSError:
            pass
        c.close()
    out.put(done)


def main():
    if sys.argv[1] == "server":
        serve(int(sys.argv[2]))
        return 0
    ip, port, secs, n = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    q = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=worker, args=(ip, port, secs, q)) for _ in range(n)]
    for p in ps:
        p.start()
    total = sum(q.get() for _ in ps)
    for p in ps:
        p.join()
    print("%.0f" % (total / secs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
