// The health monitor backed by lbd_healthcheck: one HealthChecker per real
// server whose service (or the server itself) configures a check.
#include <map>
#include <utility>

#include "lbd/healthcheck/checker.h"
#include "lbd/lb/health_monitor.h"
#include "lbd/lb/log.h"

namespace lbd {
namespace {

bool SameCheck(const HealthCheckConfig& a, const HealthCheckConfig& b) {
  if (a.expect_status.size() != b.expect_status.size()) return false;
  for (size_t i = 0; i < a.expect_status.size(); ++i) {
    if (a.expect_status[i].low != b.expect_status[i].low ||
        a.expect_status[i].high != b.expect_status[i].high) {
      return false;
    }
  }
  return a.type == b.type && a.interval == b.interval && a.timeout == b.timeout &&
         a.rise == b.rise && a.fall == b.fall && a.alpha == b.alpha &&
         a.inhibit_on_failure == b.inhibit_on_failure && a.port == b.port && a.path == b.path &&
         a.host == b.host && a.expect_md5 == b.expect_md5 && a.command == b.command &&
         a.dynamic_weight == b.dynamic_weight;
}

// Thread-safety: the control thread only (HealthChecker's contract).
class CheckerHealthMonitor : public HealthMonitor {
 public:
  CheckerHealthMonitor(struct ev_loop* loop, Report report, WeightReport weight_report)
      : loop_(loop), report_(std::move(report)), weight_report_(std::move(weight_report)) {}

  void Configure(const Config& config) override {
    std::map<Key, Entry> next;
    for (const auto& vs : config.virtual_services) {
      for (const auto& rs : vs.real_servers) {
        const HealthCheckConfig& cfg = rs.healthcheck ? *rs.healthcheck : vs.healthcheck;
        if (cfg.type == HealthCheckType::kNone) continue;
        Key key{vs.name, rs.address};
        auto old = checks_.find(key);
        if (old != checks_.end() && SameCheck(old->second.config, cfg)) {
          next.emplace(key, std::move(old->second));
          checks_.erase(old);
          continue;
        }
        HealthChecker::Callbacks callbacks;
        std::string service = vs.name;
        Endpoint server = rs.address;
        callbacks.on_state_change = [this, service, server](bool up, const CheckResult& last) {
          LBD_LOG(kInfo, "health check %s %s: %s (%s)", service.c_str(), ToString(server).c_str(),
                  up ? "up" : "down", last.message.c_str());
          report_(service, server, up);
        };
        if (cfg.dynamic_weight && weight_report_) {
          callbacks.on_result = [this, service, server](const CheckResult& r) {
            if (r.weight) weight_report_(service, server, *r.weight);
          };
        }
        auto checker = HealthChecker::Create(loop_, cfg, rs.address, std::move(callbacks));
        if (!checker.ok()) {
          LBD_LOG(kError, "service %s: real server %s: health check not started: %s",
                  vs.name.c_str(), ToString(rs.address).c_str(),
                  checker.status().message().c_str());
          continue;
        }
        // A replaced check starts from its own initial state.
        report_(vs.name, rs.address, (*checker)->up());
        next.emplace(key, Entry{cfg, std::move(checker).value()});
      }
    }
    // Checks that are gone: their servers are no longer held down by them.
    for (const auto& [key, entry] : checks_) report_(key.first, key.second, true);
    checks_ = std::move(next);
  }

 private:
  using Key = std::pair<std::string, Endpoint>;
  struct Entry {
    HealthCheckConfig config;
    std::unique_ptr<HealthChecker> checker;
  };

  struct ev_loop* loop_;
  Report report_;
  WeightReport weight_report_;
  std::map<Key, Entry> checks_;
};

}  // namespace

std::unique_ptr<HealthMonitor> NewHealthMonitor(struct ev_loop* loop, HealthMonitor::Report report,
                                                HealthMonitor::WeightReport weight_report) {
  return std::make_unique<CheckerHealthMonitor>(loop, std::move(report), std::move(weight_report));
}

}  // namespace lbd
