#include "lbd/packet/packet.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "lbd/packet/checksum.h"

namespace lbd {
namespace {

uint16_t Load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
void Store16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
void Store32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

// Offset of the transport checksum within the L4 header.
size_t L4CheckOffset(uint8_t protocol) { return protocol == kProtoTcp ? 16 : 6; }

// Rewrites the address at `ip_off` (12 = source, 16 = destination) and the
// port at `port_off` (0 = source, 2 = destination) of the L4 header.
void Rewrite(PacketView* p, size_t ip_off, size_t port_off, uint32_t ip, uint16_t port,
             bool partial) {
  uint8_t* ip_hdr = p->data;
  uint8_t* l4 = p->data + p->l4_offset;
  const uint32_t old_ip = Load32(ip_hdr + ip_off);
  const uint32_t new_ip = htonl(ip);
  const uint16_t old_port = Load16(l4 + port_off);
  const uint16_t new_port = htons(port);
  // IP header checksum (RFC 791) covers the addresses.
  Store16(ip_hdr + 10, ChecksumAdjust32(Load16(ip_hdr + 10), old_ip, new_ip));
  Store32(ip_hdr + ip_off, new_ip);
  // TCP/UDP checksums cover the pseudo-header addresses and the ports.
  uint8_t* check = l4 + L4CheckOffset(p->protocol);
  uint16_t sum = Load16(check);
  if (partial) {
    // fold(sum + ~old + new), uncomplemented: RFC 1624 on the complement.
    Store16(check,
            static_cast<uint16_t>(~ChecksumAdjust32(static_cast<uint16_t>(~sum), old_ip, new_ip)));
    Store16(l4 + port_off, new_port);
    return;
  }
  const bool udp_without_sum = p->protocol == kProtoUdp && sum == 0;
  if (!udp_without_sum) {
    sum = ChecksumAdjust32(sum, old_ip, new_ip);
    sum = ChecksumAdjust16(sum, old_port, new_port);
    // RFC 768: a computed UDP checksum of zero is transmitted as all ones.
    if (p->protocol == kProtoUdp && sum == 0) sum = 0xffff;
    Store16(check, sum);
  }
  Store16(l4 + port_off, new_port);
}

}  // namespace

const char* ToString(DropReason reason) {
  switch (reason) {
    case DropReason::kTooShort:
      return "too_short";
    case DropReason::kBadVersion:
      return "bad_version";
    case DropReason::kBadIhl:
      return "bad_ihl";
    case DropReason::kBadTotalLength:
      return "bad_total_length";
    case DropReason::kFragment:
      return "fragment";
    case DropReason::kTruncatedL4:
      return "truncated_l4";
    case DropReason::kUnsupportedProtocol:
      return "unsupported_protocol";
    case DropReason::kNotService:
      return "not_service";
    case DropReason::kNoFlow:
      return "no_flow";
    case DropReason::kTableFull:
      return "table_full";
    case DropReason::kNoServer:
      return "no_server";
    case DropReason::kNoNeighbour:
      return "no_neighbour";
    case DropReason::kTooBig:
      return "too_big";
    case DropReason::kSendError:
      return "send_error";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

bool ParsePacket(uint8_t* data, size_t len, PacketView* out, DropReason* reason) {
  if (len < 20) {
    *reason = DropReason::kTooShort;
    return false;
  }
  if ((data[0] >> 4) != 4) {
    *reason = DropReason::kBadVersion;
    return false;
  }
  const size_t ihl = size_t{data[0] & 0x0fu} * 4;
  if (ihl < 20 || ihl > len) {
    *reason = DropReason::kBadIhl;
    return false;
  }
  const size_t total = ntohs(Load16(data + 2));
  if (total < ihl || total > len) {
    *reason = DropReason::kBadTotalLength;
    return false;
  }
  const uint16_t frag = ntohs(Load16(data + 6));
  if ((frag & 0x2000) != 0 || (frag & 0x1fff) != 0) {
    *reason = DropReason::kFragment;
    return false;
  }
  PacketView v;
  v.data = data;
  v.len = total;
  v.l4_offset = ihl;
  v.protocol = data[9];
  v.src_ip = ntohl(Load32(data + 12));
  v.dst_ip = ntohl(Load32(data + 16));
  v.dont_fragment = (frag & 0x4000) != 0;
  const uint8_t* l4 = data + ihl;
  const size_t l4_len = total - ihl;
  if (v.protocol == kProtoTcp) {
    if (l4_len < 20 || size_t{static_cast<size_t>(l4[12] >> 4) * 4} < 20 ||
        size_t{static_cast<size_t>(l4[12] >> 4) * 4} > l4_len) {
      *reason = DropReason::kTruncatedL4;
      return false;
    }
    v.tcp_flags = l4[13];
  } else if (v.protocol == kProtoUdp) {
    if (l4_len < 8 || ntohs(Load16(l4 + 4)) < 8 || ntohs(Load16(l4 + 4)) > l4_len) {
      *reason = DropReason::kTruncatedL4;
      return false;
    }
  } else {
    *reason = DropReason::kUnsupportedProtocol;
    return false;
  }
  v.src_port = ntohs(Load16(l4));
  v.dst_port = ntohs(Load16(l4 + 2));
  *out = v;
  return true;
}

void RewriteDestination(PacketView* p, uint32_t ip, uint16_t port, bool checksum_partial) {
  Rewrite(p, 16, 2, ip, port, checksum_partial);
  p->dst_ip = ip;
  p->dst_port = port;
}

void RewriteSource(PacketView* p, uint32_t ip, uint16_t port, bool checksum_partial) {
  Rewrite(p, 12, 0, ip, port, checksum_partial);
  p->src_ip = ip;
  p->src_port = port;
}

bool CompleteChecksum(uint8_t* data, size_t len, size_t csum_start, size_t csum_offset, bool udp) {
  if (csum_start >= len || csum_offset + 2 > len - csum_start) return false;
  // The field's pseudo-header sum is summed in with the rest.
  uint16_t check = InternetChecksum(data + csum_start, len - csum_start);
  if (udp && check == 0) check = 0xffff;
  Store16(data + csum_start + csum_offset, check);
  return true;
}

size_t TcpHeadersLen(const PacketView& v) {
  if (v.protocol != kProtoTcp || v.l4_offset + 20 > v.len) return 0;
  const size_t tcp_len = static_cast<size_t>(v.data[v.l4_offset + 12] >> 4) * 4;
  if (tcp_len < 20 || v.l4_offset + tcp_len > v.len) return 0;
  return v.l4_offset + tcp_len;
}

size_t TcpSegmentCount(const PacketView& v, size_t mss) {
  const size_t h = TcpHeadersLen(v);
  if (h == 0 || mss == 0) return 0;
  const size_t payload = v.len - h;
  return payload == 0 ? 1 : (payload + mss - 1) / mss;
}

size_t WriteTcpSegmentHeaders(const PacketView& v, size_t mss, size_t index, uint8_t* out) {
  const size_t h = TcpHeadersLen(v);
  const size_t count = TcpSegmentCount(v, mss);
  const size_t offset = index * mss;
  const size_t seg = std::min(mss, v.len - h - offset);
  std::memcpy(out, v.data, h);
  // IPv4: total length, id, checksum.
  Store16(out + 2, htons(static_cast<uint16_t>(h + seg)));
  Store16(out + 4, htons(static_cast<uint16_t>(ntohs(Load16(v.data + 4)) + index)));
  Store16(out + 10, 0);
  Store16(out + 10, InternetChecksum(out, v.l4_offset));
  // TCP: sequence number, flags, checksum over the pseudo-header (RFC 9293
  // §3.1), the header and this segment's payload.
  uint8_t* tcp = out + v.l4_offset;
  Store32(tcp + 4, htonl(ntohl(Load32(v.data + v.l4_offset + 4)) + static_cast<uint32_t>(offset)));
  if (index + 1 < count) tcp[13] &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
  if (index > 0) tcp[13] &= static_cast<uint8_t>(~kTcpCwr);
  Store16(tcp + 16, 0);
  uint8_t pseudo[12];
  std::memcpy(pseudo, v.data + 12, 8);  // source and destination addresses
  pseudo[8] = 0;
  pseudo[9] = kProtoTcp;
  Store16(pseudo + 10, htons(static_cast<uint16_t>(h - v.l4_offset + seg)));
  uint32_t sum = ChecksumPartial(pseudo, sizeof(pseudo));
  sum = ChecksumPartial(tcp, h - v.l4_offset, sum);
  Store16(tcp + 16, InternetChecksum(v.data + h + offset, seg, sum));
  return seg;
}

void WriteIpv4Header(uint8_t* out, uint8_t protocol, uint32_t src_ip, uint32_t dst_ip,
                     uint16_t total_len, bool dont_fragment, uint8_t ttl) {
  std::memset(out, 0, 20);
  out[0] = 0x45;
  Store16(out + 2, htons(total_len));
  Store16(out + 6, htons(dont_fragment ? 0x4000 : 0));
  out[8] = ttl;
  out[9] = protocol;
  Store32(out + 12, htonl(src_ip));
  Store32(out + 16, htonl(dst_ip));
  Store16(out + 10, InternetChecksum(out, 20));
}

size_t BuildIcmpFragNeeded(const PacketView& original, uint32_t src_ip, uint16_t next_hop_mtu,
                           uint8_t* out) {
  // RFC 792: the original IP header plus the first 64 bits of its data.
  size_t quoted = original.l4_offset + 8;
  if (quoted > original.len) quoted = original.len;
  const size_t total = 20 + 8 + quoted;
  WriteIpv4Header(out, kProtoIcmp, src_ip, original.src_ip, static_cast<uint16_t>(total),
                  /*dont_fragment=*/false, 64);
  uint8_t* icmp = out + 20;
  std::memset(icmp, 0, 8);
  icmp[0] = 3;                             // destination unreachable
  icmp[1] = 4;                             // fragmentation needed and DF set
  Store16(icmp + 6, htons(next_hop_mtu));  // RFC 1191 §4
  std::memcpy(icmp + 8, original.data, quoted);
  Store16(icmp + 2, InternetChecksum(icmp, 8 + quoted));
  return total;
}

}  // namespace lbd
