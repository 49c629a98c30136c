// Header of lbd_sys (internal to lbd: not installed).
//
// Dropping root after set-up (global.user / global.group): the process takes
// the user's (and group's) ids and keeps, of all capabilities, only the ones
// named, in its permitted and effective sets (none inheritable, so commands
// it starts, like health-check and notify scripts, run without them).
//
// Thread-safety: call once, from the thread that will go on needing the
// capabilities (the control thread). setresuid/setresgid apply to every
// thread (glibc), capabilities are per thread: threads started before the
// call keep no capability at all once the ids change (they need none: they
// use descriptors opened before).
#ifndef LBD_SYS_PRIVILEGES_H_
#define LBD_SYS_PRIVILEGES_H_

#include <span>
#include <string>

#include "lbsched/status.h"

namespace lbd {

// `user` must exist; `group` empty means the user's primary group.
// Supplementary groups are cleared. `keep` holds CAP_* numbers
// (linux/capability.h). Errors name the step (unknown user, setresuid, capset).
// REQUIRES: running as root.
Status DropPrivileges(const std::string& user, const std::string& group, std::span<const int> keep);

// "cap_net_admin,cap_net_raw" for logs.
std::string CapabilityNames(std::span<const int> caps);

}  // namespace lbd

#endif  // LBD_SYS_PRIVILEGES_H_
