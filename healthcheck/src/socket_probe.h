// Internal header of lbd_healthcheck.
//
// SocketProbe: the non-blocking TCP connect shared by the tcp and http
// probes. Subclasses continue from OnConnected() with the connected socket;
// the socket and its watcher are released by Cancel(), Finish() or the
// destructor, whichever comes first.
//
// Thread-safety: belongs to the loop's thread.
#ifndef LBD_HEALTHCHECK_SOCKET_PROBE_H_
#define LBD_HEALTHCHECK_SOCKET_PROBE_H_

#include <ev.h>

#include <string>

#include "probe.h"

namespace lbd {

class SocketProbe : public Probe {
 public:
  SocketProbe(struct ev_loop* loop, Endpoint address);
  ~SocketProbe() override;

  std::optional<ProbeResult> Start(Done done) final;
  void Cancel() final { Close(); }

 protected:
  // The connection is up; the watcher is stopped. Continue with Watch().
  virtual void OnConnected() = 0;
  // The socket is ready for `events` (EV_READ / EV_WRITE) after Watch().
  virtual void OnReady(int events) = 0;

  void Watch(int events);
  // Closes the socket and reports; nothing of `this` may be used afterwards
  // (the checker may destroy the probe from `done`).
  void Finish(bool success, std::string message);
  // "op: strerror(err)" as a failure, or as unknown when `err` is a local
  // resource error of socket() or connect().
  void FinishErrno(const char* op, int err);
  int fd() const { return fd_; }
  struct ev_loop* loop() const {
    return loop_;
  }
  Endpoint address() const { return address_; }

 private:
  static void OnIo(struct ev_loop* loop, ev_io* w, int revents);
  static void OnStartIdle(struct ev_loop* loop, ev_timer* w, int revents);
  void Close();
  void Report(ProbeResult r);  // like Finish()

  struct ev_loop* loop_;
  Endpoint address_;
  int fd_ = -1;
  bool connecting_ = false;
  int pending_error_ = 0;  // a connect() that failed at once, reported from the loop
  ev_io io_;
  ev_timer immediate_;  // reports an immediate connect() result from the loop
  Done done_;
};

}  // namespace lbd

#endif  // LBD_HEALTHCHECK_SOCKET_PROBE_H_
