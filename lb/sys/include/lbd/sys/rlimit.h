// Header of lbd_sys (internal to lbd: not installed).
//
// The descriptor limit (RLIMIT_NOFILE). lbd raises its soft limit to the hard
// limit at start, like HAProxy and nginx do, so that the connection budget
// (global.maxconn) is derived from all the descriptors the administrator
// granted, not from the shell's default soft limit (often 1024).
//
// Thread-safety: the limit is per process; call RaiseFdLimit() once, before
// threads start, from the main thread.
#ifndef LBD_SYS_RLIMIT_H_
#define LBD_SYS_RLIMIT_H_

#include <cstdint>

#include "lbsched/status.h"

namespace lbd {

struct FdLimit {
  uint64_t soft = 0;  // the limit in force (RLIM_INFINITY shows as UINT64_MAX)
  uint64_t hard = 0;
};

// The current RLIMIT_NOFILE.
[[nodiscard]] Result<FdLimit> GetFdLimit();

// Raises the soft RLIMIT_NOFILE to the hard limit, capped at
// /proc/sys/fs/nr_open (setrlimit refuses more, and an infinite hard limit
// cannot be the soft one) and returns the limit now in force. Never lowers
// the soft limit. Errors name the step ("getrlimit: ...", "setrlimit: ...").
[[nodiscard]] Result<FdLimit> RaiseFdLimit();

}  // namespace lbd

#endif  // LBD_SYS_RLIMIT_H_
