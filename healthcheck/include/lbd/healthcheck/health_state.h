// Public header of lbd_healthcheck.
//
// HealthState: the per-real-server rise/fall state machine and check
// schedule, with no sockets, timers or clocks of its own: the caller passes
// the time (nanoseconds on any monotonic clock) and the random numbers, so
// tests pin both.
//
//   - `rise` consecutive successes mark a down server up; `fall` consecutive
//     failures mark an up server down (an up server's failure count and a
//     down server's success count reset on the opposite result).
//   - The server starts up, or down when `alpha` is set (keepalived's alpha:
//     it must then pass `rise` checks before it receives traffic).
//   - The first check runs after a random delay in [0, interval), so that the
//     checks of many servers do not fire in step (keepalived's warmup). Each
//     later check starts `interval` after the previous one started, but never
//     before the previous one finished: with timeout >= interval, checks run
//     back to back.
//   - A check that could not run for lack of local resources (no descriptor,
//     no memory, no process: OnUnknown) counts neither as a success nor as a
//     failure: the consecutive counts stay as they were, so a host that runs
//     out of descriptors never marks a healthy server down.
//   - Every check is an attempt with an id; a result for any attempt other
//     than the one in flight (a late answer after its timeout, or after a
//     newer attempt began) is ignored.
//
// Thread-safety: none; a plain value driven by one caller.
#ifndef LBD_HEALTHCHECK_HEALTH_STATE_H_
#define LBD_HEALTHCHECK_HEALTH_STATE_H_

#include <chrono>
#include <cstdint>

#include "lbsched/status.h"

namespace lbd {

struct HealthStateOptions {
  int rise = 2;                                                 // >= 1. Default: 2.
  int fall = 3;                                                 // >= 1. Default: 3.
  bool alpha = false;                                           // start down. Default: false.
  std::chrono::nanoseconds interval = std::chrono::seconds(2);  // > 0. Default: 2s.
  std::chrono::nanoseconds timeout = std::chrono::seconds(1);   // > 0. Default: 1s.
};

class HealthState {
 public:
  enum class Change { kNone, kUp, kDown };

  // What OnResult() did with a result.
  struct Outcome {
    bool accepted = false;  // false: stale attempt, ignored
    Change change = Change::kNone;
  };

  // Fails when rise or fall < 1 or interval or timeout <= 0.
  static Result<HealthState> Create(const HealthStateOptions& options);

  // Schedules the first attempt at now + (random % interval).
  void Start(std::chrono::nanoseconds now, uint64_t random);

  // Begins a new attempt at `now` and returns its id (never 0). An attempt
  // still in flight is abandoned: its result will be ignored.
  // The attempt's deadline is now + timeout; the next one is due at
  // now + interval (moved later by OnResult() if this one ends later).
  uint64_t BeginAttempt(std::chrono::nanoseconds now);

  // The result of attempt `attempt`, known at `now`. Ignored unless
  // `attempt` is the attempt in flight.
  Outcome OnResult(uint64_t attempt, bool success, std::chrono::nanoseconds now);
  // Attempt `attempt` could not check the server (local resources): it ends,
  // the counts and the state are unchanged (change is always kNone).
  Outcome OnUnknown(uint64_t attempt, std::chrono::nanoseconds now);

  bool up() const { return up_; }
  bool in_flight() const { return in_flight_; }
  uint64_t current_attempt() const { return attempt_; }
  // When the next attempt is due. REQUIRES: Start() was called.
  std::chrono::nanoseconds next_attempt() const { return next_attempt_; }
  // When the attempt in flight times out. REQUIRES: in_flight().
  std::chrono::nanoseconds deadline() const { return deadline_; }
  std::chrono::nanoseconds attempt_start() const { return attempt_start_; }
  // Consecutive results counted towards the next transition.
  int successes() const { return successes_; }
  int failures() const { return failures_; }
  const HealthStateOptions& options() const { return options_; }

 private:
  explicit HealthState(const HealthStateOptions& options);

  HealthStateOptions options_;
  bool up_;
  bool in_flight_ = false;
  uint64_t attempt_ = 0;
  int successes_ = 0;
  int failures_ = 0;
  std::chrono::nanoseconds attempt_start_{0};
  std::chrono::nanoseconds deadline_{0};
  std::chrono::nanoseconds next_attempt_{0};
};

}  // namespace lbd

#endif  // LBD_HEALTHCHECK_HEALTH_STATE_H_
