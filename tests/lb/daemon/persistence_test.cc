#include "lbd/daemon/persistence.h"

#include <gtest/gtest.h>

#include "lbsched/service.h"

namespace lbd {
namespace {

using std::chrono::seconds;

class PersistenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    svc_ = std::move(Service::Create("rr")).value();
    a_ = svc_->AddServer(ParseEndpoint("10.0.0.1:80").value(), {}).value();
    b_ = svc_->AddServer(ParseEndpoint("10.0.0.2:80").value(), {}).value();
  }
  std::unique_ptr<Service> svc_;
  std::shared_ptr<RealServer> a_, b_;
};

TEST_F(PersistenceTest, OffByDefault) {
  PersistenceTable t;
  EXPECT_FALSE(t.enabled());
  t.Record(1, a_, seconds(0));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.Lookup(1, seconds(0)), nullptr);
}

TEST_F(PersistenceTest, EntryLivesForTheTimeoutAfterLastUse) {
  PersistenceTable t(seconds(10));
  t.Record(7, a_, seconds(100));
  EXPECT_EQ(t.Lookup(7, seconds(105)), a_);
  EXPECT_EQ(t.Lookup(8, seconds(105)), nullptr);
  // A connection that ends at 108 keeps the entry until 118.
  t.Touch(7, seconds(108));
  EXPECT_EQ(t.Lookup(7, seconds(117)), a_);
  EXPECT_EQ(t.Lookup(7, seconds(118)), nullptr);  // expired (and dropped)
  EXPECT_EQ(t.size(), 0u);
}

TEST_F(PersistenceTest, ExpireDropsOnlyOldEntries) {
  PersistenceTable t(seconds(10));
  t.Record(1, a_, seconds(0));
  t.Record(2, b_, seconds(5));
  EXPECT_EQ(t.Expire(seconds(10)), 1u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.Lookup(2, seconds(14)), b_);
  EXPECT_EQ(t.Expire(seconds(15)), 1u);
  EXPECT_EQ(t.size(), 0u);
}

TEST_F(PersistenceTest, QuiescedDownOrRemovedServersAreNotHonoured) {
  PersistenceTable t(seconds(60));
  t.Record(1, a_, seconds(0));
  ASSERT_TRUE(svc_->SetWeight(a_->endpoint(), 0).ok());  // lbctl drain
  EXPECT_EQ(t.Lookup(1, seconds(1)), nullptr);
  ASSERT_TRUE(svc_->SetWeight(a_->endpoint(), 1).ok());
  EXPECT_EQ(t.Lookup(1, seconds(1)), a_);
  ASSERT_TRUE(svc_->SetUp(a_->endpoint(), false).ok());  // health check down
  EXPECT_EQ(t.Lookup(1, seconds(1)), nullptr);
  ASSERT_TRUE(svc_->SetUp(a_->endpoint(), true).ok());
  ASSERT_TRUE(svc_->RemoveServer(a_->endpoint()).ok());
  EXPECT_EQ(t.Lookup(1, seconds(1)), nullptr);
}

TEST_F(PersistenceTest, TimeoutChangesApplyToNewRecords) {
  PersistenceTable t(seconds(10));
  t.SetTimeout(seconds(0));
  t.Record(1, a_, seconds(0));
  EXPECT_EQ(t.size(), 0u);
  t.SetTimeout(seconds(30));
  t.Record(1, b_, seconds(0));
  EXPECT_EQ(t.Lookup(1, seconds(29)), b_);
}

}  // namespace
}  // namespace lbd
