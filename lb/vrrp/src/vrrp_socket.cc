// The raw VRRP socket and interface lookups.
#include "vrrp_socket.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "lbd/vrrp/advert.h"

namespace lbd::vrrp::internal {
namespace {

Status Errno(const std::string& what) { return Status::Error(what + ": " + std::strerror(errno)); }

Status SetInt(int fd, int level, int name, int value, const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof(value)) != 0) return Errno(what);
  return Status::Ok();
}

}  // namespace

Result<InterfaceInfo> LookupInterface(const std::string& name) {
  InterfaceInfo info;
  info.index = static_cast<int>(if_nametoindex(name.c_str()));
  if (info.index == 0) return Errno("interface " + name);
  Fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Errno("socket");
  ifreq req{};
  std::strncpy(req.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd.get(), SIOCGIFHWADDR, &req) != 0) return Errno("SIOCGIFHWADDR " + name);
  std::memcpy(info.mac.data(), req.ifr_hwaddr.sa_data, info.mac.size());
  if (ioctl(fd.get(), SIOCGIFFLAGS, &req) != 0) return Errno("SIOCGIFFLAGS " + name);
  info.up = (req.ifr_flags & IFF_UP) && (req.ifr_flags & IFF_RUNNING);
  return info;
}

Result<uint32_t> PrimaryAddress(const std::string& name, const std::vector<uint32_t>& exclude) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return Errno("getifaddrs");
  std::optional<uint32_t> found;
  for (ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET || name != i->ifa_name) {
      continue;
    }
    sockaddr_in sin{};
    std::memcpy(&sin, i->ifa_addr, sizeof(sin));
    const uint32_t ip = ntohl(sin.sin_addr.s_addr);
    if (std::find(exclude.begin(), exclude.end(), ip) == exclude.end()) found = ip;
  }
  freeifaddrs(list);
  if (!found) return Status::Error("interface " + name + " has no IPv4 address of its own");
  return *found;
}

Result<Fd> OpenVrrpSocket(const std::string& ifname, int ifindex, uint32_t primary, bool unicast) {
  Fd fd(socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, kIpProtoVrrp));
  if (fd.get() < 0) return Errno("raw socket (protocol 112)");
  if (setsockopt(fd.get(), SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(),
                 static_cast<socklen_t>(ifname.size())) != 0) {
    return Errno("SO_BINDTODEVICE " + ifname);
  }
  // Not bound to `primary`: a raw socket bound to an address only receives
  // packets sent to it, never 224.0.0.18. SendTo() sets the source instead.
  // RFC 5798 §5.1.1.3: TTL 255, also for unicast (keepalived does the same).
  for (Status s : {SetInt(fd.get(), IPPROTO_IP, IP_TTL, kVrrpTtl, "IP_TTL"),
                   SetInt(fd.get(), IPPROTO_IP, IP_MULTICAST_TTL, kVrrpTtl, "IP_MULTICAST_TTL"),
                   SetInt(fd.get(), IPPROTO_IP, IP_TOS, 0xc0, "IP_TOS"),
                   SetInt(fd.get(), IPPROTO_IP, IP_MULTICAST_LOOP, 0, "IP_MULTICAST_LOOP")}) {
    if (!s.ok()) return s;
  }
  ip_mreqn mreq{};
  mreq.imr_multiaddr.s_addr = htonl(kVrrpGroup);
  mreq.imr_address.s_addr = htonl(primary);
  mreq.imr_ifindex = ifindex;
  if (setsockopt(fd.get(), IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof(mreq)) != 0) {
    return Errno("IP_MULTICAST_IF");
  }
  if (!unicast && setsockopt(fd.get(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) != 0) {
    return Errno("IP_ADD_MEMBERSHIP 224.0.0.18");
  }
  return fd;
}

Status SendTo(int fd, std::span<const uint8_t> message, uint32_t source, uint32_t destination) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(destination);
  iovec iov{const_cast<uint8_t*>(message.data()), message.size()};
  // IP_PKTINFO's ipi_spec_dst picks the source address (ip(7)), which the
  // v3 checksum covers.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
  msghdr msg{};
  msg.msg_name = &to;
  msg.msg_namelen = sizeof(to);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = IPPROTO_IP;
  cmsg->cmsg_type = IP_PKTINFO;
  cmsg->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
  in_pktinfo info{};
  info.ipi_spec_dst.s_addr = htonl(source);
  std::memcpy(CMSG_DATA(cmsg), &info, sizeof(info));
  const ssize_t n = sendmsg(fd, &msg, MSG_DONTWAIT);
  if (n < 0) return Errno("send to " + Ipv4ToString(destination));
  if (static_cast<size_t>(n) != message.size()) return Status::Error("short send");
  return Status::Ok();
}

}  // namespace lbd::vrrp::internal
