#include "lbd/healthcheck/health_state.h"

#include <algorithm>
#include <string>

namespace lbd {

Result<HealthState> HealthState::Create(const HealthStateOptions& options) {
  if (options.rise < 1)
    return Status::Error("rise must be >= 1, not " + std::to_string(options.rise));
  if (options.fall < 1)
    return Status::Error("fall must be >= 1, not " + std::to_string(options.fall));
  if (options.interval.count() <= 0) return Status::Error("interval must be > 0");
  if (options.timeout.count() <= 0) return Status::Error("timeout must be > 0");
  return HealthState(options);
}

HealthState::HealthState(const HealthStateOptions& options)
    : options_(options), up_(!options.alpha) {}

void HealthState::Start(std::chrono::nanoseconds now, uint64_t random) {
  const auto span = static_cast<uint64_t>(options_.interval.count());
  next_attempt_ = now + std::chrono::nanoseconds(static_cast<int64_t>(random % span));
}

uint64_t HealthState::BeginAttempt(std::chrono::nanoseconds now) {
  ++attempt_;
  in_flight_ = true;
  attempt_start_ = now;
  deadline_ = now + options_.timeout;
  next_attempt_ = now + options_.interval;
  return attempt_;
}

HealthState::Outcome HealthState::OnUnknown(uint64_t attempt, std::chrono::nanoseconds now) {
  Outcome outcome;
  if (!in_flight_ || attempt != attempt_) return outcome;
  in_flight_ = false;
  outcome.accepted = true;
  next_attempt_ = std::max(next_attempt_, now);
  return outcome;
}

HealthState::Outcome HealthState::OnResult(uint64_t attempt, bool success,
                                           std::chrono::nanoseconds now) {
  Outcome outcome;
  if (!in_flight_ || attempt != attempt_) return outcome;
  in_flight_ = false;
  outcome.accepted = true;
  next_attempt_ = std::max(next_attempt_, now);
  if (success) {
    failures_ = 0;
    if (!up_ && ++successes_ >= options_.rise) {
      up_ = true;
      successes_ = 0;
      outcome.change = Change::kUp;
    }
  } else {
    successes_ = 0;
    if (up_ && ++failures_ >= options_.fall) {
      up_ = false;
      failures_ = 0;
      outcome.change = Change::kDown;
    }
  }
  return outcome;
}

}  // namespace lbd
