#include "tcp_coalescer.h"

#include <arpa/inet.h>

#include <cstring>

#include "lbd/packet/checksum.h"
#include "lbd/packet/packet.h"

namespace lbd {
namespace {

constexpr uint8_t kTcpUrg = 0x20;
constexpr uint8_t kVnetNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr uint8_t kVnetGsoTcpV4 = 1;   // VIRTIO_NET_HDR_GSO_TCPV4
constexpr uint8_t kVnetGsoEcn = 0x80;  // VIRTIO_NET_HDR_GSO_ECN
constexpr size_t kMaxSegments = 64;

uint16_t Load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return ntohs(v);
}
uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return ntohl(v);
}
void Store16(uint8_t* p, uint16_t v) {
  v = htons(v);
  std::memcpy(p, &v, 2);
}

// The pseudo-header (RFC 9293 §3.1) of a TCP segment of `tcp_len` bytes.
uint32_t PseudoHeaderSum(const uint8_t* ip, size_t tcp_len) {
  uint8_t pseudo[12];
  std::memcpy(pseudo, ip + 12, 8);
  pseudo[8] = 0;
  pseudo[9] = kProtoTcp;
  Store16(pseudo + 10, static_cast<uint16_t>(tcp_len));
  return ChecksumPartial(pseudo, sizeof(pseudo));
}

// IP + TCP header bytes when `p` (`len` bytes) may be merged with others:
// IPv4 without options, not a fragment, TCP with a payload, no
// SYN/FIN/RST/URG, a valid checksum. 0 otherwise.
size_t MergeableHeaders(const uint8_t* p, size_t len, size_t* payload) {
  if (len < 40 || p[0] != 0x45 || p[9] != kProtoTcp) return 0;
  const size_t total = Load16(p + 2);
  if (total > len || total < 40) return 0;
  if ((Load16(p + 6) & 0x3fff) != 0) return 0;  // MF or an offset
  const uint8_t* tcp = p + 20;
  const size_t thl = static_cast<size_t>(tcp[12] >> 4) * 4;
  if (thl < 20 || 20 + thl >= total) return 0;  // no payload: alone
  if ((tcp[13] & (kTcpSyn | kTcpFin | kTcpRst | kTcpUrg)) != 0) return 0;
  if (!TcpChecksumValid(p, 20, total)) return 0;
  *payload = total - 20 - thl;
  return 20 + thl;
}

// Same addresses and ports: the flow (p is TCP with at least 24 bytes).
bool SameFlow(const uint8_t* a, const uint8_t* b) {
  const size_t ia = static_cast<size_t>(a[0] & 0x0f) * 4;
  const size_t ib = static_cast<size_t>(b[0] & 0x0f) * 4;
  return std::memcmp(a + 12, b + 12, 8) == 0 && std::memcmp(a + ia, b + ib, 4) == 0;
}

// A TCP packet whose ports can be read (a flow that runs may belong to).
bool HasTcpPorts(const uint8_t* p, size_t len) {
  if (len < 20 || (p[0] >> 4) != 4 || p[9] != kProtoTcp) return false;
  const size_t ihl = static_cast<size_t>(p[0] & 0x0f) * 4;
  return ihl >= 20 && ihl + 4 <= len && (Load16(p + 6) & 0x1fff) == 0;
}

}  // namespace

bool TcpChecksumValid(const uint8_t* ip, size_t ihl, size_t total) {
  if (ihl + 20 > total) return false;
  const size_t tcp_len = total - ihl;
  return ChecksumFold(ChecksumPartial(ip + ihl, tcp_len, PseudoHeaderSum(ip, tcp_len))) == 0xffff;
}

TcpCoalescer::TcpCoalescer(size_t max_packets) : max_packets_(max_packets) {
  runs_.reserve(max_packets);
  pieces_.reserve(max_packets);
  iovs_.reserve(2 * max_packets);
}

bool TcpCoalescer::CanAppend(const Run& run, const uint8_t* p, size_t hdrs, size_t payload) const {
  const uint8_t* h = run.head;
  if (!run.open || hdrs != run.hdrs || payload > run.gso_size) return false;
  if (run.segments == kMaxSegments || run.hdrs + run.payload + payload > kMaxTotal) return false;
  // inet_gro_receive(): TOS, TTL, DF; the id follows unless DF is set.
  if (p[1] != h[1] || p[8] != h[8] || Load16(p + 6) != Load16(h + 6)) return false;
  const bool df = (Load16(h + 6) & 0x4000) != 0;
  if (!df && Load16(p + 4) != static_cast<uint16_t>(Load16(h + 4) + run.segments)) return false;
  // tcp_gro_receive(): sequence, acknowledgment, data offset, flags but
  // PSH (and CWR, which only the first may carry), window, options.
  const uint8_t* th = h + 20;
  const uint8_t* tp = p + 20;
  if (Load32(tp + 4) != run.next_seq || std::memcmp(tp + 8, th + 8, 4) != 0) return false;
  if ((tp[13] & kTcpCwr) != 0) return false;
  if ((tp[13] & ~kTcpPsh) != (th[13] & ~(kTcpPsh | kTcpCwr))) return false;
  if (tp[12] != th[12] || std::memcmp(tp + 14, th + 14, 2) != 0) return false;
  return std::memcmp(tp + 20, th + 20, hdrs - 40) == 0;
}

