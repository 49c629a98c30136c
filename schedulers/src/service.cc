#include "lbsched/service.h"

#include <algorithm>
#include <thread>

namespace lbd {

class Service::Guard {
 public:
  explicit Guard(const Service& s) : s_(s) { s_.Lock(); }
  ~Guard() { s_.Unlock(); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

 private:
  const Service& s_;
};

void Service::Lock() const {
  // Test-and-test-and-set; the critical sections are a few hundred
  // nanoseconds at most, so spinning beats parking.
  for (int spins = 0;; ++spins) {
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
    while (locked_.load(std::memory_order_relaxed)) {
      if (++spins > 1000) {
        std::this_thread::yield();
        spins = 0;
      } else {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
    }
  }
}

void Service::Unlock() const { locked_.store(false, std::memory_order_release); }

Result<std::unique_ptr<Service>> Service::Create(std::string_view scheduler,
                                                 const SchedulerOptions& options) {
  auto sched = Scheduler::Create(scheduler, options);
  if (!sched.ok()) return sched.status();
  auto svc = std::unique_ptr<Service>(new Service(std::move(sched).value()));
  return svc;
}

Service::Service(std::unique_ptr<Scheduler> scheduler) : scheduler_(std::move(scheduler)) {
  scheduler_->OnServersChanged(servers_, {ServerChange::Kind::kUpdated, 0});
}

Service::~Service() {
  for (auto& rs : servers_) rs->SetAvailable(false);
}

std::shared_ptr<RealServer> Service::Pick(const Flow& flow) {
  Guard g(*this);
  RealServer* rs = scheduler_->Pick(servers_, flow);
  if (rs == nullptr) return nullptr;
  return rs->shared_from_this();
}

ServerList::const_iterator Service::FindLocked(Endpoint endpoint) const {
  return std::find_if(servers_.begin(), servers_.end(),
                      [&](const auto& rs) { return rs->endpoint() == endpoint; });
}

Result<std::shared_ptr<RealServer>> Service::AddServer(Endpoint endpoint,
                                                       const RealServerOptions& options) {
  if (options.weight < 0 || options.weight > kMaxWeight) {
    return Status::Error("weight " + std::to_string(options.weight) + " out of range 0..65535");
  }
  Guard g(*this);
  if (FindLocked(endpoint) != servers_.end()) {
    return Status::Error("real server " + ToString(endpoint) + " already in the service");
  }
  std::shared_ptr<RealServer> rs;
  // Revive a removed server that is still referenced (the kernel's dest trash).
  std::erase_if(trash_, [](const auto& w) { return w.expired(); });
  for (auto it = trash_.begin(); it != trash_.end(); ++it) {
    auto t = it->lock();
    if (t && t->endpoint() == endpoint) {
      rs = std::move(t);
      trash_.erase(it);
      rs->SetConfiguredWeight(options.weight);
      rs->SetThresholds(options.upper_threshold, options.lower_threshold);
      rs->SetUp(true);
      rs->SetAvailable(true);
      break;
    }
  }
  if (!rs) rs = std::make_shared<RealServer>(endpoint, options);
  servers_.push_back(rs);
  scheduler_->OnServersChanged(servers_, {ServerChange::Kind::kAdded, servers_.size() - 1});
  return rs;
}

Status Service::RemoveServer(Endpoint endpoint) {
  Guard g(*this);
  auto it = FindLocked(endpoint);
  if (it == servers_.end()) return Status::Error("no real server " + ToString(endpoint));
  size_t index = static_cast<size_t>(it - servers_.begin());
  (*it)->SetAvailable(false);
  trash_.push_back(*it);
  servers_.erase(it);
  scheduler_->OnServersChanged(servers_, {ServerChange::Kind::kRemoved, index});
  return Status::Ok();
}

Status Service::SetWeight(Endpoint endpoint, int weight) {
  if (weight < 0 || weight > kMaxWeight) {
    return Status::Error("weight " + std::to_string(weight) + " out of range 0..65535");
  }
  Guard g(*this);
  auto it = FindLocked(endpoint);
  if (it == servers_.end()) return Status::Error("no real server " + ToString(endpoint));
  (*it)->SetConfiguredWeight(weight);
  scheduler_->OnServersChanged(
      servers_, {ServerChange::Kind::kUpdated, static_cast<size_t>(it - servers_.begin())});
  return Status::Ok();
}

Status Service::SetUp(Endpoint endpoint, bool up) {
  Guard g(*this);
  auto it = FindLocked(endpoint);
  if (it == servers_.end()) return Status::Error("no real server " + ToString(endpoint));
  if ((*it)->up() == up) return Status::Ok();
  (*it)->SetUp(up);
  scheduler_->OnServersChanged(
      servers_, {ServerChange::Kind::kUpdated, static_cast<size_t>(it - servers_.begin())});
  return Status::Ok();
}

Status Service::SetThresholds(Endpoint endpoint, uint32_t upper, uint32_t lower) {
  Guard g(*this);
  auto it = FindLocked(endpoint);
  if (it == servers_.end()) return Status::Error("no real server " + ToString(endpoint));
  (*it)->SetThresholds(upper, lower);
  return Status::Ok();
}

Status Service::SetScheduler(std::string_view name, const SchedulerOptions& options) {
  auto sched = Scheduler::Create(name, options);
  if (!sched.ok()) return sched.status();
  Guard g(*this);
  scheduler_ = std::move(sched).value();
  scheduler_->OnServersChanged(servers_, {ServerChange::Kind::kUpdated, 0});
  return Status::Ok();
}

ServerList Service::Servers() const {
  Guard g(*this);
  return servers_;
}

std::shared_ptr<RealServer> Service::Find(Endpoint endpoint) const {
  Guard g(*this);
  auto it = FindLocked(endpoint);
  return it == servers_.end() ? nullptr : *it;
}

std::string Service::scheduler_name() const {
  Guard g(*this);
  return std::string(scheduler_->name());
}

}  // namespace lbd
