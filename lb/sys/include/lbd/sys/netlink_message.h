// Header of lbd_sys (internal to lbd: not installed).
//
// rtnetlink messages without a socket (rtnetlink(7), RFC 3549 §2.3): the
// requests lbd sends, built into one aligned buffer, and the parsers of the
// kernel's replies. Netlink (netlink.h) sends and receives them; tests build
// and parse them directly. Addresses are host order.
//
// Thread-safety: plain values and pure functions.
#ifndef LBD_SYS_NETLINK_MESSAGE_H_
#define LBD_SYS_NETLINK_MESSAGE_H_

#include <linux/netlink.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace lbd {

using MacAddress = std::array<uint8_t, 6>;

// The answer of `ip route get`.
struct RouteInfo {
  int oif = 0;
  uint32_t gateway = 0;  // 0 = on-link
  uint32_t prefsrc = 0;
};

namespace netlink {

// One request: nlmsghdr, the family struct, then attributes (rtattr).
class Request {
 public:
  static constexpr size_t kCapacity = 512;

  Request(uint16_t type, uint16_t flags, const void* body, size_t body_len);
  // Appends an attribute. False (and nothing appended) when it does not fit.
  bool Attr(uint16_t type, const void* data, size_t len);
  bool Attr32(uint16_t type, uint32_t value) { return Attr(type, &value, sizeof(value)); }

  nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(buf_); }
  const nlmsghdr* header() const { return reinterpret_cast<const nlmsghdr*>(buf_); }
  uint32_t size() const { return header()->nlmsg_len; }

 private:
  alignas(NLMSG_ALIGNTO) uint8_t buf_[kCapacity] = {};
};

// ip route {add|del} DST/PREFIX dev OIF table TABLE (scope link, proto static).
Request RouteRequest(bool add, uint32_t dst, int prefix, int oif, uint32_t table);
// ip rule {add|del} from SRC/PREFIX [ipproto PROTO sport PORT] lookup TABLE
// priority PRIORITY. protocol 0: any protocol and port.
Request RuleRequest(bool add, uint32_t src, int prefix, uint8_t protocol, uint16_t sport,
                    uint32_t table, uint32_t priority);
// ip addr {add|del} IP/PREFIX dev IFINDEX; with `broadcast` and prefix < 31 an
// add carries `brd +` (IFA_BROADCAST), as keepalived adds its VIPs.
Request AddressRequest(bool add, int ifindex, uint32_t ip, int prefix, bool broadcast);
// ip route get DST.
Request GetRouteRequest(uint32_t dst);
// A dump of the IPv4 neighbour table (the kernel may ignore the index filter).
Request GetNeighbourRequest(int ifindex);

// The parsers take one message that NLMSG_OK() accepted.

// An NLMSG_ERROR message's error: 0 for an ack, else a positive errno.
// Empty for another type or a message too short to hold nlmsgerr.
std::optional<int> AckError(const nlmsghdr* h);
// An RTM_NEWROUTE answer's oif, gateway and preferred source.
std::optional<RouteInfo> ParseRoute(const nlmsghdr* h);

struct Neighbour {
  int ifindex = 0;
  uint32_t ip = 0;
  MacAddress mac{};
};
// An RTM_NEWNEIGH entry with an IPv4 destination and a MAC whose state is
// usable (not INCOMPLETE, FAILED or NONE); empty otherwise.
std::optional<Neighbour> ParseNeighbour(const nlmsghdr* h);

struct LinkState {
  int ifindex = 0;
  bool up = false;  // IFF_UP and IFF_RUNNING (keepalived's view of "up"); false when deleted
};
// An RTM_NEWLINK / RTM_DELLINK event.
std::optional<LinkState> ParseLink(const nlmsghdr* h);

}  // namespace netlink
}  // namespace lbd

#endif  // LBD_SYS_NETLINK_MESSAGE_H_
