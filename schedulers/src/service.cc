#include "lbsched/service.h"

#include <algorithm>
#include <utility>

#include "common.h"

namespace lbd {

namespace {

std::vector<int> WeightsOf(const ServerList& servers) {
  std::vector<int> w;
  w.reserve(servers.size() + 1);
  for (const auto& rs : servers) w.push_back(rs->weight());
  return w;
}

}  // namespace

Result<std::unique_ptr<Service>> Service::Create(std::string_view scheduler,
                                                 const SchedulerOptions& options) {
  auto sched = Scheduler::Create(scheduler, options);
  if (!sched.ok()) return sched.status();
  auto svc = std::unique_ptr<Service>(new Service(std::move(sched).value(), options));
  return svc;
}

Service::Service(std::unique_ptr<Scheduler> scheduler, const SchedulerOptions& options)
    : scheduler_(std::move(scheduler)),
      servers_(std::make_shared<const ServerList>()),
      latency_decay_(options.ewma_decay),
      clock_(options.clock) {
  scheduler_->OnServersChanged(*servers_, {ServerChange::Kind::kUpdated, 0});
}

Service::~Service() {
  for (auto& rs : *servers_) rs->SetAvailable(false);
}

std::shared_ptr<RealServer> Service::Pick(const Flow& flow) {
  std::lock_guard<std::mutex> g(pick_mu_);
  RealServer* rs = scheduler_->Pick(*servers_, flow);
  if (rs == nullptr) return nullptr;
  return rs->shared_from_this();
}

ServerList::const_iterator Service::FindLocked(Endpoint endpoint) const {
  return std::find_if(servers_->begin(), servers_->end(),
                      [&](const auto& rs) { return rs->endpoint() == endpoint; });
}

template <typename Commit>
void Service::Apply(std::shared_ptr<const ServerList> next, std::vector<int> weights,
                    ServerChange change, Commit commit) {
  auto* table_sched = dynamic_cast<sched_internal::TableScheduler*>(scheduler_.get());
  sched_internal::TableScheduler::AnyTable table;
  if (table_sched != nullptr) table = table_sched->BuildTable(*next, weights);
  {
    std::lock_guard<std::mutex> g(pick_mu_);
    commit();
    servers_.swap(next);
    if (table_sched != nullptr) {
      table_sched->InstallTable(*servers_, change, table);
    } else {
      scheduler_->OnServersChanged(*servers_, change);
    }
  }
  // The old list and the old table are freed here, off the pick lock.
}

Result<std::shared_ptr<RealServer>> Service::AddServer(Endpoint endpoint,
                                                       const RealServerOptions& options) {
  if (options.weight < 0 || options.weight > kMaxWeight) {
    return Status::Error("weight " + std::to_string(options.weight) + " out of range 0..65535");
  }
  std::lock_guard<std::mutex> u(update_mu_);
  if (FindLocked(endpoint) != servers_->end()) {
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
      break;
    }
  }
  const bool revived = rs != nullptr;
  if (!revived) rs = std::make_shared<RealServer>(endpoint, options);
  rs->SetLatencyDecay(latency_decay_, clock_);
  auto next = std::make_shared<ServerList>(*servers_);
  next->push_back(rs);
  std::vector<int> weights = WeightsOf(*servers_);
  weights.push_back(options.weight);  // a revived server comes back up
  Apply(std::move(next), std::move(weights), {ServerChange::Kind::kAdded, servers_->size()}, [&] {
    if (!revived) return;
    rs->SetConfiguredWeight(options.weight);
    rs->SetThresholds(options.upper_threshold, options.lower_threshold);
    rs->SetUp(true);
    rs->SetAvailable(true);
  });
  return rs;
}

