// Internal header of lbd_daemon.
//
// HealthMonitor: the seam between the daemon and the health checkers. The
// daemon owns one monitor on its control loop, hands it every applied
// configuration (start, reload) and learns each real server's health through
// the Report callback; a "down" becomes Service::SetUp(false), which the
// schedulers treat as weight 0 (keepalived's inhibit_on_failure), or, with
// `inhibit_on_failure: false`, Service::RemoveServer (the daemon decides).
//
// It also keeps each service's quorum (keepalived's virtual_server quorum /
// hysteresis, QuorumState): the daemon feeds the up-weight sum after every
// change, the monitor reports the transitions and runs on_quorum_down /
// on_quorum_up (one CommandRunner for its lifetime, children reaped on the
// loop). Without lbd_healthcheck there is no quorum: HasQuorum() is true.
//
// Thread-safety: created, configured and destroyed on the control thread;
// Report is called there too.
#ifndef LBD_DAEMON_HEALTH_MONITOR_H_
#define LBD_DAEMON_HEALTH_MONITOR_H_

#include <ev.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "lbd/conf/config.h"
#include "lbd/daemon/status_report.h"

namespace lbd {

class HealthMonitor {
 public:
  // (service name, real server, up). Called on every transition.
  using Report = std::function<void(const std::string& service, Endpoint server, bool up)>;
  // (service name, real server, weight): exec checks with dynamic_weight
  // (keepalived's misc_dynamic) ask for a new weight.
  using WeightReport = std::function<void(const std::string& service, Endpoint server, int weight)>;

  enum class QuorumChange { kNone, kLost, kRegained };

  virtual ~HealthMonitor() = default;
  // Start/stop/replace checks so that they match `config`. Checks of servers
  // whose settings did not change (inhibit_on_failure aside: the daemon's
  // business) keep running with their state; a replaced check starts in the
  // state of the old one. Quorum settings are taken first (a service whose
  // quorum or hysteresis changed starts over from its current state), then
  // new checks report their initial state.
  virtual void Configure(const Config& config) = 0;

  // What status shows of the check of `server` in `service`; nullopt when it
  // has none.
  virtual std::optional<HealthCheckReport> CheckReport(const std::string& service,
                                                       Endpoint server) const = 0;

  // The sum of the configured weights of the service's real servers that are
  // up (check passed, not disabled, in the table). Quorum is the configured
  // `quorum`, or 1 when it is 0 (keepalived's default): lost below
  // quorum - hysteresis, regained at quorum + hysteresis. A transition is
  // logged and starts the service's on_quorum_down / on_quorum_up (if any), with
  // LBD_SERVICE, LBD_QUORUM, LBD_HYSTERESIS and LBD_UP_WEIGHT in its
  // environment. A service not in the last Configure: kNone.
  virtual QuorumChange UpdateQuorum(const std::string& service, int64_t up_weight) = 0;
  // True until UpdateQuorum() reports a loss.
  virtual bool HasQuorum(const std::string& service) const = 0;
};

// The quorum a service runs with: its `quorum`, or 1 when not set.
inline int64_t EffectiveQuorum(const VirtualServiceConfig& vs) {
  return vs.quorum > 0 ? vs.quorum : 1;
}

// Checks per real server with lbd_healthcheck when lbd was built with it;
// otherwise a monitor that does nothing (every server stays up).
std::unique_ptr<HealthMonitor> NewHealthMonitor(struct ev_loop* loop, HealthMonitor::Report report,
                                                HealthMonitor::WeightReport weight_report = {});

}  // namespace lbd

#endif  // LBD_DAEMON_HEALTH_MONITOR_H_
