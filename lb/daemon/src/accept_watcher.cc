#include "lbd/daemon/accept_watcher.h"

#include <sys/socket.h>

#include <cerrno>

namespace lbd {

AcceptWatcher::AcceptWatcher(struct ev_loop* loop, int listen_fd, OnAccepted on_accepted)
    : loop_(loop), fd_(listen_fd), on_accepted_(std::move(on_accepted)) {
  ev_io_init(&io_, OnReadable, fd_, EV_READ);
  io_.data = this;
  ev_io_start(loop_, &io_);
  ev_init(&resume_timer_, OnResume);
  resume_timer_.data = this;
}

void AcceptWatcher::Stop() {
  ev_io_stop(loop_, &io_);
  ev_timer_stop(loop_, &resume_timer_);
}

void AcceptWatcher::OnResume(struct ev_loop* loop, ev_timer* w, int) {
  auto* self = static_cast<AcceptWatcher*>(w->data);
  ev_io_start(loop, &self->io_);
}

void AcceptWatcher::OnReadable(struct ev_loop*, ev_io* w, int) {
  auto* self = static_cast<AcceptWatcher*>(w->data);
  for (int i = 0; i < 16; ++i) {
    int fd = accept4(self->fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
        ev_io_stop(self->loop_, &self->io_);
        ev_timer_set(&self->resume_timer_, 0.1, 0.);
        ev_timer_start(self->loop_, &self->resume_timer_);
      }
      return;
    }
    self->on_accepted_(fd);
  }
}

}  // namespace lbd
