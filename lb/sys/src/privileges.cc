#include "lbd/sys/privileges.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "lbd/sys/socket.h"

namespace lbd {
namespace {

Status Capset(std::span<const int> keep) {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;  // this thread
  __user_cap_data_struct data[2]{};
  for (int cap : keep) {
    if (cap < 0 || cap >= 64) return Status::Error("capset: bad capability " + std::to_string(cap));
    data[cap / 32].permitted |= 1U << (cap % 32);
    data[cap / 32].effective |= 1U << (cap % 32);
  }
  if (syscall(SYS_capset, &header, data) != 0) {
    return Status::Error(ErrnoMessage("capset", errno));
  }
  return Status::Ok();
}

}  // namespace

Status DropPrivileges(const std::string& user, const std::string& group,
                      std::span<const int> keep) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* pw_found = nullptr;
  int rc = getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &pw_found);
  if (pw_found == nullptr) {
    return Status::Error("user '" + user +
                         "': " + (rc != 0 ? ErrnoMessage("getpwnam", rc) : "no such user"));
  }
  const uid_t uid = pw.pw_uid;
  gid_t gid = pw.pw_gid;
  if (!group.empty()) {
    std::vector<char> gbuf(16384);
    struct group gr {};
    struct group* gr_found = nullptr;
    rc = getgrnam_r(group.c_str(), &gr, gbuf.data(), gbuf.size(), &gr_found);
    if (gr_found == nullptr) {
      return Status::Error("group '" + group +
                           "': " + (rc != 0 ? ErrnoMessage("getgrnam", rc) : "no such group"));
    }
    gid = gr.gr_gid;
  }
  // Keep the permitted set across the uid change (this thread only), then
  // trim it to `keep` and make those effective.
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
    return Status::Error(ErrnoMessage("prctl(PR_SET_KEEPCAPS)", errno));
  }
  if (setgroups(1, &gid) != 0) return Status::Error(ErrnoMessage("setgroups", errno));
  if (setresgid(gid, gid, gid) != 0) return Status::Error(ErrnoMessage("setresgid", errno));
  if (setresuid(uid, uid, uid) != 0) return Status::Error(ErrnoMessage("setresuid", errno));
  Status s = Capset(keep);
  prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  return s;
}

std::string CapabilityNames(std::span<const int> caps) {
  std::string out;
  for (int cap : caps) {
    if (!out.empty()) out += ',';
    switch (cap) {
      case CAP_NET_BIND_SERVICE:
        out += "cap_net_bind_service";
        break;
      case CAP_NET_ADMIN:
        out += "cap_net_admin";
        break;
      case CAP_NET_RAW:
        out += "cap_net_raw";
        break;
      default:
        out += "cap_" + std::to_string(cap);
    }
  }
  return out.empty() ? "none" : out;
}

}  // namespace lbd
