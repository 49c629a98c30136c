#include "lbsched/scheduler.h"

#include <array>

#include "common.h"
#include "sampling.h"

namespace lbd {
namespace {

class SteadyClockImpl final : public Clock {
 public:
  std::chrono::nanoseconds Now() const override {
    return std::chrono::steady_clock::now().time_since_epoch();
  }
};

constexpr std::array<std::string_view, 15> kNames = {"rr",  "wrr",    "sh",  "dh",   "lc",
                                                     "wlc", "sed",    "nq",  "lblc", "lblcr",
                                                     "mh",  "random", "p2c", "ewma", "rendezvous"};

bool IsPrime(uint32_t n) {
  if (n < 2) return false;
  for (uint32_t d = 2; uint64_t{d} * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

}  // namespace

const Clock& SteadyClock() {
  static const SteadyClockImpl clock;
  return clock;
}

std::span<const std::string_view> Scheduler::Names() { return kNames; }

Result<std::unique_ptr<Scheduler>> Scheduler::Create(std::string_view name,
                                                     const SchedulerOptions& options) {
  using namespace sched_internal;
  const bool hashing = name == "sh" || name == "mh" || name == "rendezvous";
  if ((options.hash_port || options.hash_fallback) && !hashing) {
    return Status::Error(
        "flags port/fallback apply only to the sh, mh and rendezvous schedulers, not '" +
        std::string(name) + "'");
  }
  const bool choosing = name == "p2c" || name == "ewma";
  if (options.choices != 2 && !choosing) {
    return Status::Error("flag choices applies only to the p2c and ewma schedulers, not '" +
                         std::string(name) + "'");
  }
  if (options.choices < 1 || options.choices > kMaxChoices) {
    return Status::Error("choices " + std::to_string(options.choices) + " out of range 1..64");
  }
  if (options.ewma_decay.count() <= 0) return Status::Error("ewma decay must be positive");
  if (name == "rr") return NewRr();
  if (name == "wrr") return NewWrr();
  if (name == "lc") return NewLc();
  if (name == "wlc") return NewWlc();
  if (name == "sed") return NewSed();
  if (name == "nq") return NewNq();
  if (name == "sh") return NewSh(options);
  if (name == "dh") return NewDh();
  if (name == "lblc" || name == "lblcr") {
    if (options.locality_expiration.count() <= 0) {
      return Status::Error("locality expiration must be positive");
    }
    if (options.locality_check_interval.count() <= 0 ||
        options.locality_entry_timeout.count() <= 0) {
      return Status::Error("locality check interval and entry timeout must be positive");
    }
    if (options.locality_soft_limit == 0 || options.locality_max_entries == 0 ||
        options.locality_max_entries > (size_t{1} << 30)) {
      return Status::Error("locality soft limit must be positive and max entries in 1..2^30");
    }
    return name == "lblc" ? NewLblc(options) : NewLblcr(options);
  }
  if (name == "mh") {
    if (options.mh_table_size < 3 || !IsPrime(options.mh_table_size)) {
      return Status::Error("mh table size " + std::to_string(options.mh_table_size) +
                           " is not a prime > 2");
    }
    return NewMh(options);
  }
  if (name == "random") return NewRandom(options);
  if (name == "p2c") return NewP2c(options);
  if (name == "ewma") return NewEwma(options);
  if (name == "rendezvous") return NewRendezvous(options);
  return Status::Error(
      "unknown scheduler '" + std::string(name) +
      "' (expected rr wrr sh dh lc wlc sed nq lblc lblcr mh random p2c ewma rendezvous)");
}

}  // namespace lbd
