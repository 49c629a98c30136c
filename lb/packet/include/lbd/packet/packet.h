// Public header of lbd_packet.
//
// Parsing and rewriting of the IPv4 packets the forwarder reads from its tun
// device (IFF_TUN | IFF_NO_PI: the buffer starts with the IP header).
// ParsePacket() validates what the forwarder relies on (RFC 791 header,
// RFC 9293 / RFC 768 transport header) and says why it rejects a packet, so
// every drop is counted under its reason; it never reads past `len`.
//
// Thread-safety: pure functions on caller-owned buffers.
#ifndef LBD_PACKET_PACKET_H_
#define LBD_PACKET_PACKET_H_

#include <array>
#include <cstddef>
#include <cstdint>

namespace lbd {

// Why a packet was not forwarded. kCount is the number of reasons.
enum class DropReason : uint8_t {
  kTooShort,             // shorter than an IPv4 header
  kBadVersion,           // not IPv4
  kBadIhl,               // header length < 20 or beyond the buffer
  kBadTotalLength,       // total length < header length or > bytes read
  kFragment,             // MF set or offset != 0 (not reassembled, as IPVS without defrag)
  kTruncatedL4,          // TCP/UDP header incomplete (TCP data offset < 5 or beyond the packet)
  kUnsupportedProtocol,  // neither TCP nor UDP
  kNotService,           // destination is not the service's VIP:port
  kNoFlow,               // not a SYN and no flow (IPVS: ip_vs_in() drops it)
  kTableFull,            // the flow table has no room for a new flow
  kNoServer,             // the scheduler found no usable real server
  kNoNeighbour,          // dr: the real server's MAC is not known yet
  kTooBig,               // tun: encapsulated size > MTU (ICMP frag-needed sent when DF set)
  kSendError,            // the kernel refused the packet
  kCount,
};
inline constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::kCount);
const char* ToString(DropReason reason);

inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoIpip = 4;

// TCP flags (RFC 9293 §3.1).
inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;
inline constexpr uint8_t kTcpCwr = 0x80;

// A validated packet: fields in host byte order, offsets into `data`.
struct PacketView {
  uint8_t* data = nullptr;
  size_t len = 0;        // the IP total length (trailing padding ignored)
  size_t l4_offset = 0;  // IHL * 4
  uint8_t protocol = 0;
  uint32_t src_ip = 0;
  uint32_t dst_ip = 0;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t tcp_flags = 0;  // TCP only
  bool dont_fragment = false;
};

// Validates an IPv4 TCP or UDP packet of `len` bytes. Returns true and fills
// `out`, or false with `*reason` set.
bool ParsePacket(uint8_t* data, size_t len, PacketView* out, DropReason* reason);

// Rewrites the destination (address, port) of a parsed TCP/UDP packet and
// fixes the IP and transport checksums incrementally (RFC 1624). The view is
// updated. A UDP checksum of 0 (none, RFC 768) stays 0.
//
// `checksum_partial`: the transport checksum is not computed yet (a packet
// from a tun with IFF_VNET_HDR and VIRTIO_NET_HDR_F_NEEDS_CSUM, the kernel's
// CHECKSUM_PARTIAL): its field holds the uncomplemented pseudo-header sum, so
// only the address is folded in and the port is left to the final checksum
// (net/core/utils.c inet_proto_csum_replace4()).
void RewriteDestination(PacketView* p, uint32_t ip, uint16_t port, bool checksum_partial = false);
// The same for the source.
void RewriteSource(PacketView* p, uint32_t ip, uint16_t port, bool checksum_partial = false);

// Completes a partial transport checksum in place (a tun packet with
// VIRTIO_NET_HDR_F_NEEDS_CSUM, the kernel's skb_checksum_help()): the field at
// csum_start + csum_offset holds the pseudo-header sum and the checksum
// covers csum_start..len. `udp`: a result of 0 is sent as 0xffff (RFC 768).
// False (nothing written) when the offsets lie outside the packet.
bool CompleteChecksum(uint8_t* data, size_t len, size_t csum_start, size_t csum_offset, bool udp);

// TCP segmentation of a GSO super-packet, as the kernel's tcp_gso_segment():
// segment k carries payload bytes [k * mss, (k + 1) * mss), its IP id is the
// original's + k, its sequence number advances by k * mss, FIN and PSH stay
// on the last segment only, CWR on the first only, and both checksums are
// complete.
inline constexpr size_t kMaxTcpHeaders = 60 + 60;  // IPv4 + TCP headers, at most
// IP + TCP header bytes of a parsed TCP packet; 0 when the TCP data offset
// is below 5 or beyond the packet.
size_t TcpHeadersLen(const PacketView& v);
// Segments of at most `mss` payload bytes (1 for an empty payload); 0 when
// TcpHeadersLen(v) is 0 or mss is 0.
size_t TcpSegmentCount(const PacketView& v, size_t mss);
// Writes segment `index`'s headers (TcpHeadersLen(v) bytes) at `out`; its
// payload is v.data + TcpHeadersLen(v) + index * mss, and its length is
// returned. REQUIRES: index < TcpSegmentCount(v, mss).
size_t WriteTcpSegmentHeaders(const PacketView& v, size_t mss, size_t index, uint8_t* out);

// Writes an IPv4 header (20 bytes, checksum filled) at `out`.
void WriteIpv4Header(uint8_t* out, uint8_t protocol, uint32_t src_ip, uint32_t dst_ip,
                     uint16_t total_len, bool dont_fragment, uint8_t ttl);

// Builds an ICMP "fragmentation needed" (type 3 code 4, RFC 1191 §4) from
// `src_ip` to the sender of `original` carrying its IP header and the first 8
// bytes of its payload (RFC 792). Returns the length written into `out`
// (at most kIcmpFragNeededMax bytes).
inline constexpr size_t kIcmpFragNeededMax = 20 + 8 + 60 + 8;
size_t BuildIcmpFragNeeded(const PacketView& original, uint32_t src_ip, uint16_t next_hop_mtu,
                           uint8_t* out);

}  // namespace lbd

#endif  // LBD_PACKET_PACKET_H_
