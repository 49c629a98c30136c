// Public header of liblbsched.
//
// Endpoint (IPv4 address + port) and Flow (what a scheduler sees of a new
// connection). Addresses are kept in host byte order, as the kernel's ip_vs
// hash functions use them after ntohl().
//
// Thread-safety: plain values.
#ifndef LBSCHED_ENDPOINT_H_
#define LBSCHED_ENDPOINT_H_

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "lbsched/status.h"

namespace lbd {

struct Endpoint {
  uint32_t ip = 0;    // IPv4, host byte order (192.0.2.1 is 0xC0000201)
  uint16_t port = 0;  // host byte order

  auto operator<=>(const Endpoint&) const = default;
};

// "a.b.c.d:port". Port 0 is allowed only when `allow_port_zero`.
Result<Endpoint> ParseEndpoint(std::string_view text, bool allow_port_zero = false);
// "a.b.c.d" alone; the port is 0.
Result<Endpoint> ParseIpv4(std::string_view text);
std::string ToString(const Endpoint& e);           // "a.b.c.d:port"
std::string Ipv4ToString(uint32_t host_order_ip);  // "a.b.c.d"

// The scheduler's view of a new connection (or of the first packet of a flow).
struct Flow {
  Endpoint source;       // client address and port
  Endpoint destination;  // the virtual service's address and port (VIP:port)
};

struct EndpointHash {
  size_t operator()(const Endpoint& e) const noexcept {
    uint64_t k = (uint64_t{e.ip} << 16) | e.port;
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }
};

}  // namespace lbd

#endif  // LBSCHED_ENDPOINT_H_
