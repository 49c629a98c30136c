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
// Thread-safety: every method may be called from any thread. Pick() runs the
// scheduler under one short internal lock (the kernel's svc->sched_lock),
// because rr, wrr, lblc and lblcr update their state on every pick. The
// mutators are serialized by a second lock and do their expensive work off
// the pick lock (STYLE 7): they build the new server list and the new
// scheduler table (the mh lookup table, sh/dh buckets, wrr's gcd scan) with
// no lock that Pick() takes, then publish both under the pick lock with a
// pointer swap, so a Pick() never waits for a table build. A Pick() that runs
// concurrently with a mutator sees the service either before or after the
// change, never a mix; once a mutator returns, every later Pick() sees it.
// Counters live in the RealServer objects and are updated without any lock.
// The pick lock is a std::mutex: with the builds off it, a spin lock and a
// spin-then-futex lock measured no better, on a 2-core machine with up to 8
// picking threads (bench/README.md, "The pick lock under contention").
//
// Cost of a change: each mutator call that is an event builds the table at
// once, off the pick lock: about 1 ms for mh's 65537 entries, so adding N
// servers one by one to an mh service costs N builds. To fill a large mh
// service, add the servers under another scheduler and switch with
// SetScheduler() (one build).
//
// Latency: the servers' peak-EWMA signal (RealServer::ReportLatency()) uses
// the time constant and clock of the service's SchedulerOptions (ewma_decay,
// clock), whatever the algorithm; SetScheduler() passes the new ones on. The
// data plane reports to the RealServer it holds, without the service.
//
// A removed server stays alive while anyone holds it (a connection, an lblc
// entry). Adding the same address again revives that object with its counters,
// like the kernel's dest trash (ip_vs_trash_get_dest).
#ifndef LBSCHED_SERVICE_H_
#define LBSCHED_SERVICE_H_

#include <memory>
#include <mutex>
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

  // The servers in list order (a copy). Does not wait for a table build.
  ServerList Servers() const;
  std::shared_ptr<RealServer> Find(Endpoint endpoint) const;
  std::string scheduler_name() const;

 private:
  Service(std::unique_ptr<Scheduler> scheduler, const SchedulerOptions& options);
  // REQUIRES: update_mu_ held.
  ServerList::const_iterator FindLocked(Endpoint endpoint) const;
  // One "dest changed" event. REQUIRES: update_mu_ held. `next` is the list
  // after the change and weights[i] the weight next[i] has after it; the
  // scheduler's table for them is built here, off the pick lock; then, under
  // the pick lock, `commit` applies the change to the server objects and the
  // list and table are swapped in.
  template <typename Commit>
  void Apply(std::shared_ptr<const ServerList> next, std::vector<int> weights, ServerChange change,
             Commit commit);

  // The pick lock: held for a Pick() and for the swap that publishes a change.
  mutable std::mutex pick_mu_;
  // Serializes the mutators (and the readers of trash_).
  mutable std::mutex update_mu_;
  // Written under both locks, so either one is enough to read them.
  std::unique_ptr<Scheduler> scheduler_;
  std::shared_ptr<const ServerList> servers_;     // never null
  std::vector<std::weak_ptr<RealServer>> trash_;  // removed, maybe still referenced; update_mu_
  // The latency signal's settings for every server; update_mu_.
  std::chrono::nanoseconds latency_decay_;
  const Clock* clock_;
};

}  // namespace lbd

#endif  // LBSCHED_SERVICE_H_
