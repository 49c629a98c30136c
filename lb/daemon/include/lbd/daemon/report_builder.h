// Internal header of lbd_daemon.
//
// What the daemon's StatusReport is built from, and the building: the
// running services with their server records, the health monitor's checks
// and quorum, the VRRP and packet runners' snapshots, the process counters
// and the traffic rate windows. RateWindow: the samples behind the rates,
// one per tick, with the time passed in (the daemon's injected clock), so
// the window rule is tested without a loop.
//
// Thread-safety: control thread only (the sources are the daemon's).
#ifndef LBD_DAEMON_REPORT_BUILDER_H_
#define LBD_DAEMON_REPORT_BUILDER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "lbd/daemon/counters.h"
#include "lbd/daemon/health_monitor.h"
#include "lbd/daemon/server_state.h"
#include "lbd/daemon/status_report.h"
#include "lbd/daemon/vrrp_runner.h"

namespace lbd {

// Traffic totals sampled once per tick; the rates cover the window from the
// oldest sample kept to the newest (kSamples - 1 ticks).
class RateWindow {
 public:
  static constexpr size_t kSamples = 5;  // one per 1 s tick: rates over ~4 s

  // A total lower than the last sample's (the totals of a removed service
  // vanish) restarts the window rather than show a negative rate.
  void Add(double now_seconds, uint64_t connections, uint64_t bytes_in, uint64_t bytes_out);
  // Zero until two samples span some time.
  Rates Rate() const;
  bool empty() const { return samples_.empty(); }

 private:
  struct Sample {
    double time;
    uint64_t connections, bytes_in, bytes_out;
  };
  std::deque<Sample> samples_;
};

struct ReportSources {
  const std::vector<ServiceState>& services;
  const HealthMonitor* health;  // null before it exists
  const VrrpRunner* vrrp;       // null without `vrrp:`
  const ProcessCounters& counters;
  const RateWindow& total_rates;
  const std::map<std::string, RateWindow>& service_rates;
  uint64_t reloads = 0;
  uint64_t reload_failures = 0;
};

// The servers of each service in their Service's order, then those a failed
// check holds out (by address), each with its record's weight and flags.
StatusReport BuildStatusReport(const ReportSources& sources);

}  // namespace lbd

#endif  // LBD_DAEMON_REPORT_BUILDER_H_
