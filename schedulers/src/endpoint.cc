#include "lbsched/endpoint.h"

#include <charconv>

namespace lbd {

Result<Endpoint> ParseIpv4(std::string_view text) {
  uint32_t ip = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (p == end || *p != '.')
        return Status::Error("bad IPv4 address '" + std::string(text) + "'");
      ++p;
    }
    unsigned v = 0;
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc() || next == p || next - p > 3 || v > 255) {
      return Status::Error("bad IPv4 address '" + std::string(text) + "'");
    }
    ip = (ip << 8) | v;
    p = next;
  }
  if (p != end) return Status::Error("bad IPv4 address '" + std::string(text) + "'");
  return Endpoint{ip, 0};
}

Result<Endpoint> ParseEndpoint(std::string_view text, bool allow_port_zero) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return Status::Error("bad address '" + std::string(text) + "': expected IP:PORT");
  }
  auto ip = ParseIpv4(text.substr(0, colon));
  if (!ip.ok()) return Status::Error("bad address '" + std::string(text) + "': expected IP:PORT");
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [next, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || next != port_text.data() + port_text.size() || port_text.empty() ||
      port > 65535 || (port == 0 && !allow_port_zero)) {
    return Status::Error("bad port in '" + std::string(text) + "'");
  }
  return Endpoint{ip->ip, static_cast<uint16_t>(port)};
}

std::string Ipv4ToString(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." +
         std::to_string((ip >> 8) & 255) + "." + std::to_string(ip & 255);
}

std::string ToString(const Endpoint& e) {
  return Ipv4ToString(e.ip) + ":" + std::to_string(e.port);
}

}  // namespace lbd
