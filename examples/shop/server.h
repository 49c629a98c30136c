// Internal to shopd: the HTTP/1.1 transport (Boost.Asio + Beast) in front of a Shop.
//
// The only translation unit that includes Beast, to keep build times down. Runs `threads`
// threads on one io_context; each connection lives on its own strand, so a connection's state
// is touched by one thread at a time while different connections proceed in parallel.
#ifndef LBD_EXAMPLES_SHOP_SERVER_H_
#define LBD_EXAMPLES_SHOP_SERVER_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "shop.h"

namespace lbd::shop {

inline constexpr size_t kMaxBodyBytes = 64 * 1024;

struct ServerOptions {
  std::string host;   // numeric IPv4 or IPv6 address
  uint16_t port = 0;  // 0: the kernel picks one; the bound address is printed either way
  std::string name;   // X-Served-By
  std::chrono::milliseconds slow{0};
  double fail_rate = 0;
  int threads = 2;
  std::chrono::milliseconds drain_timeout{10000};
};

// Binds, prints "listening on ADDR:PORT" as the first line of stdout (flushed), serves until
// SIGTERM or SIGINT, then drains: stops accepting, makes /health answer 503, closes idle
// connections, lets in-flight requests finish (answered with Connection: close) for at most
// drain_timeout; a second signal ends the drain at once. Returns the process exit code: 0 after
// a drain, 1 when it cannot listen.
int RunServer(const ServerOptions& options, Shop& shop);

}  // namespace lbd::shop

#endif  // LBD_EXAMPLES_SHOP_SERVER_H_
