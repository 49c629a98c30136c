#!/usr/bin/env python3
"""Writes the binary seeds of tests/fuzz/corpus (packets, VRRP adverts).

The text seeds (configs, commands, HTTP, JSON) are plain files kept as they
are; this script makes the ones that are easier to read as code. The VRRP
seeds are keepalived v2.2.7's captured adverts
(the vrrp_hex of each frame of the shared reference capture
vrrp-vectors-keepalived.txt) behind the IPv4 header they were received with:
  tests/fuzz/make_seeds.py [path/to/vrrp-vectors-keepalived.txt]
Without the capture only the packet seeds are written.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip(src, dst, proto, payload, ttl=64, ident=1, df=True):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident,
                      0x4000 if df else 0, ttl, proto, 0, bytes(src), bytes(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def l4_sum(src, dst, proto, seg):
    pseudo = bytes(src) + bytes(dst) + struct.pack("!BBH", 0, proto, len(seg))
    return csum(pseudo + seg)


def tcp(src, dst, sport, dport, seq, flags, data=b"", ack=0):
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + data
    c = l4_sum(src, dst, 6, seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src, dst, sport, dport, data, with_sum=True):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = l4_sum(src, dst, 17, seg) if with_sum else 0
    return seg[:6] + struct.pack("!H", c or (0xFFFF if with_sum else 0)) + seg[8:]


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def packets():
    client, vip, rs = [10, 0, 0, 9], [10, 0, 0, 100], [10, 0, 1, 2]
    syn = ip(client, vip, 6, tcp(client, vip, 40000, 80, 1000, 0x02))
    write("fuzz_packet", "tcp_syn", syn)
    data = ip(client, vip, 6, tcp(client, vip, 40000, 80, 1001, 0x18, b"GET / HTTP/1.1\r\n\r\n", 5))
    write("fuzz_packet", "tcp_data", data)
    write("fuzz_packet", "udp", ip(client, vip, 17, udp(client, vip, 5000, 53, b"\x12\x34query")))
    write("fuzz_packet", "udp_no_checksum",
          ip(client, vip, 17, udp(client, vip, 5000, 53, b"abc", with_sum=False)))
    echo = struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"ping"
    echo = echo[:2] + struct.pack("!H", csum(echo)) + echo[4:]
    write("fuzz_packet", "icmp_echo", ip(client, vip, 1, echo))
    lb = [10, 0, 0, 1]
    write("fuzz_packet", "ipip_tcp_syn", ip(lb, rs, 4, syn, df=False))
    # A batch of consecutive segments of one flow, encapsulated, as lbd-tunnel
    # reads them: the coalescer merges them into one GSO packet.
    batch = b""
    for k in range(3):
        seg = tcp(client, vip, 40000, 80, 2000 + 8 * k, 0x10, bytes([65 + k]) * 8, 7)
        batch += ip(lb, rs, 4, ip(client, vip, 6, seg, ident=10 + k), ident=k)
    write("fuzz_packet", "ipip_tcp_batch", batch)


def vrrp(path):
    seen = set()
    with open(path) as f:
        for line in f:
            if not line.startswith("frame ") or "vrrp_hex=" not in line:
                continue
            fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            msg = bytes.fromhex(fields["vrrp_hex"])
            src = [int(x) for x in fields["src"].split(".")]
            ver = line.split()[2]
            name = "keepalived_%s_prio%s_%s" % (ver, fields["prio"], fields["src"].replace(".", "_"))
            if name in seen:
                continue
            seen.add(name)
            write("fuzz_vrrp", name, ip(src, [224, 0, 0, 18], 112, msg, ttl=255, df=False))


packets()
if len(sys.argv) > 1:
    vrrp(sys.argv[1])
