#include "lbd/sys/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace lbd {

sockaddr_in ToSockaddr(Endpoint e) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(e.ip);
  sa.sin_port = htons(e.port);
  return sa;
}

Endpoint FromSockaddr(const sockaddr_in& sa) {
  return Endpoint{ntohl(sa.sin_addr.s_addr), ntohs(sa.sin_port)};
}

std::string ErrnoMessage(const std::string& what, int err) { return what + ": " + strerror(err); }

Result<int> OpenTcpListener(Endpoint e, bool reuse_port, int backlog) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::Error(ErrnoMessage("socket", errno));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (reuse_port && setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    return Status::Error(ErrnoMessage("SO_REUSEPORT", errno));
  }
  sockaddr_in sa = ToSockaddr(e);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    return Status::Error(ErrnoMessage("bind " + ToString(e), errno));
  }
  if (listen(fd.get(), backlog) != 0) {
    return Status::Error(ErrnoMessage("listen " + ToString(e), errno));
  }
  return fd.Release();
}

Result<int> OpenUnixListener(const std::string& path, int backlog) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(sa.sun_path)) {
    return Status::Error("control socket path '" + path + "' is empty or too long");
  }
  memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::Error(ErrnoMessage("socket", errno));
  struct stat st;
  if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    // Only a dead socket is removed: one that accepts a connection belongs
    // to a live process (another lbd), whose socket stays.
    Fd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe.get() >= 0 &&
        connect(probe.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
      ucred peer{};
      socklen_t len = sizeof(peer);
      std::string who = "another process";
      if (getsockopt(probe.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 && peer.pid > 0) {
        who += " (pid " + std::to_string(peer.pid) + ")";
      }
      return Status::Error(path + " is in use: " + who + " is listening on it");
    }
    unlink(path.c_str());
  }
  mode_t old_mask = umask(0077);
  int rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  int err = errno;
  umask(old_mask);
  if (rc != 0) return Status::Error(ErrnoMessage("bind " + path, err));
  chmod(path.c_str(), 0600);
  if (listen(fd.get(), backlog) != 0) return Status::Error(ErrnoMessage("listen " + path, errno));
  return fd.Release();
}

Result<Endpoint> LocalEndpoint(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof(sa);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    return Status::Error(ErrnoMessage("getsockname", errno));
  }
  return FromSockaddr(sa);
}

void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void SetLingerZero(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

}  // namespace lbd
