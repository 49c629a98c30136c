#!/usr/bin/env python3
"""udp_probe.py VIP PORT COUNT: sends one datagram from each of COUNT sockets
(COUNT source ports, so COUNT flows) and prints each answer on its own line."""
import socket
import sys


def main():
    vip, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
        s.sendto(b"ping", (vip, port))
        print(s.recvfrom(100)[0].decode().strip(), flush=True)
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
