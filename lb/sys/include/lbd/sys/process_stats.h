// Header of lbd_sys (internal to lbd: not installed).
//
// The process's own resource use, read from /proc/self (the figures
// Prometheus clients export as process_*).
//
// Thread-safety: reentrant.
#ifndef LBD_SYS_PROCESS_STATS_H_
#define LBD_SYS_PROCESS_STATS_H_

#include <cstdint>

namespace lbd {

struct ProcessStats {
  double cpu_seconds = 0;         // user + system CPU time
  uint64_t resident_bytes = 0;    // RSS
  uint64_t virtual_bytes = 0;     // address space
  uint64_t open_fds = 0;          // entries in /proc/self/fd
  uint64_t max_fds = 0;           // RLIMIT_NOFILE soft limit
  double start_time_seconds = 0;  // since the Unix epoch
};

// Fields that cannot be read stay 0.
ProcessStats ReadProcessStats();

}  // namespace lbd

#endif  // LBD_SYS_PROCESS_STATS_H_
