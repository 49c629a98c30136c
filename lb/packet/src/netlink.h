// Internal header of lbd_packet.
//
// Netlink: the few rtnetlink requests the forwarder needs (rtnetlink(7)):
// routes and policy rules it installs and removes, interface addresses for
// lbd-tunnel, a route lookup (egress interface, MTU) and the neighbour table.
//
// Thread-safety: none; one Netlink per thread.
#ifndef LBD_PACKET_SRC_NETLINK_H_
#define LBD_PACKET_SRC_NETLINK_H_

#include <array>
#include <cstdint>
#include <optional>

#include "lbsched/status.h"

namespace lbd {

struct RouteInfo {
  int oif = 0;
  uint32_t gateway = 0;  // 0 = on-link
  uint32_t prefsrc = 0;
};

using MacAddress = std::array<uint8_t, 6>;

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
  // ip addr {add|del} IP/PREFIX dev IFINDEX.
  Status Address(bool add, int ifindex, uint32_t ip, int prefix);
  // ip route get DST.
  Result<RouteInfo> GetRoute(uint32_t dst);
  // The neighbour entry's MAC for `ip` on `ifindex`, when reachable/stale/...
  // (not INCOMPLETE/FAILED). Empty when there is none.
  Result<std::optional<MacAddress>> GetNeighbour(int ifindex, uint32_t ip);

 private:
  explicit Netlink(int fd) : fd_(fd) {}
  // Sends `msg` (NLM_F_ACK set) and waits for its ack.
  Status Transact(void* msg, uint32_t len);

  int fd_ = -1;
  uint32_t seq_ = 1;
};

// Interface index and MTU by name (ioctl); 0 / -1 when unknown.
int InterfaceMtu(int ifindex);
// The interface's hardware address (ioctl SIOCGIFHWADDR).
Result<MacAddress> InterfaceMac(int ifindex);

}  // namespace lbd

#endif  // LBD_PACKET_SRC_NETLINK_H_
