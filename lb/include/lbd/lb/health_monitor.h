// Internal header of lbd_lb.
//
// HealthMonitor: the seam between the daemon and the health checkers. The
// daemon owns one monitor on its control loop, hands it every applied
// configuration (start, reload) and learns each real server's health through
// the Report callback; a "down" becomes Service::SetUp(false), which the
// schedulers treat as weight 0 (keepalived's inhibit_on_failure).
//
// Thread-safety: created, configured and destroyed on the control thread;
// Report is called there too.
#ifndef LBD_LB_HEALTH_MONITOR_H_
#define LBD_LB_HEALTH_MONITOR_H_

#include <ev.h>

#include <functional>
#include <memory>
#include <string>

#include "lbd/conf/config.h"

namespace lbd {

class HealthMonitor {
 public:
  // (service name, real server, up). Called on every transition.
  using Report = std::function<void(const std::string& service, Endpoint server, bool up)>;
  // (service name, real server, weight): exec checks with dynamic_weight
  // (keepalived's misc_dynamic) ask for a new weight.
  using WeightReport = std::function<void(const std::string& service, Endpoint server, int weight)>;

  virtual ~HealthMonitor() = default;
  // Start/stop/replace checks so that they match `config`. Checks of servers
  // whose settings did not change keep running with their state.
  virtual void Configure(const Config& config) = 0;
};

// Checks per real server with lbd_healthcheck when lbd was built with it;
// otherwise a monitor that does nothing (every server stays up).
std::unique_ptr<HealthMonitor> NewHealthMonitor(struct ev_loop* loop, HealthMonitor::Report report,
                                                HealthMonitor::WeightReport weight_report = {});

}  // namespace lbd

#endif  // LBD_LB_HEALTH_MONITOR_H_
