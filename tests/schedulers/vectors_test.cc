// The test vectors of shared/reference/ipvs-schedulers.md, one per case.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lbsched/service.h"

namespace lbd {
namespace {

Endpoint Ep(int n) { return Endpoint{0x0A000000u + static_cast<uint32_t>(n), 80}; }

class Harness {
 public:
  explicit Harness(const std::string& sched, SchedulerOptions o = {})
      : svc_(std::move(Service::Create(sched, o)).value()) {}
  void Add(int weight) {
    ASSERT_TRUE(svc_->AddServer(Ep(static_cast<int>(n_++)), {.weight = weight}).ok());
  }
  std::shared_ptr<RealServer> At(int i) { return svc_->Find(Ep(i)); }
  // Letter of the pick ('A' + index), or '-'.
  char Pick(uint32_t src = 0x0A0000FF, uint32_t dst = 0xC0000264) {
    auto rs = svc_->Pick(Flow{{src, 1234}, {dst, 80}});
    return rs ? static_cast<char>('A' + (rs->endpoint().ip - 0x0A000000u)) : '-';
  }
  std::string Picks(int k) {
    std::string s;
    for (int i = 0; i < k; ++i) s += Pick();
    return s;
  }
  Service& svc() { return *svc_; }

 private:
  std::unique_ptr<Service> svc_;
  size_t n_ = 0;
};

TEST(RrVectors, SkipsWeightZeroAndSeesWeightChange) {
  Harness h("rr");
  h.Add(1);
  h.Add(1);
  h.Add(0);
  EXPECT_EQ(h.Picks(2), "AB");
  ASSERT_TRUE(h.svc().SetWeight(Ep(2), 1).ok());
  EXPECT_EQ(h.Picks(4), "CABC");
}

TEST(WrrVectors, BuiltAtOnce) {
  Harness h("rr");
  h.Add(4);
  h.Add(3);
  h.Add(2);
  ASSERT_TRUE(h.svc().SetScheduler("wrr", {}).ok());
  EXPECT_EQ(h.Picks(18), "AABABCABCAABABCABC");
}

TEST(WrrVectors, BuiltOneAtATime) {
  Harness h("wrr");
  h.Add(4);
  h.Add(3);
  h.Add(2);
  EXPECT_EQ(h.Picks(12), "ABCAABABCABC");
}

TEST(WrrVectors, GcdAndAllZero) {
  Harness h("wrr");
  h.Add(2);
  h.Add(2);
  EXPECT_EQ(h.Picks(4), "ABAB");
  Harness z("wrr");
  z.Add(0);
  z.Add(0);
  EXPECT_EQ(z.Picks(2), "--");
}

TEST(LcVectors, OverheadCountsInactive) {
  Harness h("lc");
  h.Add(1);
  h.Add(1);
  h.Add(1);
  h.At(0)->SetCounters(1, 0);
  h.At(1)->SetCounters(1, 0);
  h.At(2)->SetCounters(0, 200);
  EXPECT_EQ(h.Pick(), 'C');
}

TEST(WlcVectors, Weighted) {
  Harness h("wlc");
  h.Add(1);
  h.Add(3);
  h.At(0)->SetCounters(1, 0);
  h.At(1)->SetCounters(2, 0);
  EXPECT_EQ(h.Pick(), 'B');
}

TEST(SedVectors, TieGoesToFirst) {
  Harness h("sed");
  h.Add(1);
  h.Add(3);
  h.At(1)->SetCounters(2, 0);
  EXPECT_EQ(h.Pick(), 'A');
}

TEST(NqVectors, IdleWinsAtOnce) {
  Harness h("nq");
  h.Add(1);
  h.Add(3);
  h.At(0)->SetCounters(1, 0);
  EXPECT_EQ(h.Pick(), 'B');
}

TEST(ShVectors, KernelHash) {
  // 192.0.2.1 -> bucket 50; with A1 B0 the buckets alternate, so 50 is A.
  Harness h("sh");
  h.Add(1);
  h.Add(0);
  EXPECT_EQ(h.Pick(0xC0000201), 'A');
  // Find a source that lands on an odd bucket (B, weight 0): none, and with
  // fallback A.
  uint32_t src = 0;
  for (uint32_t s = 1; s < 1000; ++s) {
    if (((s * 0x61C88647u) >> 24) % 2 == 1) {
      src = s;
      break;
    }
  }
  ASSERT_NE(src, 0u);
  EXPECT_EQ(h.Pick(src), '-');
  Harness f("sh", {.hash_fallback = true});
  f.Add(1);
  f.Add(0);
  EXPECT_EQ(f.Pick(src), 'A');
}

TEST(LblcVectors, RescheduleWhenLblcOverloaded) {
  Harness h("lblc");
  h.Add(2);
  h.Add(2);
  h.At(0)->SetCounters(3, 0);
  EXPECT_EQ(h.Pick(), 'B');
  h.At(1)->SetCounters(3, 0);
  h.At(0)->SetCounters(0, 0);
  EXPECT_EQ(h.Pick(), 'A');
}

}  // namespace
}  // namespace lbd
