// The lblc/lblcr destination table (schedulers/src/locality_table.h), white
// box: the hard cap, the kernel's periodic check (ip_vs_lblc.c:
// ip_vs_lblc_check_expire / ip_vs_lblc_full_check) on a fake clock, and the
// probe chains after deletions.
#include "locality_table.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

namespace lbd::sched_internal {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

struct E {
  uint32_t key = 0;
  bool used = false;
  nanoseconds last_use{};
};

SchedulerOptions Limits(size_t soft, size_t max, nanoseconds expiration = 24h) {
  return {
      .locality_expiration = expiration, .locality_soft_limit = soft, .locality_max_entries = max};
}

// Inserts `key` as a pick would: refreshes or creates. False: table full.
bool Use(LocalityTable<E>& t, uint32_t key, nanoseconds now) {
  t.Tick(now);
  if (E* e = t.Find(key, now)) {
    e->last_use = now;
    return true;
  }
  E* e = t.Insert(key, now);
  if (e == nullptr) return false;
  e->last_use = now;
  return true;
}

// How many of keys first..first+n-1 the table finds: equals size() when every
// entry is reachable from its home slot (deletions kept the probe chains).
size_t Findable(LocalityTable<E>& t, uint32_t first, uint32_t n, nanoseconds now) {
  size_t found = 0;
  for (uint32_t k = first; k < first + n; ++k) found += t.Find(k, now) != nullptr ? 1 : 0;
  return found;
}

TEST(LocalityTable, FloodOfDistinctKeysStopsAtTheHardCap) {
  LocalityTable<E> t(Limits(/*soft=*/100, /*max=*/1000));
  nanoseconds now = 1h;
  size_t refused = 0;
  for (uint32_t k = 0; k < 100'000; ++k, now += 100us) refused += Use(t, k, now) ? 0 : 1;
  EXPECT_EQ(t.size(), 1000u);
  EXPECT_EQ(refused, 99'000u);
  EXPECT_LE(t.capacity(), 2048u);               // bit_ceil(2 * max): the memory bound
  EXPECT_EQ(Findable(t, 0, 1000, now), 1000u);  // the first thousand are kept
  EXPECT_EQ(Findable(t, 1000, 99'000, now), 0u);
  EXPECT_TRUE(Use(t, 7, now));  // a known key is still refreshed at the cap
}

TEST(LocalityTable, CheckAboveSoftLimitDropsIdleEntriesAndKeepsRecentOnes) {
  LocalityTable<E> t(Limits(/*soft=*/100, /*max=*/1000));
  nanoseconds now = 1h;
  t.Tick(now);  // the first check is due 60 s from here
  for (uint32_t k = 0; k < 1000; ++k) ASSERT_TRUE(Use(t, k, now));
  // Keys 0..9 stay in use; the others idle.
  auto touch_recent = [&] {
    for (uint32_t k = 0; k < 10; ++k) ASSERT_NE(t.Find(k, now), nullptr);
    for (uint32_t k = 0; k < 10; ++k) t.Find(k, now)->last_use = now;
  };
  // Checks before the entries are 6 min idle drop nothing (size > soft).
  for (int minute = 1; minute <= 5; ++minute) {
    now += 60s;
    touch_recent();
    t.Tick(now);
    EXPECT_EQ(t.size(), 1000u) << minute;
  }
  now += 60s;  // 6 min: the idle entries reach ENTRY_TIMEOUT
  touch_recent();
  t.Tick(now);
  // goal = min((1000 - 100) * 4 / 3, 100 / 2) = 50 per check.
  EXPECT_EQ(t.size(), 950u);
  EXPECT_EQ(Findable(t, 0, 1000, now), 950u);
  // Later checks go on 50 at a time until the soft limit.
  for (int check = 0; check < 40; ++check) {
    now += 60s;
    touch_recent();
    t.Tick(now);
  }
  EXPECT_EQ(t.size(), 100u);
  EXPECT_EQ(Findable(t, 0, 10, now), 10u);  // the recent ones survived
  EXPECT_EQ(Findable(t, 0, 1000, now), 100u);
  EXPECT_LT(t.capacity(), 2048u);  // shrunk once under 1/8 full
}

TEST(LocalityTable, EveryThirtiethCheckDropsTheExpired) {
  // Below the soft limit only the full check frees memory.
  LocalityTable<E> t(Limits(/*soft=*/10'000, /*max=*/10'000, /*expiration=*/10min));
  nanoseconds now = 1h;
  t.Tick(now);
  for (uint32_t k = 0; k < 3000; ++k) ASSERT_TRUE(Use(t, k, now));
  const size_t grown = t.capacity();
  for (int check = 1; check < 30; ++check) {
    now += 60s;
    t.Tick(now);
    ASSERT_EQ(t.size(), 3000u) << check;  // expired ones are invisible but still held
  }
  EXPECT_EQ(Findable(t, 0, 3000, now), 0u);  // unused for 29 min > 10 min
  now += 60s;
  t.Tick(now);  // the 30th: full check
  EXPECT_EQ(t.size(), 0u);
  EXPECT_LT(t.capacity(), grown);
}

TEST(LocalityTable, MissedChecksCountTowardsTheFullCheck) {
  LocalityTable<E> t(Limits(/*soft=*/10'000, /*max=*/10'000, /*expiration=*/10min));
  nanoseconds now = 1h;
  t.Tick(now);
  for (uint32_t k = 0; k < 500; ++k) ASSERT_TRUE(Use(t, k, now));
  now += 2h;  // no pick for two hours: the kernel's timer would have run 120 checks
  t.Tick(now);
  EXPECT_EQ(t.size(), 0u);
}

TEST(LocalityTable, DeletionsKeepEveryEntryReachable) {
  // A small table, many collisions, and checks that delete from the middle of
  // probe chains: after each, every entry must still be found.
  LocalityTable<E> t(Limits(/*soft=*/200, /*max=*/400, /*expiration=*/1h));
  nanoseconds now = 1h;
  t.Tick(now);
  uint32_t next = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 40; ++i) (void)Use(t, next++ * 2654435761u, now);
    now += 90s;  // entries from 4 rounds ago are 6 min idle
    t.Tick(now);
    size_t found = 0;
    for (uint32_t k = 0; k < next; ++k) found += t.Find(k * 2654435761u, now) ? 1 : 0;
    ASSERT_EQ(found, t.size()) << "round " << round;
  }
  EXPECT_LE(t.size(), 400u);
}

}  // namespace
}  // namespace lbd::sched_internal
