#include "lbd/healthcheck/checker.h"

#include <ev.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <utility>
#include <vector>

#include "lbd/healthcheck/health_state.h"
#include "probe.h"

namespace lbd {
namespace {

using std::chrono::nanoseconds;

Status ValidateConfig(const CheckOptions& cfg) {
  switch (cfg.type) {
    case CheckType::kTcp:
      return Status::Ok();
    case CheckType::kHttp: {
      if (cfg.path.empty() || cfg.path[0] != '/') {
        return Status::Error("http path must start with '/': \"" + cfg.path + "\"");
      }
      for (char c : cfg.path + cfg.host) {
        if (c == '\r' || c == '\n' || c == ' ' || c == '\0') {
          return Status::Error("http path and host must not contain spaces or line breaks");
        }
      }
      for (const HttpStatusRange& r : cfg.expect_status) {
        if (r.low < 100 || r.high > 999 || r.low > r.high) {
          return Status::Error("bad expect_status range " + std::to_string(r.low) + "-" +
                               std::to_string(r.high));
        }
      }
      if (!cfg.expect_md5.empty()) {
        const bool hex = std::all_of(cfg.expect_md5.begin(), cfg.expect_md5.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c)) != 0;
        });
        if (cfg.expect_md5.size() != 32 || !hex) {
          return Status::Error("expect_md5 must be 32 hex digits: \"" + cfg.expect_md5 + "\"");
        }
      }
      return Status::Ok();
    }
    case CheckType::kExec:
      if (cfg.command.empty()) return Status::Error("exec check without a command");
      return Status::Ok();
  }
  return Status::Error("unknown health check type " + std::to_string(static_cast<int>(cfg.type)));
}

std::chrono::nanoseconds SteadyNow() { return std::chrono::steady_clock::now().time_since_epoch(); }

double Seconds(nanoseconds d) {
  return std::max<double>(0.0, static_cast<double>(d.count()) / 1e9);
}

class HealthCheckerImpl final : public HealthChecker {
 public:
  HealthCheckerImpl(struct ev_loop* loop, const CheckOptions& cfg, Endpoint target,
                    Callbacks callbacks, Options options, HealthState state)
      : loop_(loop),
        cfg_(cfg),
        target_(target),
        probe_address_{target.ip, cfg.port != 0 ? cfg.port : target.port},
        callbacks_(std::move(callbacks)),
        now_(options.now ? std::move(options.now) : SteadyNow),
        state_(std::move(state)) {
    std::function<uint64_t()> random = std::move(options.random);
    if (!random) {
      auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
      random = [gen] { return (*gen)(); };
    }
    ev_timer_init(&next_timer_, &HealthCheckerImpl::OnNextTimer, 0., 0.);
    next_timer_.data = this;
    ev_timer_init(&deadline_timer_, &HealthCheckerImpl::OnDeadline, 0., 0.);
    deadline_timer_.data = this;
    state_.Start(now_(), random());
    ArmNext();
  }

  ~HealthCheckerImpl() override {
    if (destroyed_flag_ != nullptr) *destroyed_flag_ = true;
    ev_timer_stop(loop_, &next_timer_);
    ev_timer_stop(loop_, &deadline_timer_);
    if (probe_ != nullptr) probe_->Cancel();
    // Destroying a probe releases it; a killed exec child is reaped here.
  }

  bool up() const override { return state_.up(); }
  Endpoint target() const override { return target_; }
  uint64_t checks() const override { return checks_; }

 private:
  void ArmNext() {
    ev_timer_stop(loop_, &next_timer_);
    ev_now_update(loop_);
    ev_timer_set(&next_timer_, Seconds(state_.next_attempt() - now_()), 0.);
    ev_timer_start(loop_, &next_timer_);
  }

  std::unique_ptr<Probe> NewProbe() {
    switch (cfg_.type) {
      case CheckType::kTcp:
        return NewTcpProbe(loop_, probe_address_);
      case CheckType::kHttp:
        return NewHttpProbe(loop_, probe_address_, cfg_);
      case CheckType::kExec:
        return NewExecProbe(loop_, target_, cfg_);
    }
    return nullptr;
  }

  void Retire() {
    if (probe_ != nullptr) retired_.push_back(std::move(probe_));
  }

  void PurgeRetired() {
    std::erase_if(retired_, [](const std::unique_ptr<Probe>& p) { return !p->Releasing(); });
  }

