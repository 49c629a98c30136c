// rtnetlink: virtual IPs (RTM_NEWADDR / RTM_DELADDR) and link events.
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net.h"

namespace lbd::vrrp::internal {
namespace {

constexpr size_t kBufferSize = 16384;

struct AddressRequest {
  nlmsghdr header;
  ifaddrmsg ifa;
  char attributes[64];
};

void AddAttribute(nlmsghdr* header, size_t capacity, uint16_t type, const void* data, size_t size) {
  const size_t offset = NLMSG_ALIGN(header->nlmsg_len);
  const size_t length = RTA_LENGTH(size);
  if (offset + RTA_ALIGN(length) > capacity) return;  // sized for our few attributes
  auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(header) + offset);
  rta->rta_type = type;
  rta->rta_len = static_cast<uint16_t>(length);
  std::memcpy(RTA_DATA(rta), data, size);
  header->nlmsg_len = static_cast<uint32_t>(offset + RTA_ALIGN(length));
}

// One request, one ack: RFC 3549's request/ack exchange, with a 2 s bound.
Status AddressRequestAck(uint16_t type, uint16_t flags, int ifindex, uint32_t ip, int prefix_length,
                         int ok_errno) {
  Fd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (fd.get() < 0) return Status::Error(std::string("netlink socket: ") + std::strerror(errno));
  timeval timeout{2, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));

  AddressRequest req{};
  req.header.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
  req.header.nlmsg_type = type;
  req.header.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
  req.header.nlmsg_seq = 1;
  req.ifa.ifa_family = AF_INET;
  req.ifa.ifa_prefixlen = static_cast<uint8_t>(prefix_length);
  req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  req.ifa.ifa_index = static_cast<uint32_t>(ifindex);
  const uint32_t net = htonl(ip);
  AddAttribute(&req.header, sizeof(req), IFA_LOCAL, &net, sizeof(net));
  AddAttribute(&req.header, sizeof(req), IFA_ADDRESS, &net, sizeof(net));
  if (type == RTM_NEWADDR && prefix_length < 31) {
    const uint32_t host_mask = prefix_length == 0 ? ~0u : (~0u >> prefix_length);
    const uint32_t broadcast = htonl(ip | host_mask);
    AddAttribute(&req.header, sizeof(req), IFA_BROADCAST, &broadcast, sizeof(broadcast));
  }
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd.get(), &req, req.header.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof(kernel)) < 0) {
    return Status::Error(std::string("netlink send: ") + std::strerror(errno));
  }
  alignas(nlmsghdr) char buffer[kBufferSize];
  for (int reads = 0; reads < 8; ++reads) {
    const ssize_t n = recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Error(std::string("netlink ack: ") + std::strerror(errno));
    }
    int length = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, length);
         h = NLMSG_NEXT(h, length)) {
      if (h->nlmsg_seq != 1 || h->nlmsg_type != NLMSG_ERROR) continue;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return Status::Error("netlink: short ack");
      const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
      if (err->error == 0 || -err->error == ok_errno) return Status::Ok();
      return Status::Error(std::string("netlink: ") + std::strerror(-err->error));
    }
  }
  return Status::Error("netlink: no ack");
}

}  // namespace

Status AddAddress(int ifindex, uint32_t ip, int prefix_length) {
  return AddressRequestAck(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, ip, prefix_length,
                           EEXIST);
}

Status DeleteAddress(int ifindex, uint32_t ip, int prefix_length) {
  return AddressRequestAck(RTM_DELADDR, 0, ifindex, ip, prefix_length, EADDRNOTAVAIL);
}

Result<Fd> OpenLinkMonitor() {
  Fd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (fd.get() < 0) return Status::Error(std::string("netlink socket: ") + std::strerror(errno));
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_LINK;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    return Status::Error(std::string("netlink bind: ") + std::strerror(errno));
  }
  return fd;
}

std::optional<bool> ReadLinkEvents(int fd, int ifindex) {
  std::optional<bool> up;
  alignas(nlmsghdr) char buffer[kBufferSize];
  for (int reads = 0; reads < 64; ++reads) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n <= 0) break;
    int length = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, length);
         h = NLMSG_NEXT(h, length)) {
      if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) continue;
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) continue;
      const auto* info = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
      if (info->ifi_index != ifindex) continue;
      up = h->nlmsg_type == RTM_NEWLINK && (info->ifi_flags & IFF_UP) &&
           (info->ifi_flags & IFF_RUNNING);
    }
  }
  return up;
}

}  // namespace lbd::vrrp::internal
