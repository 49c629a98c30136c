#include "lbd/sys/rlimit.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>

namespace lbd {
namespace {

TEST(RlimitTest, RaisesTheSoftLimitToTheHardOne) {
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &before), 0);
  // Lower the soft limit (never the hard one, which an unprivileged run
  // could not raise again) and check that it comes back up.
  if (before.rlim_max != RLIM_INFINITY && before.rlim_max > 64) {
    rlimit lowered = before;
    lowered.rlim_cur = 64;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  }
  auto raised = RaiseFdLimit();
  ASSERT_TRUE(raised.ok()) << raised.status().message();
  auto now = GetFdLimit();
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->soft, raised->soft);
  EXPECT_EQ(now->hard, raised->hard);
  if (before.rlim_max != RLIM_INFINITY) {
    EXPECT_LE(raised->soft, raised->hard);
    if (before.rlim_max > 64) {
      EXPECT_GT(raised->soft, 64u);
    }
  }
  // Idempotent.
  auto again = RaiseFdLimit();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->soft, raised->soft);
  setrlimit(RLIMIT_NOFILE, &before);
}

}  // namespace
}  // namespace lbd
