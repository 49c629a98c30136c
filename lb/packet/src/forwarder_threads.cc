// PacketServiceImpl's forwarding threads: the epoll loop on a tun queue,
// flow expiry, and the forwarding of a batch in nat, dr and tun modes.
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "forwarder_impl.h"
#include "lbd/sys/socket.h"

namespace lbd::packet_internal {

void PacketServiceImpl::ProcessBatch(ForwardingThread* thread, size_t count) {
  size_t nmsg = 0;
  for (size_t i = 0; i < count; ++i) {
    uint8_t* buf = thread->bufs.data() + i * kBufSize;
    size_t len = thread->lens[i];
    bool partial = false;
    if (offload_) {
      // struct virtio_net_hdr (linux/virtio_net.h): flags first.
      if (len < kVnetHdrLen) {
        Drop(thread, DropReason::kTooShort);
        continue;
      }
      partial = (buf[0] & kVnetNeedsCsum) != 0;
      buf += kVnetHdrLen;
      len -= kVnetHdrLen;
    }
    PacketView v;
    DropReason reason = DropReason::kCount;
    if (!ParsePacket(buf, len, &v, &reason)) {
      Drop(thread, reason);
      continue;
    }
    const bool to_vip = v.dst_ip == vip_.ip;
    if ((to_vip && v.dst_port != vip_.port) || (!to_vip && mode_ != PacketMode::kNat)) {
      Drop(thread, DropReason::kNotService);
      continue;
    }
    Decision d;
    if (!Track(thread, v, &d, &reason)) {
      Drop(thread, reason);
      continue;
    }
    const ServerSlot& s = *servers_[d.server];
    switch (mode_) {
      case PacketMode::kNat:
        ForwardNat(thread, &v, d, partial);
        break;
      case PacketMode::kDr:
        QueueDr(thread, v, s, &nmsg);
        break;
      case PacketMode::kTun:
        QueueTun(thread, v, d, s, partial, &nmsg);
        break;
    }
  }
  Flush(thread, &nmsg);
}

void PacketServiceImpl::ForwardNat(ForwardingThread* thread, PacketView* v, const Decision& d,
                                   bool partial) {
  if (d.reply) {
    RewriteSource(v, vip_.ip, vip_.port, partial);
  } else {
    RewriteDestination(v, d.rs_ip, d.rs_port, partial);
  }
  // The kernel routes what we write into the tun; one packet per write.
  // With offload the virtio_net_hdr goes back unchanged (same offsets).
  const size_t hdr = offload_ ? kVnetHdrLen : 0;
  if (write(thread->tun_fd, v->data - hdr, v->len + hdr) == static_cast<ssize_t>(v->len + hdr)) {
    thread->forwarded.fetch_add(1, std::memory_order_relaxed);
  } else {
    Drop(thread, DropReason::kSendError);
  }
}

void PacketServiceImpl::QueueDr(ForwardingThread* thread, const PacketView& v, const ServerSlot& s,
                                size_t* nmsg) {
  const uint64_t mac = s.mac.load(std::memory_order_relaxed);
  if ((mac & kMacKnown) == 0) {
    Drop(thread, DropReason::kNoNeighbour);
    return;
  }
  sockaddr_ll& ll = thread->lladdrs[*nmsg];
  ll = sockaddr_ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_protocol = htons(ETH_P_IP);
  ll.sll_ifindex = s.oif;
  ll.sll_halen = 6;
  for (int b = 0; b < 6; ++b) ll.sll_addr[b] = static_cast<uint8_t>(mac >> (40 - 8 * b));
  msghdr& m = thread->msgs[*nmsg].msg_hdr;
  m = msghdr{};
  m.msg_name = &ll;
  m.msg_namelen = sizeof(ll);
  m.msg_iov = thread->iovs[*nmsg].data();
  if (offload_) {
    // virtio_net_hdr (csum_start and hdr_len now count the Ethernet
    // header too), then dst MAC, src MAC, EtherType IPv4.
    uint8_t* l2 = thread->l2[*nmsg].data();
    std::memcpy(l2, v.data - kVnetHdrLen, kVnetHdrLen);
    auto shift = [l2](size_t at) {
      uint16_t x;
      std::memcpy(&x, l2 + at, 2);
      if (x != 0) x = static_cast<uint16_t>(x + kEthHdrLen);
      std::memcpy(l2 + at, &x, 2);
    };
    shift(2);                              // hdr_len
    if (l2[0] & kVnetNeedsCsum) shift(6);  // csum_start
    std::memcpy(l2 + kVnetHdrLen, ll.sll_addr, 6);
    std::memcpy(l2 + kVnetHdrLen + 6, s.src_mac.data(), 6);
    l2[kVnetHdrLen + 12] = 0x08;
    l2[kVnetHdrLen + 13] = 0x00;
    thread->iovs[*nmsg][0] = iovec{l2, kVnetHdrLen + kEthHdrLen};
    thread->iovs[*nmsg][1] = iovec{v.data, v.len};
    m.msg_iovlen = 2;
  } else {
    thread->iovs[*nmsg][0] = iovec{v.data, v.len};
    m.msg_iovlen = 1;
  }
  ++*nmsg;
}

void PacketServiceImpl::QueueTun(ForwardingThread* thread, const PacketView& v, const Decision& d,
                                 const ServerSlot& s, bool partial, size_t* nmsg) {
  // With offload: a GSO packet is cut into gso_size segments; another
  // one with a partial checksum gets it completed (the real server's
  // stack takes the inner packet as it is).
  size_t mss = 0;
  if (offload_) {
    const uint8_t* vh = v.data - kVnetHdrLen;
    const uint8_t gso_type = vh[1] & 0x7f;  // without VIRTIO_NET_HDR_GSO_ECN
    uint16_t field[3];                      // gso_size, csum_start, csum_offset
    std::memcpy(field, vh + 4, sizeof(field));
    if (gso_type == kVnetGsoTcpV4 && v.protocol == kProtoTcp) {
      mss = field[0];
    } else if (gso_type != 0) {
      Drop(thread, DropReason::kUnsupportedProtocol);
      return;
    } else if (partial &&
               !CompleteChecksum(v.data, v.len, field[1], field[2], v.protocol == kProtoUdp)) {
      Drop(thread, DropReason::kTruncatedL4);
      return;
    }
  }
  const size_t hdrs = mss > 0 ? TcpHeadersLen(v) : 0;
  const size_t segments = mss > 0 ? TcpSegmentCount(v, mss) : 1;
  if (segments == 0) {
    Drop(thread, DropReason::kTruncatedL4);
    return;
  }
  const size_t biggest = mss > 0 ? std::min(v.len, hdrs + mss) : v.len;
  if (biggest + 20 > static_cast<size_t>(s.mtu)) {
    // RFC 1191: tell the client the MTU left after our 20 bytes
    // (ip_vs_xmit.c ensure_mtu_is_adequate() for IP-in-IP).
    if (v.dont_fragment) {
      // With offload every write into the tun starts with a
      // virtio_net_hdr: all zero = a complete packet, no GSO.
      const size_t hdr = offload_ ? kVnetHdrLen : 0;
      const size_t n = BuildIcmpFragNeeded(v, vip_.ip, static_cast<uint16_t>(s.mtu - 20),
                                           thread->icmp.data() + kVnetHdrLen);
      (void)!write(thread->tun_fd, thread->icmp.data() + kVnetHdrLen - hdr, n + hdr);
    }
    Drop(thread, DropReason::kTooBig);
    return;
  }
  for (size_t k = 0; k < segments; ++k) {
    if (*nmsg == kMaxMsgs) Flush(thread, nmsg);
    size_t inner = v.len;
    if (mss > 0) {
      const size_t n = WriteTcpSegmentHeaders(v, mss, k, thread->seg_hdrs[*nmsg].data());
      thread->iovs[*nmsg][1] = iovec{thread->seg_hdrs[*nmsg].data(), hdrs};
      thread->iovs[*nmsg][2] = iovec{v.data + hdrs + k * mss, n};
      inner = hdrs + n;
    } else {
      thread->iovs[*nmsg][1] = iovec{v.data, v.len};
    }
    // RFC 2003 §3.1: outer TTL, DF copied from the inner header.
    WriteIpv4Header(thread->outer[*nmsg].data(), kProtoIpip, s.src_ip, d.rs_ip,
                    static_cast<uint16_t>(inner + 20), v.dont_fragment, v.data[8]);
    sockaddr_in& sin = thread->inaddrs[*nmsg];
    sin = ToSockaddr(Endpoint{d.rs_ip, 0});
    thread->iovs[*nmsg][0] = iovec{thread->outer[*nmsg].data(), 20};
    msghdr& m = thread->msgs[*nmsg].msg_hdr;
    m = msghdr{};
    m.msg_name = &sin;
    m.msg_namelen = sizeof(sin);
    m.msg_iov = thread->iovs[*nmsg].data();
    m.msg_iovlen = mss > 0 ? 3 : 2;
    ++*nmsg;
  }
}

void PacketServiceImpl::Flush(ForwardingThread* thread, size_t* nmsg) {
  // One sendmmsg for the batch; a message the kernel refuses is counted and
  // skipped. At most nmsg rounds.
  size_t sent = 0;
  while (sent < *nmsg) {
    int r = sendmmsg(thread->send_fd, thread->msgs.data() + sent,
                     static_cast<unsigned>(*nmsg - sent), 0);
    if (r > 0) {
      thread->forwarded.fetch_add(static_cast<uint64_t>(r), std::memory_order_relaxed);
      sent += static_cast<size_t>(r);
    } else {
      Drop(thread, DropReason::kSendError);
      ++sent;
    }
  }
  *nmsg = 0;
}

void PacketServiceImpl::Run(ForwardingThread* thread) {
  const size_t scan = std::max<size_t>(64, thread->table.capacity() / 10);
  int64_t next_expiry = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    epoll_event events[2];
    (void)epoll_wait(thread->epoll_fd, events, 2, kPollMs);
    // Drain the queue in batches, bounded per wake-up so expiry runs too.
    for (int round = 0; round < 64 && !stop_.load(std::memory_order_relaxed); ++round) {
      size_t count = 0;
      while (count < kBatch) {
        ssize_t n = read(thread->tun_fd, thread->bufs.data() + count * kBufSize, kBufSize);
        if (n <= 0) break;
        thread->lens[count++] = static_cast<size_t>(n);
      }
      if (count == 0) break;
      thread->packets_read.fetch_add(count, std::memory_order_relaxed);
      ProcessBatch(thread, count);
    }
    const int64_t now = NowNs();
    if (now >= next_expiry) {
      next_expiry = now + int64_t{kPollMs} * 1000000;
      std::lock_guard<std::mutex> lock(thread->mu);
      thread->table.ExpireSome(now, scan, [this, now](const FlowEntry& e) {
        CloseFlow(e);
        TouchTemplate(e.key.src_ip, now);
      });
    }
    if (persistence_ns_ > 0) {
      std::lock_guard<std::mutex> lock(templates_mu_);
      templates_->ExpireSome(now, scan, [](const FlowEntry&) {});
    }
  }
}

}  // namespace lbd::packet_internal
