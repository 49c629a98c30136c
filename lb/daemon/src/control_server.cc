#include "lbd/daemon/control_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "lbd/sys/log.h"
#include "lbd/sys/socket.h"

namespace lbd {
namespace {

constexpr int kPartsPerWakeup = 4;

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::Create(struct ev_loop* loop,
                                                             const std::string& path,
                                                             Handler handler, double stall_timeout,
                                                             double request_timeout) {
  auto fd = OpenUnixListener(path);
  if (!fd.ok()) return fd.status();
  return std::unique_ptr<ControlServer>(
      new ControlServer(loop, path, *fd, std::move(handler), stall_timeout, request_timeout));
}

ControlServer::ControlServer(struct ev_loop* loop, std::string path, int fd, Handler handler,
                             double stall_timeout, double request_timeout)
    : loop_(loop),
      path_(std::move(path)),
      fd_(fd),
      handler_(std::move(handler)),
      stall_timeout_(stall_timeout),
      request_timeout_(request_timeout),
      acceptor_(loop, fd, [this](int client_fd) { Accepted(client_fd); }) {
  // A sweep every quarter of the shorter timeout: a stalled or silent client
  // goes after at most 1.25 x its timeout.
  const double every = std::min(stall_timeout_, request_timeout_) / 4;
  ev_timer_init(&sweep_, OnSweep, every, every);
  sweep_.data = this;
  ev_timer_start(loop_, &sweep_);
  ev_unref(loop_);  // the sweep alone does not keep the loop running
}

ControlServer::~ControlServer() {
  ev_ref(loop_);
  ev_timer_stop(loop_, &sweep_);
  while (!clients_.empty()) CloseClient(&clients_.front());
  acceptor_.Stop();
  close(fd_);
  unlink(path_.c_str());
}

void ControlServer::Accepted(int fd) {
  if (clients_.size() >= kMaxClients) {
    // Evict the idle client that has waited longest for a line: a silent
    // one, most likely, never an lbctl whose reply is on its way.
    Client* oldest = nullptr;
    for (Client& c : clients_) {
      if (Idle(c) && (oldest == nullptr || c.waiting_since < oldest->waiting_since)) oldest = &c;
    }
    if (oldest == nullptr) {
      LBD_LOG(kWarning, "control socket: too many clients, closing a new one");
      close(fd);
      return;
    }
    LBD_LOG(kWarning, "control socket: too many clients, closing one idle for %.1fs",
            ev_now(loop_) - oldest->waiting_since);
    CloseClient(oldest);
  }
  Client& c = clients_.emplace_back();
  c.server = this;
  c.fd = fd;
  c.waiting_since = ev_now(loop_);
  ev_io_init(&c.io, OnClient, fd, EV_READ);
  c.io.data = &c;
  ev_io_start(loop_, &c.io);
}

void ControlServer::OnClient(struct ev_loop*, ev_io* w, int revents) {
  auto* c = static_cast<Client*>(w->data);
  ControlServer* self = c->server;
  if (revents & EV_READ) {
    char buf[4096];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      self->CloseClient(c);
      return;
    }
    if (n > 0) {
      c->in.Append(std::string_view(buf, static_cast<size_t>(n)));
      self->HandleInput(*c);
    }
  }
  if (!self->Flush(*c)) return;
  // Lines left unprocessed while a big reply was pending.
  if (c->out.empty() && !c->more && !c->closing) {
    self->HandleInput(*c);
    if (!c->out.empty()) self->Flush(*c);
  }
}

void ControlServer::HandleInput(Client& c) {
  std::string line;
  while (!c.closing && !c.more) {
    LineSplitter::Next next = c.in.Pop(&line);
    if (next == LineSplitter::Next::kNeedMore) break;
    if (next == LineSplitter::Next::kTooLong) {
      c.out += EncodeReply(
          Status::Error("line too long (limit " + std::to_string(kMaxControlLine) + " bytes)"), "");
      c.closing = true;
      break;
    }
    ControlReply reply = handler_(line);
    if (c.out.empty()) c.last_progress = ev_now(loop_);
    c.out += reply.text;
    c.more = std::move(reply.more);
    if (c.out.size() > (1u << 20)) break;  // let the client read first
  }
}

bool ControlServer::Flush(Client& c) {
  for (int parts = 0;;) {
    // The next part of a long reply only once the client took most of the
    // last one: the queue stays near kLowWater whatever the reply's size.
    // A few parts per wake-up, so a fast reader cannot hold the loop either.
    if (c.more && c.out.size() < kLowWater) {
      if (parts++ == kPartsPerWakeup) break;
      if (!c.more(c.out)) c.more = nullptr;
    }
    if (c.out.empty()) break;
    ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      CloseClient(&c);
      return false;
    }
    c.out.erase(0, static_cast<size_t>(n));
    c.last_progress = ev_now(loop_);
    if (c.out.empty() && !c.more) c.waiting_since = c.last_progress;
  }
  if (c.out.empty() && c.closing) {
    CloseClient(&c);
    return false;
  }
  int events = c.out.empty() && !c.more ? EV_READ : EV_WRITE;
  if (c.closing) events = EV_WRITE;
  if ((c.io.events & (EV_READ | EV_WRITE)) != events) {
    ev_io_stop(loop_, &c.io);
    ev_io_set(&c.io, c.fd, events);
    ev_io_start(loop_, &c.io);
  }
  return true;
}

void ControlServer::OnSweep(struct ev_loop* loop, ev_timer* w, int) {
  auto* self = static_cast<ControlServer*>(w->data);
  const ev_tstamp now = ev_now(loop);
  for (auto it = self->clients_.begin(); it != self->clients_.end();) {
    Client& c = *it++;
    if (Idle(c)) {
      // Not a whole line since it connected or got its last reply.
      if (now - c.waiting_since < self->request_timeout_) continue;
      LBD_LOG(kDebug, "control socket: closing a client that sent no command for %.1fs",
              now - c.waiting_since);
      self->CloseClient(&c);
      continue;
    }
    if ((c.out.empty() && !c.more) || now - c.last_progress < self->stall_timeout_) continue;
    LBD_LOG(kWarning, "control socket: closing a client that read nothing of its reply for %.0fs",
            now - c.last_progress);
    self->CloseClient(&c);
  }
}

void ControlServer::CloseClient(Client* c) {
  ev_io_stop(loop_, &c->io);
  close(c->fd);
  for (auto it = clients_.begin(); it != clients_.end(); ++it) {
    if (&*it == c) {
      clients_.erase(it);
      return;
    }
  }
}

}  // namespace lbd
