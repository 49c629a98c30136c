// rendezvous: weighted highest-random-weight hashing (Thaler and Ravishankar,
// "Using Name-Based Mappings to Increase Hit Rates", IEEE/ACM ToN 6(1), 1998;
// weights by Schindelhauer and Schomaker's logarithmic method, "Weighted
// Distributed Hash Tables", SPAA 2005). For a flow's key (source address,
// plus source port with hash_port) every server with weight > 0 scores
// w / -ln(u), u = hash(key, server address and port) mapped into (0, 1), and
// the highest score wins. A server's score does not depend on the others, so
// removing one of N servers moves only the flows it had (about 1/N of them)
// and adding one takes about w / sum(w) of the flows, all to itself; each
// server receives a w / sum(w) share of the keys. As with sh and mh, an
// unusable winner (overload flag) fails the pick unless hash_fallback, which
// takes the highest-scoring usable server instead.
// Not an LVS scheduler. Complexity: O(n) per pick (a hash and a logarithm
// per server), no allocation; a change builds the server hashes off the
// service's lock (TableSchedulerOf).
#include <cmath>
#include <vector>

#include "common.h"

namespace lbd::sched_internal {
namespace {

constexpr uint64_t kSeedServer = 4;

struct Candidate {
  RealServer* server;
  uint64_t hash;  // of its address and port
  double weight;
};

using Candidates = std::vector<Candidate>;

class RendezvousScheduler final : public TableSchedulerOf<Candidates> {
 public:
  explicit RendezvousScheduler(const SchedulerOptions& o)
      : port_(o.hash_port), fallback_(o.hash_fallback) {
    table_ = std::make_shared<const Candidates>();
  }

  std::string_view name() const override { return "rendezvous"; }

  RealServer* Pick(const ServerList&, const Flow& flow) override {
    const uint64_t key = (uint64_t{flow.source.ip} << 16) | (port_ ? flow.source.port : 0u);
    const Candidate* best = nullptr;
    const Candidate* best_usable = nullptr;
    double best_score = -1, best_usable_score = -1;
    for (const Candidate& c : *table_) {
      // u in (0, 1): 53 bits and a half step, so -ln(u) is finite and > 0.
      const double u = (static_cast<double>(Mix(key, c.hash) >> 11) + 0.5) * 0x1.0p-53;
      const double score = c.weight / -std::log(u);
      if (score > best_score) {
        best = &c;
        best_score = score;
      }
      if (score > best_usable_score && Usable(*c.server)) {
        best_usable = &c;
        best_usable_score = score;
      }
    }
    if (best == nullptr) return nullptr;
    if (best == best_usable) return best->server;
    return fallback_ && best_usable != nullptr ? best_usable->server : nullptr;
  }

 private:
  std::shared_ptr<const Candidates> Build(const ServerList& servers,
                                          std::span<const int> weights) const override {
    auto t = std::make_shared<Candidates>();
    for (size_t i = 0; i < servers.size(); ++i) {
      if (weights[i] <= 0) continue;
      const Endpoint ep = servers[i]->endpoint();
      t->push_back({servers[i].get(), Mix((uint64_t{ep.ip} << 16) | ep.port, kSeedServer),
                    static_cast<double>(weights[i])});
    }
    return t;
  }

  const bool port_;
  const bool fallback_;
};

}  // namespace

std::unique_ptr<Scheduler> NewRendezvous(const SchedulerOptions& options) {
  return std::make_unique<RendezvousScheduler>(options);
}

}  // namespace lbd::sched_internal
