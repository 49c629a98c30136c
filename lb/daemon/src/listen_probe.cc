#include "lbd/daemon/listen_probe.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "lbd/sys/fd.h"
#include "lbd/sys/socket.h"

namespace lbd {
namespace {

// The inode of a socket in /proc/net/tcp that listens (state 0A) on
// `listen` or on 0.0.0.0 with its port.
std::optional<unsigned long> ListenerInode(Endpoint listen) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    std::istringstream f(line);
    std::string sl, local, remote, state, queues, timer, retr, uid, timeout;
    unsigned long inode = 0;
    if (!(f >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >>
          inode)) {
      continue;
    }
    if (state != "0A") continue;
    unsigned ip = 0, port = 0;
    if (sscanf(local.c_str(), "%8X:%4X", &ip, &port) != 2) continue;
    // The kernel prints the address in network byte order as a host int.
    const uint32_t host_ip = ntohl(ip);
    if (port == listen.port && (host_ip == listen.ip || host_ip == 0)) return inode;
  }
  return std::nullopt;
}

std::string ProcessName(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

}  // namespace

std::optional<pid_t> ListenerPid(Endpoint listen) {
  auto inode = ListenerInode(listen);
  if (!inode) return std::nullopt;
  const std::string target = "socket:[" + std::to_string(*inode) + "]";
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return std::nullopt;
  std::optional<pid_t> found;
  while (dirent* e = readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(atoi(e->d_name));
    if (pid <= 0) continue;
    const std::string fds = "/proc/" + std::string(e->d_name) + "/fd";
    DIR* dir = opendir(fds.c_str());
    if (dir == nullptr) continue;
    while (dirent* f = readdir(dir)) {
      char link[64];
      const std::string path = fds + "/" + f->d_name;
      ssize_t n = readlink(path.c_str(), link, sizeof(link) - 1);
      if (n > 0 && std::string_view(link, static_cast<size_t>(n)) == target) {
        found = pid;
        break;
      }
    }
    closedir(dir);
    if (found) break;
  }
  closedir(proc);
  return found;
}

Status CheckNoOtherListener(Endpoint listen) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::Ok();  // the listeners' open reports it
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sa = ToSockaddr(listen);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 || errno != EADDRINUSE) {
    return Status::Ok();
  }
  std::string who = "another process";
  if (auto pid = ListenerPid(listen)) {
    who = "pid " + std::to_string(*pid);
    if (std::string name = ProcessName(*pid); !name.empty()) who += " (" + name + ")";
  }
  return Status::Error(ErrnoMessage("bind " + ToString(listen), EADDRINUSE) + ": " + who +
                       " listens on it; not shared (SO_REUSEPORT would split its connections)");
}

}  // namespace lbd
