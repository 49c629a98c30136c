// Internal header of lbd_daemon.
//
// ControlServer: the Unix stream socket lbctl talks to (control_protocol.h
// describes the protocol). Runs on the control loop; each client may send
// several commands; a line longer than kMaxControlLine gets an error reply
// and the client is closed. A client that disconnects mid-command is simply
// dropped.
//
// Slots: at most kMaxClients clients at once. A client that has not sent a
// whole line within `request_timeout` (since it connected or since its last
// reply was sent) while owing no reply is closed, so silent clients free
// their slot within about a second. When every slot is taken, a new client
// evicts the client that has waited longest for a line (an idle one, owing
// no reply) instead of being refused, so `lbctl` always gets in; only when
// every slot is busy sending a reply is the new client closed.
// One lbd per socket: Create takes an exclusive flock on `<path>.lock`
// (holding this process's pid) and refuses, naming the holder's pid, when
// another process has it; a socket file at `path` that still accepts
// connections is never replaced. The socket file is created with mode 0600
// (a dead one is removed); the destructor removes it only while it is still
// this server's own (same inode), then the lock file.
//
// Slow and stuck clients: writes never block. While a reply is being sent the
// client's next lines are not read (the kernel's socket buffer then stops
// it), at most ~1 MiB of replies is queued per client, and a long reply
// (ControlReply::more, e.g. `flows`) is produced part by part only when the
// queued bytes fall below kLowWater. A client whose queued reply has not
// drained for `stall_timeout` is closed, so one that never reads holds
// neither memory nor one of the kMaxClients slots for good.
//
// Thread-safety: none; the control loop's thread only.
#ifndef LBD_DAEMON_CONTROL_SERVER_H_
#define LBD_DAEMON_CONTROL_SERVER_H_

#include <ev.h>
#include <sys/types.h>

#include <functional>
#include <list>
#include <memory>
#include <string>

#include "lbd/daemon/accept_watcher.h"
#include "lbd/daemon/control_protocol.h"

namespace lbd {

class ControlServer {
 public:
  // Runs one request line and returns its encoded reply.
  using Handler = std::function<ControlReply(std::string_view line)>;
  static constexpr size_t kMaxClients = 32;
  // Queued reply bytes below which the next part of a long reply is made.
  static constexpr size_t kLowWater = 64 * 1024;
  static constexpr double kStallTimeout = 10;   // seconds
  static constexpr double kRequestTimeout = 1;  // seconds

  static Result<std::unique_ptr<ControlServer>> Create(struct ev_loop* loop,
                                                       const std::string& path, Handler handler,
                                                       double stall_timeout = kStallTimeout,
                                                       double request_timeout = kRequestTimeout);
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
    std::function<bool(std::string& out)> more;  // the rest of a long reply
    ev_tstamp last_progress = 0;                 // last byte sent, or reply queued
    ev_tstamp waiting_since = 0;                 // connected, or last reply sent
    bool closing = false;                        // close once `out` is written
  };

  ControlServer(struct ev_loop* loop, std::string path, int fd, Handler handler,
                double stall_timeout, double request_timeout);
  // Owes no reply: waiting for the client's next line.
  static bool Idle(const Client& c) { return c.out.empty() && !c.more && !c.closing; }
  void Accepted(int fd);
  static void OnClient(struct ev_loop* loop, ev_io* w, int revents);
  void HandleInput(Client& c);
  bool Flush(Client& c);  // false: the client is gone
  void CloseClient(Client* c);
  static void OnSweep(struct ev_loop* loop, ev_timer* w, int revents);

  struct ev_loop* loop_;
  std::string path_;
  int fd_;
  Handler handler_;
  double stall_timeout_;
  double request_timeout_;
  ev_timer sweep_;  // closes stalled and silent clients
  AcceptWatcher acceptor_;
  std::list<Client> clients_;
  int lock_fd_ = -1;  // flock on path_ + ".lock"
  dev_t socket_dev_ = 0;
  ino_t socket_ino_ = 0;  // of the socket file we bound
};

}  // namespace lbd

#endif  // LBD_DAEMON_CONTROL_SERVER_H_
