#include "lbd/vrrp/router.h"

#include <algorithm>

#include "lbd/vrrp/advert.h"

namespace lbd::vrrp {

const char* ToString(State state) {
  switch (state) {
    case State::kInit:
      return "INIT";
    case State::kBackup:
      return "BACKUP";
    case State::kMaster:
      return "MASTER";
    case State::kFault:
      return "FAULT";
  }
  return "?";
}

Router::Router(const RouterConfig& config)
    : config_(config), master_advert_interval_(config.advert_interval) {}

int Router::effective_priority() const {
  if (priority_delta_ == 0) return config_.priority;
  return std::clamp(config_.priority + priority_delta_, 1, kPriorityOwner - 1);
}

Micros Router::skew_time() const {
  const int64_t weight = 256 - effective_priority();
  if (config_.version == 2) return Micros(weight * 1'000'000 / 256);
  return Micros(weight * master_advert_interval_.count() / 256);
}

Micros Router::master_down_interval() const { return 3 * master_advert_interval_ + skew_time(); }

Actions Router::BecomeMaster(TimePoint now) {
  // RFC 5798 §6.4.1 / §6.4.2: send an advert, broadcast gratuitous ARPs,
  // set Adver_Timer to Advertisement_Interval.
  Actions a;
  a.transition = State::kMaster;
  a.send_advert = static_cast<uint8_t>(effective_priority());
  a.add_vips = true;
  a.send_garp = true;
  state_ = State::kMaster;
  deadline_ = now + config_.advert_interval;
  master_ip_ = config_.primary_ip;
  preempt_until_.reset();
  return a;
}

Actions Router::BecomeBackup(TimePoint now, bool remove_vips) {
  Actions a;
  a.transition = State::kBackup;
  a.remove_vips = remove_vips;
  state_ = State::kBackup;
  deadline_ = now + master_down_interval();
  return a;
}

Actions Router::Start(TimePoint now) {
  if (state_ != State::kInit) return {};
  if (fault_) {
    state_ = State::kFault;
    deadline_.reset();
    Actions a;
    a.transition = State::kFault;
    a.remove_vips = true;
    return a;
  }
  master_advert_interval_ = config_.advert_interval;
  if (config_.preempt_delay.count() > 0) preempt_until_ = now + config_.preempt_delay;
  if (effective_priority() == kPriorityOwner) return BecomeMaster(now);
  // Leftover VIPs (a previous run killed while master) go now.
  return BecomeBackup(now, /*remove_vips=*/true);
}

Actions Router::Stop(TimePoint /*now*/) {
  Actions a;
  if (state_ == State::kMaster) a.send_advert = kPriorityStop;
  if (state_ != State::kInit) a.transition = State::kInit;
  a.remove_vips = true;
  state_ = State::kInit;
  deadline_.reset();
  return a;
}

bool Router::InPreemptDelay(TimePoint now) {
  if (config_.preempt_delay.count() <= 0) return false;
  // keepalived: tolerate a lower-priority master for preempt_delay after
  // startup, or after first seeing it.
  if (!preempt_until_) preempt_until_ = now + config_.preempt_delay;
  return now < *preempt_until_;
}

Actions Router::OnAdvert(TimePoint now, uint8_t priority, Micros interval, uint32_t source) {
  const int ours = effective_priority();
  switch (state_) {
    case State::kInit:
    case State::kFault:
      return {};
    case State::kBackup:
      // RFC 5798 §6.4.2.
      if (priority == kPriorityStop) {
        // The master left: take over after Skew_Time only.
        deadline_ = now + skew_time();
        return {};
      }
      if (!config_.preempt || priority >= ours || InPreemptDelay(now)) {
        if (config_.version == 3 && interval.count() > 0) master_advert_interval_ = interval;
        master_ip_ = source;
        deadline_ = now + master_down_interval();
        return {};
      }
      // Lower priority and we preempt: discard; the running timer makes us
      // master after Master_Down_Interval.
      return {};
    case State::kMaster: {
      // RFC 5798 §6.4.3.
      if (priority == kPriorityStop) {
        Actions a;
        a.send_advert = static_cast<uint8_t>(ours);
        deadline_ = now + config_.advert_interval;
        return a;
      }
      if (priority > ours || (priority == ours && source > config_.primary_ip)) {
        if (config_.version == 3 && interval.count() > 0) master_advert_interval_ = interval;
        master_ip_ = source;
        return BecomeBackup(now, /*remove_vips=*/true);
      }
      // A lower priority master: keepalived answers at once ("forcing a new
      // election") so it sees us and yields.
      Actions a;
      a.send_advert = static_cast<uint8_t>(ours);
      deadline_ = now + config_.advert_interval;
      return a;
    }
  }
  return {};
}

Actions Router::OnTimer(TimePoint now) {
  if (!deadline_ || now < *deadline_) return {};
  switch (state_) {
    case State::kBackup:
      // RFC 5798 §6.4.2: Master_Down_Timer fired.
      return BecomeMaster(now);
    case State::kMaster: {
      // RFC 5798 §6.4.3: Adver_Timer fired.
      Actions a;
      a.send_advert = static_cast<uint8_t>(effective_priority());
      deadline_ = now + config_.advert_interval;
      return a;
    }
    case State::kInit:
    case State::kFault:
      deadline_.reset();
      return {};
  }
  return {};
}

Actions Router::SetFault(TimePoint now, bool fault) {
  if (fault == fault_) return {};
  fault_ = fault;
  if (fault) {
    Actions a;
    if (state_ == State::kMaster) a.send_advert = kPriorityStop;
    a.remove_vips = true;
    if (state_ != State::kFault) a.transition = State::kFault;
    state_ = State::kFault;
    deadline_.reset();
    return a;
  }
  if (state_ != State::kFault) return {};
  state_ = State::kInit;
  return Start(now);
}

Actions Router::SetPriorityDelta(TimePoint /*now*/, int delta) {
  priority_delta_ = delta;
  return {};
}

}  // namespace lbd::vrrp
