#include "options.h"

#include <charconv>
#include <cstdlib>
#include <string_view>

namespace lbd::shop {

const char kUsage[] =
    "usage: shopd --listen IP:PORT --name NAME [--db FILE] [--catalog FILE]\n"
    "             [--slow MS] [--fail-rate P] [--threads N] [--drain-timeout MS]\n"
    "  --listen IP:PORT     address to serve HTTP on; port 0 picks a free port\n"
    "  --name NAME          sent in the X-Served-By header of every response\n"
    "  --db FILE            SQLite database shared by instances (default ./shop.db)\n"
    "  --catalog FILE       products to insert into an empty database, one\n"
    "                       'title<TAB>price_cents' per line (default: built-in)\n"
    "  --slow MS            delay every request by MS milliseconds (default 0)\n"
    "  --fail-rate P        answer 500 to a share P in [0,1] of requests except /health\n"
    "  --threads N          server threads (default 2)\n"
    "  --drain-timeout MS   after SIGTERM, longest wait for in-flight requests (10000)\n";

namespace {

template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool ParseListen(std::string_view text, Options* options) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    host = host.substr(1, host.size() - 2);
  }
  options->listen_host = std::string(host);
  return ParseNumber(text.substr(colon + 1), &options->listen_port);
}

}  // namespace

std::optional<Options> ParseOptions(const std::vector<std::string>& args, std::string* error,
                                    bool* help) {
  Options options;
  bool have_listen = false;
  *help = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--help" || flag == "-h") {
      *help = true;
      return std::nullopt;
    }
    if (i + 1 >= args.size()) {
      *error = flag.starts_with("--") ? flag + " needs a value" : "unexpected argument " + flag;
      return std::nullopt;
    }
    const std::string& value = args[++i];
    bool ok = true;
    if (flag == "--listen") {
      ok = ParseListen(value, &options);
      have_listen = ok;
    } else if (flag == "--name") {
      options.name = value;
      ok = !value.empty();
    } else if (flag == "--db") {
      options.db_path = value;
      ok = !value.empty();
    } else if (flag == "--catalog") {
      options.catalog_path = value;
      ok = !value.empty();
    } else if (flag == "--slow") {
      int64_t ms = 0;
      ok = ParseNumber(value, &ms) && ms >= 0 && ms <= 3'600'000;
      options.slow = std::chrono::milliseconds(ms);
    } else if (flag == "--fail-rate") {
      char* end = nullptr;
      options.fail_rate = std::strtod(value.c_str(), &end);
      ok = !value.empty() && *end == '\0' && options.fail_rate >= 0 && options.fail_rate <= 1;
    } else if (flag == "--threads") {
      ok = ParseNumber(value, &options.threads) && options.threads >= 1 && options.threads <= 256;
    } else if (flag == "--drain-timeout") {
      int64_t ms = 0;
      ok = ParseNumber(value, &ms) && ms >= 0 && ms <= 3'600'000;
      options.drain_timeout = std::chrono::milliseconds(ms);
    } else {
      *error = "unknown flag " + flag;
      return std::nullopt;
    }
    if (!ok) {
      *error = "bad value for " + flag + ": '" + value + "'";
      return std::nullopt;
    }
  }
  if (!have_listen || options.name.empty()) {
    *error = "--listen and --name are required";
    return std::nullopt;
  }
  return options;
}

}  // namespace lbd::shop
