// Internal header of lbd_lb.
//
// Small socket helpers shared by the data plane and the control plane. Every
// function returns a Status/Result; none throws.
//
// Thread-safety: reentrant.
#ifndef LBD_LB_NET_H_
#define LBD_LB_NET_H_

#include <netinet/in.h>

#include <string>

#include "lbsched/endpoint.h"
#include "lbsched/status.h"

namespace lbd {

sockaddr_in ToSockaddr(Endpoint e);
Endpoint FromSockaddr(const sockaddr_in& sa);

// "what: strerror(err)".
std::string ErrnoMessage(const std::string& what, int err);

// A non-blocking, close-on-exec TCP listener on `e` with SO_REUSEADDR, and
// SO_REUSEPORT when `reuse_port` (one listener per worker).
Result<int> OpenTcpListener(Endpoint e, bool reuse_port, int backlog = 4096);
// A non-blocking Unix stream listener at `path` with mode 0600; a stale file
// at `path` is removed first.
Result<int> OpenUnixListener(const std::string& path, int backlog = 64);

// The local address a socket is bound to.
Result<Endpoint> LocalEndpoint(int fd);

void SetNoDelay(int fd);
// Makes the next close() send a RST (SO_LINGER with a zero timeout).
void SetLingerZero(int fd);

// Closes a file descriptor owned by an RAII holder.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

}  // namespace lbd

#endif  // LBD_LB_NET_H_
