#include "lbd/sys/process_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace lbd {
namespace {

// Seconds since the epoch at which the system booted (/proc/stat "btime").
double BootTime() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> value;
      return value;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

ProcessStats ReadProcessStats() {
  ProcessStats s;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the command name, which sits in parentheses and may hold spaces.
    const size_t close = line.rfind(')');
    if (close != std::string::npos && ticks > 0) {
      std::istringstream rest(line.substr(close + 2));
      std::string f[22];
      for (auto& field : f) rest >> field;
      // rest[0] is field 3 (state): utime 14, stime 15, starttime 22, vsize 23, rss 24.
      const double utime = std::atof(f[11].c_str()), stime = std::atof(f[12].c_str());
      s.cpu_seconds = (utime + stime) / ticks;
      s.start_time_seconds = BootTime() + std::atof(f[19].c_str()) / ticks;
      s.virtual_bytes = std::strtoull(f[20].c_str(), nullptr, 10);
      s.resident_bytes = static_cast<uint64_t>(std::atof(f[21].c_str()) * page);
    }
  }
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++s.open_fds;
    }
    closedir(d);
    if (s.open_fds > 0) --s.open_fds;  // the directory stream's own descriptor
  }
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) s.max_fds = rl.rlim_cur;
  return s;
}

}  // namespace lbd
