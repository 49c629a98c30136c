#include "lbd/daemon/control_server.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "lbd/sys/fd.h"
#include "lbd/sys/log.h"
#include "lbd/sys/socket.h"

namespace lbd {
namespace {

constexpr int kPartsPerWakeup = 4;

// Takes the exclusive flock of `lock_path`, with this process's pid written
// in it, or says which pid holds it. A lock file unlinked by the previous
// holder between our open and flock is not the lock any more: retried.
Result<int> LockFile(const std::string& lock_path) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    Fd fd(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (fd.get() < 0) return Status::Error(ErrnoMessage("open " + lock_path, errno));
    if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) return Status::Error(ErrnoMessage("flock " + lock_path, errno));
      char buf[32] = {};
      ssize_t n = pread(fd.get(), buf, sizeof(buf) - 1, 0);
      std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
      return Status::Error("another lbd" + (pid.empty() ? "" : " (pid " + pid + ")") + " holds " +
                           lock_path);
    }
    struct stat locked, now;
    if (fstat(fd.get(), &locked) != 0 || stat(lock_path.c_str(), &now) != 0 ||
        locked.st_ino != now.st_ino || locked.st_dev != now.st_dev) {
      continue;
    }
    const std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd.get(), 0) != 0 ||
        pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
      return Status::Error(ErrnoMessage("write " + lock_path, errno));
    }
    return fd.Release();
  }
  return Status::Error(lock_path + ": replaced again and again while locking it");
}

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::Create(struct ev_loop* loop,
                                                             const std::string& path,
                                                             Handler handler, double stall_timeout,
                                                             double request_timeout) {
  // One lbd per control socket: the lock first, then the socket (which
  // OpenUnixListener replaces only when no process accepts on it).
  const std::string lock_path = path + ".lock";
  auto lock = LockFile(lock_path);
  if (!lock.ok()) return lock.status();
  Fd lock_fd(*lock);
  auto fd = OpenUnixListener(path);
  if (!fd.ok()) {
    unlink(lock_path.c_str());  // ours: we hold it
    return fd.status();
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    const int err = errno;
    close(*fd);
    unlink(lock_path.c_str());
    return Status::Error(ErrnoMessage("stat " + path, err));
  }
  std::unique_ptr<ControlServer> server(
      new ControlServer(loop, path, *fd, std::move(handler), stall_timeout, request_timeout));
  server->lock_fd_ = lock_fd.Release();
  server->socket_dev_ = st.st_dev;
  server->socket_ino_ = st.st_ino;
  return server;
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
  // Only our own socket file: another lbd may have replaced it since (its
  // lock then says so), and its socket stays.
  struct stat st {};
  if (stat(path_.c_str(), &st) == 0 && st.st_dev == socket_dev_ && st.st_ino == socket_ino_) {
    unlink(path_.c_str());
  }
  if (lock_fd_ >= 0) {
    unlink((path_ + ".lock").c_str());  // while holding it: the next lbd re-checks the inode
    close(lock_fd_);
  }
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
