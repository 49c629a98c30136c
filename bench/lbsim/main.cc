// lbsim: the scheduler simulator and trace replayer (see README.md).
//
//   lbsim --replay FILE|- [--expiration SECONDS]
//   lbsim [WORKLOAD.yaml] [--schedulers a,b] [--seed N] [--requests N]
//         [--csv | --json] [--plot DIR]
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "lbsched/scheduler.h"
#include "replay.h"
#include "simulate_main.h"

namespace {

constexpr const char* kUsage =
    "usage: lbsim --replay FILE|- [--expiration SECONDS]\n"
    "       lbsim [WORKLOAD.yaml] [--schedulers rr,wrr,...] [--seed N] [--requests N]\n"
    "             [--csv | --json] [--plot DIR] [--quiet]\n";

// Reads all of `path` ("-": stdin). False when it cannot be read.
bool ReadAll(const std::string& path, std::string* text) {
  std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text->append(buf, n);
  bool ok = std::ferror(f) == 0;
  if (f != stdin) std::fclose(f);
  return ok;
}

int ReplayMain(int argc, char** argv) {
  std::string trace;
  bool have_trace = false;
  lbd::lbsim::ReplayOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if ((arg == "--replay" || arg == "--expiration") && i + 1 >= argc) {
      std::fprintf(stderr, "lbsim: %s needs a value\n%s", argv[i], kUsage);
      return 2;
    }
    if (arg == "--replay") {
      trace = argv[++i];
      have_trace = true;
    } else if (arg == "--expiration") {
      std::chrono::nanoseconds e{};
      if (!lbd::lbsim::ParseSeconds(argv[++i], &e) || e.count() <= 0) {
        std::fprintf(stderr, "lbsim: --expiration: '%s' is not a positive number of seconds\n",
                     argv[i]);
        return 2;
      }
      options.expiration = e;
    } else {
      std::fprintf(stderr, "lbsim: unknown argument '%s' with --replay\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (!have_trace) {
    std::fprintf(stderr, "%s", kUsage);
    return 2;
  }
  std::string text;
  if (!ReadAll(trace, &text)) {
    std::fprintf(stderr, "lbsim: cannot read '%s': %s\n", trace.c_str(), std::strerror(errno));
    return 2;
  }
  return lbd::lbsim::Replay(text, trace == "-" ? "<stdin>" : trace, options, stdout, stderr);
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--replay") == 0) return ReplayMain(argc, argv);
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(kUsage, stdout);
      // The names that --schedulers and a workload's `schedulers:` take.
      std::fputs("schedulers:", stdout);
      for (std::string_view n : lbd::Scheduler::Names()) {
        std::printf(" %.*s", static_cast<int>(n.size()), n.data());
      }
      std::fputs("\n", stdout);
      return 0;
    }
  }
  return lbd::lbsim::SimulateMain(argc, argv);
}
