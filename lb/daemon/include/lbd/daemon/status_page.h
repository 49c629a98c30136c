// Internal header of lbd_daemon.
//
// The routes of the metrics listener (`global.metrics_listen`), kept apart
// from MetricsServer's connection handling:
//   GET /             the live status page (HTML/CSS/JS compiled in, no
//                     external resource), which polls /status.json every
//                     second and draws its charts from the samples it keeps
//   GET /status.json  the `lbctl stats --json` document
//   GET /metrics      Prometheus text (MetricsHttpResponse, unchanged)
// HEAD is answered like GET without the body; any other method on / and
// /status.json is 405 with `Allow: GET, HEAD`. With `global.status_auth`
// set, / and /status.json require HTTP basic auth (RFC 7617) and answer 401
// with a `WWW-Authenticate` challenge otherwise; /metrics stays open, as
// Prometheus scrapers expect and as it was before the page existed.
//
// Thread-safety: RespondHttp is a pure function of its inputs; the routes'
// callbacks run on the caller's thread (the control loop's).
#ifndef LBD_DAEMON_STATUS_PAGE_H_
#define LBD_DAEMON_STATUS_PAGE_H_

#include <functional>
#include <string>
#include <string_view>

namespace lbd {

struct HttpRoutes {
  std::function<std::string()> metrics;      // the /metrics body
  std::function<std::string()> status_json;  // the /status.json body
  // "USER:PASSWORD" that / and /status.json ask for; empty = open. Asked
  // for on every request, so a reload that changes it applies at once.
  std::function<std::string()> basic_auth;
};

// The whole HTTP/1.1 response (Connection: close) to one request head.
std::string RespondHttp(std::string_view request_head, const HttpRoutes& routes);

// True when `request_head` carries `Authorization: Basic B64` whose decoding
// is `user_password` (compared in time independent of where they differ).
bool BasicAuthMatches(std::string_view request_head, std::string_view user_password);

// The page served at / (status_page_html.cc).
extern const std::string_view kStatusPageHtml;

}  // namespace lbd

#endif  // LBD_DAEMON_STATUS_PAGE_H_
