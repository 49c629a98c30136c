// The health monitor backed by lbd_healthcheck: one HealthChecker per real
// server whose service (or the server itself) configures a check, one
// QuorumState per service, one CommandRunner for the notify commands.
#include <ev.h>

#include <algorithm>
#include <map>
#include <utility>

#include "lbd/daemon/health_monitor.h"
#include "lbd/healthcheck/checker.h"
#include "lbd/healthcheck/quorum.h"
#include "lbd/sys/command_runner.h"
#include "lbd/sys/log.h"

namespace lbd {
namespace {

// lbd_healthcheck's options from a (validated) `healthcheck:` config.
// inhibit_on_failure is left out: it only tells the daemon what a down
// means, so changing it keeps the check running. REQUIRES: type != kNone.
CheckOptions CheckOptionsOf(const HealthCheckConfig& c) {
  CheckOptions o;
  o.type = c.type == HealthCheckType::kHttp   ? CheckType::kHttp
           : c.type == HealthCheckType::kExec ? CheckType::kExec
                                              : CheckType::kTcp;
  o.interval = c.interval;
  o.timeout = c.timeout;
  o.rise = c.rise;
  o.fall = c.fall;
  o.alpha = c.alpha;
  o.port = c.port;
  o.path = c.path;
  o.host = c.host;
  o.expect_status.clear();
  for (const StatusRange& r : c.expect_status) o.expect_status.push_back({r.low, r.high});
  o.expect_md5 = c.expect_md5;
  o.command = c.command;
  o.dynamic_weight = c.dynamic_weight;
  return o;
}

// Thread-safety: the control thread only (HealthChecker's contract).
class CheckerHealthMonitor : public HealthMonitor {
 public:
  CheckerHealthMonitor(struct ev_loop* loop, Report report, WeightReport weight_report)
      : loop_(loop),
        report_(std::move(report)),
        weight_report_(std::move(weight_report)),
        commands_(CommandRunner::Create(loop)) {}

  void Configure(const Config& config) override {
    ConfigureQuorums(config);
    std::map<Key, Entry> next;
    for (const auto& vs : config.virtual_services) {
      for (const auto& rs : vs.real_servers) {
        const HealthCheckConfig& cfg = rs.healthcheck ? *rs.healthcheck : vs.healthcheck;
        if (cfg.type == HealthCheckType::kNone) continue;
        const CheckOptions check = CheckOptionsOf(cfg);
        Key key{vs.name, rs.address};
        auto old = checks_.find(key);
        if (old != checks_.end() && old->second.check == check) {
          next.emplace(key, std::move(old->second));
          checks_.erase(old);
          continue;
        }
        // A replaced check starts in the state of the one it replaces (a
        // down server stays down until `rise` checks pass); a new one per
        // its `alpha`.
        CheckOptions run = check;
        if (old != checks_.end()) run.alpha = !old->second.checker->up();
        HealthChecker::Callbacks callbacks;
        std::string service = vs.name;
        Endpoint server = rs.address;
        // Owned by the entry with the checker, which is destroyed first.
        auto stats = std::make_unique<HealthCheckReport>();
        stats->type = ToString(cfg.type);
        stats->last_change = ev_time();
        HealthCheckReport* st = stats.get();
        callbacks.on_state_change = [this, service, server, st](bool up, const CheckResult& last) {
          st->up = up;
          ++st->transitions;
          st->last_change = ev_time();
          LBD_LOG(kInfo, "health check %s %s: %s (%s)", service.c_str(), ToString(server).c_str(),
                  up ? "up" : "down", last.message.c_str());
          report_(service, server, up);
        };
        const bool dynamic = cfg.dynamic_weight && weight_report_;
        callbacks.on_result = [this, service, server, st, dynamic](const CheckResult& r) {
          ++st->checks;
          if (!r.success && !r.unknown) ++st->failures;  // unknown: no verdict
          st->has_result = true;
          st->success = r.success;
          st->latency_seconds = static_cast<double>(r.latency.count()) / 1e9;
          st->message = r.message;
          LBD_LOG(kDebug, "health check %s %s: probe %s in %.1f ms (%s)", service.c_str(),
                  ToString(server).c_str(),
                  r.unknown ? "unknown" : (r.success ? "passed" : "failed"),
                  st->latency_seconds * 1000, r.message.c_str());
          if (dynamic && r.weight) weight_report_(service, server, *r.weight);
        };
        auto checker = HealthChecker::Create(loop_, run, rs.address, std::move(callbacks));
        if (!checker.ok()) {
          LBD_LOG(kError, "service %s: real server %s: health check not started: %s",
                  vs.name.c_str(), ToString(rs.address).c_str(),
                  checker.status().message().c_str());
          continue;
        }
        stats->up = (*checker)->up();
        // Not "gone" below: the new check's state is the one that counts.
        if (old != checks_.end()) checks_.erase(old);
        report_(vs.name, rs.address, (*checker)->up());
        next.emplace(key, Entry{check, std::move(stats), std::move(checker).value()});
      }
    }
    // Checks that are gone: their servers are no longer held down by them.
    for (const auto& [key, entry] : checks_) report_(key.first, key.second, true);
    checks_ = std::move(next);
  }

