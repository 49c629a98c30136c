#include "lbd/daemon/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lbd/sys/socket.h"

namespace lbd {

Result<Reply> SendControlCommand(const std::string& socket_path, const std::string& line,
                                 std::chrono::milliseconds timeout) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(sa.sun_path)) return Status::Error("socket path too long");
  memcpy(sa.sun_path, socket_path.c_str(), socket_path.size() + 1);
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::Error(ErrnoMessage("socket", errno));
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    return Status::Error(ErrnoMessage("cannot connect to " + socket_path, errno));
  }
  std::string request = line + "\n";
  auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t sent = 0;
  std::string in;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::Error("timeout waiting for lbd");
    pollfd p{fd.get(), static_cast<short>(sent < request.size() ? POLLOUT : POLLIN), 0};
    int rc = poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return Status::Error(ErrnoMessage("poll", errno));
    if (rc == 0) continue;
    if (sent < request.size()) {
      ssize_t n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno != EINTR && errno != EAGAIN) {
        return Status::Error(ErrnoMessage("send", errno));
      }
      if (n > 0) sent += static_cast<size_t>(n);
      continue;
    }
    char buf[65536];
    ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return Status::Error(ErrnoMessage("read", errno));
    const size_t before = in.size();
    if (n > 0) in.append(buf, static_cast<size_t>(n));
    // A reply ends with an empty line: decode again only once this read can
    // have completed one (a long `flows` listing arrives in many reads).
    if (n > 0 && before > 0 && in.find("\n\n", before - 1) == std::string::npos) continue;
    auto reply = DecodeReply(in);
    if (!reply.ok()) return reply.status();
    if (reply->has_value()) return std::move(**reply);
    if (n == 0) return Status::Error("lbd closed the connection before replying");
  }
}

}  // namespace lbd
