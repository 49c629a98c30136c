// Public header of liblbsched.
//
// RealServer: one back end of a virtual service (IPVS's "dest"): its address,
// weight, health, active/inactive connection counters and the overload flag
// driven by upper/lower connection thresholds, and the peak-EWMA latency
// signal the data plane feeds (ReportLatency(), for the ewma scheduler).
//
// Thread-safety: every accessor and every counter update may be called from
// any thread at any time (relaxed atomics: counters are statistics that feed
// the schedulers, as in the kernel). The latency signal is two numbers under
// a per-server mutex held for a few arithmetic operations. Weight, health and membership change
// only through Service, which turns them into "dest changed" events for the scheduler; that is why
// their setters are private.
#ifndef LBSCHED_REAL_SERVER_H_
#define LBSCHED_REAL_SERVER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>

#include "lbsched/endpoint.h"

namespace lbd {

inline constexpr int kMaxWeight = 65535;

class Clock;  // scheduler.h

struct RealServerOptions {
  int weight = 1;                // 0..65535; 0 quiesces the server. Default: 1.
  uint32_t upper_threshold = 0;  // active+inactive at which the overload flag is set
                                 // (config key max_conns); 0 = none. Default: 0.
  uint32_t lower_threshold = 0;  // total below which the flag clears; 0 = 3/4 of the
                                 // upper threshold. Default: 0.
};

// Always owned by a std::shared_ptr (Service makes them).
class RealServer : public std::enable_shared_from_this<RealServer> {
 public:
  RealServer(Endpoint endpoint, const RealServerOptions& options);
  RealServer(const RealServer&) = delete;
  RealServer& operator=(const RealServer&) = delete;

  Endpoint endpoint() const { return endpoint_; }

  // The weight schedulers use: the configured weight while up, 0 while down
  // (keepalived's inhibit_on_failure behaviour).
  int weight() const { return weight_.load(std::memory_order_relaxed); }
  int configured_weight() const { return configured_weight_.load(std::memory_order_relaxed); }
  bool up() const { return up_.load(std::memory_order_relaxed); }
  // False once the server was removed from its service (IP_VS_DEST_F_AVAILABLE).
  bool available() const { return available_.load(std::memory_order_relaxed); }
  bool overloaded() const { return overloaded_.load(std::memory_order_relaxed); }
  uint32_t upper_threshold() const { return upper_threshold_.load(std::memory_order_relaxed); }
  uint32_t lower_threshold() const { return lower_threshold_.load(std::memory_order_relaxed); }

  int active() const { return active_.load(std::memory_order_relaxed); }
  int inactive() const { return inactive_.load(std::memory_order_relaxed); }
  // ip_vs_dest_conn_overhead(): active * 256 + inactive.
  int64_t overhead() const { return int64_t{active()} * 256 + inactive(); }

  // Connection accounting by the data plane, as ip_vs_bind_dest() /
  // ip_vs_unbind_dest() and the TCP state transitions count them.
  // A new connection: counted active or inactive; sets the overload flag when
  // active+inactive reaches the upper threshold.
  void ConnectionOpened(bool active);
  // An established connection starts closing (active -> inactive), or the reverse.
  void ConnectionDeactivated();
  void ConnectionActivated();
  // A connection is gone; clears the overload flag below the lower threshold
  // (or 3/4 of the upper one when no lower threshold is set).
  void ConnectionClosed(bool was_active);

  // Direct settings, for traces, tests and simulations (lbsim); the data plane
  // uses the accounting calls above.
  void SetCounters(int active, int inactive);
  void SetOverloaded(bool overloaded) { overloaded_.store(overloaded, std::memory_order_relaxed); }

  // The latency signal (Finagle's peak EWMA, used by the ewma scheduler and
  // shown by status displays). The data plane reports one sample per
  // connection to this server: in proxy mode the time connect() took and,
  // optionally, a second sample, the time from the connect to the server's
  // first byte; packet modes have no signal. A sample above the current
  // estimate replaces it at once (the "peak"); a lower one is averaged in with
  // weight 1 - exp(-dt / decay), dt the time since the previous sample; with
  // no samples the estimate decays towards 0 by exp(-dt / decay), so a server
  // that has gone quiet is tried again. `decay` and the clock are the
  // service's SchedulerOptions::ewma_decay and clock (Service sets them).
  // Thread-safe, never blocks for long; a negative sample counts as 0. Cheap
  // enough to call for every connection whatever the scheduler.
  void ReportLatency(std::chrono::nanoseconds sample);
  // The estimate decayed to now, in nanoseconds; 0 before the first sample.
  double LatencyEstimate() const;

 private:
  friend class Service;

  void SetConfiguredWeight(int weight);
  void SetUp(bool up);
  void SetAvailable(bool available) { available_.store(available, std::memory_order_relaxed); }
  void SetThresholds(uint32_t upper, uint32_t lower);
  // REQUIRES: decay > 0; `clock` outlives every later report and estimate.
  void SetLatencyDecay(std::chrono::nanoseconds decay, const Clock* clock);

  const Endpoint endpoint_;
  std::atomic<int> weight_;
  std::atomic<int> configured_weight_;
  std::atomic<bool> up_{true};
  std::atomic<bool> available_{true};
  std::atomic<bool> overloaded_{false};
  std::atomic<uint32_t> upper_threshold_;
  std::atomic<uint32_t> lower_threshold_;
  alignas(64) std::atomic<int> active_{0};
  std::atomic<int> inactive_{0};

  mutable std::mutex latency_mu_;
  double latency_ns_ = 0;                                   // the estimate at latency_stamp_
  std::chrono::nanoseconds latency_stamp_{0};               // when it was last updated
  std::chrono::nanoseconds latency_decay_{10'000'000'000};  // set by Service
  const Clock* latency_clock_ = nullptr;                    // nullptr: SteadyClock()
};

}  // namespace lbd

#endif  // LBSCHED_REAL_SERVER_H_
