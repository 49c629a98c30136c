#include "netlink.h"

#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace lbd {
namespace {

constexpr int kTimeoutMs = 2000;

// A request buffer: header, family struct, attributes.
struct Request {
  alignas(NLMSG_ALIGNTO) uint8_t buf[512];
  nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf); }

  Request(uint16_t type, uint16_t flags, const void* body, size_t body_len) {
    std::memset(buf, 0, sizeof(buf));
    hdr()->nlmsg_type = type;
    hdr()->nlmsg_flags = flags;
    hdr()->nlmsg_len = NLMSG_LENGTH(body_len);
    std::memcpy(NLMSG_DATA(hdr()), body, body_len);
  }
  void Attr(uint16_t type, const void* data, size_t len) {
    auto* rta = reinterpret_cast<rtattr*>(buf + NLMSG_ALIGN(hdr()->nlmsg_len));
    rta->rta_type = type;
    rta->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
    std::memcpy(RTA_DATA(rta), data, len);
    hdr()->nlmsg_len = NLMSG_ALIGN(hdr()->nlmsg_len) + RTA_ALIGN(rta->rta_len);
  }
  void Attr32(uint16_t type, uint32_t v) { Attr(type, &v, 4); }
};

std::string Errno(const char* what, int err) { return std::string(what) + ": " + strerror(err); }

}  // namespace

Result<Netlink> Netlink::Open() {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return Status::Error(Errno("netlink socket", errno));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    int err = errno;
    close(fd);
    return Status::Error(Errno("netlink bind", err));
  }
  return Netlink(fd);
}

Netlink::~Netlink() {
  if (fd_ >= 0) close(fd_);
}

Status Netlink::Transact(void* msg, uint32_t len) {
  auto* hdr = static_cast<nlmsghdr*>(msg);
  hdr->nlmsg_flags |= NLM_F_ACK;
  hdr->nlmsg_seq = ++seq_;
  if (send(fd_, msg, len, 0) < 0) return Status::Error(Errno("netlink send", errno));
  alignas(nlmsghdr) uint8_t buf[8192];
  for (int round = 0; round < 16; ++round) {
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, kTimeoutMs) <= 0) return Status::Error("netlink: no answer");
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n < 0) return Status::Error(Errno("netlink recv", errno));
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<size_t>(n));
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq_ || h->nlmsg_type != NLMSG_ERROR) continue;
      const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
      if (e->error == 0) return Status::Ok();
      return Status::Error(Errno("netlink", -e->error));
    }
  }
  return Status::Error("netlink: no ack");
}

Status Netlink::Route(bool add, uint32_t dst, int prefix, int oif, uint32_t table) {
  rtmsg rt{};
  rt.rtm_family = AF_INET;
  rt.rtm_dst_len = static_cast<uint8_t>(prefix);
  rt.rtm_table = static_cast<uint8_t>(table < 256 ? table : uint32_t{RT_TABLE_UNSPEC});
  rt.rtm_protocol = RTPROT_STATIC;
  rt.rtm_scope = RT_SCOPE_LINK;
  rt.rtm_type = RTN_UNICAST;
  Request r(add ? RTM_NEWROUTE : RTM_DELROUTE,
            NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_EXCL : 0), &rt, sizeof(rt));
  if (prefix > 0) r.Attr32(RTA_DST, htonl(dst));
  r.Attr32(RTA_OIF, static_cast<uint32_t>(oif));
  r.Attr32(RTA_TABLE, table);
  return Transact(r.buf, r.hdr()->nlmsg_len);
}

Status Netlink::Rule(bool add, uint32_t src, int prefix, uint8_t protocol, uint16_t sport,
                     uint32_t table, uint32_t priority) {
  fib_rule_hdr fr{};
  fr.family = AF_INET;
  fr.src_len = static_cast<uint8_t>(prefix);
  fr.table = static_cast<uint8_t>(table < 256 ? table : uint32_t{RT_TABLE_UNSPEC});
  fr.action = FR_ACT_TO_TBL;
  Request r(add ? RTM_NEWRULE : RTM_DELRULE, NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_EXCL : 0),
            &fr, sizeof(fr));
  r.Attr32(FRA_SRC, htonl(src));
  r.Attr32(FRA_TABLE, table);
  r.Attr32(FRA_PRIORITY, priority);
  if (protocol != 0) {
    // Linux >= 4.17 (FRA_IP_PROTO, FRA_SPORT_RANGE).
    r.Attr(FRA_IP_PROTO, &protocol, 1);
    const fib_rule_port_range range{sport, sport};
    r.Attr(FRA_SPORT_RANGE, &range, sizeof(range));
  }
  return Transact(r.buf, r.hdr()->nlmsg_len);
}

Status Netlink::Address(bool add, int ifindex, uint32_t ip, int prefix) {
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = static_cast<uint8_t>(prefix);
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = static_cast<uint32_t>(ifindex);
  Request r(add ? RTM_NEWADDR : RTM_DELADDR, NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_EXCL : 0),
            &ifa, sizeof(ifa));
  r.Attr32(IFA_LOCAL, htonl(ip));
  r.Attr32(IFA_ADDRESS, htonl(ip));
  return Transact(r.buf, r.hdr()->nlmsg_len);
}

