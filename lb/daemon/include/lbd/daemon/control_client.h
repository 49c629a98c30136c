// Internal header of lbd_daemon.
//
// The client side of the control protocol (control_protocol.h), for lbctl
// and tests: connect to the Unix socket, send one line, read one reply.
//
// Thread-safety: reentrant.
#ifndef LBD_DAEMON_CONTROL_CLIENT_H_
#define LBD_DAEMON_CONTROL_CLIENT_H_

#include <chrono>
#include <string>

#include "lbd/daemon/control_protocol.h"

namespace lbd {

// Error: cannot connect, timeout, connection closed before a whole reply,
// or a malformed reply. A refused command is a Reply with ok == false.
Result<Reply> SendControlCommand(const std::string& socket_path, const std::string& line,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace lbd

#endif  // LBD_DAEMON_CONTROL_CLIENT_H_
