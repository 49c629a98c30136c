#include "lbd/daemon/connection.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

#include "lbd/daemon/worker_context.h"
#include "lbd/sys/log.h"
#include "lbd/sys/socket.h"

namespace lbd {
namespace {

// Bytes moved per splice() into the pipe (the default pipe capacity).
constexpr size_t kSpliceChunk = 65536;
// Reads per direction and wake-up before yielding to other connections.
constexpr int kMaxRounds = 16;

std::chrono::nanoseconds SteadyNow() { return std::chrono::steady_clock::now().time_since_epoch(); }

}  // namespace

void Connection::Start(WorkerContext& context, int client_fd, Endpoint client,
                       const ServiceEntry& entry) {
  ctx_ = &context;
  client_fd_ = client_fd;
  server_fd_ = -1;
  client_events_ = server_events_ = 0;
  sorry_ = counted_ = active_ = tried_ = false;
  access_log_ = entry.access_log;
  if (access_log_) start_ns_ = SteadyNow().count();
  bytes_in_ = bytes_out_ = 0;
  attempts_ = 1;
  first_byte_ = FirstByte::kDone;
  c2s_ = Direction{};
  s2c_ = Direction{};
  runtime_ = entry.runtime;
  flow_ = Flow{client, entry.listen};
  connect_timeout_ = static_cast<float>(entry.connect_timeout);
  idle_timeout_ = static_cast<float>(entry.idle_timeout);
  state_ = State::kConnecting;
  ev_io_init(&client_io_, OnClientIo, client_fd_, 0);
  client_io_.data = this;
  ev_init(&timer_, OnTimer);
  timer_.data = this;
  SetNoDelay(client_fd_);

  std::shared_ptr<RealServer> rs;
  if (!entry.sorry_only) {
    rs = runtime_->persistence.Lookup(client.ip, SteadyNow());
    if (rs) {
      LBD_LOG(kDebug, "service %s: %s -> %s (persistence)", runtime_->name.c_str(),
              ToString(client).c_str(), ToString(rs->endpoint()).c_str());
    } else {
      rs = runtime_->service->Pick(flow_);
      LBD_LOG(kDebug, "service %s: %s -> %s (scheduler %s)", runtime_->name.c_str(),
              ToString(client).c_str(), rs ? ToString(rs->endpoint()).c_str() : "none",
              runtime_->service->scheduler_name().c_str());
    }
  }
  if (!rs) {
    if (entry.sorry_server) {
      sorry_ = true;
      ProcessCounters::Inc(ctx_->counters.sorry);
      LBD_LOG(kDebug, "service %s: %s -> sorry server %s", runtime_->name.c_str(),
              ToString(client).c_str(), ToString(*entry.sorry_server).c_str());
      ConnectTo(*entry.sorry_server);
      return;
    }
    ProcessCounters::Inc(ctx_->counters.no_server);
    if (ctx_->AllowLog()) {
      LBD_LOG(kWarning, "service %s: no real server available for %s, closing",
              runtime_->name.c_str(), ToString(client).c_str());
    }
    Finish(/*reset=*/false, 'P');
    return;
  }
  Begin(std::move(rs));
}

void Connection::Begin(std::shared_ptr<RealServer> server) {
  server_ = std::move(server);
  // The current table, not the entry of Start(): on a retry the worker may
  // have swapped tables since.
  server_stats_ = ctx_->ServerStats(runtime_.get(), server_->endpoint());
  server_->ConnectionOpened(/*active=*/false);
  counted_ = true;
  ConnectTo(server_->endpoint());
}

void Connection::ConnectTo(Endpoint target) {
  target_ = target;
  tried_ = true;
  LBD_LOG(kDebug, "service %s: connecting %s to %s%s (attempt %d)", runtime_->name.c_str(),
          ToString(flow_.source).c_str(), sorry_ ? "sorry server " : "", ToString(target).c_str(),
          attempts_);
  server_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (server_fd_ < 0) {
    int err = errno;
    if (err == EMFILE || err == ENFILE) {
      // Out of descriptors: not the server's fault and a retry would fail the
      // same way; shed the client (which frees its descriptor).
      ProcessCounters::Inc(ctx_->counters.emfile);
      attempts_ = 2;
    }
    OnConnectFailed(err);
    return;
  }
  SetNoDelay(server_fd_);
  ev_io_init(&server_io_, OnServerIo, server_fd_, 0);
  server_io_.data = this;
  signal_stamp_ns_ = SteadyNow().count();
  sockaddr_in sa = ToSockaddr(target);
  if (connect(server_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
    OnEstablished();
    return;
  }
  if (errno != EINPROGRESS) {
    OnConnectFailed(errno);
    return;
  }
  SetEvents(server_io_, server_fd_, server_events_, EV_WRITE);
  timer_.repeat = connect_timeout_;
  ev_timer_again(ctx_->loop, &timer_);
}

void Connection::OnConnectDone(int err) {
  if (err == 0) {
    OnEstablished();
  } else {
    OnConnectFailed(err);
  }
}

void Connection::OnConnectFailed(int err) {
  ProcessCounters& counters = ctx_->counters;
  ProcessCounters::Inc(counters.connect_failures);
  Endpoint failed = sorry_ ? Endpoint{} : server_->endpoint();
  LBD_LOG(kDebug, "service %s: connect %s to %s failed (%s)", runtime_->name.c_str(),
          ToString(flow_.source).c_str(), ToString(target_).c_str(), strerror(err));
  // The access log's cause if this was the last try.
  const char cause = err == EMFILE || err == ENFILE ? 'P' : err == ETIMEDOUT ? 's' : 'S';
  if (!sorry_ && server_fd_ >= 0) {
    // A failed connect is a sample as bad as a timed-out one, so that ewma
    // stops sending there before a health check notices.
    server_->ReportLatency(std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(connect_timeout_)));
  }
  if (server_fd_ >= 0) {
    SetEvents(server_io_, server_fd_, server_events_, 0);
    close(server_fd_);
    server_fd_ = -1;
  }
  ev_timer_stop(ctx_->loop, &timer_);
  if (counted_) {
    server_->ConnectionClosed(/*was_active=*/false);
    counted_ = false;
  }
  if (sorry_ || attempts_ >= 2) {
    if (!ctx_->AllowLog()) {
      Finish(/*reset=*/false, cause);
      return;
    }
    LBD_LOG(kWarning, "service %s: connect to %s failed (%s), closing client %s",
            runtime_->name.c_str(), sorry_ ? "sorry server" : ToString(failed).c_str(),
            strerror(err), ToString(flow_.source).c_str());
    Finish(/*reset=*/false, cause);
    return;
  }
  ++attempts_;
  // Pick again; if the scheduler returns the server that just failed, take
  // the next usable one in list order.
  std::shared_ptr<RealServer> next = runtime_->service->Pick(flow_);
  if (!next || next->endpoint() == failed) {
    next.reset();
    ServerList servers = runtime_->service->Servers();
    size_t start = 0;
    for (size_t i = 0; i < servers.size(); ++i) {
      if (servers[i]->endpoint() == failed) start = i + 1;
    }
    for (size_t k = 0; k < servers.size(); ++k) {
      const auto& rs = servers[(start + k) % servers.size()];
      if (rs->endpoint() != failed && rs->weight() > 0 && !rs->overloaded()) {
        next = rs;
        break;
      }
    }
  }
  if (!next) {
    LBD_LOG(kWarning, "service %s: connect to %s failed (%s), no other server, closing client %s",
            runtime_->name.c_str(), ToString(failed).c_str(), strerror(err),
            ToString(flow_.source).c_str());
    Finish(/*reset=*/false, cause);
    return;
  }
  ProcessCounters::Inc(counters.retries);
  LBD_LOG(kDebug, "service %s: retrying %s on %s", runtime_->name.c_str(),
          ToString(flow_.source).c_str(), ToString(next->endpoint()).c_str());
  if (ctx_->AllowLog()) {  // a dead server fails every connect until its check notices
    LBD_LOG(kInfo, "service %s: connect to %s failed (%s), retrying on %s", runtime_->name.c_str(),
            ToString(failed).c_str(), strerror(err), ToString(next->endpoint()).c_str());
  }
  Begin(std::move(next));
}

// The one place where a connect completed (at once or after EINPROGRESS),
// to a real server (server_) or the sorry server (server_ null).
void Connection::OnEstablished() {
  state_ = State::kRelaying;
  const int64_t now = SteadyNow().count();
  const int64_t connect_ns = now - signal_stamp_ns_;
  connect_us_ = static_cast<uint32_t>(std::clamp<int64_t>(connect_ns / 1000, 0, UINT32_MAX));
  if (server_) {
    server_->ReportLatency(std::chrono::nanoseconds(connect_ns));
    signal_stamp_ns_ = now;
    first_byte_ = FirstByte::kEstablished;
    server_->ConnectionActivated();
    active_ = true;
    if (server_stats_) server_stats_->connections.fetch_add(1, std::memory_order_relaxed);
    runtime_->persistence.Record(flow_.source.ip, server_, SteadyNow());
  }
  runtime_->stats.connections.fetch_add(1, std::memory_order_relaxed);
  last_activity_ = ev_now(ctx_->loop);
  timer_.repeat = idle_timeout_;
  ev_timer_again(ctx_->loop, &timer_);
  c2s_.want_read = s2c_.want_read = true;
  Relay();
}

void Connection::TrackFirstByte(uint64_t in, uint64_t out) {
  if (out > 0) {
    const int64_t waited = SteadyNow().count() - signal_stamp_ns_;
    server_->ReportLatency(std::chrono::microseconds(connect_us_) +
                           std::chrono::nanoseconds(waited));
    first_byte_ = FirstByte::kDone;
  } else if (in > 0) {
    // Bytes the client sent before the connect completed go out in
    // OnEstablished()'s round: the request started at the establish.
    if (first_byte_ == FirstByte::kWaitRequest) signal_stamp_ns_ = SteadyNow().count();
    first_byte_ = FirstByte::kWaitResponse;
  } else if (first_byte_ == FirstByte::kEstablished) {
    first_byte_ = FirstByte::kWaitRequest;
  }
}

// Like HAProxy's splice-auto: a direction relays with recv/send until a read
// fills the whole buffer, then with splice(). For request/response traffic a
// copy of a few KB costs less than the pipe's two extra calls; bulk traffic
// keeps splice's zero copy.
bool Connection::AcquireSlot(Direction& d) {
  if (d.bulk && !d.copy && !ctx_->force_copy) {
    if (d.pipe[0] >= 0 || ctx_->pipes.Get(d.pipe)) return true;
    d.copy = true;  // out of descriptors for pipes: copy instead
    ProcessCounters::Inc(ctx_->counters.splice_fallbacks);
  }
  if (d.buf == nullptr) d.buf = ctx_->buffers.Get();
  d.off = 0;
  return true;
}

void Connection::ReleaseSlot(Direction& d) {
  if (d.pipe[0] >= 0) {
    if (d.pending == 0) {
      ctx_->pipes.Put(d.pipe);
    } else {  // bytes left behind (reset): never hand such a pipe out again
      close(d.pipe[0]);
      close(d.pipe[1]);
      d.pipe[0] = d.pipe[1] = -1;
    }
  }
  if (d.buf != nullptr) {
    ctx_->buffers.Put(d.buf);
    d.buf = nullptr;
  }
}

bool Connection::MovePipeToBuffer(Direction& d) {
  char* buf = ctx_->buffers.Get();
  ssize_t n = read(d.pipe[0], buf, BufferPool::kBufferSize);
  if (n != static_cast<ssize_t>(d.pending)) {
    ctx_->buffers.Put(buf);
    return false;
  }
  ctx_->pipes.Put(d.pipe);
  d.buf = buf;
  d.off = 0;
  d.copy = true;
  ProcessCounters::Inc(ctx_->counters.splice_fallbacks);
  return true;
}

Connection::PumpResult Connection::Pump(Direction& d, int src, int dst, uint64_t& moved) {
  d.want_read = d.want_write = false;
  bool short_read = false;
  for (int round = 0; round < kMaxRounds; ++round) {
    if (d.pending > 0) {
      ssize_t n;
      if (d.buf != nullptr) {
        n = send(dst, d.buf + d.off, d.pending, MSG_NOSIGNAL);
      } else {
        n = splice(d.pipe[0], nullptr, dst, nullptr, d.pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      }
      if (n > 0) {
        moved += static_cast<uint64_t>(n);
        d.pending -= static_cast<uint32_t>(n);
        d.off += static_cast<uint32_t>(n);
        if (d.pending == 0) ReleaseSlot(d);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        d.want_write = true;
        return PumpResult::kOk;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EINVAL && d.buf == nullptr && MovePipeToBuffer(d)) continue;
      return PumpResult::kDestinationError;
    }
    if (d.eof) {
      if (!d.shut) {
        shutdown(dst, SHUT_WR);
        d.shut = true;
      }
      return PumpResult::kOk;
    }
    if (short_read) {
      // The last read returned less than asked: the socket is most likely
      // drained, and another read would only return EAGAIN. The loop is
      // level-triggered, so more data (or the FIN) wakes us again.
      d.want_read = true;
      return PumpResult::kOk;
    }
    AcquireSlot(d);
    ssize_t n;
    if (d.buf != nullptr) {
      n = recv(src, d.buf, BufferPool::kBufferSize, 0);
    } else {
      n = splice(src, nullptr, d.pipe[1], nullptr, kSpliceChunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    }
    if (n > 0) {
      const size_t asked = d.buf != nullptr ? BufferPool::kBufferSize : kSpliceChunk;
      if (d.buf != nullptr && static_cast<size_t>(n) == asked) d.bulk = true;
      short_read = static_cast<size_t>(n) < asked;
      d.pending = static_cast<uint32_t>(n);
      d.off = 0;
      continue;
    }
    int err = errno;
    ReleaseSlot(d);
    if (n == 0) {
      d.eof = true;
      continue;
    }
    if (err == EAGAIN || err == EWOULDBLOCK) {
      d.want_read = true;
      return PumpResult::kOk;
    }
    if (err == EINTR) continue;
    if (err == EINVAL && !d.copy) {
      d.copy = true;
      ProcessCounters::Inc(ctx_->counters.splice_fallbacks);
      continue;
    }
    return PumpResult::kSourceError;
  }
  // Budget used up: come back when the loop says so (level-triggered).
  if (d.pending > 0) {
    d.want_write = true;
  } else if (!d.eof) {
    d.want_read = true;
  }
  return PumpResult::kOk;
}

void Connection::Relay() {
  uint64_t in = 0;
  uint64_t out = 0;
  // The first failure decides the side: client -> server reads the client
  // and writes the server, server -> client the other way round.
  bool client_failed = false;
  PumpResult r = Pump(c2s_, client_fd_, server_fd_, in);
  if (r != PumpResult::kOk) {
    client_failed = r == PumpResult::kSourceError;
  } else {
    r = Pump(s2c_, server_fd_, client_fd_, out);
    client_failed = r == PumpResult::kDestinationError;
  }
  const bool failed = r != PumpResult::kOk;
  if (first_byte_ != FirstByte::kDone) TrackFirstByte(in, out);
  if (in + out > 0) {
    last_activity_ = ev_now(ctx_->loop);
    bytes_in_ += in;
    bytes_out_ += out;
    if (in > 0) {
      runtime_->stats.AddIn(in);
      if (server_stats_) server_stats_->AddIn(in);
    }
    if (out > 0) {
      runtime_->stats.AddOut(out);
      if (server_stats_) server_stats_->AddOut(out);
    }
  }
  if (failed) {
    ProcessCounters& counters = ctx_->counters;
    ProcessCounters::Inc(counters.resets);
    ProcessCounters::Inc(client_failed ? counters.client_resets : counters.server_resets);
    Finish(/*reset=*/true, client_failed ? 'C' : 'S');
    return;
  }
  if (active_ && (c2s_.eof || s2c_.eof)) {
    server_->ConnectionDeactivated();
    active_ = false;
  }
  if (c2s_.shut && s2c_.shut) {
    Finish(/*reset=*/false, '-');
    return;
  }
  UpdateInterest();
}

void Connection::SetEvents(ev_io& io, int fd, int& current, int wanted) {
  if (current == wanted) return;
  struct ev_loop* loop = ctx_->loop;
  ev_io_stop(loop, &io);
  if (wanted != 0) {
    ev_io_set(&io, fd, wanted);
    ev_io_start(loop, &io);
  }
  current = wanted;
}

void Connection::UpdateInterest() {
  int client = (c2s_.want_read ? EV_READ : 0) | (s2c_.want_write ? EV_WRITE : 0);
  int server = (s2c_.want_read ? EV_READ : 0) | (c2s_.want_write ? EV_WRITE : 0);
  SetEvents(client_io_, client_fd_, client_events_, client);
  SetEvents(server_io_, server_fd_, server_events_, server);
}

void Connection::Finish(bool reset, char cause) {
  if (access_log_) LogAccess(cause);
  struct ev_loop* loop = ctx_->loop;
  ev_io_stop(loop, &client_io_);
  if (server_fd_ >= 0) ev_io_stop(loop, &server_io_);
  ev_timer_stop(loop, &timer_);
  if (reset) {
    if (client_fd_ >= 0) SetLingerZero(client_fd_);
    if (server_fd_ >= 0) SetLingerZero(server_fd_);
  }
  if (client_fd_ >= 0) close(client_fd_);
  if (server_fd_ >= 0) close(server_fd_);
  client_fd_ = server_fd_ = -1;
  ReleaseSlot(c2s_);
  ReleaseSlot(s2c_);
  if (counted_) {
    server_->ConnectionClosed(active_);
    if (state_ == State::kRelaying) runtime_->persistence.Touch(flow_.source.ip, SteadyNow());
  }
  counted_ = active_ = false;
  state_ = State::kFree;
  server_.reset();
  server_stats_.reset();
  runtime_.reset();
  ctx_->Release(this);
}

void Connection::LogAccess(char cause) const {
  if (!LogEnabled(LogLevel::kInfo) || !ctx_->AllowAccessLog()) return;
  const bool connected = state_ == State::kRelaying;
  const char phase = cause == '-' ? '-' : connected ? 'D' : 'C';
  const std::string server = !tried_  ? "-"
                             : sorry_ ? "sorry:" + ToString(target_)
                                      : ToString(target_);
  const long long connect_ms = connected ? static_cast<long long>(connect_us_ / 1000) : -1;
  const long long total_ms = (SteadyNow().count() - start_ns_) / 1000000;
  Log(LogLevel::kInfo, "access %s %s %s %s %lld/%lld %llu/%llu %c%c",
      ToString(flow_.source).c_str(), runtime_->name.c_str(), ToString(flow_.destination).c_str(),
      server.c_str(), connect_ms, total_ms, static_cast<unsigned long long>(bytes_in_),
      static_cast<unsigned long long>(bytes_out_), cause, phase);
}

void Connection::OnClientIo(struct ev_loop*, ev_io* w, int) {
  auto* c = static_cast<Connection*>(w->data);
  c->Relay();
}

void Connection::OnServerIo(struct ev_loop*, ev_io* w, int) {
  auto* c = static_cast<Connection*>(w->data);
  if (c->state_ == State::kConnecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->server_fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    c->OnConnectDone(err);
    return;
  }
  c->Relay();
}

void Connection::OnTimer(struct ev_loop* loop, ev_timer* w, int) {
  auto* c = static_cast<Connection*>(w->data);
  if (c->state_ == State::kConnecting) {
    c->OnConnectFailed(ETIMEDOUT);
    return;
  }
  ev_tstamp idle = ev_now(loop) - c->last_activity_;
  if (idle >= c->idle_timeout_) {
    ProcessCounters::Inc(c->ctx_->counters.idle_timeouts);
    LBD_LOG(kDebug, "service %s: closing idle connection from %s", c->runtime_->name.c_str(),
            ToString(c->flow_.source).c_str());
    c->Finish(/*reset=*/false, 'c');
    return;
  }
  w->repeat = c->idle_timeout_ - idle;
  ev_timer_again(loop, w);
}

}  // namespace lbd
