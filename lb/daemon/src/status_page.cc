// Routing of the metrics listener: the status page, its JSON, basic auth;
// /metrics and the errors of anything else go to MetricsHttpResponse.
#include "lbd/daemon/status_page.h"

#include <cctype>
#include <cstdint>
#include <optional>

#include "lbd/daemon/metrics_server.h"

namespace lbd {
namespace {

std::string Response(std::string_view status, std::string_view type, std::string_view extra,
                     std::string_view body, bool head_only) {
  std::string out = "HTTP/1.1 ";
  out.append(status);
  out += "\r\nContent-Type: ";
  out.append(type);
  out += "\r\nContent-Length: " + std::to_string(body.size());
  // The page loads nothing from elsewhere; the policy makes that a promise.
  out +=
      "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
      "X-Frame-Options: DENY\r\nContent-Security-Policy: default-src 'none'; "
      "script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
      "img-src data:\r\n";
  out.append(extra);
  out += "Connection: close\r\n\r\n";
  if (!head_only) out.append(body);
  return out;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// RFC 4648 §4 base64 with padding; nullopt on any other character.
std::optional<std::string> DecodeBase64(std::string_view in) {
  std::string out;
  uint32_t bits = 0;
  int nbits = 0;
  size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    const char c = in[i];
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else {
      return std::nullopt;
    }
    bits = (bits << 6) | static_cast<uint32_t>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out.push_back(static_cast<char>((bits >> nbits) & 0xff));
    }
  }
  for (; i < in.size(); ++i) {
    if (in[i] != '=') return std::nullopt;
  }
  return out;
}

// The value of the first header named `name` (case-insensitive), if any.
std::optional<std::string_view> Header(std::string_view head, std::string_view name) {
  size_t pos = head.find('\n');  // skip the request line
  while (pos != std::string_view::npos && pos + 1 < head.size()) {
    const size_t start = pos + 1;
    const size_t end = head.find('\n', start);
    std::string_view line = head.substr(start, end == std::string_view::npos ? end : end - start);
    if (Trim(line).empty()) break;  // end of the head
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos && EqualsNoCase(line.substr(0, colon), name)) {
      return Trim(line.substr(colon + 1));
    }
    pos = end;
  }
  return std::nullopt;
}

}  // namespace

bool BasicAuthMatches(std::string_view head, std::string_view user_password) {
  auto value = Header(head, "Authorization");
  if (!value || value->size() < 6 || !EqualsNoCase(value->substr(0, 6), "Basic ")) return false;
  auto decoded = DecodeBase64(Trim(value->substr(6)));
  if (!decoded) return false;
  // Every byte is compared whatever the first difference, so the time taken
  // tells nothing about how much of a guess was right.
  unsigned char diff = decoded->size() == user_password.size() ? 0 : 1;
  for (size_t i = 0; i < user_password.size(); ++i) {
    const char got = i < decoded->size() ? (*decoded)[i] : 0;
    diff |= static_cast<unsigned char>(got ^ user_password[i]);
  }
  return diff == 0;
}

std::string RespondHttp(std::string_view head, const HttpRoutes& routes) {
  std::string_view line = head.substr(0, head.find_first_of("\r\n"));
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  std::string_view path;
  std::string_view method;
  if (sp1 != std::string_view::npos && sp2 != std::string_view::npos) {
    method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    path = target.substr(0, target.find('?'));
  }
  const bool page = path == "/" || path == "/index.html";
  if ((!page && path != "/status.json") || line.substr(sp2 + 1, 5) != "HTTP/") {
    // /metrics, 404s, 400s and their 405s as before the page existed.
    return MetricsHttpResponse(head, path == "/metrics" && routes.metrics ? routes.metrics() : "");
  }
  if (method != "GET" && method != "HEAD") {
    return Response("405 Method Not Allowed", "text/plain", "Allow: GET, HEAD\r\n",
                    "method not allowed\n", false);
  }
  const bool head_only = method == "HEAD";
  const std::string auth = routes.basic_auth ? routes.basic_auth() : std::string();
  if (!auth.empty() && !BasicAuthMatches(head, auth)) {
    return Response("401 Unauthorized", "text/plain",
                    "WWW-Authenticate: Basic realm=\"lbd status\", charset=\"UTF-8\"\r\n",
                    "authentication required\n", head_only);
  }
  if (page) return Response("200 OK", "text/html; charset=utf-8", "", kStatusPageHtml, head_only);
  return Response("200 OK", "application/json", "",
                  routes.status_json ? routes.status_json() : "{}\n", head_only);
}

}  // namespace lbd
