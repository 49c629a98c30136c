// The health monitor when lbd is built without lbd_healthcheck: no checks,
// no quorum (every service keeps it), no notify commands.
#include "lbd/lb/health_monitor.h"

namespace lbd {
namespace {

class NoHealthMonitor : public HealthMonitor {
 public:
  void Configure(const Config&) override {}
  std::optional<HealthCheckReport> CheckReport(const std::string&, Endpoint) const override {
    return std::nullopt;
  }
  QuorumChange UpdateQuorum(const std::string&, int64_t) override { return QuorumChange::kNone; }
  bool HasQuorum(const std::string&) const override { return true; }
};

}  // namespace

std::unique_ptr<HealthMonitor> NewHealthMonitor(struct ev_loop*, HealthMonitor::Report,
                                                HealthMonitor::WeightReport) {
  return std::make_unique<NoHealthMonitor>();
}

}  // namespace lbd
