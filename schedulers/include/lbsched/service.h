// Public header of liblbsched.
//
// Service: a virtual service's ordered list of real servers plus its
// scheduler; what an embedding program uses.
//
//   auto svc = lbd::Service::Create("wrr").value();
//   (void)svc->AddServer(*lbd::ParseEndpoint("10.0.0.1:80"), {.weight = 3});
//   std::shared_ptr<lbd::RealServer> rs = svc->Pick(flow);  // nullptr: none
//   rs->ConnectionOpened(/*active=*/true); ... rs->ConnectionClosed(true);
//
// Thread-safety: every method may be called from any thread. Pick() and the
// mutators are serialized by one internal spin lock held for the duration of
// the scheduler's work (the kernel's svc->sched_lock); counters live in the
// RealServer objects and are updated without the lock.
//
// A removed server stays alive while anyone holds it (a connection, an lblc
// entry). Adding the same address again revives that object with its counters,
// like the kernel's dest trash (ip_vs_trash_get_dest).
#ifndef LBSCHED_SERVICE_H_
#define LBSCHED_SERVICE_H_

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lbsched/scheduler.h"

namespace lbd {

class Service {
 public:
  static Result<std::unique_ptr<Service>> Create(std::string_view scheduler,
                                                 const SchedulerOptions& options = {});
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;
  ~Service();

  // The server for a new flow, or nullptr when none can be chosen.
  std::shared_ptr<RealServer> Pick(const Flow& flow);

  // Each of these is a "dest changed" event for the scheduler.
  // Appends a server. Error: address already in the service, weight out of range.
  Result<std::shared_ptr<RealServer>> AddServer(Endpoint endpoint,
                                                const RealServerOptions& options);
  Status RemoveServer(Endpoint endpoint);
  // Sets the configured weight (an event even when unchanged, like ipvsadm -e).
  Status SetWeight(Endpoint endpoint, int weight);
  // Health: down acts as weight 0. Only a transition is an event.
  Status SetUp(Endpoint endpoint, bool up);

  // Not an event: thresholds only drive the overload flag. As in the kernel's
  // __ip_vs_update_dest(), removing or raising the upper threshold clears the
  // flag at once.
  Status SetThresholds(Endpoint endpoint, uint32_t upper, uint32_t lower);

  // Replaces the algorithm; the new one starts from the current list.
  Status SetScheduler(std::string_view name, const SchedulerOptions& options);

  // The servers in list order (a copy).
  ServerList Servers() const;
  std::shared_ptr<RealServer> Find(Endpoint endpoint) const;
  std::string scheduler_name() const;

 private:
  class Guard;
  explicit Service(std::unique_ptr<Scheduler> scheduler);
  // REQUIRES: lock held.
  ServerList::const_iterator FindLocked(Endpoint endpoint) const;
  void Lock() const;
  void Unlock() const;

  mutable std::atomic<bool> locked_{false};
  std::unique_ptr<Scheduler> scheduler_;          // guarded by locked_
  ServerList servers_;                            // guarded by locked_
  std::vector<std::weak_ptr<RealServer>> trash_;  // removed, maybe still referenced
};

}  // namespace lbd

#endif  // LBSCHED_SERVICE_H_
