// ewma: peak-EWMA (Finagle, finagle-core loadbalancer/PeakEwma.scala and
// Balancers.p2cPeakEwma; also linkerd2-proxy's PeakEwma). Each server's cost
// is its latency estimate (RealServer::ReportLatency(): a decaying average
// that jumps up at once to a worse sample, time constant
// SchedulerOptions::ewma_decay) times (active + 1), divided by its weight. A
// pick draws d distinct usable servers as p2c does (d = choices, default 2)
// and takes the cheapest; on a tie the one drawn first. As in Finagle, a
// server with no estimate yet costs 0 while idle (so a new server is tried
// at once) and a large penalty plus its active count while busy (so it is
// not flooded before its first sample arrives).
// The signal comes from the data plane (lbd's proxy mode reports connect
// times, lbsim each request's response time); without it (packet modes) all
// estimates stay 0 and ewma degenerates to p2c over active + 1.
// Complexity: O(d log n) per pick plus d estimate reads (a per-server mutex
// each). No allocation when picking.
#include <array>

#include "sampling.h"

namespace lbd::sched_internal {
namespace {

// Finagle's Penalty (Long.MaxValue >> 16), in nanoseconds.
constexpr double kPenalty = static_cast<double>(INT64_MAX >> 16);

double Cost(const RealServer& rs) {
  const double estimate = rs.LatencyEstimate();
  const int active = rs.active();
  if (estimate == 0 && active > 0) return kPenalty + active;
  return estimate * (active + 1.0);
}

class EwmaScheduler final : public TableSchedulerOf<WeightTable> {
 public:
  explicit EwmaScheduler(const SchedulerOptions& o)
      : rng_(o.random_seed), choices_(static_cast<size_t>(o.choices)) {
    table_ = std::make_shared<const WeightTable>();
  }

  std::string_view name() const override { return "ewma"; }

  RealServer* Pick(const ServerList&, const Flow&) override {
    std::array<RealServer*, kMaxChoices> drawn;
    std::array<int, kMaxChoices> weights;
    const size_t k = SampleDistinct(*table_, rng_, std::span(drawn).first(choices_),
                                    std::span(weights).first(choices_));
    if (k == 0) return nullptr;
    size_t best = 0;
    double best_cost = Cost(*drawn[0]) / weights[0];
    for (size_t i = 1; i < k; ++i) {
      const double cost = Cost(*drawn[i]) / weights[i];
      if (cost < best_cost) {
        best = i;
        best_cost = cost;
      }
    }
    return drawn[best];
  }

 private:
  std::shared_ptr<const WeightTable> Build(const ServerList& servers,
                                           std::span<const int> weights) const override {
    return WeightTable::Build(servers, weights);
  }

  Rng rng_;
  const size_t choices_;
};

}  // namespace

std::unique_ptr<Scheduler> NewEwma(const SchedulerOptions& options) {
  return std::make_unique<EwmaScheduler>(options);
}

}  // namespace lbd::sched_internal
