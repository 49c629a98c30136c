// Internal header of lbd_healthcheck.
//
// Probe: one check attempt of one kind (tcp, http, exec). HealthChecker makes
// a new probe per attempt, starts it, and either gets its result through the
// callback or cancels it at the deadline. A probe calls `done` at most once,
// always from a callback of the loop (never from inside Start()), and never
// after Cancel(). A probe may be destroyed at any time except from inside its
// own `done`; destroying it releases everything (an exec probe kills and
// reaps its child).
//
// Thread-safety: belongs to the loop's thread.
#ifndef LBD_HEALTHCHECK_PROBE_H_
#define LBD_HEALTHCHECK_PROBE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "lbd/healthcheck/checker.h"
#include "lbsched/endpoint.h"
#include "lbsched/status.h"

struct ev_loop;

namespace lbd {

struct ProbeResult {
  bool success = false;
  std::string message;
  std::optional<int> weight;
  // The check could not run for lack of local resources (EMFILE, ENFILE,
  // ENOBUFS, ENOMEM, no local port, no process): says nothing of the server.
  bool unknown = false;
};

// Errors of socket(), connect() or fork that mean "this host is out of
// something", not "the server failed": EMFILE, ENFILE, ENOBUFS, ENOMEM, and
// EAGAIN/EADDRNOTAVAIL (no process slot, no ephemeral port).
bool IsLocalResourceError(int err);

class Probe {
 public:
  using Done = std::function<void(ProbeResult)>;

  virtual ~Probe() = default;
  // Starts the attempt. A result returned here (no socket, no process) ends
  // the attempt at once, `unknown` when for lack of local resources; `done`
  // is then never called.
  virtual std::optional<ProbeResult> Start(Done done) = 0;
  // Stops the attempt (the deadline passed); `done` will not be called.
  virtual void Cancel() = 0;
  // Whether the probe still holds something that is being released (a killed
  // child not yet reaped). Such a probe is kept until it reports false.
  virtual bool Releasing() const { return false; }
};

// `address`: where to connect (the server, or its check port).
std::unique_ptr<Probe> NewTcpProbe(struct ev_loop* loop, Endpoint address);
std::unique_ptr<Probe> NewHttpProbe(struct ev_loop* loop, Endpoint address,
                                    const CheckOptions& cfg);
// `server`: the real server (for LBD_RS_IP / LBD_RS_PORT).
std::unique_ptr<Probe> NewExecProbe(struct ev_loop* loop, Endpoint server, const CheckOptions& cfg);

}  // namespace lbd

#endif  // LBD_HEALTHCHECK_PROBE_H_