bool TcpCoalescer::Add(uint8_t* data, size_t len) {
  if (added_ == max_packets_) return false;
  ++added_;
  size_t payload = 0;
  const size_t hdrs = MergeableHeaders(data, len, &payload);
  if (HasTcpPorts(data, len)) {
    // The latest run of this flow: the packet joins it or ends it.
    for (size_t i = runs_.size(); i-- > 0;) {
      Run& run = runs_[i];
      if (run.hdrs == 0 || !SameFlow(run.head, data)) continue;
      if (hdrs != 0 && CanAppend(run, data, hdrs, payload)) {
        pieces_[run.last_piece].next = pieces_.size();
        run.last_piece = pieces_.size();
        pieces_.push_back(Piece{data + hdrs, payload, kNone});
        ++run.segments;
        run.payload += payload;
        run.next_seq += static_cast<uint32_t>(payload);
        const bool psh = (data[20 + 13] & kTcpPsh) != 0;
        run.psh = run.psh || psh;
        run.open = !psh && payload == run.gso_size;
        return true;
      }
      run.open = false;
      break;
    }
  }
  Run run;
  run.head = data;
  run.first_piece = run.last_piece = pieces_.size();
  if (hdrs != 0) {
    run.hdrs = hdrs;
    run.payload = payload;
    run.gso_size = payload;
    run.next_seq = Load32(data + 24) + static_cast<uint32_t>(payload);
    run.psh = (data[20 + 13] & kTcpPsh) != 0;
    run.open = !run.psh;
    pieces_.push_back(Piece{data, hdrs + payload, kNone});
  } else {
    pieces_.push_back(Piece{data, len, kNone});
  }
  runs_.push_back(run);
  return true;
}

void TcpCoalescer::Finish() {
  for (Run& run : runs_) {
    run.iov_begin = iovs_.size();
    iovs_.push_back(iovec{run.vnet, kVnetHdrLen});
    for (size_t k = run.first_piece; k != kNone; k = pieces_[k].next) {
      iovs_.push_back(iovec{pieces_[k].data, pieces_[k].len});
    }
    run.iov_count = iovs_.size() - run.iov_begin;
    std::memset(run.vnet, 0, kVnetHdrLen);
    if (run.segments == 1) continue;  // unchanged, checksum complete
    uint8_t* ip = run.head;
    uint8_t* tcp = ip + 20;
    const size_t total = run.hdrs + run.payload;
    // IPv4: total length and header checksum; the id stays the first's.
    Store16(ip + 2, static_cast<uint16_t>(total));
    Store16(ip + 10, 0);
    const uint16_t ip_check = InternetChecksum(ip, 20);
    std::memcpy(ip + 10, &ip_check, 2);
    // TCP (tcp_gro_complete()): PSH from any segment; the checksum field
    // holds the uncomplemented pseudo-header sum over the whole length
    // (CHECKSUM_PARTIAL), the kernel completes it per segment if it has to.
    if (run.psh) tcp[13] |= kTcpPsh;
    const uint16_t pseudo = ChecksumFold(PseudoHeaderSum(ip, total - 20));
    std::memcpy(tcp + 16, &pseudo, 2);
    // virtio_net_hdr, native byte order (a tun without TUNSETVNETLE/BE):
    // flags, gso_type, hdr_len, gso_size, csum_start, csum_offset.
    run.vnet[0] = kVnetNeedsCsum;
    run.vnet[1] = static_cast<uint8_t>(kVnetGsoTcpV4 | ((tcp[13] & kTcpCwr) ? kVnetGsoEcn : 0));
    const uint16_t fields[4] = {static_cast<uint16_t>(run.hdrs),
                                static_cast<uint16_t>(run.gso_size), 20, 16};
    std::memcpy(run.vnet + 2, fields, sizeof(fields));
  }
}

void TcpCoalescer::Clear() {
  runs_.clear();
  pieces_.clear();
  iovs_.clear();
  added_ = 0;
}

}  // namespace lbd