Result<RouteInfo> Netlink::GetRoute(uint32_t dst) {
  rtmsg rt{};
  rt.rtm_family = AF_INET;
  rt.rtm_dst_len = 32;
  Request r(RTM_GETROUTE, NLM_F_REQUEST, &rt, sizeof(rt));
  r.Attr32(RTA_DST, htonl(dst));
  r.hdr()->nlmsg_seq = ++seq_;
  if (send(fd_, r.buf, r.hdr()->nlmsg_len, 0) < 0) {
    return Status::Error(Errno("netlink send", errno));
  }
  alignas(nlmsghdr) uint8_t buf[8192];
  for (int round = 0; round < 16; ++round) {
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, kTimeoutMs) <= 0) return Status::Error("netlink: no answer");
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n < 0) return Status::Error(Errno("netlink recv", errno));
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<size_t>(n));
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq_) continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        return Status::Error(Errno("route get", -e->error));
      }
      if (h->nlmsg_type != RTM_NEWROUTE) continue;
      RouteInfo info;
      auto* m = static_cast<rtmsg*>(NLMSG_DATA(h));
      int len = static_cast<int>(RTM_PAYLOAD(h));
      for (rtattr* a = RTM_RTA(m); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        uint32_t v = 0;
        std::memcpy(&v, RTA_DATA(a), 4);
        if (a->rta_type == RTA_OIF) info.oif = static_cast<int>(v);
        if (a->rta_type == RTA_GATEWAY) info.gateway = ntohl(v);
        if (a->rta_type == RTA_PREFSRC) info.prefsrc = ntohl(v);
      }
      return info;
    }
  }
  return Status::Error("netlink: no route answer");
}

Result<std::optional<MacAddress>> Netlink::GetNeighbour(int ifindex, uint32_t ip) {
  ndmsg nd{};
  nd.ndm_family = AF_INET;
  nd.ndm_ifindex = ifindex;
  Request r(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, &nd, sizeof(nd));
  r.hdr()->nlmsg_seq = ++seq_;
  if (send(fd_, r.buf, r.hdr()->nlmsg_len, 0) < 0) {
    return Status::Error(Errno("netlink send", errno));
  }
  std::optional<MacAddress> found;
  alignas(nlmsghdr) uint8_t buf[16384];
  for (int round = 0; round < 256; ++round) {
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, kTimeoutMs) <= 0) return Status::Error("netlink: no answer");
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n < 0) return Status::Error(Errno("netlink recv", errno));
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<size_t>(n));
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq_) continue;
      if (h->nlmsg_type == NLMSG_DONE) return found;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        return Status::Error(Errno("neigh dump", -e->error));
      }
      if (h->nlmsg_type != RTM_NEWNEIGH) continue;
      auto* m = static_cast<ndmsg*>(NLMSG_DATA(h));
      if (m->ndm_ifindex != ifindex) continue;
      if (m->ndm_state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NONE)) continue;
      int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
      uint32_t dst = 0;
      std::optional<MacAddress> mac;
      for (auto* a =
               reinterpret_cast<rtattr*>(reinterpret_cast<uint8_t*>(m) + NLMSG_ALIGN(sizeof(*m)));
           RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == 4) std::memcpy(&dst, RTA_DATA(a), 4);
        if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) {
          MacAddress m6;
          std::memcpy(m6.data(), RTA_DATA(a), 6);
          mac = m6;
        }
      }
      if (ntohl(dst) == ip && mac) found = mac;
    }
  }
  return Status::Error("netlink: neighbour dump too long");
}

int InterfaceMtu(int ifindex) {
  char name[IF_NAMESIZE] = {};
  if (if_indextoname(static_cast<unsigned>(ifindex), name) == nullptr) return -1;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name, std::min<size_t>(std::strlen(name), IFNAMSIZ - 1));
  int mtu = ioctl(fd, SIOCGIFMTU, &ifr) == 0 ? ifr.ifr_mtu : -1;
  close(fd);
  return mtu;
}

Result<MacAddress> InterfaceMac(int ifindex) {
  char name[IF_NAMESIZE] = {};
  if (if_indextoname(static_cast<unsigned>(ifindex), name) == nullptr) {
    return Status::Error("interface " + std::to_string(ifindex) + ": " + strerror(errno));
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error(std::string("socket: ") + strerror(errno));
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name, std::min<size_t>(std::strlen(name), IFNAMSIZ - 1));
  const int r = ioctl(fd, SIOCGIFHWADDR, &ifr);
  const int err = errno;
  close(fd);
  if (r != 0) return Status::Error(std::string(name) + ": SIOCGIFHWADDR: " + strerror(err));
  MacAddress mac;
  std::memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, 6);
  return mac;
}

}  // namespace lbd