  std::optional<HealthCheckReport> CheckReport(const std::string& service,
                                               Endpoint server) const override {
    auto it = checks_.find(Key{service, server});
    if (it == checks_.end()) return std::nullopt;
    HealthCheckReport r = *it->second.stats;
    r.since_seconds = std::max(0.0, ev_time() - r.last_change);
    return r;
  }

  QuorumChange UpdateQuorum(const std::string& service, int64_t up_weight) override {
    auto it = quorums_.find(service);
    if (it == quorums_.end()) return QuorumChange::kNone;
    Quorum& q = it->second;
    const QuorumState::Change change = q.state.Update(up_weight);
    if (change == QuorumState::Change::kNone) return QuorumChange::kNone;
    const bool lost = change == QuorumState::Change::kLost;
    Log(lost ? LogLevel::kWarning : LogLevel::kInfo,
        "service %s: quorum %s (up weight %lld, quorum %lld, hysteresis %lld)", service.c_str(),
        lost ? "lost" : "regained", static_cast<long long>(up_weight),
        static_cast<long long>(q.state.quorum()), static_cast<long long>(q.state.hysteresis()));
    const std::string& command = lost ? q.on_down : q.on_up;
    if (!command.empty()) {
      Status s = commands_->Run(command, {{"LBD_SERVICE", service},
                                          {"LBD_QUORUM", std::to_string(q.state.quorum())},
                                          {"LBD_HYSTERESIS", std::to_string(q.state.hysteresis())},
                                          {"LBD_UP_WEIGHT", std::to_string(up_weight)}});
      if (!s.ok()) {
        LBD_LOG(kError, "service %s: %s command not started: %s", service.c_str(),
                lost ? "on_quorum_down" : "on_quorum_up", s.message().c_str());
      } else {
        LBD_LOG(kInfo, "service %s: %s started: %s", service.c_str(),
                lost ? "on_quorum_down" : "on_quorum_up", command.c_str());
      }
    }
    return lost ? QuorumChange::kLost : QuorumChange::kRegained;
  }

  bool HasQuorum(const std::string& service) const override {
    auto it = quorums_.find(service);
    return it == quorums_.end() || it->second.state.has_quorum();
  }

 private:
  using Key = std::pair<std::string, Endpoint>;
  struct Entry {
    CheckOptions check;                        // what the checker runs
    std::unique_ptr<HealthCheckReport> stats;  // the checker's callbacks write here
    std::unique_ptr<HealthChecker> checker;
  };
  struct Quorum {
    QuorumState state;
    std::string on_up, on_down;
  };

  // One QuorumState per service; changed settings keep the current state
  // (the daemon feeds the sum right after Configure).
  void ConfigureQuorums(const Config& config) {
    std::map<std::string, Quorum> next;
    for (const auto& vs : config.virtual_services) {
      const int64_t quorum = EffectiveQuorum(vs);
      bool up = true;
      if (auto old = quorums_.find(vs.name); old != quorums_.end()) {
        up = old->second.state.has_quorum();
        if (old->second.state.quorum() != quorum ||
            old->second.state.hysteresis() != vs.hysteresis) {
          LBD_LOG(kInfo, "service %s: quorum %lld hysteresis %d", vs.name.c_str(),
                  static_cast<long long>(quorum), vs.hysteresis);
        }
      }
      next.emplace(vs.name, Quorum{QuorumState(quorum, vs.hysteresis, up), vs.on_quorum_up,
                                   vs.on_quorum_down});
    }
    quorums_ = std::move(next);
  }

  struct ev_loop* loop_;
  Report report_;
  WeightReport weight_report_;
  std::unique_ptr<CommandRunner> commands_;
  std::map<Key, Entry> checks_;
  std::map<std::string, Quorum> quorums_;
};

}  // namespace

std::unique_ptr<HealthMonitor> NewHealthMonitor(struct ev_loop* loop, HealthMonitor::Report report,
                                                HealthMonitor::WeightReport weight_report) {
  return std::make_unique<CheckerHealthMonitor>(loop, std::move(report), std::move(weight_report));
}

}  // namespace lbd
