#include "lbd/daemon/worker.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "lbd/sys/log.h"
#include "lbd/sys/socket.h"

namespace lbd {

int64_t DefaultMaxConnections(uint64_t fd_limit, size_t real_servers) {
  const uint64_t reserve = std::min<uint64_t>(kReservedFds + 2 * real_servers, fd_limit / 2);
  const uint64_t conns = (fd_limit - reserve) / 3;
  return static_cast<int64_t>(std::clamp<uint64_t>(conns, 1, uint64_t{1} << 40));
}

Result<std::unique_ptr<Worker>> Worker::Create(const WorkerOptions& options) {
  if (options.counters == nullptr) return Status::Error("WorkerOptions.counters is required");
  struct ev_loop* loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
  if (loop == nullptr) return Status::Error("ev_loop_new failed");
  return std::unique_ptr<Worker>(new Worker(options, loop));
}

Worker::Worker(const WorkerOptions& options, struct ev_loop* loop)
    : options_(options),
      loop_(loop),
      context_(loop, *options.counters, *this, options.index, options.force_copy) {
  ev_async_init(&wake_, OnWake);
  wake_.data = this;
  // A new table (e.g. quorum lost: sorry_only) is taken before the accepts
  // that are pending in the same loop iteration.
  ev_set_priority(&wake_, EV_MAXPRI);
  ev_async_start(loop_, &wake_);
  ev_init(&resume_timer_, OnResume);
  resume_timer_.data = this;
  ev_timer_init(&cap_timer_, OnCapPoll, 0.01, 0.01);
  cap_timer_.data = this;
  reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

Worker::~Worker() {
  if (thread_.joinable()) {
    Abort();
    Join();
  }
  AbortAll();
  StopListeners();
  ev_timer_stop(loop_, &resume_timer_);
  ev_timer_stop(loop_, &cap_timer_);
  ev_async_stop(loop_, &wake_);
  ev_loop_destroy(loop_);
  if (reserve_fd_ >= 0) close(reserve_fd_);
}

void Worker::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::Publish(std::shared_ptr<const ServiceTable> table) {
  mailbox_.Publish(std::move(table));
  ev_async_send(loop_, &wake_);
}

void Worker::BeginDrain() {
  drain_requested_.store(true);
  ev_async_send(loop_, &wake_);
}

void Worker::Abort() {
  abort_requested_.store(true);
  ev_async_send(loop_, &wake_);
}

void Worker::Run() {
  // A table published before Start() is picked up here.
  if (auto t = mailbox_.Take()) ApplyTable(std::move(t));
  ev_run(loop_, 0);
  AbortAll();
  StopListeners();
  context_.table.reset();
  finished_.store(true);
}

void Worker::OnWake(struct ev_loop* loop, ev_async* w, int) {
  auto* self = static_cast<Worker*>(w->data);
  if (self->abort_requested_.load()) {
    self->AbortAll();
    ev_break(loop, EVBREAK_ALL);
    return;
  }
  if (auto t = self->mailbox_.Take()) self->ApplyTable(std::move(t));
  if (self->drain_requested_.load() && !self->draining_) {
    self->draining_ = true;
    self->StopListeners();
    self->MaybeFinish();
  }
}

void Worker::ApplyTable(std::shared_ptr<const ServiceTable> table) {
  // Watchers go first: the old table may hold the last reference to a
  // listener that closes when it is released.
  StopListeners();
  context_.table = std::move(table);
  generation_.store(context_.table->generation);
  if (!draining_) StartListeners();
}

void Worker::StartListeners() {
  for (const ServiceEntry& e : context_.table->services) {
    if (!e.listeners || e.listeners->count() <= options_.index) continue;
    auto lw = std::make_unique<ListenerWatch>();
    lw->worker = this;
    lw->entry = &e;
    ev_io_init(&lw->io, OnAcceptable, e.listeners->fd(options_.index), EV_READ);
    lw->io.data = lw.get();
    if (accepting()) ev_io_start(loop_, &lw->io);
    listeners_.push_back(std::move(lw));
  }
}

void Worker::StopListeners() {
  for (auto& lw : listeners_) ev_io_stop(loop_, &lw->io);
  listeners_.clear();
}

void Worker::OnAcceptable(struct ev_loop*, ev_io* w, int) {
  auto* lw = static_cast<ListenerWatch*>(w->data);
  lw->worker->AcceptBatch(*lw);
}

void Worker::AcceptBatch(ListenerWatch& lw) {
  // Copy what we need: a connection may not outlive the entry, but the entry
  // stays valid for this whole call (tables change only in OnWake).
  const ServiceEntry& entry = *lw.entry;
  for (int i = 0; i < options_.accept_batch && accepting(); ++i) {
    if (!ReserveSlot()) {
      PauseAtCap();
      return;
    }
    sockaddr_in sa{};
    socklen_t len = sizeof(sa);
    int fd =
        accept4(lw.io.fd, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      counters().live.fetch_sub(1, std::memory_order_relaxed);  // the slot goes back
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EINTR) continue;
      ProcessCounters::Inc(counters().accept_errors);
      if (err == ECONNABORTED || err == EPROTO || err == EPERM) continue;
      if (err == EMFILE || err == ENFILE) {
        ProcessCounters::Inc(counters().emfile);
        // Shed the client at the head of the queue so the listener stops
        // being readable, then back off.
        if (reserve_fd_ >= 0) {
          close(reserve_fd_);
          int victim = accept4(lw.io.fd, nullptr, nullptr, SOCK_CLOEXEC);
          if (victim >= 0) close(victim);
          reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        LBD_LOG(kWarning, "worker %d: accept on %s: %s; pausing accepts", options_.index,
                ToString(entry.listen).c_str(), strerror(err));
      } else {
        LBD_LOG(kWarning, "worker %d: accept on %s: %s", options_.index,
                ToString(entry.listen).c_str(), strerror(err));
      }
      OnAcceptExhausted();
      return;
    }
    ProcessCounters::Inc(counters().accepted);
    Connection* c = slab_.Get();
    c->live_prev = nullptr;
    c->live_next = live_head_;
    if (live_head_ != nullptr) live_head_->live_prev = c;
    live_head_ = c;
    live_.fetch_add(1, std::memory_order_relaxed);  // counters().live: ReserveSlot
    c->Start(context_, fd, FromSockaddr(sa), entry);
  }
}

void Worker::OnAcceptExhausted() {
  if (paused_) return;
  paused_ = true;
  for (auto& lw : listeners_) ev_io_stop(loop_, &lw->io);
  ev_timer_set(&resume_timer_, options_.emfile_pause, 0.);
  ev_timer_start(loop_, &resume_timer_);
}

void Worker::OnResume(struct ev_loop*, ev_timer* w, int) {
  auto* self = static_cast<Worker*>(w->data);
  self->paused_ = false;
  self->ResumeListeners();
}

bool Worker::ReserveSlot() {
  std::atomic<int64_t>& live = counters().live;
  const int64_t max = options_.max_connections;
  if (max <= 0) {
    live.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  int64_t cur = live.load(std::memory_order_relaxed);
  while (cur < max) {
    if (live.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

void Worker::PauseAtCap() {
  if (at_cap_) return;
  at_cap_ = true;
  ProcessCounters::Inc(counters().maxconn_reached);
  for (auto& lw : listeners_) ev_io_stop(loop_, &lw->io);
  ev_timer_again(loop_, &cap_timer_);
  if (context_.AllowLog()) {
    LBD_LOG(kWarning,
            "worker %d: maxconn %lld reached; new clients wait in the accept queue until a "
            "connection ends",
            options_.index, static_cast<long long>(options_.max_connections));
  }
}

void Worker::ResumeListeners() {
  if (at_cap_ && counters().live.load(std::memory_order_relaxed) < options_.max_connections) {
    at_cap_ = false;
    ev_timer_stop(loop_, &cap_timer_);
  }
  if (!accepting()) return;
  for (auto& lw : listeners_) ev_io_start(loop_, &lw->io);
}

void Worker::OnCapPoll(struct ev_loop*, ev_timer* w, int) {
  static_cast<Worker*>(w->data)->ResumeListeners();
}

void Worker::Release(Connection* c) {
  if (c->live_prev != nullptr) {
    c->live_prev->live_next = c->live_next;
  } else {
    live_head_ = c->live_next;
  }
  if (c->live_next != nullptr) c->live_next->live_prev = c->live_prev;
  c->live_prev = c->live_next = nullptr;
  slab_.Put(c);
  live_.fetch_sub(1, std::memory_order_relaxed);
  counters().live.fetch_sub(1, std::memory_order_relaxed);
  if (at_cap_ && !draining_) ResumeListeners();
  MaybeFinish();
}

void Worker::AbortAll() {
  while (live_head_ != nullptr) live_head_->Abort();
}

void Worker::MaybeFinish() {
  if (draining_ && live_head_ == nullptr) ev_break(loop_, EVBREAK_ALL);
}

bool WorkerContext::AllowLog() {
  ev_tstamp now = ev_now(loop);
  if (now - log_window_ >= 1.0) {
    if (log_budget_ < 0) {
      LBD_LOG(kWarning, "worker %d: %d similar messages suppressed", worker_index, -log_budget_);
    }
    log_window_ = now;
    log_budget_ = 10;
  }
  if (log_budget_ > 0) {
    --log_budget_;
    return true;
  }
  --log_budget_;
  return false;
}

bool WorkerContext::AllowAccessLog() {
  ev_tstamp now = ev_now(loop);
  if (now - access_window_ >= 1.0) {
    if (access_dropped_ > 0) {
      LBD_LOG(kWarning, "worker %d: %llu access lines dropped", worker_index,
              static_cast<unsigned long long>(access_dropped_));
    }
    access_window_ = now;
    access_budget_ = kAccessLinesPerSecond;
    access_dropped_ = 0;
  }
  if (access_budget_ > 0) {
    --access_budget_;
    return true;
  }
  ++access_dropped_;
  return false;
}

std::shared_ptr<TrafficStats> WorkerContext::ServerStats(const ServiceRuntime* runtime,
                                                         Endpoint server) const {
  const ServiceEntry* e = table ? table->Find(runtime) : nullptr;
  if (e == nullptr) return nullptr;
  auto it = e->server_stats.find(server);
  return it == e->server_stats.end() ? nullptr : it->second;
}

}  // namespace lbd
