#include "lbd/sys/rlimit.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

namespace lbd {
namespace {

uint64_t FromRlim(rlim_t v) { return v == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(v); }

// The kernel's ceiling for any RLIMIT_NOFILE (fs.nr_open); 1048576 when it
// cannot be read, the kernel's default.
rlim_t NrOpen() {
  std::ifstream in("/proc/sys/fs/nr_open");
  unsigned long long v = 0;
  if (in >> v && v > 0) return static_cast<rlim_t>(v);
  return 1048576;
}

}  // namespace

Result<FdLimit> GetFdLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return Status::Error(std::string("getrlimit: ") + std::strerror(errno));
  }
  return FdLimit{FromRlim(rl.rlim_cur), FromRlim(rl.rlim_max)};
}

Result<FdLimit> RaiseFdLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return Status::Error(std::string("getrlimit: ") + std::strerror(errno));
  }
  rlim_t target = rl.rlim_max;
  if (target == RLIM_INFINITY || target > NrOpen()) target = NrOpen();
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < target) {
    rlimit raised = rl;
    raised.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      return Status::Error(std::string("setrlimit: ") + std::strerror(errno));
    }
    rl = raised;
  }
  return FdLimit{FromRlim(rl.rlim_cur), FromRlim(rl.rlim_max)};
}

}  // namespace lbd
