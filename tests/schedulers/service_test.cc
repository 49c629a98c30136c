// Service: membership errors, events, and the trash (re-adding revives).
#include <gtest/gtest.h>

#include "test_util.h"

namespace lbd {
namespace {

using testing::Ep;
using testing::Harness;

TEST(Service, RejectsDuplicatesAndBadWeights) {
  Harness h("rr");
  h.Add(1);
  EXPECT_FALSE(h.svc().AddServer(Ep(0), {}).ok());
  EXPECT_FALSE(h.svc().AddServer(Ep(1), {.weight = -1}).ok());
  EXPECT_FALSE(h.svc().AddServer(Ep(1), {.weight = kMaxWeight + 1}).ok());
  EXPECT_TRUE(h.svc().AddServer(Ep(1), {.weight = kMaxWeight}).ok());
  EXPECT_FALSE(h.svc().SetWeight(Ep(0), 70000).ok());
  EXPECT_FALSE(h.svc().SetWeight(Ep(9), 1).ok());
  EXPECT_FALSE(h.svc().RemoveServer(Ep(9)).ok());
  EXPECT_FALSE(h.svc().SetUp(Ep(9), false).ok());
  EXPECT_FALSE(h.svc().SetScheduler("nope", {}).ok());
  EXPECT_EQ(h.svc().scheduler_name(), "rr");
}

TEST(Service, DownIsWeightZeroUntilUp) {
  Harness h("rr");
  auto a = h.Add(3);
  ASSERT_TRUE(h.svc().SetUp(Ep(0), false).ok());
  EXPECT_EQ(a->weight(), 0);
  EXPECT_EQ(a->configured_weight(), 3);
  EXPECT_EQ(h.Pick(), '-');
  ASSERT_TRUE(h.svc().SetWeight(Ep(0), 5).ok());  // remembered while down
  EXPECT_EQ(a->weight(), 0);
  ASSERT_TRUE(h.svc().SetUp(Ep(0), true).ok());
  EXPECT_EQ(a->weight(), 5);
  EXPECT_EQ(h.Pick(), 'A');
}

TEST(Service, RemovedServerOutlivesItsHolders) {
  Harness h("rr");
  h.AddAll({1, 1});
  std::shared_ptr<RealServer> held = h.svc().Pick(Flow{});
  ASSERT_TRUE(held);
  held->ConnectionOpened(true);
  h.Remove(0);
  EXPECT_FALSE(held->available());
  EXPECT_EQ(held->active(), 1);  // a connection can still close on it
  held->ConnectionClosed(true);
  EXPECT_EQ(h.svc().Servers().size(), 1u);
  held.reset();  // dropped: re-adding makes a fresh object
  auto again = h.svc().AddServer(Ep(0), {.weight = 1});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again.value()->available());
}

}  // namespace
}  // namespace lbd
