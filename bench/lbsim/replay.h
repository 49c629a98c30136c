// Internal header of lbsim: `lbsim --replay`, the exact-trace mode.
//
// A trace drives one lbd::Service through the scheduler library, one directive
// a line (see bench/lbsim/README.md for the grammar), and every `pick` prints
// the chosen server's ID or '-'. The trace is a contract with the tests that
// compare lbsim to an independent model of the kernel, so the mapping onto the
// Service API is one call per directive and nothing else.
//
// Thread-safety: single-threaded; each call owns its Service.
#ifndef LBD_BENCH_LBSIM_REPLAY_H_
#define LBD_BENCH_LBSIM_REPLAY_H_

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

namespace lbd::lbsim {

struct ReplayOptions {
  // lblc/lblcr entry lifetime (and lblcr's set age). Default: 24 h.
  std::chrono::nanoseconds expiration = std::chrono::hours(24);
};

// Replays `text` (the whole trace; `name` labels error messages). Writes the
// pick lines to `out` and at most one error, "NAME:LINE: message", to `err`.
// Returns the process exit status: 0, or 2 for a malformed trace (the picks
// before the bad line are still written).
int Replay(std::string_view text, const std::string& name, const ReplayOptions& options,
           std::FILE* out, std::FILE* err);

// Parses a non-negative decimal number of seconds ("12", "0.25", "1e-05")
// exactly to nanoseconds (digits below a nanosecond are dropped). False on
// anything else, and above ~285 years.
bool ParseSeconds(std::string_view text, std::chrono::nanoseconds* out);

}  // namespace lbd::lbsim

#endif  // LBD_BENCH_LBSIM_REPLAY_H_
