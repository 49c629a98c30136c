// ewma: the peak-EWMA signal on RealServer (ReportLatency / LatencyEstimate)
// under a fake clock, and the scheduler's choice between its two draws.
#include <gtest/gtest.h>

#include <cmath>

#include "test_util.h"

namespace lbd {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::Harness;

SchedulerOptions Options(FakeClock* clock, std::chrono::nanoseconds decay = 10s) {
  SchedulerOptions o;
  o.clock = clock;
  o.ewma_decay = decay;
  o.random_seed = 1;
  return o;
}

TEST(EwmaSignal, PeakAtOnceDecayAfterwards) {
  FakeClock clock;
  Harness h("ewma", Options(&clock));
  RealServer& a = *h.Add(1);
  EXPECT_EQ(a.LatencyEstimate(), 0);
  a.ReportLatency(10ms);
  EXPECT_DOUBLE_EQ(a.LatencyEstimate(), 10e6);
  a.ReportLatency(100ms);  // worse: taken at once, whatever the time since
  EXPECT_DOUBLE_EQ(a.LatencyEstimate(), 100e6);
  clock.Advance(10s);  // one time constant
  EXPECT_NEAR(a.LatencyEstimate(), 100e6 * std::exp(-1.0), 1);
  a.ReportLatency(10ms);  // better: averaged in with weight 1 - e^-1
  const double expected = 100e6 * std::exp(-1.0) + 10e6 * (1 - std::exp(-1.0));
  EXPECT_NEAR(a.LatencyEstimate(), expected, 1);
  a.ReportLatency(-5ms);  // at the same instant: weight 0, no change; negative counts as 0
  EXPECT_NEAR(a.LatencyEstimate(), expected, 1);
  clock.Advance(1h);  // quiet for long: back towards 0, so the server is tried again
  EXPECT_LT(a.LatencyEstimate(), 1e-3);
}

TEST(EwmaSignal, SetSchedulerPassesTheDecayOn) {
  FakeClock clock;
  Harness h("wlc", Options(&clock));
  RealServer& a = *h.Add(1);
  a.ReportLatency(50ms);  // kept whatever the scheduler
  ASSERT_TRUE(h.svc().SetScheduler("ewma", Options(&clock, 1s)).ok());
  clock.Advance(1s);
  EXPECT_NEAR(a.LatencyEstimate(), 50e6 * std::exp(-1.0), 1);
  EXPECT_FALSE(h.svc().SetScheduler("ewma", Options(&clock, 0s)).ok());
  EXPECT_FALSE(Service::Create("ewma", Options(&clock, -1s)).ok());
}

TEST(Ewma, OfTwoIdleServersTheFaster) {
  FakeClock clock;
  Harness h("ewma", Options(&clock));
  h.AddAll({1, 1});
  h.At(0)->ReportLatency(10ms);
  h.At(1)->ReportLatency(1ms);
  EXPECT_EQ(h.Picks(20), std::string(20, 'B'));
}

TEST(Ewma, CostIsLatencyTimesActivePlusOnePerWeight) {
  FakeClock clock;
  Harness h("ewma", Options(&clock));
  h.AddAll({1, 2});
  h.At(0)->ReportLatency(10ms);
  h.At(1)->ReportLatency(1ms);
  h.At(1)->SetCounters(20, 0);  // 1 ms x 21 / 2 = 10.5 ms > 10 ms x 1
  EXPECT_EQ(h.Picks(20), std::string(20, 'A'));
  h.At(1)->SetCounters(18, 0);  // 9.5 ms < 10 ms
  EXPECT_EQ(h.Picks(20), std::string(20, 'B'));
}

TEST(Ewma, UnmeasuredServerIsTriedWhileIdleAndAvoidedWhileBusy) {
  FakeClock clock;
  Harness h("ewma", Options(&clock));
  h.AddAll({1, 1});
  h.At(0)->ReportLatency(500ms);
  EXPECT_EQ(h.Picks(10), std::string(10, 'B'));  // no estimate, idle: cost 0
  h.At(1)->SetCounters(1, 0);                    // busy without a sample: the penalty
  EXPECT_EQ(h.Picks(10), std::string(10, 'A'));
}

TEST(Ewma, MovesAwayFromALatencySpikeAndBack) {
  FakeClock clock;
  Harness h("ewma", Options(&clock, 1s));
  h.AddAll({1, 1, 1});
  for (int i = 0; i < 3; ++i) h.At(i)->ReportLatency(5ms);
  clock.Advance(100ms);
  h.At(1)->ReportLatency(200ms);  // B spikes
  int b = 0;
  for (int i = 0; i < 3000; ++i) b += h.Pick() == 'B' ? 1 : 0;
  // B wins only when it is drawn with itself: never (the draws are distinct).
  EXPECT_EQ(b, 0);
  // B recovers: 20 time constants later its estimate is below the others'.
  for (int s = 0; s < 20; ++s) {
    clock.Advance(1s);
    h.At(0)->ReportLatency(5ms);
    h.At(2)->ReportLatency(5ms);
  }
  h.At(1)->ReportLatency(4ms);
  for (int i = 0; i < 3000; ++i) b += h.Pick() == 'B' ? 1 : 0;
  EXPECT_GT(b, 1500);  // B is in 2 of 3 pairs and wins them
}

}  // namespace
}  // namespace lbd
