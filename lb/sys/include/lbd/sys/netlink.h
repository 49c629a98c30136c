// Header of lbd_sys (internal to lbd: not installed).
//
// Netlink: the rtnetlink requests lbd makes (rtnetlink(7)): routes and policy
// rules the packet forwarder installs and removes, interface addresses
// (lbd-tunnel's VIPs, VRRP's virtual IPs), a route lookup (egress interface,
// MTU) and the neighbour table. Each request waits (bounded: 2 s without an
// answer) for the kernel's ack or answer. LinkMonitor follows link state
// (RTMGRP_LINK) for VRRP. Messages are built and parsed by netlink_message.h.
// Addresses are host order.
//
// Thread-safety: none; one Netlink (or LinkMonitor) per thread.
#ifndef LBD_SYS_NETLINK_H_
#define LBD_SYS_NETLINK_H_

#include <cstdint>
#include <optional>

#include "lbd/sys/netlink_message.h"
#include "lbsched/status.h"

namespace lbd {

class Netlink {
 public:
  static Result<Netlink> Open();
  Netlink(Netlink&& other) noexcept : fd_(other.fd_), seq_(other.seq_) { other.fd_ = -1; }
  Netlink& operator=(Netlink&&) = delete;
  Netlink(const Netlink&) = delete;
  ~Netlink();

  // ip route {add|del} DST/PREFIX dev OIF table TABLE (scope link).
  Status Route(bool add, uint32_t dst, int prefix, int oif, uint32_t table);
  // ip rule {add|del} from SRC/PREFIX [ipproto PROTO sport PORT] lookup TABLE
  // priority PRIORITY. protocol 0: any protocol and port.
  Status Rule(bool add, uint32_t src, int prefix, uint8_t protocol, uint16_t sport, uint32_t table,
              uint32_t priority);
  // ip addr {add|del} IP/PREFIX dev IFINDEX; an existing (add) or absent (del)
  // address is an error.
  Status Address(bool add, int ifindex, uint32_t ip, int prefix);
  // A virtual IP as keepalived adds it (ip addr add IP/PREFIX brd + dev
  // IFINDEX); adding an existing address succeeds.
  Status AddVirtualAddress(int ifindex, uint32_t ip, int prefix);
  // ip addr del IP/PREFIX dev IFINDEX; removing an absent address succeeds.
  Status DeleteVirtualAddress(int ifindex, uint32_t ip, int prefix);
  // ip route get DST.
  Result<RouteInfo> GetRoute(uint32_t dst);
  // The neighbour entry's MAC for `ip` on `ifindex`, when reachable/stale/...
  // (not INCOMPLETE/FAILED). Empty when there is none.
  Result<std::optional<MacAddress>> GetNeighbour(int ifindex, uint32_t ip);

 private:
  explicit Netlink(int fd) : fd_(fd) {}
  // Sends `r` (NLM_F_ACK set) and waits for its ack; a nack with `ok_errno`
  // counts as success.
  Status Transact(netlink::Request& r, int ok_errno = 0);
  // Sends `r` with the next sequence number, then hands each reply of that
  // sequence to `on_reply` until it returns a Status (the result), for at most
  // `max_reads` reads; then `too_long`.
  template <typename OnReply>
  Status Exchange(netlink::Request& r, int max_reads, const char* too_long, OnReply on_reply);

  int fd_ = -1;
  uint32_t seq_ = 1;
};

// Link state events (RTMGRP_LINK) on a non-blocking socket for a libev watcher.
class LinkMonitor {
 public:
  LinkMonitor() = default;
  static Result<LinkMonitor> Open();
  LinkMonitor(LinkMonitor&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  LinkMonitor& operator=(LinkMonitor&& other) noexcept;
  LinkMonitor(const LinkMonitor&) = delete;
  LinkMonitor& operator=(const LinkMonitor&) = delete;
  ~LinkMonitor();

  int fd() const { return fd_; }
  // Drains the socket; the last up/down state seen for `ifindex`, if any.
  std::optional<bool> Read(int ifindex);

 private:
  explicit LinkMonitor(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// The interface's MTU (ioctl SIOCGIFMTU); -1 when unknown.
int InterfaceMtu(int ifindex);
// The interface's hardware address (ioctl SIOCGIFHWADDR).
Result<MacAddress> InterfaceMac(int ifindex);

}  // namespace lbd

#endif  // LBD_SYS_NETLINK_H_
