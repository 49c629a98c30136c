// The health monitor when lbd is built without lbd_healthcheck.
#include "lbd/lb/health_monitor.h"

namespace lbd {
namespace {

class NoHealthMonitor : public HealthMonitor {
 public:
  void Configure(const Config&) override {}
};

}  // namespace

std::unique_ptr<HealthMonitor> NewHealthMonitor(struct ev_loop*, HealthMonitor::Report,
                                                HealthMonitor::WeightReport) {
  return std::make_unique<NoHealthMonitor>();
}

}  // namespace lbd
