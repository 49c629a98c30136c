// Internal header of lbd_daemon.
//
// MetricsServer: a minimal HTTP/1.x server on the control loop that hands
// each request head to a callback for the whole response: the daemon passes
// status_page.h's RespondHttp (GET /metrics with the Prometheus text format
// (version 0.0.4), the status page, 404 for any other path, 405 for other
// methods, 400 for garbage). One request per connection (Connection: close);
// requests are capped at 8 KiB. A client must send its whole request head within
// 1 s of connecting and then has 5 s to read the response. At most 64 clients at
// once; when all slots are taken a new client evicts the oldest one that has not
// sent a whole request yet (a silent client cannot starve scrapes), and is closed
// only when every slot is sending a response.
//
// Thread-safety: none; the control loop's thread only.
#ifndef LBD_DAEMON_METRICS_SERVER_H_
#define LBD_DAEMON_METRICS_SERVER_H_

#include <ev.h>

#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>

#include "lbd/daemon/accept_watcher.h"
#include "lbsched/endpoint.h"
#include "lbsched/status.h"

namespace lbd {

class MetricsServer {
 public:
  // The whole response to one request head.
  using Handler = std::function<std::string(std::string_view request_head)>;

  static Result<std::unique_ptr<MetricsServer>> Create(struct ev_loop* loop, Endpoint listen,
                                                       Handler handler);
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  ~MetricsServer();

  Endpoint listen() const { return listen_; }

 private:
  struct Client {
    MetricsServer* server;
    int fd;
    ev_io io;
    ev_timer timer;
    std::string in;
    std::string out;
    bool responded = false;
  };

  MetricsServer(struct ev_loop* loop, Endpoint listen, int fd, Handler handler);
  void Accepted(int fd);
  static void OnClient(struct ev_loop* loop, ev_io* w, int revents);
  static void OnTimeout(struct ev_loop* loop, ev_timer* w, int revents);
  void Respond(Client& c);
  void CloseClient(Client* c);

  struct ev_loop* loop_;
  Endpoint listen_;
  int fd_;
  Handler handler_;
  AcceptWatcher acceptor_;
  std::list<Client> clients_;
};

// The response for one request head (exposed for tests).
std::string MetricsHttpResponse(std::string_view request_head, const std::string& metrics_body);

}  // namespace lbd

#endif  // LBD_DAEMON_METRICS_SERVER_H_
