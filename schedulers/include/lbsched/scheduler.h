// Public header of liblbsched.
//
// Scheduler: the algorithm that picks a real server for a new flow. Eleven
// algorithms (rr wrr sh dh lc wlc sed nq lblc lblcr mh) reproduce the Linux
// kernel's net/netfilter/ipvs/ip_vs_*.c; four go beyond LVS: random (weighted
// random), p2c (power of d choices), ewma (Finagle's peak-EWMA latency x load,
// fed by RealServer::ReportLatency()) and rendezvous (weighted
// highest-random-weight hashing). Their classes are private and made by
// Scheduler::Create(name). Most users want Service (service.h), which owns the
// server list and a scheduler and adds the locking.
//
// Thread-safety: none. A Scheduler is driven by one caller at a time. Service
// serializes Pick() and the changes with one short lock, as the kernel does
// with svc->sched_lock, but builds the tables of a change (sh/dh buckets, the
// mh lookup table, wrr's gcd scan, the cumulative weights of random, p2c and
// ewma, rendezvous's server hashes) off that lock through a private interface
// and only swaps them in under it (service.h). random, p2c and ewma draw from
// a random stream the scheduler owns (seeded by SchedulerOptions::random_seed),
// so that stream too is guarded by the pick lock; under one seed, the same
// calls give the same picks.
#ifndef LBSCHED_SCHEDULER_H_
#define LBSCHED_SCHEDULER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lbsched/endpoint.h"
#include "lbsched/real_server.h"
#include "lbsched/status.h"

namespace lbd {

// Monotonic time, injected so that tests and simulations pin it.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::nanoseconds Now() const = 0;
};
// The process-wide steady clock.
const Clock& SteadyClock();

struct SchedulerOptions {
  // sh, mh, rendezvous: hash the client's source port together with its
  // address (ipvsadm --sched-flags sh-port). Default: false.
  bool hash_port = false;
  // sh, mh, rendezvous: when the hashed server is unusable, walk on to the
  // next usable one instead of failing (sh-fallback). Default: false.
  bool hash_fallback = false;
  // p2c, ewma: how many distinct usable servers a pick samples, each draw
  // weighted by weight among those not yet drawn (config: scheduler_flags
  // [choices=N]); 1 makes p2c a weighted random pick. 1..64; another value
  // than 2 is an error for the other schedulers. Default: 2.
  int choices = 2;
  // The time constant of every server's peak-EWMA latency signal
  // (RealServer::ReportLatency()), which ewma schedules by: a sample above
  // the estimate replaces it at once; otherwise, and while no sample comes,
  // the estimate decays by exp(-elapsed / ewma_decay) (config:
  // scheduler_flags [decay=10s]). Must be > 0. Default: 10 s (Finagle's
  // decayTime).
  std::chrono::nanoseconds ewma_decay = std::chrono::seconds(10);
  // random, p2c, ewma: the seed of the scheduler's own random stream
  // (xoshiro256** seeded through splitmix64, the same on every platform).
  // Default: none, seeded from std::random_device.
  std::optional<uint64_t> random_seed = std::nullopt;
  // mh: lookup table size; must be a prime > 2. Default: 65537.
  uint32_t mh_table_size = 65537;
  // lblc, lblcr: how long an unused destination entry lives, and (lblcr) how
  // old a server set must be before its most loaded member is dropped.
  // Default: 24 h (the kernel's lblc_expiration / lblcr_expiration).
  std::chrono::nanoseconds locality_expiration = std::chrono::hours(24);
  // lblc, lblcr: the bounds of the destination table, with the kernel's
  // periodic check (ip_vs_lblc.c, ip_vs_lblcr.c). Every
  // `locality_check_interval` (checked lazily, at the next pick) a check
  // runs. When the table holds more than `locality_soft_limit` destinations
  // it drops entries unused for at least `locality_entry_timeout`, at most
  // min((size - soft) * 4 / 3, soft / 2) of them; otherwise it counts, and
  // every 30th counted check drops all entries unused for longer than
  // `locality_expiration` (a full check). So a table stays above the soft
  // limit only while its entries are in use. Defaults: 60 s
  // (CHECK_EXPIRE_INTERVAL), 16384 (IP_VS_LBLC_TAB_SIZE * 16), 6 min
  // (ENTRY_TIMEOUT). All must be > 0.
  std::chrono::nanoseconds locality_check_interval = std::chrono::seconds(60);
  size_t locality_soft_limit = 16384;
  std::chrono::nanoseconds locality_entry_timeout = std::chrono::minutes(6);
  // lblc, lblcr: hard cap on the destinations remembered, so that a flood of
  // distinct destination addresses cannot grow the table without bound. A
  // new destination met while the table is full is scheduled (wlc) but not
  // remembered, as the kernel does when it cannot allocate an entry, until a
  // check frees room. Memory is then at most bit_ceil(2 * cap) slots: 32
  // bytes each for lblc (4 MiB at the default), 48 for lblcr plus 16 per
  // member of each server set (bench/README.md, "lblc/lblcr memory").
  // Default: 65536 (4 x the soft limit). Must be > 0, at most 2^30.
  size_t locality_max_entries = 65536;
  // Time source for lblc/lblcr and for the servers' latency signal (ewma).
  // Must outlive the scheduler and every RealServer::ReportLatency() call on
  // the service's servers. Default: SteadyClock().
  const Clock* clock = nullptr;
};

// The ordered list of real servers a scheduler sees (the service's "dests").
using ServerList = std::vector<std::shared_ptr<RealServer>>;

// What changed, for the schedulers that care (rr moves its cursor when the
// server under it is removed). Every change is a kernel "dest changed" event:
// a server added (at the end of the list), removed, its weight set (even to the
// same value), or a health transition.
struct ServerChange {
  enum class Kind { kAdded, kRemoved, kUpdated };
  Kind kind = Kind::kUpdated;
  // kAdded/kUpdated: index in the new list. kRemoved: index the server had in
  // the old list.
  size_t index = 0;
};

class Scheduler {
 public:
  // Names: rr wrr sh dh lc wlc sed nq lblc lblcr mh random p2c ewma
  // rendezvous. Unknown name or invalid options: an error naming them.
  static Result<std::unique_ptr<Scheduler>> Create(std::string_view name,
                                                   const SchedulerOptions& options);
  // Every name Create() accepts, in the order above.
  static std::span<const std::string_view> Names();

  virtual ~Scheduler() = default;

  virtual std::string_view name() const = 0;

  // The service's list after `change`. Rebuilds tables (wrr's gcd state, the
  // sh/dh/mh buckets) at once: an mh table of 65537 entries takes about 1 ms.
  // Called once with Kind::kUpdated on attach.
  virtual void OnServersChanged(const ServerList& servers, ServerChange change) = 0;

  // The server for a new flow, or nullptr when none can be chosen (not an
  // error). `servers` is the list last passed to OnServersChanged. Does not
  // touch the counters; never allocates except where a class says otherwise.
  virtual RealServer* Pick(const ServerList& servers, const Flow& flow) = 0;
};

}  // namespace lbd

#endif  // LBSCHED_SCHEDULER_H_
