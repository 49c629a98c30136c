#!/usr/bin/env python3
"""Sends malformed or unexpected packets to VIP:PORT through a raw socket
(IP_HDRINCL), for lbd-packet's drop counters. Run in the client namespace.

  inject.py VIP PORT

Sends, once each: a fragment (MF set), a second fragment (offset != 0), a
truncated TCP header, a TCP ACK that belongs to no flow, an ICMP echo, a UDP
datagram whose length field exceeds the packet, and a TCP SYN to another port.
"""
import socket
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip_header(src, dst, proto, payload_len, frag=0x4000):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 0x1234, frag, 64, proto, 0,
                      src, dst)
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]


def tcp(sport, dport, flags):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, flags, 65535, 0, 0)


def main():
    vip, port = sys.argv[1], int(sys.argv[2])
    dst = socket.inet_aton(vip)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    # Our own source address toward the VIP.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect((vip, port))
    src = socket.inet_aton(probe.getsockname()[0])
    probe.close()
    packets = []
    seg = tcp(40001, port, 0x02)
    packets.append(ip_header(src, dst, 6, len(seg), frag=0x2000) + seg)  # MF
    packets.append(ip_header(src, dst, 6, len(seg), frag=0x0003) + seg)  # offset 24
    packets.append(ip_header(src, dst, 6, 10) + seg[:10])  # truncated TCP
    ack = tcp(40002, port, 0x10)
    packets.append(ip_header(src, dst, 6, len(ack)) + ack)  # no flow
    icmp = struct.pack("!BBHHH", 8, 0, 0, 1, 1)
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    packets.append(ip_header(src, dst, 1, len(icmp)) + icmp)  # unsupported protocol
    udp = struct.pack("!HHHH", 40003, port, 200, 0) + b"x" * 4
    packets.append(ip_header(src, dst, 17, len(udp)) + udp)  # UDP length > packet
    syn = tcp(40004, port + 1, 0x02)
    packets.append(ip_header(src, dst, 6, len(syn)) + syn)  # not the service's port
    for p in packets:
        s.sendto(p, (vip, 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
