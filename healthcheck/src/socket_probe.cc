// SocketProbe: the non-blocking connect shared by the tcp and http checks.
#include "socket_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace lbd {

SocketProbe::SocketProbe(struct ev_loop* loop, Endpoint address) : loop_(loop), address_(address) {
  ev_io_init(&io_, &SocketProbe::OnIo, -1, EV_WRITE);
  io_.data = this;
  ev_timer_init(&immediate_, &SocketProbe::OnStartIdle, 0., 0.);
  immediate_.data = this;
}

SocketProbe::~SocketProbe() { Close(); }

void SocketProbe::Close() {
  ev_io_stop(loop_, &io_);
  ev_timer_stop(loop_, &immediate_);
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  done_ = nullptr;
}

bool IsLocalResourceError(int err) {
  switch (err) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case EAGAIN:
    case EADDRNOTAVAIL:
      return true;
    default:
      return false;
  }
}

std::optional<ProbeResult> SocketProbe::Start(Done done) {
  done_ = std::move(done);
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    const int err = errno;
    done_ = nullptr;
    ProbeResult r{false, std::string("socket: ") + std::strerror(err), std::nullopt};
    r.unknown = IsLocalResourceError(err);
    return r;
  }
  sockaddr_in sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(address_.ip);
  sa.sin_port = htons(address_.port);
  connecting_ = true;
  if (connect(fd_, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) == 0) {
    pending_error_ = 0;  // connected at once (loopback may): continue from the loop
    ev_timer_start(loop_, &immediate_);
  } else if (errno == EINPROGRESS) {
    Watch(EV_WRITE);
  } else {
    pending_error_ = errno;  // ECONNREFUSED on loopback comes here; report from the loop
    ev_timer_start(loop_, &immediate_);
  }
  return std::nullopt;
}

void SocketProbe::Watch(int events) {
  ev_io_stop(loop_, &io_);
  ev_io_set(&io_, fd_, events);
  ev_io_start(loop_, &io_);
}

void SocketProbe::Finish(bool success, std::string message) {
  Report(ProbeResult{success, std::move(message), std::nullopt});
}

void SocketProbe::Report(ProbeResult r) {
  Done done = std::move(done_);
  Close();
  if (done) done(std::move(r));
}

void SocketProbe::FinishErrno(const char* op, int err) {
  ProbeResult r{false, std::string(op) + ": " + std::strerror(err), std::nullopt};
  const std::string_view o(op);
  r.unknown = (o == "socket" || o == "connect") && IsLocalResourceError(err);
  Report(std::move(r));
}

void SocketProbe::OnStartIdle(struct ev_loop* /*loop*/, ev_timer* w, int /*revents*/) {
  auto* self = static_cast<SocketProbe*>(w->data);
  self->connecting_ = false;
  if (self->pending_error_ != 0) return self->FinishErrno("connect", self->pending_error_);
  self->OnConnected();
}

void SocketProbe::OnIo(struct ev_loop* /*loop*/, ev_io* w, int revents) {
  auto* self = static_cast<SocketProbe*>(w->data);
  if (self->connecting_) {
    self->connecting_ = false;
    ev_io_stop(self->loop_, &self->io_);
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return self->FinishErrno("connect", err);
    return self->OnConnected();
  }
  self->OnReady(revents);
}

}  // namespace lbd
