// mh (Maglev, NSDI 2016 section 3.4): balance, minimal disruption, stability,
// and the port and fallback flags. The scheduler is driven directly (no
// Service lock) so that the large samples stay fast.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "test_util.h"

namespace lbd {
namespace {

using testing::Ep;

constexpr uint32_t kKeys = 2'000'000;

Flow Source(uint32_t i, uint16_t port = 0) { return Flow{{0x0B000000u + i, port}, {0, 0}}; }

struct Mh {
  explicit Mh(const SchedulerOptions& o = {})
      : sched(std::move(Scheduler::Create("mh", o)).value()) {}
  void Add(int n, int weight) {
    servers.push_back(std::make_shared<RealServer>(Ep(n), RealServerOptions{.weight = weight}));
    sched->OnServersChanged(servers, {ServerChange::Kind::kAdded, servers.size() - 1});
  }
  void RemoveAt(size_t i) {
    servers.erase(servers.begin() + static_cast<ptrdiff_t>(i));
    sched->OnServersChanged(servers, {ServerChange::Kind::kRemoved, i});
  }
  // Server number picked for the flow, or -1.
  int Pick(const Flow& f) {
    RealServer* rs = sched->Pick(servers, f);
    return rs ? static_cast<int>(rs->endpoint().ip - testing::kServerBase) : -1;
  }
  std::unique_ptr<Scheduler> sched;
  ServerList servers;
};

// Entries per server proportional to weight within 1%: measured as the share
// of 2M sampled keys (sampling noise is below 0.25% of the smallest share).
void ExpectBalanced(const std::vector<int>& weights) {
  Mh mh;
  int sum = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    mh.Add(static_cast<int>(i), weights[i]);
    sum += weights[i];
  }
  std::vector<uint32_t> hits(weights.size());
  for (uint32_t k = 0; k < kKeys; ++k) ++hits[static_cast<size_t>(mh.Pick(Source(k)))];
  for (size_t i = 0; i < weights.size(); ++i) {
    const double expected = static_cast<double>(kKeys) * weights[i] / sum;
    EXPECT_NEAR(hits[i], expected, expected * 0.01)
        << "server " << i << " weight " << weights[i] << " of " << sum;
  }
}

TEST(Mh, BalancedEqualWeights) { ExpectBalanced({1, 1, 1, 1, 1, 1, 1}); }
TEST(Mh, BalancedUnequalWeights) { ExpectBalanced({1, 2, 3, 4}); }

// Removing one of N servers moves its own keys (1/N) and few others.
TEST(Mh, RemovingOneOfNMovesAboutOneNth) {
  constexpr int kN = 10;
  constexpr uint32_t kSample = 200'000;
  Mh mh;
  for (int i = 0; i < kN; ++i) mh.Add(i, 1);
  std::vector<int> before(kSample);
  for (uint32_t k = 0; k < kSample; ++k) before[k] = mh.Pick(Source(k));
  mh.RemoveAt(3);
  uint32_t moved = 0, moved_elsewhere = 0;
  for (uint32_t k = 0; k < kSample; ++k) {
    const int now = mh.Pick(Source(k));
    ASSERT_NE(now, 3);
    if (now != before[k]) {
      ++moved;
      if (before[k] != 3) ++moved_elsewhere;
    }
  }
  const double frac = static_cast<double>(moved) / kSample;
  EXPECT_NEAR(frac, 1.0 / kN, 0.01) << "moved " << moved;  // measured: 0.103
  // Measured: 0.3% of all keys.
  EXPECT_LT(static_cast<double>(moved_elsewhere) / kSample, 0.01)
      << "keys of surviving servers moved";
}

TEST(Mh, StableForASourceAcrossRebuilds) {
  Mh mh;
  for (int i = 0; i < 5; ++i) mh.Add(i, 1 + i);
  std::vector<int> first;
  for (uint32_t k = 0; k < 1000; ++k) first.push_back(mh.Pick(Source(k * 7919u, 1234)));
  mh.sched->OnServersChanged(mh.servers, {ServerChange::Kind::kUpdated, 0});  // same list
  for (uint32_t k = 0; k < 1000; ++k) {
    EXPECT_EQ(mh.Pick(Source(k * 7919u, static_cast<uint16_t>(k))), first[k]);  // port ignored
  }
}

TEST(Mh, PortFlagSpreadsOneAddress) {
  Mh plain, port({.hash_port = true});
  for (int i = 0; i < 8; ++i) {
    plain.Add(i, 1);
    port.Add(i, 1);
  }
  std::vector<int> plain_hits(8), port_hits(8);
  for (uint32_t p = 1; p <= 8000; ++p) {
    ++plain_hits[static_cast<size_t>(plain.Pick(Source(42, static_cast<uint16_t>(p))))];
    ++port_hits[static_cast<size_t>(port.Pick(Source(42, static_cast<uint16_t>(p))))];
  }
  int plain_used = 0, port_used = 0;
  for (int i = 0; i < 8; ++i) {
    plain_used += plain_hits[static_cast<size_t>(i)] > 0;
    port_used += port_hits[static_cast<size_t>(i)] > 0;
    EXPECT_GT(port_hits[static_cast<size_t>(i)], 700);
  }
  EXPECT_EQ(plain_used, 1);
  EXPECT_EQ(port_used, 8);
  // With the flag, the same address and port stay together.
  EXPECT_EQ(port.Pick(Source(42, 999)), port.Pick(Source(42, 999)));
}

TEST(Mh, FallbackSkipsUnusableServer) {
  Mh strict, fallback({.hash_fallback = true});
  for (int i = 0; i < 4; ++i) {
    strict.Add(i, 1);
    fallback.Add(i, 1);
  }
  strict.servers[2]->SetOverloaded(true);
  fallback.servers[2]->SetOverloaded(true);
  int none = 0;
  for (uint32_t k = 0; k < 4000; ++k) {
    const int s = strict.Pick(Source(k));
    const int f = fallback.Pick(Source(k));
    ASSERT_NE(f, 2);
    ASSERT_NE(f, -1);
    if (s == -1) {
      ++none;
    } else {
      EXPECT_EQ(f, s);  // keys of usable servers do not move
    }
  }
  EXPECT_GT(none, 700);  // about a quarter hashed to the overloaded server
  for (int i = 0; i < 4; ++i) fallback.servers[static_cast<size_t>(i)]->SetOverloaded(true);
  EXPECT_EQ(fallback.Pick(Source(1)), -1);
}

TEST(Mh, WeightZeroOwnsNoEntries) {
  Mh mh;
  mh.Add(0, 0);
  mh.Add(1, 1);
  for (uint32_t k = 0; k < 5000; ++k) EXPECT_EQ(mh.Pick(Source(k)), 1);
}

TEST(Mh, TableSizeMustBePrime) {
  EXPECT_TRUE(Scheduler::Create("mh", {.mh_table_size = 251}).ok());
  EXPECT_FALSE(Scheduler::Create("mh", {.mh_table_size = 65536}).ok());
  EXPECT_FALSE(Scheduler::Create("mh", {.mh_table_size = 2}).ok());
}

}  // namespace
}  // namespace lbd
