// Header of lbd_sys (internal to lbd: not installed).
//
// Small socket helpers shared by the data plane and the control plane. Every
// function returns a Status/Result; none throws.
//
// Thread-safety: reentrant.
#ifndef LBD_SYS_SOCKET_H_
#define LBD_SYS_SOCKET_H_

#include <netinet/in.h>

#include <string>

#include "lbd/sys/fd.h"
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
// A non-blocking Unix stream listener at `path` with mode 0600. A socket
// file already at `path` is connected to first: a live one (another process
// accepts on it) is an error naming that process's pid (SO_PEERCRED), a dead
// one is removed.
Result<int> OpenUnixListener(const std::string& path, int backlog = 64);

// The local address a socket is bound to.
Result<Endpoint> LocalEndpoint(int fd);

void SetNoDelay(int fd);
// Makes the next close() send a RST (SO_LINGER with a zero timeout).
void SetLingerZero(int fd);

}  // namespace lbd

#endif  // LBD_SYS_SOCKET_H_
