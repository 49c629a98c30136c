// The state machine on a fake clock (RFC 5798 §6.4; keepalived's choices).
#include "lbd/vrrp/router.h"

#include <gtest/gtest.h>

#include <vector>

#include "lbd/vrrp/advert.h"

namespace lbd::vrrp {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint32_t kLowIp = 0x0ac80001;   // 10.200.0.1
constexpr uint32_t kHighIp = 0x0ac80002;  // 10.200.0.2
constexpr Micros kSecond{1'000'000};

const TimePoint kT0 = TimePoint{} + seconds(1000);

RouterConfig Config(int priority, int version = 3, uint32_t ip = kLowIp) {
  return RouterConfig{.version = version, .priority = priority, .primary_ip = ip};
}

TEST(VrrpRouter, SkewAndMasterDownIntervalPerVersion) {
  // RFC 5798 §6.1: (256 - 100) * 1s / 256 = 609.375 ms.
  Router v3(Config(100, 3));
  EXPECT_EQ(v3.skew_time(), Micros(609'375));
  EXPECT_EQ(v3.master_down_interval(), Micros(3'609'375));
  // RFC 3768 §6.1: (256 - prio) / 256 seconds, whatever the interval.
  RouterConfig c = Config(100, 2);
  c.advert_interval = 3 * kSecond;
  Router v2(c);
  EXPECT_EQ(v2.skew_time(), Micros(609'375));
  EXPECT_EQ(v2.master_down_interval(), Micros(9'609'375));
  c.version = 3;
  Router v3_slow(c);
  EXPECT_EQ(v3_slow.skew_time(), Micros(1'828'125));
}

TEST(VrrpRouter, StartsBackupAndTakesOverAfterMasterDownInterval) {
  Router r(Config(100));
  Actions a = r.Start(kT0);
  EXPECT_EQ(a.transition, State::kBackup);
  EXPECT_TRUE(a.remove_vips);  // leftovers of a killed run
  EXPECT_FALSE(a.send_advert);
  ASSERT_TRUE(r.deadline());
  EXPECT_EQ(*r.deadline(), kT0 + Micros(3'609'375));
  // Early: nothing.
  EXPECT_FALSE(r.OnTimer(kT0 + seconds(3)).transition);
  a = r.OnTimer(*r.deadline());
  EXPECT_EQ(a.transition, State::kMaster);
  EXPECT_EQ(a.send_advert, 100);
  EXPECT_TRUE(a.add_vips);
  EXPECT_TRUE(a.send_garp);
  EXPECT_EQ(r.master_ip(), kLowIp);
  // Then one advert per interval.
  const TimePoint next = *r.deadline();
  EXPECT_EQ(next, kT0 + Micros(3'609'375) + kSecond);
  a = r.OnTimer(next);
  EXPECT_FALSE(a.transition);
  EXPECT_EQ(a.send_advert, 100);
  EXPECT_EQ(*r.deadline(), next + kSecond);
}

TEST(VrrpRouter, OwnerGoesMasterAtOnce) {
  Router r(Config(255));
  Actions a = r.Start(kT0);
  EXPECT_EQ(a.transition, State::kMaster);
  EXPECT_EQ(a.send_advert, 255);
  EXPECT_TRUE(a.send_garp);
  EXPECT_EQ(*r.deadline(), kT0 + kSecond);
}

TEST(VrrpRouter, BackupRestartsTimerOnHigherOrEqualAdvert) {
  Router r(Config(100));
  (void)r.Start(kT0);
  const TimePoint t = kT0 + seconds(2);
  Actions a = r.OnAdvert(t, 150, kSecond, kHighIp);
  EXPECT_FALSE(a.transition);
  EXPECT_EQ(*r.deadline(), t + Micros(3'609'375));
  EXPECT_EQ(r.master_ip(), kHighIp);
  (void)r.OnAdvert(t + seconds(1), 100, kSecond, kHighIp);
  EXPECT_EQ(*r.deadline(), t + seconds(1) + Micros(3'609'375));
}

TEST(VrrpRouter, PreemptingBackupIgnoresLowerPriorityAndTakesOver) {
  Router r(Config(150));
  (void)r.Start(kT0);
  const auto deadline = *r.deadline();
  for (int i = 1; i <= 3; ++i) {
    Actions a = r.OnAdvert(kT0 + seconds(i), 100, kSecond, kHighIp);
    EXPECT_FALSE(a.transition);
    EXPECT_EQ(*r.deadline(), deadline) << "timer must keep running";
  }
  EXPECT_EQ(r.OnTimer(deadline).transition, State::kMaster);
}

TEST(VrrpRouter, NopreemptBackupAcceptsLowerPriorityMaster) {
  RouterConfig c = Config(150);
  c.preempt = false;
  Router r(c);
  (void)r.Start(kT0);
  for (int i = 1; i <= 10; ++i) {
    const TimePoint t = kT0 + seconds(i);
    EXPECT_FALSE(r.OnTimer(t).transition);
    (void)r.OnAdvert(t, 100, kSecond, kHighIp);
    EXPECT_EQ(*r.deadline(), t + r.master_down_interval());
  }
  EXPECT_EQ(r.state(), State::kBackup);
  // Once the lower master is gone it still takes over.
  EXPECT_EQ(r.OnTimer(kT0 + seconds(10) + r.master_down_interval()).transition, State::kMaster);
}

TEST(VrrpRouter, PreemptDelayToleratesLowerMasterThenPreempts) {
  RouterConfig c = Config(150);
  c.preempt_delay = 5 * kSecond;
  Router r(c);
  (void)r.Start(kT0);
  TimePoint t = kT0;
  // Adverts of a lower master every second: accepted while t < kT0 + 5s.
  for (int i = 1; i <= 20 && r.state() == State::kBackup; ++i) {
    t = kT0 + seconds(i);
    if (r.OnTimer(t).transition) break;
    (void)r.OnAdvert(t, 100, kSecond, kHighIp);
  }
  EXPECT_EQ(r.state(), State::kMaster);
  // Last accepted advert at 4 s; master at 4 s + Master_Down_Interval, i.e.
  // on the first whole second after it.
  EXPECT_EQ(t, kT0 + seconds(8));
}

TEST(VrrpRouter, PriorityZeroMakesBackupTakeOverAfterSkew) {
  Router r(Config(100));
  (void)r.Start(kT0);
  (void)r.OnAdvert(kT0 + seconds(1), 150, kSecond, kHighIp);
  const TimePoint t = kT0 + seconds(2);
  Actions a = r.OnAdvert(t, kPriorityStop, kSecond, kHighIp);
  EXPECT_FALSE(a.transition);
  EXPECT_EQ(*r.deadline(), t + Micros(609'375));
  EXPECT_EQ(r.OnTimer(*r.deadline()).transition, State::kMaster);
}

TEST(VrrpRouter, MasterAnswersPriorityZeroAndLowerWithAnAdvert) {
  Router r(Config(255));
  (void)r.Start(kT0);
  Actions a = r.OnAdvert(kT0 + milliseconds(300), kPriorityStop, kSecond, kHighIp);
  EXPECT_EQ(a.send_advert, 255);
  EXPECT_EQ(*r.deadline(), kT0 + milliseconds(1300));
  a = r.OnAdvert(kT0 + milliseconds(500), 100, kSecond, kHighIp);
  EXPECT_EQ(a.send_advert, 255);
  EXPECT_FALSE(a.transition);
  EXPECT_EQ(r.state(), State::kMaster);
}

TEST(VrrpRouter, MasterYieldsToHigherPriority) {
  Router r(Config(100));
  (void)r.Start(kT0);
  (void)r.OnTimer(*r.deadline());
  ASSERT_EQ(r.state(), State::kMaster);
  const TimePoint t = kT0 + seconds(10);
  Actions a = r.OnAdvert(t, 150, 2 * kSecond, kHighIp);
  EXPECT_EQ(a.transition, State::kBackup);
  EXPECT_TRUE(a.remove_vips);
  EXPECT_FALSE(a.send_advert);  // keepalived: no parting advert
  // v3 learns the master's interval (RFC 5798 §6.4.3).
  EXPECT_EQ(r.master_advert_interval(), 2 * kSecond);
  EXPECT_EQ(*r.deadline(), t + 6 * kSecond + Micros(1'218'750));
}

TEST(VrrpRouter, EqualPriorityTieBreakByPrimaryAddress) {
  // RFC 5798 §6.4.3: equal priority, the higher primary address wins.
  Router low(Config(100, 3, kLowIp));
  Router high(Config(100, 3, kHighIp));
  (void)low.Start(kT0);
  (void)high.Start(kT0);
  (void)low.OnTimer(*low.deadline());
  (void)high.OnTimer(*high.deadline());
  ASSERT_EQ(low.state(), State::kMaster);
  ASSERT_EQ(high.state(), State::kMaster);
  const TimePoint t = kT0 + seconds(4);
  Actions h = high.OnAdvert(t, 100, kSecond, kLowIp);
  EXPECT_EQ(h.send_advert, 100);  // stays, answers
  EXPECT_EQ(high.state(), State::kMaster);
  Actions l = low.OnAdvert(t, 100, kSecond, kHighIp);
  EXPECT_EQ(l.transition, State::kBackup);
}

TEST(VrrpRouter, StopSendsPriorityZeroOnlyAsMaster) {
  Router backup(Config(100));
  (void)backup.Start(kT0);
  Actions a = backup.Stop(kT0 + seconds(1));
  EXPECT_FALSE(a.send_advert);
  EXPECT_EQ(a.transition, State::kInit);
  EXPECT_FALSE(backup.deadline());
  Router master(Config(255));
  (void)master.Start(kT0);
  a = master.Stop(kT0 + seconds(1));
  EXPECT_EQ(a.send_advert, kPriorityStop);
  EXPECT_TRUE(a.remove_vips);
  EXPECT_EQ(master.state(), State::kInit);
}

TEST(VrrpRouter, FaultDropsMastershipAndRecoversAsBackup) {
  Router r(Config(100));
  (void)r.Start(kT0);
  (void)r.OnTimer(*r.deadline());
  ASSERT_EQ(r.state(), State::kMaster);
  Actions a = r.SetFault(kT0 + seconds(5), true);
  EXPECT_EQ(a.transition, State::kFault);
  EXPECT_EQ(a.send_advert, kPriorityStop);
  EXPECT_TRUE(a.remove_vips);
  EXPECT_FALSE(r.deadline());
  // Adverts and timers are ignored in FAULT.
  EXPECT_FALSE(r.OnAdvert(kT0 + seconds(6), 200, kSecond, kHighIp).transition);
  EXPECT_FALSE(r.OnTimer(kT0 + seconds(60)).transition);
  a = r.SetFault(kT0 + seconds(61), false);
  EXPECT_EQ(a.transition, State::kBackup);
  EXPECT_EQ(*r.deadline(), kT0 + seconds(61) + Micros(3'609'375));
}

TEST(VrrpRouter, FaultBeforeStart) {
  Router r(Config(100));
  EXPECT_EQ(r.SetFault(kT0, true).transition, State::kFault);
  EXPECT_FALSE(r.Start(kT0).transition);
  EXPECT_EQ(r.state(), State::kFault);
  EXPECT_EQ(r.SetFault(kT0 + seconds(1), false).transition, State::kBackup);
}

TEST(VrrpRouter, TrackWeightLowersPriorityAndLetsAPeerPreempt) {
  Router r(Config(150));
  (void)r.Start(kT0);
  (void)r.OnTimer(*r.deadline());
  (void)r.SetPriorityDelta(kT0 + seconds(5), -60);
  EXPECT_EQ(r.effective_priority(), 90);
  EXPECT_EQ(r.OnTimer(*r.deadline()).send_advert, 90);
  // A 100 backup now wins: its advert makes us yield.
  EXPECT_EQ(r.OnAdvert(kT0 + seconds(7), 100, kSecond, kHighIp).transition, State::kBackup);
  (void)r.SetPriorityDelta(kT0 + seconds(8), 0);
  EXPECT_EQ(r.effective_priority(), 150);
  // Clamped to 1..254.
  (void)r.SetPriorityDelta(kT0, -500);
  EXPECT_EQ(r.effective_priority(), 1);
  Router owner(Config(255));
  (void)owner.SetPriorityDelta(kT0, -1);
  EXPECT_EQ(owner.effective_priority(), 254);
}

// Two routers on a lossless link, adverts delivered at the end of each 10 ms
// step (so timers expiring in one step race, as on a real link): exactly one
// ends up master, the higher priority, or on a tie the higher address.
TEST(VrrpRouter, PairConvergesToTheHigherPriorityOrAddress) {
  struct Case {
    int low_ip_priority;
    milliseconds high_ip_start;
  };
  for (const Case& c :
       {Case{100, milliseconds(100)}, Case{200, milliseconds(0)}, Case{150, milliseconds(0)}}) {
    SCOPED_TRACE(c.low_ip_priority);
    std::vector<Router> nodes = {Router(Config(c.low_ip_priority, 3, kLowIp)),
                                 Router(Config(150, 3, kHighIp))};
    const uint32_t ips[] = {kLowIp, kHighIp};
    TimePoint now = kT0;
    (void)nodes[0].Start(now);
    (void)nodes[1].Start(now + c.high_ip_start);
    for (int step = 0; step < 2000; ++step) {
      now += milliseconds(10);
      std::vector<std::pair<size_t, uint8_t>> sent;
      for (size_t i = 0; i < 2; ++i) {
        if (auto p = nodes[i].OnTimer(now).send_advert) sent.emplace_back(i, *p);
      }
      for (size_t k = 0; k < sent.size() && k < 16; ++k) {  // answers are delivered too
        const auto [from, priority] = sent[k];
        if (auto p = nodes[1 - from].OnAdvert(now, priority, kSecond, ips[from]).send_advert) {
          sent.emplace_back(1 - from, *p);
        }
      }
    }
    const size_t winner = c.low_ip_priority > 150 ? 0 : 1;
    EXPECT_EQ(nodes[winner].state(), State::kMaster);
    EXPECT_EQ(nodes[1 - winner].state(), State::kBackup);
  }
}

}  // namespace
}  // namespace lbd::vrrp
