#include "lbsched/real_server.h"

#include <algorithm>
#include <cmath>

#include "lbsched/scheduler.h"

namespace lbd {

RealServer::RealServer(Endpoint endpoint, const RealServerOptions& options)
    : endpoint_(endpoint),
      weight_(options.weight),
      configured_weight_(options.weight),
      upper_threshold_(options.upper_threshold),
      lower_threshold_(options.lower_threshold) {}

void RealServer::SetConfiguredWeight(int weight) {
  configured_weight_.store(weight, std::memory_order_relaxed);
  weight_.store(up() ? weight : 0, std::memory_order_relaxed);
}

void RealServer::SetUp(bool up) {
  up_.store(up, std::memory_order_relaxed);
  weight_.store(up ? configured_weight() : 0, std::memory_order_relaxed);
}

// __ip_vs_update_dest(): removing the upper threshold, or raising it, clears
// the overload flag at once; lowering it leaves the flag to the next
// connection event.
void RealServer::SetThresholds(uint32_t upper, uint32_t lower) {
  if (upper == 0 || upper > upper_threshold()) {
    overloaded_.store(false, std::memory_order_relaxed);
  }
  upper_threshold_.store(upper, std::memory_order_relaxed);
  lower_threshold_.store(lower, std::memory_order_relaxed);
}

void RealServer::SetCounters(int active, int inactive) {
  active_.store(active, std::memory_order_relaxed);
  inactive_.store(inactive, std::memory_order_relaxed);
}

// ip_vs_bind_dest(): the flag is set once the total reaches the upper threshold.
void RealServer::ConnectionOpened(bool active) {
  (active ? active_ : inactive_).fetch_add(1, std::memory_order_relaxed);
  uint32_t upper = upper_threshold();
  if (upper != 0 && static_cast<uint32_t>(this->active() + inactive()) >= upper) {
    overloaded_.store(true, std::memory_order_relaxed);
  }
}

void RealServer::ConnectionDeactivated() {
  active_.fetch_sub(1, std::memory_order_relaxed);
  inactive_.fetch_add(1, std::memory_order_relaxed);
}

void RealServer::ConnectionActivated() {
  inactive_.fetch_sub(1, std::memory_order_relaxed);
  active_.fetch_add(1, std::memory_order_relaxed);
}

// ip_vs_unbind_dest(): below the lower threshold, or below 3/4 of the upper
// one when no lower threshold is set; with no thresholds at all the flag clears.
void RealServer::ConnectionClosed(bool was_active) {
  (was_active ? active_ : inactive_).fetch_sub(1, std::memory_order_relaxed);
  uint64_t total = static_cast<uint64_t>(std::max(0, active() + inactive()));
  uint32_t upper = upper_threshold();
  uint32_t lower = lower_threshold();
  bool clear;
  if (lower != 0) {
    clear = total < lower;
  } else if (upper != 0) {
    clear = total * 4 < uint64_t{upper} * 3;
  } else {
    clear = true;
  }
  if (clear) overloaded_.store(false, std::memory_order_relaxed);
}

void RealServer::SetLatencyDecay(std::chrono::nanoseconds decay, const Clock* clock) {
  std::lock_guard<std::mutex> g(latency_mu_);
  latency_decay_ = decay;
  latency_clock_ = clock;
}

// Finagle's PeakEwma (finagle-core, loadbalancer/PeakEwma.scala): observe().
void RealServer::ReportLatency(std::chrono::nanoseconds sample) {
  const double x = static_cast<double>(std::max<int64_t>(0, sample.count()));
  std::lock_guard<std::mutex> g(latency_mu_);
  const std::chrono::nanoseconds now = (latency_clock_ ? *latency_clock_ : SteadyClock()).Now();
  const double dt = static_cast<double>(std::max<int64_t>(0, (now - latency_stamp_).count()));
  const double w = std::exp(-dt / static_cast<double>(latency_decay_.count()));
  latency_ns_ = x > latency_ns_ ? x : latency_ns_ * w + x * (1 - w);
  latency_stamp_ = now;
}

// observe(0) without storing it: decaying is the same whenever it is applied.
double RealServer::LatencyEstimate() const {
  std::lock_guard<std::mutex> g(latency_mu_);
  if (latency_ns_ == 0) return 0;
  const std::chrono::nanoseconds now = (latency_clock_ ? *latency_clock_ : SteadyClock()).Now();
  const double dt = static_cast<double>(std::max<int64_t>(0, (now - latency_stamp_).count()));
  return latency_ns_ * std::exp(-dt / static_cast<double>(latency_decay_.count()));
}

}  // namespace lbd
