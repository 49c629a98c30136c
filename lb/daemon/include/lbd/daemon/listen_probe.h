// Internal header of lbd_daemon.
//
// Listeners open with SO_REUSEPORT (one per worker), so a second process
// binding the same VIP:port with SO_REUSEPORT would silently share its
// traffic. CheckNoOtherListener() refuses that: it binds `listen` once
// without SO_REUSEPORT, which fails with EADDRINUSE while any socket listens
// there, and names the process that owns the listener (from /proc/net/tcp
// and /proc/PID/fd) when it can. A "takeover" start (a new lbd taking the
// sockets of an old one) skips this check on purpose: see
// DaemonStartOptions::share_listeners.
//
// Thread-safety: reentrant.
#ifndef LBD_DAEMON_LISTEN_PROBE_H_
#define LBD_DAEMON_LISTEN_PROBE_H_

#include <sys/types.h>

#include <optional>

#include "lbsched/endpoint.h"
#include "lbsched/status.h"

namespace lbd {

// Error when another socket already listens on `listen` ("bind
// 127.0.0.1:8080: Address already in use: pid 1234 (lbd) listens on it;
// ..."). Other bind errors are left to the listeners' own open.
Status CheckNoOtherListener(Endpoint listen);

// The pid of a process holding a TCP socket that listens on `listen`
// (0.0.0.0 matches any address), if /proc tells.
std::optional<pid_t> ListenerPid(Endpoint listen);

}  // namespace lbd

#endif  // LBD_DAEMON_LISTEN_PROBE_H_
