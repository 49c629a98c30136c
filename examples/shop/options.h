// Internal to shopd: command-line flags. A plain value.
#ifndef LBD_EXAMPLES_SHOP_OPTIONS_H_
#define LBD_EXAMPLES_SHOP_OPTIONS_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lbd::shop {

struct Options {
  std::string listen_host;            // --listen IP:PORT (required); IPv6 as [ADDR]:PORT
  uint16_t listen_port = 0;           // 0: any free port, printed on stdout
  std::string name;                   // --name NAME (required), sent as X-Served-By
  std::string db_path = "shop.db";    // --db FILE
  std::string catalog_path;           // --catalog FILE; "" = the built-in catalog
  std::chrono::milliseconds slow{0};  // --slow MS: added to every request
  double fail_rate = 0;               // --fail-rate P in [0, 1]: share of 500s (never /health)
  int threads = 2;                    // --threads N
  std::chrono::milliseconds drain_timeout{10000};  // --drain-timeout MS after SIGTERM
};

// nullopt with a message in `error` on a bad or missing flag; `help` set for --help.
std::optional<Options> ParseOptions(const std::vector<std::string>& args, std::string* error,
                                    bool* help);

extern const char kUsage[];

}  // namespace lbd::shop

#endif  // LBD_EXAMPLES_SHOP_OPTIONS_H_
