// p2c: the power of d choices (Mitzenmacher, "The Power of Two Choices in
// Randomized Load Balancing", IEEE TPDS 12(10), 2001; Azar, Broder, Karlin
// and Upfal, "Balanced Allocations", 1994). A pick draws d distinct usable
// servers (d = SchedulerOptions::choices, default 2), each draw weighted by
// weight among the servers not drawn yet, and takes the one with the least
// active connections per weight; on a tie the one drawn first. With n equal
// servers and n requests that all stay, the most loaded server ends with
// about ln ln n / ln d + O(1) requests, against ln n / ln ln n for a random
// pick (tests/lbsim/theory_test.cc measures both).
// Not an LVS scheduler. Draws come from the scheduler's own seeded stream.
// Complexity: O(d log n) per pick (sampling.h). No allocation when picking.
#include <array>

#include "sampling.h"

namespace lbd::sched_internal {
namespace {

class P2cScheduler final : public TableSchedulerOf<WeightTable> {
 public:
  explicit P2cScheduler(const SchedulerOptions& o)
      : rng_(o.random_seed), choices_(static_cast<size_t>(o.choices)) {
    table_ = std::make_shared<const WeightTable>();
  }

  std::string_view name() const override { return "p2c"; }

  RealServer* Pick(const ServerList&, const Flow&) override {
    std::array<RealServer*, kMaxChoices> drawn;
    std::array<int, kMaxChoices> weights;
    const size_t k = SampleDistinct(*table_, rng_, std::span(drawn).first(choices_),
                                    std::span(weights).first(choices_));
    if (k == 0) return nullptr;
    size_t best = 0;
    for (size_t i = 1; i < k; ++i) {
      if (MoreLoaded(drawn[best]->active(), weights[best], drawn[i]->active(), weights[i])) {
        best = i;
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

std::unique_ptr<Scheduler> NewP2c(const SchedulerOptions& options) {
  return std::make_unique<P2cScheduler>(options);
}

}  // namespace lbd::sched_internal
