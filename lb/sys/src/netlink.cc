#include "lbd/sys/netlink.h"

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

// How long one request waits for each part of its answer.
constexpr int kTimeoutMs = 2000;
constexpr size_t kBufferSize = 16384;

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

template <typename OnReply>
Status Netlink::Exchange(netlink::Request& r, int max_reads, const char* too_long,
                         OnReply on_reply) {
  r.header()->nlmsg_seq = ++seq_;
  if (send(fd_, r.header(), r.size(), 0) < 0) return Status::Error(Errno("netlink send", errno));
  alignas(nlmsghdr) uint8_t buf[kBufferSize];
  for (int reads = 0; reads < max_reads; ++reads) {
    pollfd pfd{fd_, POLLIN, 0};
    const int ready = poll(&pfd, 1, kTimeoutMs);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return Status::Error("netlink: no answer");
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Error(Errno("netlink recv", errno));
    }
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<size_t>(n));
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq_) continue;
      if (std::optional<Status> done = on_reply(h)) return *std::move(done);
    }
  }
  return Status::Error(too_long);
}

// RFC 3549 §2.3.2.2: one request, one ack (an NLMSG_ERROR with error 0).
Status Netlink::Transact(netlink::Request& r, int ok_errno) {
  r.header()->nlmsg_flags |= NLM_F_ACK;
  return Exchange(r, 16, "netlink: no ack", [&](const nlmsghdr* h) -> std::optional<Status> {
    if (h->nlmsg_type != NLMSG_ERROR) return std::nullopt;
    const std::optional<int> err = netlink::AckError(h);
    if (!err) return Status::Error("netlink: short ack");
    if (*err == 0 || (ok_errno != 0 && *err == ok_errno)) return Status::Ok();
    return Status::Error(Errno("netlink", *err));
  });
}

Status Netlink::Route(bool add, uint32_t dst, int prefix, int oif, uint32_t table) {
  netlink::Request r = netlink::RouteRequest(add, dst, prefix, oif, table);
  return Transact(r);
}

Status Netlink::Rule(bool add, uint32_t src, int prefix, uint8_t protocol, uint16_t sport,
                     uint32_t table, uint32_t priority) {
  netlink::Request r = netlink::RuleRequest(add, src, prefix, protocol, sport, table, priority);
  return Transact(r);
}

Status Netlink::Address(bool add, int ifindex, uint32_t ip, int prefix) {
  netlink::Request r = netlink::AddressRequest(add, ifindex, ip, prefix, /*broadcast=*/false);
  return Transact(r);
}

Status Netlink::AddVirtualAddress(int ifindex, uint32_t ip, int prefix) {
  netlink::Request r = netlink::AddressRequest(true, ifindex, ip, prefix, /*broadcast=*/true);
  return Transact(r, EEXIST);
}

Status Netlink::DeleteVirtualAddress(int ifindex, uint32_t ip, int prefix) {
  netlink::Request r = netlink::AddressRequest(false, ifindex, ip, prefix, /*broadcast=*/false);
  return Transact(r, EADDRNOTAVAIL);
}

Result<RouteInfo> Netlink::GetRoute(uint32_t dst) {
  netlink::Request r = netlink::GetRouteRequest(dst);
  std::optional<RouteInfo> info;
  Status st =
      Exchange(r, 16, "netlink: no route answer", [&](const nlmsghdr* h) -> std::optional<Status> {
        if (h->nlmsg_type == NLMSG_ERROR) {
          return Status::Error(Errno("route get", netlink::AckError(h).value_or(EPROTO)));
        }
        info = netlink::ParseRoute(h);
        if (!info) return std::nullopt;
        return Status::Ok();
      });
  if (!st.ok()) return st;
  return *info;
}

Result<std::optional<MacAddress>> Netlink::GetNeighbour(int ifindex, uint32_t ip) {
  netlink::Request r = netlink::GetNeighbourRequest(ifindex);
  std::optional<MacAddress> found;
  Status st = Exchange(
      r, 256, "netlink: neighbour dump too long", [&](const nlmsghdr* h) -> std::optional<Status> {
        if (h->nlmsg_type == NLMSG_DONE) return Status::Ok();
        if (h->nlmsg_type == NLMSG_ERROR) {
          return Status::Error(Errno("neigh dump", netlink::AckError(h).value_or(EPROTO)));
        }
        const auto n = netlink::ParseNeighbour(h);
        if (n && n->ifindex == ifindex && n->ip == ip) found = n->mac;
        return std::nullopt;
      });
  if (!st.ok()) return st;
  return found;
}

Result<LinkMonitor> LinkMonitor::Open() {
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return Status::Error(Errno("netlink socket", errno));
  LinkMonitor monitor(fd);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_LINK;
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    return Status::Error(Errno("netlink bind", errno));
  }
  return monitor;
}

LinkMonitor& LinkMonitor::operator=(LinkMonitor&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

LinkMonitor::~LinkMonitor() {
  if (fd_ >= 0) close(fd_);
}

std::optional<bool> LinkMonitor::Read(int ifindex) {
  std::optional<bool> up;
  alignas(nlmsghdr) uint8_t buf[kBufferSize];
  for (int reads = 0; reads < 64; ++reads) {
    ssize_t n = recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) break;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<size_t>(n));
         h = NLMSG_NEXT(h, n)) {
      const auto link = netlink::ParseLink(h);
      if (link && link->ifindex == ifindex) up = link->up;
    }
  }
  return up;
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
