// random: a weighted random pick among the usable servers (weight > 0, no
// overload flag): server i with probability weight_i / sum of usable weights.
// Not an LVS scheduler. The draws come from the scheduler's own seeded stream
// (SchedulerOptions::random_seed), so a seeded run is reproducible.
// Complexity: O(log n) per pick (a binary search over cumulative weights,
// retried on a flagged server; O(n) once the retries run out). No allocation
// when picking; a change builds the cumulative weights off the service's lock
// (TableSchedulerOf).
#include "sampling.h"

namespace lbd::sched_internal {
namespace {

class RandomScheduler final : public TableSchedulerOf<WeightTable> {
 public:
  explicit RandomScheduler(const SchedulerOptions& o) : rng_(o.random_seed) {
    table_ = std::make_shared<const WeightTable>();
  }

  std::string_view name() const override { return "random"; }

  RealServer* Pick(const ServerList&, const Flow&) override {
    RealServer* out[1];
    int weight[1];
    return SampleDistinct(*table_, rng_, out, weight) == 1 ? out[0] : nullptr;
  }

 private:
  std::shared_ptr<const WeightTable> Build(const ServerList& servers,
                                           std::span<const int> weights) const override {
    return WeightTable::Build(servers, weights);
  }

  Rng rng_;
};

}  // namespace

std::unique_ptr<Scheduler> NewRandom(const SchedulerOptions& options) {
  return std::make_unique<RandomScheduler>(options);
}

}  // namespace lbd::sched_internal
