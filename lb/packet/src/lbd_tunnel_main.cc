// lbd-tunnel --vip VIP[,VIP...] [--dev NAME]
// Real-server helper for tun mode on kernels without the ipip module:
// receives IP-in-IP (RFC 2003) on a raw socket (protocol 4), and writes the
// inner packets addressed to one of the VIPs into a tun device that holds the
// VIPs as /32 addresses, so the local stack accepts them as if they had
// arrived decapsulated. Consecutive TCP segments of a flow in one receive
// batch go in as one GSO packet (TcpCoalescer, IFF_VNET_HDR), as the kernel's
// GRO would have merged them. The device (and its addresses) goes away at
// exit (SIGTERM/SIGINT).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "lbd/packet/packet.h"
#include "lbd/sys/netlink.h"
#include "lbd/sys/socket.h"
#include "lbsched/endpoint.h"
#include "tcp_coalescer.h"
#include "tun.h"

namespace {

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

int Fail(const std::string& message) {
  std::fprintf(stderr, "lbd-tunnel: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<uint32_t> vips;
  std::string dev = "lbdtun0";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--vip" && i + 1 < argc) {
      std::string list = argv[++i];
      size_t start = 0;
      while (start <= list.size()) {
        size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        auto ip = lbd::ParseIpv4(list.substr(start, comma - start));
        if (!ip.ok()) return Fail(ip.status().message());
        vips.push_back(ip->ip);
        start = comma + 1;
      }
    } else if (arg == "--dev" && i + 1 < argc) {
      dev = argv[++i];
    } else {
      std::fprintf(stderr, "usage: lbd-tunnel --vip VIP[,VIP...] [--dev NAME]\n");
      return 2;
    }
  }
  if (vips.empty()) return Fail("--vip is required");
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  // IFF_VNET_HDR: every write starts with a virtio_net_hdr (GSO packets).
  auto tun = lbd::OpenTun(dev, 1, /*offload=*/true);
  if (!tun.ok()) return Fail(tun.status().message());
  const int tun_fd = tun->fds[0];
  (void)lbd::SetDeviceSysctl(dev, "rp_filter", "0");
  (void)lbd::DisableIpv6(dev);
  if (lbd::Status st = lbd::SetLinkUp(dev); !st.ok()) return Fail(st.message());
  auto nl = lbd::Netlink::Open();
  if (!nl.ok()) return Fail(nl.status().message());
  for (uint32_t vip : vips) {
    if (lbd::Status st = nl->Address(true, tun->ifindex, vip, 32); !st.ok()) {
      return Fail("address " + lbd::Ipv4ToString(vip) + ": " + st.message());
    }
  }
  // A raw socket for protocol 4 gets every IP-in-IP packet with its outer
  // header (raw(7)); the kernel then sends no protocol-unreachable.
  const int raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, lbd::kProtoIpip);
  if (raw < 0) return Fail(lbd::ErrnoMessage("raw socket", errno));
  // The director sends in bursts (sendmmsg, and a GSO packet cut into ~45
  // segments): a default-sized receive buffer overflows and TCP collapses
  // into retransmissions. FORCE passes rmem_max (we run with CAP_NET_ADMIN).
  const int rcvbuf = 8 << 20;
  if (setsockopt(raw, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0) {
    (void)setsockopt(raw, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  }
  std::fprintf(stderr, "lbd-tunnel: ready on %s\n", dev.c_str());
  uint64_t delivered = 0, dropped = 0, writes = 0;
  // recvmmsg: up to kBatch packets a call (what a burst from the director
  // holds); the batch's inner packets are coalesced, then written.
  constexpr size_t kBatch = 64;
  lbd::TcpCoalescer coalescer(kBatch);
  constexpr size_t kSlot = 65536;
  std::vector<uint8_t> bufs(kBatch * kSlot);
  std::vector<mmsghdr> msgs(kBatch);
  std::vector<iovec> iovs(kBatch);
  for (size_t k = 0; k < kBatch; ++k) {
    iovs[k] = iovec{bufs.data() + k * kSlot, kSlot};
    msgs[k].msg_hdr = msghdr{};
    msgs[k].msg_hdr.msg_iov = &iovs[k];
    msgs[k].msg_hdr.msg_iovlen = 1;
  }
  while (!g_stop) {
    pollfd pfd{raw, POLLIN, 0};
    if (poll(&pfd, 1, 200) <= 0) continue;
    for (int round = 0; round < 64; ++round) {
      const int got = recvmmsg(raw, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (got <= 0) break;
      for (int k = 0; k < got; ++k) {
        uint8_t* buf = bufs.data() + static_cast<size_t>(k) * kSlot;
        const size_t len = msgs[static_cast<size_t>(k)].msg_len;
        const size_t outer = len >= 20 ? static_cast<size_t>(buf[0] & 0x0f) * 4 : 0;
        if (outer < 20 || outer + 20 > len || buf[9] != lbd::kProtoIpip) {
          ++dropped;
          continue;
        }
        uint8_t* inner = buf + outer;
        const size_t inner_len = len - outer;
        uint32_t dst = 0;
        std::memcpy(&dst, inner + 16, 4);
        dst = ntohl(dst);
        if ((inner[0] >> 4) != 4 || std::find(vips.begin(), vips.end(), dst) == vips.end()) {
          ++dropped;
          continue;
        }
        (void)coalescer.Add(inner, inner_len);  // at most kBatch per batch
      }
      coalescer.Finish();
      for (size_t i = 0; i < coalescer.outputs(); ++i) {
        const auto iov = coalescer.Output(i);
        size_t bytes = 0;
        for (const iovec& v : iov) bytes += v.iov_len;
        ++writes;
        if (writev(tun_fd, iov.data(), static_cast<int>(iov.size())) ==
            static_cast<ssize_t>(bytes)) {
          delivered += coalescer.Segments(i);
        } else {
          dropped += coalescer.Segments(i);
        }
      }
      coalescer.Clear();
    }
  }
  close(raw);
  for (uint32_t vip : vips) (void)nl->Address(false, tun->ifindex, vip, 32);
  close(tun_fd);
  std::fprintf(stderr, "lbd-tunnel: delivered %llu dropped %llu writes %llu\n",
               static_cast<unsigned long long>(delivered), static_cast<unsigned long long>(dropped),
               static_cast<unsigned long long>(writes));
  return 0;
}
