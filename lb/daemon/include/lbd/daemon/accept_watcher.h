// Internal header of lbd_daemon.
//
// AcceptWatcher: accepts on a listening socket for the control loop's small
// servers (control socket, metrics), up to 16 connections per wake-up, each
// non-blocking and close-on-exec, handed to a callback. On an accept error
// other than EAGAIN/EINTR/ECONNABORTED (EMFILE, ENFILE, ENOMEM...) the pending
// connection stays queued, so a level-triggered watcher would spin: it stops
// watching for 100 ms instead. Does not own the listening descriptor.
//
// Thread-safety: none; the loop's thread only.
#ifndef LBD_DAEMON_ACCEPT_WATCHER_H_
#define LBD_DAEMON_ACCEPT_WATCHER_H_

#include <ev.h>

#include <functional>

namespace lbd {

class AcceptWatcher {
 public:
  using OnAccepted = std::function<void(int fd)>;

  // Starts watching at once. REQUIRES: `listen_fd` outlives Stop().
  AcceptWatcher(struct ev_loop* loop, int listen_fd, OnAccepted on_accepted);
  AcceptWatcher(const AcceptWatcher&) = delete;
  AcceptWatcher& operator=(const AcceptWatcher&) = delete;
  ~AcceptWatcher() { Stop(); }

  // Stops for good; call before closing the listening descriptor.
  void Stop();

 private:
  static void OnReadable(struct ev_loop* loop, ev_io* w, int revents);
  static void OnResume(struct ev_loop* loop, ev_timer* w, int revents);

  struct ev_loop* loop_;
  int fd_;
  OnAccepted on_accepted_;
  ev_io io_;
  ev_timer resume_timer_;  // accepting paused after EMFILE & co.
};

}  // namespace lbd

#endif  // LBD_DAEMON_ACCEPT_WATCHER_H_