  static void OnNextTimer(struct ev_loop* /*loop*/, ev_timer* w, int /*revents*/) {
    static_cast<HealthCheckerImpl*>(w->data)->BeginAttempt();
  }

  void BeginAttempt() {
    PurgeRetired();
    if (probe_ != nullptr) {  // cannot happen: an attempt ends before the next begins
      probe_->Cancel();
      Retire();
    }
    const uint64_t id = state_.BeginAttempt(now_());
    probe_ = NewProbe();
    std::optional<ProbeResult> ended =
        probe_->Start([this, id](ProbeResult r) { OnProbeDone(id, std::move(r)); });
    if (ended) {
      Retire();
      return Complete(id, std::move(*ended));
    }
    // ev_timer counts from the loop's cached time, which is older than the
    // attempt's start by however long this loop iteration has run; refresh
    // it so the timeout never fires before `timeout` has passed.
    ev_now_update(loop_);
    ev_timer_set(&deadline_timer_, Seconds(state_.deadline() - now_()), 0.);
    ev_timer_start(loop_, &deadline_timer_);
  }

  void OnProbeDone(uint64_t id, ProbeResult r) {
    ev_timer_stop(loop_, &deadline_timer_);
    Retire();  // not destroyed here: we are inside its callback
    Complete(id, std::move(r));
  }

  static void OnDeadline(struct ev_loop* /*loop*/, ev_timer* w, int /*revents*/) {
    auto* self = static_cast<HealthCheckerImpl*>(w->data);
    if (self->probe_ != nullptr) self->probe_->Cancel();
    self->Retire();
    self->Complete(
        self->state_.current_attempt(),
        ProbeResult{false,
                    "timeout after " +
                        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           self->state_.options().timeout)
                                           .count()) +
                        " ms",
                    std::nullopt});
  }

  void Complete(uint64_t id, ProbeResult r) {
    const nanoseconds now = now_();
    const bool unknown = r.unknown && !r.success;
    const HealthState::Outcome outcome =
        unknown ? state_.OnUnknown(id, now) : state_.OnResult(id, r.success, now);
    if (!outcome.accepted) return;
    ++checks_;
    CheckResult result;
    result.success = r.success;
    result.unknown = unknown;
    result.latency = now - state_.attempt_start();
    result.message = unknown ? "unknown: " + std::move(r.message) : std::move(r.message);
    result.weight = unknown ? std::nullopt : r.weight;
    ArmNext();
    // The callbacks may destroy us: touch nothing after one that did.
    bool destroyed = false;
    destroyed_flag_ = &destroyed;
    if (callbacks_.on_result) callbacks_.on_result(result);
    if (destroyed) return;
    if (outcome.change != HealthState::Change::kNone && callbacks_.on_state_change) {
      callbacks_.on_state_change(outcome.change == HealthState::Change::kUp, result);
      if (destroyed) return;
    }
    destroyed_flag_ = nullptr;
  }

  struct ev_loop* loop_;
  CheckOptions cfg_;
  Endpoint target_;
  Endpoint probe_address_;
  Callbacks callbacks_;
  std::function<nanoseconds()> now_;
  HealthState state_;
  ev_timer next_timer_;
  ev_timer deadline_timer_;
  std::unique_ptr<Probe> probe_;                 // the attempt in flight
  std::vector<std::unique_ptr<Probe>> retired_;  // finished; some still releasing
  uint64_t checks_ = 0;
  bool* destroyed_flag_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<HealthChecker>> HealthChecker::Create(struct ev_loop* loop,
                                                             const CheckOptions& cfg,
                                                             Endpoint target, Callbacks callbacks,
                                                             Options options) {
  if (loop == nullptr) return Status::Error("no event loop");
  if (Status s = ValidateConfig(cfg); !s.ok()) return s;
  HealthStateOptions so;
  so.rise = cfg.rise;
  so.fall = cfg.fall;
  so.alpha = cfg.alpha;
  so.interval = cfg.interval;
  so.timeout = cfg.timeout;
  Result<HealthState> state = HealthState::Create(so);
  if (!state.ok()) return state.status();
  return std::unique_ptr<HealthChecker>(new HealthCheckerImpl(
      loop, cfg, target, std::move(callbacks), std::move(options), std::move(state).value()));
}

}  // namespace lbd
