// Internal header of lbd_lb.
//
// ControlServer: the Unix stream socket lbctl talks to (control_protocol.h
// describes the protocol). Runs on the control loop; each client may send
// several commands; a line longer than kMaxControlLine gets an error reply
// and the client is closed; at most kMaxClients clients at once (more are
// closed on accept). A client that disconnects mid-command is simply dropped.
// The socket file is created with mode 0600 (a stale one is removed) and
// removed again by the destructor.
//
// Thread-safety: none; the control loop's thread only.
#ifndef LBD_LB_CONTROL_SERVER_H_
#define LBD_LB_CONTROL_SERVER_H_

#include <ev.h>

#include <functional>
#include <list>
#include <memory>
#include <string>

#include "lbd/lb/accept_watcher.h"
#include "lbd/lb/control_protocol.h"

namespace lbd {

class ControlServer {
 public:
  // Runs one request line and returns the whole encoded reply.
  using Handler = std::function<std::string(std::string_view line)>;
  static constexpr size_t kMaxClients = 32;

  static Result<std::unique_ptr<ControlServer>> Create(struct ev_loop* loop,
                                                       const std::string& path, Handler handler);
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  ~ControlServer();

  const std::string& path() const { return path_; }

 private:
  struct Client {
    ControlServer* server;
    int fd;
    ev_io io;
    LineSplitter in;
    std::string out;
    bool closing = false;  // close once `out` is written
  };

  ControlServer(struct ev_loop* loop, std::string path, int fd, Handler handler);
  void Accepted(int fd);
  static void OnClient(struct ev_loop* loop, ev_io* w, int revents);
  void HandleInput(Client& c);
  bool Flush(Client& c);  // false: the client is gone
  void CloseClient(Client* c);

  struct ev_loop* loop_;
  std::string path_;
  int fd_;
  Handler handler_;
  AcceptWatcher acceptor_;
  std::list<Client> clients_;
};

}  // namespace lbd

#endif  // LBD_LB_CONTROL_SERVER_H_
