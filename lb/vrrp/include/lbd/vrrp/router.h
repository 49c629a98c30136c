// Public header of lbd_vrrp.
//
// Router: the VRRP state machine of one virtual router (RFC 5798 §6.4, and
// RFC 3768 §6.4 for version 2), with keepalived's choices where the RFCs leave
// room (see /work/shared/reference/vrrp-and-keepalived.md §3). Pure: it does
// no I/O and reads no clock. Every input carries `now`; every output is an
// Actions value the caller carries out (send an advert, add or remove the
// virtual IPs, send gratuitous ARPs). The caller calls OnTimer() once `now`
// reaches deadline().
//
//   Router r(config);
//   Apply(r.Start(Now()));
//   ... on an accepted advert: Apply(r.OnAdvert(Now(), prio, interval, src));
//   ... when Now() >= *r.deadline(): Apply(r.OnTimer(Now()));
//
// Thread-safety: a value; not safe for concurrent use.
#ifndef LBD_VRRP_ROUTER_H_
#define LBD_VRRP_ROUTER_H_

#include <chrono>
#include <cstdint>
#include <optional>

namespace lbd::vrrp {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Micros = std::chrono::microseconds;

enum class State { kInit, kBackup, kMaster, kFault };
const char* ToString(State state);  // "INIT" "BACKUP" "MASTER" "FAULT"

struct RouterConfig {
  int version = 3;                    // 2 | 3
  int priority = 100;                 // 1..255; 255 = address owner
  Micros advert_interval{1'000'000};  // Default: 1s
  bool preempt = true;                // Default: true (false = keepalived's nopreempt)
  Micros preempt_delay{0};            // Default: 0 (keepalived preempt_delay)
  uint32_t primary_ip = 0;            // ours, host order: equal-priority tie-break
};

// What the caller must do, in this order: remove VIPs, send the advert, add
// VIPs, send gratuitous ARPs. At most one transition per call.
struct Actions {
  std::optional<State> transition;     // the new state, when it changed
  std::optional<uint8_t> send_advert;  // send one advert with this priority now
  bool add_vips = false;
  bool remove_vips = false;
  bool send_garp = false;
};

class Router {
 public:
  explicit Router(const RouterConfig& config);

  // RFC 5798 §6.4.1: priority 255 goes MASTER at once, others BACKUP with
  // Master_Down_Timer = Master_Down_Interval. From INIT only (else no-op).
  Actions Start(TimePoint now);
  // Graceful shutdown (RFC 5798 §6.4.3 "Shutdown"): a master sends priority
  // 0 and drops the VIPs; any state ends in INIT.
  Actions Stop(TimePoint now);
  // An advert that passed DecodeIpPacket's checks. `interval` is its
  // advertisement interval (v3 backups adopt it, RFC 5798 §6.4.2).
  Actions OnAdvert(TimePoint now, uint8_t priority, Micros interval, uint32_t source);
  // Master_Down_Timer or Adver_Timer expiry. Harmless if called early.
  Actions OnTimer(TimePoint now);
  // Interface down or a tracked service with weight 0 down: FAULT (a master
  // first sends priority 0 and drops the VIPs). Clearing it restarts as from
  // INIT.
  Actions SetFault(TimePoint now, bool fault);
  // Track weights: the effective priority is the configured one plus
  // `delta`, kept in 1..254 when delta != 0 (keepalived). Takes effect in the
  // next advert and in the skew time.
  Actions SetPriorityDelta(TimePoint now, int delta);

  State state() const { return state_; }
  std::optional<TimePoint> deadline() const { return deadline_; }
  int effective_priority() const;
  // The interval a backup assumes for the master (v3: learned).
  Micros master_advert_interval() const { return master_advert_interval_; }
  // RFC 5798 §6.1: v3 (256 - prio) * Master_Adver_Interval / 256; RFC 3768
  // §6.1 (and keepalived) for v2: (256 - prio) / 256 seconds.
  Micros skew_time() const;
  // 3 * Master_Adver_Interval + Skew_Time.
  Micros master_down_interval() const;
  uint32_t master_ip() const { return master_ip_; }  // last master seen; ours as master

 private:
  Actions BecomeMaster(TimePoint now);
  Actions BecomeBackup(TimePoint now, bool remove_vips);
  bool InPreemptDelay(TimePoint now);

  RouterConfig config_;
  State state_ = State::kInit;
  bool fault_ = false;
  int priority_delta_ = 0;
  Micros master_advert_interval_;
  std::optional<TimePoint> deadline_;
  std::optional<TimePoint> preempt_until_;
  uint32_t master_ip_ = 0;
};

}  // namespace lbd::vrrp

#endif  // LBD_VRRP_ROUTER_H_
