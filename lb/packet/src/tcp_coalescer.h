// Internal header of lbd_packet.
//
// TcpCoalescer: the kernel's TCP GRO (net/ipv4/tcp_offload.c
// tcp_gro_receive(), net/ipv4/af_inet.c inet_gro_receive()) in user space,
// for a program that writes the IPv4 packets it receives into a tun with
// IFF_VNET_HDR (lbd-tunnel). Consecutive TCP segments of one flow in a batch
// become one GSO super-packet (VIRTIO_NET_HDR_GSO_TCPV4, gso_size = the first
// segment's payload, checksum left partial), so the local stack takes one
// packet (and one write) where it took ~45.
//
// A segment joins the run of its flow only if it is exactly the next one:
// same addresses and ports, IPv4 without options or fragmentation, the same
// TOS, TTL and DF, an IP id that follows (or DF set, RFC 6864), the next
// sequence number, the same acknowledgment number, window, data offset and
// TCP option bytes, the same flags (PSH may end a run; CWR may only start
// one), no SYN/FIN/RST/URG, a payload of 1..gso_size bytes (a shorter one or
// PSH ends the run), at most 64 KiB in all, and a valid TCP checksum (GRO
// only merges verified segments: the merged packet's checksum is not checked
// again). Any other packet goes out alone and unchanged, after the earlier
// packets of its flow; a packet that does not continue its flow's run ends it.
//
// Usage per batch: Add() every packet, Finish(), write Output(i) for i <
// outputs() (the first iovec is the 10-byte virtio_net_hdr), Clear(). A
// run's first packet has its headers rewritten in place by Finish(); every
// packet's memory must stay valid until Clear().
//
// Allocates only in the constructor. Thread-safety: none; one per thread.
#ifndef LBD_PACKET_SRC_TCP_COALESCER_H_
#define LBD_PACKET_SRC_TCP_COALESCER_H_

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace lbd {

class TcpCoalescer {
 public:
  // struct virtio_net_hdr without num_buffers (linux/virtio_net.h).
  static constexpr size_t kVnetHdrLen = 10;
  static constexpr size_t kMaxTotal = 65535;  // an IPv4 total length

  // Room for `max_packets` packets per batch.
  explicit TcpCoalescer(size_t max_packets);
  TcpCoalescer(const TcpCoalescer&) = delete;
  TcpCoalescer& operator=(const TcpCoalescer&) = delete;

  // Adds the IPv4 packet of `len` bytes at `data` (anything: what cannot be
  // merged goes out alone, all `len` bytes). False when the batch already
  // holds max_packets packets (nothing added).
  bool Add(uint8_t* data, size_t len);
  // Completes the runs: rewrites their first packets' headers and fills the
  // virtio_net_hdrs. Call once, after the last Add() of the batch.
  void Finish();
  // Packets to write, in order (per flow, the order of Add()).
  size_t outputs() const { return runs_.size(); }
  // Output i: virtio_net_hdr, then the packet's pieces.
  std::span<const iovec> Output(size_t i) const {
    return {iovs_.data() + runs_[i].iov_begin, runs_[i].iov_count};
  }
  // How many added packets output i carries.
  size_t Segments(size_t i) const { return runs_[i].segments; }
  void Clear();

 private:
  static constexpr size_t kNone = ~size_t{0};
  // Bytes of one packet that go out: all of a lone packet, headers and
  // payload of a run's first one, the payload of the others.
  struct Piece {
    uint8_t* data;
    size_t len;
    size_t next;  // the run's next piece, or kNone
  };
  struct Run {
    uint8_t* head = nullptr;  // the first packet
    size_t hdrs = 0;          // IP + TCP header bytes (0: not TCP, sent alone)
    size_t payload = 0;       // payload bytes of all segments
    size_t gso_size = 0;      // payload of the first segment
    size_t segments = 1;
    size_t first_piece = 0;
    size_t last_piece = 0;
    size_t iov_begin = 0;  // set by Finish()
    size_t iov_count = 0;
    uint32_t next_seq = 0;  // host order
    bool open = false;      // a next segment may join
    bool psh = false;       // a segment had PSH
    uint8_t vnet[kVnetHdrLen] = {};
  };
  bool CanAppend(const Run& run, const uint8_t* p, size_t hdrs, size_t payload) const;

  size_t max_packets_;
  size_t added_ = 0;
  std::vector<Run> runs_;      // capacity max_packets_, in order of their first packet
  std::vector<Piece> pieces_;  // capacity max_packets_, in order of Add()
  std::vector<iovec> iovs_;    // capacity 2 * max_packets_: per run, its header and pieces
};

// True when the TCP checksum of the IPv4 packet at `ip` (header of `ihl`
// bytes, `total` bytes in all) verifies (RFC 9293 §3.1 pseudo-header).
bool TcpChecksumValid(const uint8_t* ip, size_t ihl, size_t total);

}  // namespace lbd

#endif  // LBD_PACKET_SRC_TCP_COALESCER_H_
