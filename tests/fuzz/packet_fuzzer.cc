// libFuzzer target: lbd_packet's parsing and rewriting (lbd/packet/packet.h)
// and the receive path of lbd-tunnel (IP-in-IP decapsulation, then
// TcpCoalescer).
//
// The input is one or more IPv4 packets back to back, each as long as its
// total length field says (as a batch of raw-socket reads). Each packet:
// - goes through ParsePacket(); a parsed one is rewritten (destination, then
//   source) and, when its checksums were valid before, they must still be
//   valid (RFC 1624 incremental update); a TCP one is cut into GSO segments
//   whose checksums must be complete; the ICMP "fragmentation needed" for it
//   must carry a valid ICMP checksum;
// - is decapsulated as lbd-tunnel does (outer IPv4 with protocol 4) and the
//   inner packet, or the packet itself, is added to a TcpCoalescer batch,
//   whose outputs are then read whole.
// IPv6 (version 6) is not parsed yet: ParsePacket() rejects it as
// kBadVersion; a v6 branch belongs here when lbd_packet grows one.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "lbd/packet/checksum.h"
#include "lbd/packet/packet.h"
#include "tcp_coalescer.h"

namespace {

uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

bool IpChecksumOk(const uint8_t* ip, size_t ihl) {
  return lbd::ChecksumFold(lbd::ChecksumPartial(ip, ihl)) == 0xffff;
}

// The transport checksum over the pseudo-header and `l4_len` bytes at `l4`.
bool L4ChecksumOk(const uint8_t* ip, const uint8_t* l4, size_t l4_len, uint8_t protocol) {
  uint8_t pseudo[12];
  std::memcpy(pseudo, ip + 12, 8);
  pseudo[8] = 0;
  pseudo[9] = protocol;
  pseudo[10] = static_cast<uint8_t>(l4_len >> 8);
  pseudo[11] = static_cast<uint8_t>(l4_len);
  uint32_t sum = lbd::ChecksumPartial(pseudo, sizeof(pseudo));
  sum = lbd::ChecksumPartial(l4, l4_len, sum);
  return lbd::ChecksumFold(sum) == 0xffff;
}

// Transport bytes the checksum covers: the UDP length, or the rest of the IP
// packet for TCP.
size_t L4Len(const lbd::PacketView& v) {
  return v.protocol == lbd::kProtoUdp ? Get16(v.data + v.l4_offset + 4) : v.len - v.l4_offset;
}

void CheckParsed(uint8_t* data, size_t len) {
  lbd::PacketView v;
  lbd::DropReason reason = lbd::DropReason::kCount;
  if (!lbd::ParsePacket(data, len, &v, &reason)) {
    if (reason == lbd::DropReason::kCount) std::abort();  // a drop always has a reason
    (void)lbd::ToString(reason);
    return;
  }
  if (v.len > len || v.l4_offset < 20 || v.l4_offset > v.len) std::abort();
  const uint8_t* l4 = v.data + v.l4_offset;
  const bool udp_without_sum = v.protocol == lbd::kProtoUdp && Get16(l4 + 6) == 0;
  const bool ip_ok = IpChecksumOk(v.data, v.l4_offset);
  const bool l4_ok = !udp_without_sum && L4ChecksumOk(v.data, l4, L4Len(v), v.protocol);

  lbd::RewriteDestination(&v, 0x0a000002, 8080);
  lbd::RewriteSource(&v, 0xc0a80101, 40000);
  if (ip_ok && !IpChecksumOk(v.data, v.l4_offset)) std::abort();
  if (l4_ok && !L4ChecksumOk(v.data, l4, L4Len(v), v.protocol)) std::abort();
  if (udp_without_sum && Get16(l4 + 6) != 0) std::abort();  // RFC 768: stays "none"

  uint8_t icmp[lbd::kIcmpFragNeededMax];
  const size_t n = lbd::BuildIcmpFragNeeded(v, 0x0a000001, 1480, icmp);
  if (n < 28 || n > sizeof(icmp) || !IpChecksumOk(icmp, 20)) std::abort();
  if (lbd::ChecksumFold(lbd::ChecksumPartial(icmp + 20, n - 20)) != 0xffff) std::abort();

  // GSO segmentation with a small MSS picked from the packet.
  const size_t mss = 1 + v.len % 97;
  const size_t count = lbd::TcpSegmentCount(v, mss);
  if (count == 0 || count > 64) return;
  const size_t h = lbd::TcpHeadersLen(v);
  std::vector<uint8_t> seg(lbd::kMaxTcpHeaders + mss);
  size_t payload = 0;
  for (size_t i = 0; i < count; ++i) {
    const size_t bytes = lbd::WriteTcpSegmentHeaders(v, mss, i, seg.data());
    if (bytes > mss) std::abort();
    std::memcpy(seg.data() + h, v.data + h + i * mss, bytes);
    payload += bytes;
    if (!IpChecksumOk(seg.data(), v.l4_offset)) std::abort();
    if (!L4ChecksumOk(seg.data(), seg.data() + v.l4_offset, h - v.l4_offset + bytes,
                      lbd::kProtoTcp)) {
      std::abort();
    }
  }
  if (payload != v.len - h) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kBatch = 16;
  // One copy of the whole batch: the coalescer points into it until Clear().
  std::vector<uint8_t> batch(data, data + size);
  // Each packet is parsed and rewritten on a copy of its own.
  std::vector<uint8_t> scratch;
  lbd::TcpCoalescer coalescer(kBatch);
  size_t offset = 0;
  size_t added = 0;
  while (offset < size && added < kBatch) {
    uint8_t* p = batch.data() + offset;
    size_t len = size - offset;
    if (len >= 4) len = std::min<size_t>(len, std::max<size_t>(Get16(p + 2), 20));
    offset += len;

    scratch.assign(p, p + len);
    CheckParsed(scratch.data(), scratch.size());

    // lbd-tunnel: an outer IPv4 header with protocol 4, an inner IPv4 header.
    const size_t outer = len >= 20 ? static_cast<size_t>(p[0] & 0x0f) * 4 : 0;
    if (outer >= 20 && outer + 20 <= len && p[9] == lbd::kProtoIpip && (p[outer] >> 4) == 4) {
      scratch.assign(p + outer, p + len);
      CheckParsed(scratch.data(), scratch.size());
      if (!coalescer.Add(p + outer, len - outer)) std::abort();
    } else if (!coalescer.Add(p, len)) {
      std::abort();
    }
    ++added;
  }
  coalescer.Finish();
  size_t segments = 0;
  volatile uint8_t sink = 0;
  for (size_t i = 0; i < coalescer.outputs(); ++i) {
    size_t bytes = 0;
    for (const iovec& piece : coalescer.Output(i)) {
      const auto* b = static_cast<const uint8_t*>(piece.iov_base);
      for (size_t k = 0; k < piece.iov_len; ++k) sink = sink ^ b[k];  // reads every byte
      bytes += piece.iov_len;
    }
    if (bytes > lbd::TcpCoalescer::kVnetHdrLen + std::max(size, lbd::TcpCoalescer::kMaxTotal)) {
      std::abort();
    }
    segments += coalescer.Segments(i);
  }
  if (segments != added) std::abort();
  coalescer.Clear();
  return 0;
}
