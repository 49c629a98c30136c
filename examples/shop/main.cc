// shopd: the demo shop backend behind lbd. See README.md for the endpoints.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "catalog.h"
#include "options.h"
#include "server.h"
#include "shop.h"

int main(int argc, char** argv) {
  using namespace lbd::shop;
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string error;
  bool help = false;
  std::optional<Options> options = ParseOptions(args, &error, &help);
  if (!options) {
    if (help) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    std::fprintf(stderr, "shopd: %s\n%s", error.c_str(), kUsage);
    return 2;
  }
  // Writes to a closed peer must fail with EPIPE, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);

  ShopOptions shop_options;
  shop_options.db_path = options->db_path;
  if (!options->catalog_path.empty()) {
    std::ifstream in(options->catalog_path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "shopd: cannot read %s\n", options->catalog_path.c_str());
      return 1;
    }
    std::stringstream text;
    text << in.rdbuf();
    shop_options.catalog = ParseCatalog(text.str(), &error);
    if (!shop_options.catalog) {
      std::fprintf(stderr, "shopd: %s:%s\n", options->catalog_path.c_str(), error.c_str());
      return 1;
    }
  }
  std::unique_ptr<Shop> shop = Shop::Create(std::move(shop_options), &error);
  if (!shop) {
    std::fprintf(stderr, "shopd: %s\n", error.c_str());
    return 1;
  }

  ServerOptions server_options;
  server_options.host = options->listen_host;
  server_options.port = options->listen_port;
  server_options.name = options->name;
  server_options.slow = options->slow;
  server_options.fail_rate = options->fail_rate;
  server_options.threads = options->threads;
  server_options.drain_timeout = options->drain_timeout;
  return RunServer(server_options, *shop);
}
