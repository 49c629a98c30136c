// One conformance suite, run for every name in Scheduler::Names(): the
// properties every scheduler shares, whatever its algorithm.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace lbd {
namespace {

using testing::Ep;

// lblc keeps a cached destination's server while its overload flag is set (it
// consults only its own "lblc-overloaded" test). Every other scheduler never
// picks a flagged server: lblcr too, because its least-loaded member step
// (ip_vs_dest_set_min()) skips flagged members and its wlc step does as well.
bool HonorsOverloadFlag(std::string_view name) { return name != "lblc"; }

// Options for the churn-heavy tests: every structural change rebuilds mh's
// table, so a smaller prime table keeps them fast; the contract is the same.
SchedulerOptions ChurnOptions(std::string_view name) {
  SchedulerOptions o;
  if (name == "mh") o.mh_table_size = 4093;
  return o;
}

// Flow number i: a distinct source and destination, so the hashing and
// locality schedulers see a new key every time.
Flow FlowN(uint32_t i) {
  return Flow{{0xC6120000u + i * 7919u, static_cast<uint16_t>(1024 + i % 50000)},
              {0xCB007100u + i, 80}};
}

std::string ParamName(const ::testing::TestParamInfo<std::string_view>& p) {
  return std::string(p.param);
}

class Conformance : public ::testing::TestWithParam<std::string_view> {
 protected:
  std::string_view name() const { return GetParam(); }
  std::unique_ptr<Service> Make(const SchedulerOptions& o = {}) {
    auto svc = Service::Create(name(), o);
    EXPECT_TRUE(svc.ok()) << svc.status().message();
    return std::move(svc).value();
  }
};

TEST_P(Conformance, CreatesAndReportsItsName) {
  auto sched = Scheduler::Create(name(), {});
  ASSERT_TRUE(sched.ok()) << sched.status().message();
  EXPECT_EQ(sched.value()->name(), name());
  EXPECT_EQ(Make()->scheduler_name(), name());
}

TEST_P(Conformance, NearMissNamesAreErrors) {
  std::string upper(name());
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string suffixed(name());
  suffixed += 'x';
  std::string spaced(1, ' ');
  spaced += name();
  for (const std::string& bad : {suffixed, upper, spaced}) {
    auto svc = Service::Create(bad);
    ASSERT_FALSE(svc.ok()) << bad;
    EXPECT_NE(svc.status().message().find("unknown scheduler"), std::string::npos)
        << svc.status().message();
  }
}

TEST_P(Conformance, EmptyServicePicksNothing) {
  auto svc = Make();
  for (uint32_t i = 0; i < 20; ++i) EXPECT_EQ(svc->Pick(FlowN(i)), nullptr);
  // ... and again once every server has come and gone.
  ASSERT_TRUE(svc->AddServer(Ep(0), {.weight = 2}).ok());
  ASSERT_TRUE(svc->AddServer(Ep(1), {.weight = 1}).ok());
  EXPECT_NE(svc->Pick(FlowN(0)), nullptr);
  ASSERT_TRUE(svc->RemoveServer(Ep(0)).ok());
  ASSERT_TRUE(svc->RemoveServer(Ep(1)).ok());
  for (uint32_t i = 0; i < 20; ++i) EXPECT_EQ(svc->Pick(FlowN(i)), nullptr);
}

TEST_P(Conformance, AllWeightZeroPicksNothing) {
  auto svc = Make();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(svc->AddServer(Ep(i), {.weight = 0}).ok());
  for (uint32_t i = 0; i < 50; ++i) EXPECT_EQ(svc->Pick(FlowN(i)), nullptr);
}

TEST_P(Conformance, WeightZeroAndDownNeverPicked) {
  auto svc = Make();
  const int weights[] = {0, 3, 0, 1, 2, 0, 1};
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(svc->AddServer(Ep(i), {.weight = weights[i]}).ok());
  ASSERT_TRUE(svc->SetUp(Ep(4), false).ok());  // down acts as weight 0
  int picked = 0;
  for (uint32_t i = 0; i < 3000; ++i) {
    auto rs = svc->Pick(FlowN(i));
    if (rs == nullptr) continue;  // sh/dh/mh: the key's bucket may be unusable
    ++picked;
    EXPECT_GT(rs->weight(), 0) << ToString(rs->endpoint());
    EXPECT_NE(rs->endpoint(), Ep(4));
    rs->ConnectionOpened(i % 3 != 0);  // give lc & co. something to balance
  }
  EXPECT_GT(picked, 1000);
}

// Fresh keys only, so this holds for lblc too (its least-loaded step honours
// the flag).
TEST_P(Conformance, OverloadedNeverPickedForNewKeys) {
  auto svc = Make();
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(svc->AddServer(Ep(i), {.weight = 1 + i % 3}).ok());
  svc->Find(Ep(1))->SetOverloaded(true);
  svc->Find(Ep(4))->SetOverloaded(true);
  int picked = 0;
  for (uint32_t i = 0; i < 3000; ++i) {
    auto rs = svc->Pick(FlowN(i));
    if (rs == nullptr) continue;
    ++picked;
    EXPECT_FALSE(rs->overloaded()) << ToString(rs->endpoint());
    rs->ConnectionOpened(true);
  }
  EXPECT_GT(picked, 1000);
}

// Random adds, removals, re-adds, weight and health changes, overload flags
// and counters, with picks in between: nothing crashes, and a pick is always a
// server that is in the service now, available, with weight > 0.
TEST_P(Conformance, ChurnNeverReturnsRemovedServer) {
  auto svc = Make(ChurnOptions(name()));
  std::mt19937 rng(12345);
  auto roll = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  uint32_t flow = 0;
  for (int step = 0; step < 600; ++step) {
    const int action = roll(10);
    const Endpoint ep = Ep(roll(12));
    if (action == 0) {
      (void)svc->AddServer(ep, {.weight = roll(4)});  // may already be there
    } else if (action == 1) {
      (void)svc->RemoveServer(ep);  // may be absent
    } else if (action == 2) {
      (void)svc->SetWeight(ep, roll(5));
    } else if (action == 3) {
      (void)svc->SetUp(ep, roll(3) != 0);
    } else if (action == 4) {
      if (auto rs = svc->Find(ep)) {
        rs->SetOverloaded(roll(4) == 0);
        rs->SetCounters(roll(5), roll(300));
      }
    } else {
      for (int k = 0; k < 4; ++k) {
        // Reuse a few keys, so cached locality entries meet removed servers.
        auto rs = svc->Pick(FlowN(k == 0 ? flow++ : static_cast<uint32_t>(roll(20))));
        if (rs == nullptr) continue;
        ServerList now = svc->Servers();
        EXPECT_TRUE(std::find(now.begin(), now.end(), rs) != now.end())
            << "step " << step << ": picked " << ToString(rs->endpoint()) << ", not in the service";
        EXPECT_TRUE(rs->available());
        EXPECT_GT(rs->weight(), 0);
      }
    }
  }
}

// Two threads pick (and count connections) while a third changes weights and
// health: no crash, no sanitizer report, every pick one of the servers.
TEST_P(Conformance, ThreadSafetySmoke) {
  auto svc = Make(ChurnOptions(name()));
  std::set<Endpoint> all;
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(svc->AddServer(Ep(i), {.weight = 1 + i % 3}).ok());
    all.insert(Ep(i));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  auto picker = [&](uint32_t seed) {
    for (uint32_t i = seed; i < seed + 50000; ++i) {
      auto rs = svc->Pick(FlowN(i % 4096));
      if (rs == nullptr) continue;
      if (all.count(rs->endpoint()) == 0) bad.fetch_add(1);
      rs->ConnectionOpened(true);
      rs->ConnectionClosed(true);
    }
  };
  long changes = 0;
  std::thread changer([&] {
    std::mt19937 rng(7);
    // Until both pickers are done (they do a fixed number of picks).
    for (; !stop.load(std::memory_order_relaxed) || changes < 20; ++changes) {
      const Endpoint ep = Ep(static_cast<int>(rng() % 8));
      if (changes % 10 == 9) {
        (void)svc->SetUp(ep, rng() % 2 == 0);
      } else {
        (void)svc->SetWeight(ep, static_cast<int>(rng() % 4));
      }
      std::this_thread::yield();  // the spin lock is unfair: let pickers in
    }
  });
  std::thread p1(picker, 0), p2(picker, 100000);
  p1.join();
  p2.join();
  stop.store(true);
  changer.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GE(changes, 20);
}

// Keys seen before, whose server has become overloaded since: the hashing
// schedulers without their fallback flag (sh, dh, mh, rendezvous) answer "no server" for
// exactly those keys and keep every other key where it was; the other
// schedulers that honour the flag choose another, unflagged server (one
// exists); lblc keeps the cached one.
TEST_P(Conformance, OverloadFlagForKnownKeys) {
  auto svc = Make();
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(svc->AddServer(Ep(i), {.weight = 2}).ok());
  std::vector<std::shared_ptr<RealServer>> first;
  for (uint32_t i = 0; i < 500; ++i) {
    first.push_back(svc->Pick(FlowN(i)));
    ASSERT_NE(first.back(), nullptr) << "flow " << i;
  }
  // Flag every other server, including the one that took flow 0; the rest
  // stay free.
  int first_index = 0;
  while (first_index < 6 && !(first[0]->endpoint() == Ep(first_index))) ++first_index;
  ASSERT_LT(first_index, 6);
  for (int i = 0; i < 6; ++i) svc->Find(Ep(i))->SetOverloaded(i % 2 == first_index % 2);
  const bool no_fallback =
      name() == "sh" || name() == "dh" || name() == "mh" || name() == "rendezvous";
  int flagged = 0;
  for (uint32_t i = 0; i < 500; ++i) {
    auto rs = svc->Pick(FlowN(i));
    const bool was_flagged = first[i]->overloaded();
    if (was_flagged) ++flagged;
    if (!HonorsOverloadFlag(name())) {
      EXPECT_EQ(rs, first[i]) << "flow " << i;
    } else if (no_fallback) {
      EXPECT_EQ(rs, was_flagged ? nullptr : first[i]) << "flow " << i;
    } else {
      ASSERT_NE(rs, nullptr) << "flow " << i << ": another server was free";
      EXPECT_FALSE(rs->overloaded()) << ToString(rs->endpoint());
    }
  }
  EXPECT_GT(flagged, 0);
}

INSTANTIATE_TEST_SUITE_P(AllSchedulers, Conformance,
                         ::testing::ValuesIn(Scheduler::Names().begin(), Scheduler::Names().end()),
                         ParamName);

TEST(SchedulerNames, FifteenInDocumentedOrder) {
  std::vector<std::string_view> names(Scheduler::Names().begin(), Scheduler::Names().end());
  EXPECT_EQ(names, (std::vector<std::string_view>{"rr", "wrr", "sh", "dh", "lc", "wlc", "sed", "nq",
                                                  "lblc", "lblcr", "mh", "random", "p2c", "ewma",
                                                  "rendezvous"}));
}

TEST(SchedulerNames, UnknownNameIsAnErrorNamingIt) {
  for (std::string_view bad : {"", "foo", "wrr2", "maglev"}) {
    auto s = Scheduler::Create(bad, {});
    ASSERT_FALSE(s.ok()) << bad;
    std::string quoted(1, '\'');
    quoted += bad;
    quoted += '\'';
    EXPECT_NE(s.status().message().find(quoted), std::string::npos) << s.status().message();
    EXPECT_FALSE(Service::Create(bad).ok());
  }
}

}  // namespace
}  // namespace lbd
