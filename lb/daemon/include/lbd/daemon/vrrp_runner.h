// Internal header of lbd_daemon.
//
// VrrpRunner: the seam between the daemon and lbd_vrrp (lb/vrrp). The daemon
// owns at most one runner on its control loop, created from the config's
// `vrrp:` instances, tells it which services have a real server up (for
// `track_services`) and stops it first at SIGTERM/SIGINT so the peer takes
// over at once.
//
// Thread-safety: created, used and destroyed on the control thread only.
#ifndef LBD_DAEMON_VRRP_RUNNER_H_
#define LBD_DAEMON_VRRP_RUNNER_H_

#include <memory>
#include <string_view>
#include <vector>

#include "lbd/conf/config.h"
#include "lbd/daemon/status_report.h"
#include "lbd/vrrp/vrrp.h"
#include "lbsched/status.h"

struct ev_loop;

namespace lbd {

class VrrpRunner {
 public:
  virtual ~VrrpRunner() = default;
  // Every instance leaves INIT; adverts, VIPs and ARPs from here on.
  virtual void Start() = 0;
  // Graceful: masters send priority 0 and drop their VIPs. Idempotent; the
  // runner is not started again.
  virtual void Stop() = 0;
  // `up` = the service has a real server up with weight > 0.
  virtual void SetServiceUp(std::string_view service, bool up) = 0;
  virtual std::vector<VrrpReport> Snapshot() const = 0;
};

// One `vrrp:` instance of the config as lbd_vrrp's options (also used by the
// lbd-vrrp thin main). lbd_conf validated it and normalized its addresses
// ("a.b.c.d/len", "a.b.c.d"); an error means a config built elsewhere.
Result<vrrp::InstanceOptions> InstanceOptionsOf(const VrrpInstanceConfig& c);

// Resolves the interfaces and opens the sockets; nothing is sent before
// Start(). Error: an interface or socket problem, or lbd built without VRRP.
// REQUIRES: !configs.empty(); `loop` outlives the runner.
Result<std::unique_ptr<VrrpRunner>> NewVrrpRunner(struct ev_loop* loop,
                                                  const std::vector<VrrpInstanceConfig>& configs);

}  // namespace lbd

#endif  // LBD_DAEMON_VRRP_RUNNER_H_
