// HealthState: rise/fall, alpha, the schedule and stale results, on a fake
// clock (plain nanosecond values).
#include "lbd/healthcheck/health_state.h"

#include <gtest/gtest.h>

namespace lbd {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using Change = HealthState::Change;

HealthState Make(int rise, int fall, bool alpha = false, milliseconds interval = milliseconds(100),
                 milliseconds timeout = milliseconds(50)) {
  HealthStateOptions o;
  o.rise = rise;
  o.fall = fall;
  o.alpha = alpha;
  o.interval = interval;
  o.timeout = timeout;
  auto s = HealthState::Create(o);
  EXPECT_TRUE(s.ok());
  return std::move(s).value();
}

// Runs one attempt at `now` with `success`; returns the change.
Change Check(HealthState& s, nanoseconds now, bool success) {
  const uint64_t id = s.BeginAttempt(now);
  const auto outcome = s.OnResult(id, success, now + milliseconds(1));
  EXPECT_TRUE(outcome.accepted);
  return outcome.change;
}

TEST(HealthState, RejectsBadOptions) {
  HealthStateOptions o;
  o.rise = 0;
  EXPECT_FALSE(HealthState::Create(o).ok());
  o = {};
  o.fall = 0;
  EXPECT_FALSE(HealthState::Create(o).ok());
  o = {};
  o.interval = nanoseconds(0);
  EXPECT_FALSE(HealthState::Create(o).ok());
  o = {};
  o.timeout = nanoseconds(-1);
  EXPECT_FALSE(HealthState::Create(o).ok());
  EXPECT_TRUE(HealthState::Create(HealthStateOptions{}).ok());
}

TEST(HealthState, StartsUpAndFallsAfterFallConsecutiveFailures) {
  HealthState s = Make(2, 3);
  s.Start(nanoseconds(0), 0);
  EXPECT_TRUE(s.up());
  EXPECT_EQ(Check(s, milliseconds(0), false), Change::kNone);
  EXPECT_EQ(Check(s, milliseconds(100), false), Change::kNone);
  EXPECT_EQ(s.failures(), 2);
  EXPECT_EQ(Check(s, milliseconds(200), false), Change::kDown);
  EXPECT_FALSE(s.up());
  EXPECT_EQ(Check(s, milliseconds(300), false), Change::kNone);  // already down
}

// A check that could not run (EMFILE & co.) is neither a success nor a
// failure: the counts and the state stay; the schedule goes on.
TEST(HealthState, UnknownCountsNeitherWay) {
  HealthState s = Make(2, 2);
  s.Start(nanoseconds(0), 0);
  EXPECT_EQ(Check(s, milliseconds(0), false), Change::kNone);
  for (int i = 1; i <= 5; ++i) {
    const uint64_t id = s.BeginAttempt(milliseconds(100 * i));
    const auto outcome = s.OnUnknown(id, milliseconds(100 * i + 1));
    EXPECT_TRUE(outcome.accepted);
    EXPECT_EQ(outcome.change, Change::kNone);
    EXPECT_FALSE(s.in_flight());
  }
  EXPECT_TRUE(s.up());
  EXPECT_EQ(s.failures(), 1);
  EXPECT_EQ(s.OnUnknown(s.current_attempt(), milliseconds(700)).accepted, false);  // stale
  EXPECT_EQ(Check(s, milliseconds(800), false), Change::kDown);  // the 2nd real failure
  for (int i = 0; i < 5; ++i) {
    const uint64_t id = s.BeginAttempt(milliseconds(900 + i));
    EXPECT_EQ(s.OnUnknown(id, milliseconds(901 + i)).change, Change::kNone);
  }
  EXPECT_FALSE(s.up());
  EXPECT_EQ(s.successes(), 0);
}

TEST(HealthState, SuccessResetsTheFailureCount) {
  HealthState s = Make(2, 3);
  s.Start(nanoseconds(0), 0);
  EXPECT_EQ(Check(s, milliseconds(0), false), Change::kNone);
  EXPECT_EQ(Check(s, milliseconds(100), false), Change::kNone);
  EXPECT_EQ(Check(s, milliseconds(200), true), Change::kNone);
  EXPECT_EQ(s.failures(), 0);
  EXPECT_EQ(Check(s, milliseconds(300), false), Change::kNone);
  EXPECT_EQ(Check(s, milliseconds(400), false), Change::kNone);
  EXPECT_TRUE(s.up());
  EXPECT_EQ(Check(s, milliseconds(500), false), Change::kDown);
}

TEST(HealthState, RisesAfterRiseConsecutiveSuccesses) {
  HealthState s = Make(3, 1);
  s.Start(nanoseconds(0), 0);
  EXPECT_EQ(Check(s, milliseconds(0), false), Change::kDown);
  EXPECT_EQ(Check(s, milliseconds(100), true), Change::kNone);
  EXPECT_EQ(Check(s, milliseconds(200), true), Change::kNone);
  EXPECT_EQ(Check(s, milliseconds(300), false), Change::kNone);  // resets the run
  EXPECT_EQ(s.successes(), 0);
  EXPECT_EQ(Check(s, milliseconds(400), true), Change::kNone);
  EXPECT_EQ(Check(s, milliseconds(500), true), Change::kNone);
  EXPECT_EQ(Check(s, milliseconds(600), true), Change::kUp);
  EXPECT_TRUE(s.up());
}

TEST(HealthState, AlphaStartsDownUntilRiseSuccesses) {
  HealthState s = Make(2, 3, /*alpha=*/true);
  s.Start(nanoseconds(0), 0);
  EXPECT_FALSE(s.up());
  EXPECT_EQ(Check(s, milliseconds(0), true), Change::kNone);
  EXPECT_FALSE(s.up());
  EXPECT_EQ(Check(s, milliseconds(100), true), Change::kUp);
}

TEST(HealthState, RiseAndFallOfOneFlipOnEveryChange) {
  HealthState s = Make(1, 1);
  s.Start(nanoseconds(0), 0);
  EXPECT_EQ(Check(s, milliseconds(0), true), Change::kNone);
  EXPECT_EQ(Check(s, milliseconds(100), false), Change::kDown);
  EXPECT_EQ(Check(s, milliseconds(200), true), Change::kUp);
  EXPECT_EQ(Check(s, milliseconds(300), false), Change::kDown);
}

TEST(HealthState, FirstAttemptAfterRandomDelayWithinInterval) {
  HealthState s = Make(2, 3, false, milliseconds(1000));
  s.Start(milliseconds(5000), 0);
  EXPECT_EQ(s.next_attempt(), milliseconds(5000));
  s.Start(milliseconds(5000), 250'000'000);  // 250 ms in ns
  EXPECT_EQ(s.next_attempt(), milliseconds(5250));
  s.Start(milliseconds(5000), 1'000'000'000 + 7);  // wraps into [0, interval)
  EXPECT_EQ(s.next_attempt(), milliseconds(5000) + nanoseconds(7));
  s.Start(milliseconds(5000), ~uint64_t{0});
  EXPECT_LT(s.next_attempt(), milliseconds(6000));
  EXPECT_GE(s.next_attempt(), milliseconds(5000));
}

TEST(HealthState, RandomDelaysSpreadServersOut) {
  // Different random draws give different first checks: they do not fire in step.
  HealthState a = Make(2, 3), b = Make(2, 3);
  a.Start(nanoseconds(0), 12'345'678);
  b.Start(nanoseconds(0), 87'654'321);
  EXPECT_NE(a.next_attempt(), b.next_attempt());
}

TEST(HealthState, ScheduleIsIntervalFromStartButNeverBeforeTheEnd) {
  HealthState s = Make(2, 3, false, milliseconds(100), milliseconds(50));
  s.Start(nanoseconds(0), 0);
  uint64_t id = s.BeginAttempt(milliseconds(10));
  EXPECT_TRUE(s.in_flight());
  EXPECT_EQ(s.deadline(), milliseconds(60));
  EXPECT_EQ(s.next_attempt(), milliseconds(110));
  s.OnResult(id, true, milliseconds(30));
  EXPECT_EQ(s.next_attempt(), milliseconds(110));
  EXPECT_FALSE(s.in_flight());

  // timeout > interval: the next attempt waits for this one's end.
  HealthState t = Make(2, 3, false, milliseconds(100), milliseconds(300));
  t.Start(nanoseconds(0), 0);
  id = t.BeginAttempt(milliseconds(0));
  t.OnResult(id, false, milliseconds(300));
  EXPECT_EQ(t.next_attempt(), milliseconds(300));
}

TEST(HealthState, StaleResultsAreIgnored) {
  HealthState s = Make(1, 1);
  s.Start(nanoseconds(0), 0);
  const uint64_t first = s.BeginAttempt(milliseconds(0));
  // The first attempt timed out: failure recorded, server down.
  EXPECT_EQ(s.OnResult(first, false, milliseconds(50)).change, Change::kDown);
  // Its late answer arrives: ignored.
  auto late = s.OnResult(first, true, milliseconds(60));
  EXPECT_FALSE(late.accepted);
  EXPECT_FALSE(s.up());

  const uint64_t second = s.BeginAttempt(milliseconds(100));
  EXPECT_NE(first, second);
  EXPECT_FALSE(s.OnResult(first, true, milliseconds(110)).accepted);  // older attempt
  EXPECT_TRUE(s.in_flight());
  const uint64_t third = s.BeginAttempt(milliseconds(120));  // abandons the second
  EXPECT_FALSE(s.OnResult(second, true, milliseconds(130)).accepted);
  EXPECT_EQ(s.OnResult(third, true, milliseconds(140)).change, Change::kUp);
  EXPECT_FALSE(s.OnResult(third, false, milliseconds(150)).accepted);  // reported twice
  EXPECT_TRUE(s.up());
}

}  // namespace
}  // namespace lbd
