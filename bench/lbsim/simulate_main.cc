#include "simulate_main.h"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "lbsched/scheduler.h"
#include "report.h"
#include "sim.h"
#include "workload.h"

namespace lbd::lbsim {
namespace {

struct Args {
  std::string workload;  // empty: built-in
  std::vector<std::string> schedulers;
  uint64_t seed = 1;
  int64_t requests = 0;
  bool csv = false;
  bool json = false;
  bool quiet = false;
  std::string plot_dir;
};

bool ParseU64(std::string_view s, uint64_t* out) {
  auto [next, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && next == s.data() + s.size() && !s.empty();
}

Status ParseArgs(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&](std::string_view* v) -> Status {
      if (i + 1 >= argc) return Status::Error(std::string(arg) + " needs a value");
      *v = argv[++i];
      return Status::Ok();
    };
    std::string_view v;
    if (arg == "--schedulers") {
      if (Status s = value(&v); !s.ok()) return s;
      auto names = Scheduler::Names();
      while (!v.empty()) {
        size_t comma = v.find(',');
        std::string_view name = v.substr(0, comma);
        if (std::find(names.begin(), names.end(), name) == names.end()) {
          return Status::Error("--schedulers: unknown scheduler '" + std::string(name) + "'");
        }
        a->schedulers.emplace_back(name);
        v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
      }
      if (a->schedulers.empty()) return Status::Error("--schedulers: empty list");
    } else if (arg == "--seed") {
      if (Status s = value(&v); !s.ok()) return s;
      if (!ParseU64(v, &a->seed)) return Status::Error("--seed: expected a number");
    } else if (arg == "--requests") {
      if (Status s = value(&v); !s.ok()) return s;
      uint64_t n = 0;
      if (!ParseU64(v, &n) || n == 0 || n > (uint64_t{1} << 32)) {
        return Status::Error("--requests: expected a number in 1..2^32");
      }
      a->requests = static_cast<int64_t>(n);
    } else if (arg == "--plot") {
      if (Status s = value(&v); !s.ok()) return s;
      a->plot_dir = v;
    } else if (arg == "--csv") {
      a->csv = true;
    } else if (arg == "--json") {
      a->json = true;
    } else if (arg == "--quiet" || arg == "-q") {
      a->quiet = true;
    } else if (!arg.empty() && arg[0] == '-') {
      return Status::Error("unknown option '" + std::string(arg) + "'");
    } else if (a->workload.empty()) {
      a->workload = arg;
    } else {
      return Status::Error("more than one workload file given");
    }
  }
  if (a->csv && a->json) return Status::Error("--csv and --json exclude each other");
  return Status::Ok();
}

}  // namespace

int SimulateMain(int argc, char** argv) {
  Args args;
  if (Status s = ParseArgs(argc, argv, &args); !s.ok()) {
    std::fprintf(stderr, "lbsim: %s (see lbsim --help)\n", s.message().c_str());
    return 2;
  }
  Workload w = DefaultWorkload();
  if (!args.workload.empty()) {
    auto loaded = LoadWorkload(args.workload);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().message().c_str());
      return 2;
    }
    w = std::move(loaded).value();
  }
  std::vector<std::string> schedulers = args.schedulers;
  if (schedulers.empty()) schedulers = w.schedulers;
  if (schedulers.empty()) {
    for (std::string_view n : Scheduler::Names()) schedulers.emplace_back(n);
  }
  RunInfo info;
  info.seed = args.seed;
  info.requests = args.requests > 0 ? args.requests : w.requests;
  info.mean_rate = static_cast<double>(info.requests) / ExpectedDuration(w, info.requests);

  const bool tty = ::isatty(STDERR_FILENO) != 0;
  const auto start = std::chrono::steady_clock::now();
  std::vector<SimResult> results;
  for (size_t i = 0; i < schedulers.size(); ++i) {
    const std::string& name = schedulers[i];
    SimOptions o;
    o.seed = args.seed;
    o.requests = info.requests;
    if (!args.quiet && tty) {
      o.progress = [&](double f) {
        std::fprintf(stderr, "\rlbsim: [%zu/%zu] %-5s %3.0f%%", i + 1, schedulers.size(),
                     name.c_str(), f * 100);
        std::fflush(stderr);
      };
    }
    auto r = Simulate(w, name, o);
    if (!r.ok()) {
      std::fprintf(stderr, "%slbsim: %s: %s\n", tty && !args.quiet ? "\n" : "", name.c_str(),
                   r.status().message().c_str());
      return 1;
    }
    if (!args.quiet) {
      std::fprintf(stderr, "%slbsim: [%zu/%zu] %-5s done in %.2f s\n", tty ? "\r" : "", i + 1,
                   schedulers.size(), name.c_str(), r->wall_seconds);
    }
    results.push_back(std::move(r).value());
  }
  if (!args.quiet) {
    std::fprintf(stderr, "lbsim: %zu schedulers x %lld requests in %.2f s\n", schedulers.size(),
                 static_cast<long long>(info.requests),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::string out = args.csv    ? FormatCsv(results)
                    : args.json ? FormatJson(w, info, results)
                                : FormatTable(w, info, results);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (!args.plot_dir.empty()) {
    if (Status s = WritePlots(w, results, args.plot_dir); !s.ok()) {
      std::fprintf(stderr, "lbsim: --plot: %s\n", s.message().c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace lbd::lbsim