Status Service::RemoveServer(Endpoint endpoint) {
  std::lock_guard<std::mutex> u(update_mu_);
  auto it = FindLocked(endpoint);
  if (it == servers_->end()) return Status::Error("no real server " + ToString(endpoint));
  const size_t index = static_cast<size_t>(it - servers_->begin());
  std::shared_ptr<RealServer> rs = *it;
  auto next = std::make_shared<ServerList>(*servers_);
  next->erase(next->begin() + static_cast<ptrdiff_t>(index));
  std::vector<int> weights = WeightsOf(*next);
  trash_.push_back(rs);
  Apply(std::move(next), std::move(weights), {ServerChange::Kind::kRemoved, index},
        [&] { rs->SetAvailable(false); });
  return Status::Ok();
}

Status Service::SetWeight(Endpoint endpoint, int weight) {
  if (weight < 0 || weight > kMaxWeight) {
    return Status::Error("weight " + std::to_string(weight) + " out of range 0..65535");
  }
  std::lock_guard<std::mutex> u(update_mu_);
  auto it = FindLocked(endpoint);
  if (it == servers_->end()) return Status::Error("no real server " + ToString(endpoint));
  const size_t index = static_cast<size_t>(it - servers_->begin());
  RealServer& rs = **it;
  std::vector<int> weights = WeightsOf(*servers_);
  weights[index] = rs.up() ? weight : 0;
  Apply(servers_, std::move(weights), {ServerChange::Kind::kUpdated, index},
        [&] { rs.SetConfiguredWeight(weight); });
  return Status::Ok();
}

Status Service::SetUp(Endpoint endpoint, bool up) {
  std::lock_guard<std::mutex> u(update_mu_);
  auto it = FindLocked(endpoint);
  if (it == servers_->end()) return Status::Error("no real server " + ToString(endpoint));
  if ((*it)->up() == up) return Status::Ok();
  const size_t index = static_cast<size_t>(it - servers_->begin());
  RealServer& rs = **it;
  std::vector<int> weights = WeightsOf(*servers_);
  weights[index] = up ? rs.configured_weight() : 0;
  Apply(servers_, std::move(weights), {ServerChange::Kind::kUpdated, index}, [&] { rs.SetUp(up); });
  return Status::Ok();
}

Status Service::SetThresholds(Endpoint endpoint, uint32_t upper, uint32_t lower) {
  std::lock_guard<std::mutex> u(update_mu_);
  auto it = FindLocked(endpoint);
  if (it == servers_->end()) return Status::Error("no real server " + ToString(endpoint));
  (*it)->SetThresholds(upper, lower);
  return Status::Ok();
}

Status Service::SetScheduler(std::string_view name, const SchedulerOptions& options) {
  auto sched = Scheduler::Create(name, options);
  if (!sched.ok()) return sched.status();
  std::unique_ptr<Scheduler> next = std::move(sched).value();
  std::lock_guard<std::mutex> u(update_mu_);
  latency_decay_ = options.ewma_decay;
  clock_ = options.clock;
  for (const auto& rs : *servers_) rs->SetLatencyDecay(latency_decay_, clock_);
  // Not yet visible to Pick(): built off the pick lock.
  next->OnServersChanged(*servers_, {ServerChange::Kind::kUpdated, 0});
  {
    std::lock_guard<std::mutex> g(pick_mu_);
    scheduler_.swap(next);
  }
  return Status::Ok();  // the old scheduler is freed here, off the pick lock
}

ServerList Service::Servers() const {
  std::shared_ptr<const ServerList> list;
  {
    std::lock_guard<std::mutex> g(pick_mu_);
    list = servers_;
  }
  return *list;
}

std::shared_ptr<RealServer> Service::Find(Endpoint endpoint) const {
  std::shared_ptr<const ServerList> list;
  {
    std::lock_guard<std::mutex> g(pick_mu_);
    list = servers_;
  }
  for (const auto& rs : *list) {
    if (rs->endpoint() == endpoint) return rs;
  }
  return nullptr;
}

std::string Service::scheduler_name() const {
  std::lock_guard<std::mutex> g(pick_mu_);
  return std::string(scheduler_->name());
}

}  // namespace lbd
