// lblc (ip_vs_lblc.c): the destination table, its expiry (fake clock), and the
// "lblc-overloaded" rule.
#include <gtest/gtest.h>

#include <chrono>

#include "test_util.h"

namespace lbd {
namespace {

using namespace std::chrono_literals;
using testing::Ep;
using testing::FakeClock;
using testing::Harness;

constexpr uint32_t kD = 0xC0000264;  // the destination under test

SchedulerOptions WithClock(const FakeClock& clock, std::chrono::nanoseconds expiration = 60s) {
  return {.locality_expiration = expiration, .clock = &clock};
}

TEST(Lblc, EntryUnusedLongerThanExpirationIsDropped) {
  FakeClock clock;
  Harness h("lblc", WithClock(clock));
  h.AddAll({1, 1});
  EXPECT_EQ(h.PickDst(kD), 'A');  // tie: first
  h.At(0)->SetCounters(1, 0);     // A: 1 > 1 is false: not lblc-overloaded
  clock.Advance(60s);             // exactly the expiration: still alive
  EXPECT_EQ(h.PickDst(kD), 'A');  // (wlc alone would say B) -- and refreshes
  clock.Advance(59s);
  EXPECT_EQ(h.PickDst(kD), 'A');
  clock.Advance(60s + 1ns);       // unused for longer than the expiration
  EXPECT_EQ(h.PickDst(kD), 'B');  // rescheduled by wlc
  EXPECT_EQ(h.PickDst(kD), 'B');  // and the new entry sticks
}

TEST(Lblc, EachDestinationHasItsOwnEntry) {
  FakeClock clock;
  Harness h("lblc", WithClock(clock));
  h.AddAll({1, 1, 1});
  // Each new destination goes to the least loaded server at that moment.
  for (uint32_t d = 0; d < 3; ++d) {
    EXPECT_EQ(h.PickDst(kD + d), static_cast<char>('A' + d));
    h.At(static_cast<int>(d))->ConnectionOpened(false);  // inactive: +1 overhead
  }
  for (uint32_t d = 0; d < 3; ++d) EXPECT_EQ(h.PickDst(kD + d), static_cast<char>('A' + d));
}

TEST(Lblc, ManyDestinationsSurviveTableGrowthAndExpireTogether) {
  FakeClock clock;
  Harness h("lblc", WithClock(clock, 10s));
  h.AddAll({1, 1, 1, 1});
  std::string first;
  for (uint32_t d = 0; d < 5000; ++d) {
    first += h.PickDst(0x0C000000u + d * 3u);
    h.svc().Find(Ep((first.back() - 'A')))->ConnectionOpened(false);
  }
  for (uint32_t d = 0; d < 5000; ++d) ASSERT_EQ(h.PickDst(0x0C000000u + d * 3u), first[d]) << d;
  clock.Advance(11s);
  for (int i = 0; i < 4; ++i) h.At(i)->SetCounters(0, i == 2 ? 0 : 5);
  for (uint32_t d = 0; d < 5000; d += 7) ASSERT_EQ(h.PickDst(0x0C000000u + d * 3u), 'C') << d;
}

TEST(Lblc, CachedServerKeptEvenWhenOverloadFlagSet) {
  // The kernel's lblc consults only its own overload test for a cached entry.
  Harness h("lblc");
  h.AddAll({1, 1});
  EXPECT_EQ(h.PickDst(kD), 'A');
  h.At(0)->SetOverloaded(true);
  EXPECT_EQ(h.PickDst(kD), 'A');
  EXPECT_EQ(h.PickDst(kD + 1), 'B');  // a new destination: wlc skips A
}

TEST(Lblc, RescheduledWhenServerQuiescedOrRemoved) {
  Harness h("lblc");
  h.AddAll({1, 1, 1});
  EXPECT_EQ(h.PickDst(kD), 'A');
  h.SetWeight(0, 0);
  EXPECT_EQ(h.PickDst(kD), 'B');
  h.SetWeight(0, 1);
  EXPECT_EQ(h.PickDst(kD), 'B');  // the entry now names B
  h.Remove(1);
  EXPECT_EQ(h.PickDst(kD), 'A');
}

TEST(Lblc, ReaddedServerIsTheSameObject) {
  Harness h("lblc");
  h.AddAll({1, 1});
  auto a = h.At(0);
  a->SetCounters(3, 7);
  h.Remove(0);
  EXPECT_FALSE(a->available());
  auto again = h.svc().AddServer(Ep(0), {.weight = 2});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value(), a);  // revived from the trash with its counters
  EXPECT_TRUE(a->available());
  EXPECT_EQ(a->active(), 3);
  EXPECT_EQ(a->weight(), 2);
}

TEST(Lblc, FloodOfDestinationsIsBoundedAndIdleEntriesExpire) {
  testing::ExpectFloodBounded("lblc");
}

TEST(Lblc, TableLimitsMustBePositive) {
  for (std::string_view s : {"lblc", "lblcr"}) {
    EXPECT_TRUE(Scheduler::Create(s, {.locality_max_entries = 1}).ok());
    EXPECT_FALSE(Scheduler::Create(s, {.locality_max_entries = 0}).ok());
    EXPECT_FALSE(Scheduler::Create(s, {.locality_max_entries = (size_t{1} << 30) + 1}).ok());
    EXPECT_FALSE(Scheduler::Create(s, {.locality_soft_limit = 0}).ok());
    EXPECT_FALSE(Scheduler::Create(s, {.locality_check_interval = 0s}).ok());
    EXPECT_FALSE(Scheduler::Create(s, {.locality_entry_timeout = -1s}).ok());
  }
}

}  // namespace
}  // namespace lbd
