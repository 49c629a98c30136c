#include "lbd/daemon/daemon.h"

#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

#include "lbd/daemon/status_page.h"
#include "lbd/sys/log.h"
#include "lbd/sys/rlimit.h"
#include "lbd/sys/socket.h"
#include "lbd/sys/systemd.h"

namespace lbd {
namespace {

// global.control_socket_mode / control_socket_group on the socket just created
// (who may run lbctl: root, or also the operators' group).
Status SetSocketAccess(const GlobalConfig& g) {
  if (chmod(g.control_socket.c_str(), static_cast<mode_t>(g.control_socket_mode)) != 0) {
    return Status::Error(ErrnoMessage("chmod " + g.control_socket, errno));
  }
  if (g.control_socket_group.empty()) return Status::Ok();
  std::vector<char> buf(16384);
  group gr{};
  group* found = nullptr;
  int rc = getgrnam_r(g.control_socket_group.c_str(), &gr, buf.data(), buf.size(), &found);
  if (found == nullptr) {
    return Status::Error("control_socket_group '" + g.control_socket_group +
                         "': " + (rc != 0 ? ErrnoMessage("getgrnam", rc) : "no such group"));
  }
  if (chown(g.control_socket.c_str(), static_cast<uid_t>(-1), gr.gr_gid) != 0) {
    return Status::Error(ErrnoMessage("chown " + g.control_socket, errno));
  }
  return Status::Ok();
}

}  // namespace

namespace {

double Seconds(Duration d) { return static_cast<double>(d.count()) / 1000.0; }

// Raises the soft descriptor limit to the hard one and returns the cap on
// client connections (global.maxconn, or derived from the limit).
int64_t ConnectionBudget(const Config& config) {
  auto limit = RaiseFdLimit();
  if (!limit.ok()) {
    LBD_LOG(kWarning, "descriptor limit: %s", limit.status().message().c_str());
    limit = GetFdLimit();
  }
  const uint64_t fds = limit.ok() ? limit->soft : 1024;
  size_t servers = 0;
  for (const auto& vs : config.virtual_services) servers += vs.real_servers.size();
  const int64_t derived = DefaultMaxConnections(fds, servers);
  const int64_t maxconn = config.global.maxconn > 0 ? config.global.maxconn : derived;
  LBD_LOG(kInfo, "connection budget: RLIMIT_NOFILE %llu, maxconn %lld%s",
          static_cast<unsigned long long>(fds), static_cast<long long>(maxconn),
          config.global.maxconn > 0 ? "" : " (derived)");
  if (config.global.maxconn > derived) {
    LBD_LOG(kWarning,
            "global.maxconn %d exceeds what RLIMIT_NOFILE %llu allows (%lld): at the limit "
            "health checks and control clients may lack descriptors",
            config.global.maxconn, static_cast<unsigned long long>(fds),
            static_cast<long long>(derived));
  }
  return maxconn;
}

}  // namespace

Result<std::unique_ptr<Daemon>> Daemon::Create(const Config& config, const Clock& clock,
                                               DaemonStartOptions options) {
  // Workers inherit a mask with the control signals blocked; SIGPIPE stays
  // blocked (and ignored) everywhere: a write to a closed peer is an EPIPE.
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGHUP, SIGTERM, SIGINT, SIGPIPE}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  struct ev_loop* loop = ev_default_loop(EVFLAG_AUTO);
  if (loop == nullptr) return Status::Error("cannot create the control loop");
  std::unique_ptr<Daemon> d(new Daemon(loop, clock));
  if (!config.global.log_level.empty()) SetLogLevel(config.global.log_level);

  int workers = config.global.workers > 0
                    ? config.global.workers
                    : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  d->counters_.maxconn.store(ConnectionBudget(config));
  for (int i = 0; i < workers; ++i) {
    WorkerOptions wo;
    wo.index = i;
    wo.counters = &d->counters_;
    wo.max_connections = d->counters_.maxconn.load();
    auto w = Worker::Create(wo);
    if (!w.ok()) return w.status();
    d->workers_.push_back(std::move(w).value());
  }
  d->config_.global = config.global;
  d->config_.file = config.file;
  d->share_listeners_ = options.share_listeners;
  // The control socket first: while another lbd holds it, this one opens
  // no listener (SO_REUSEPORT would let it take a share of the traffic).
  if (!config.global.control_socket.empty()) {
    Daemon* self = d.get();
    auto cs = ControlServer::Create(
        loop, config.global.control_socket,
        [self](std::string_view line) { return self->HandleControlLine(line); });
    if (!cs.ok()) return Status::Error("control socket: " + cs.status().message());
    d->control_ = std::move(cs).value();
    if (Status s = SetSocketAccess(config.global); !s.ok()) {
      return Status::Error("control socket: " + s.message());
    }
  }
  // lbctl's changes of the last run; a bad state file is never fatal.
  if (!config.global.state_file.empty()) {
    auto state = ReadStateFile(config.global.state_file);
    if (!state.ok()) {
      LBD_LOG(kWarning, "state file ignored: %s", state.status().message().c_str());
    } else {
      d->runtime_ = std::move(state).value();
    }
  }
  d->file_config_ = config;
  const bool had_state = !d->runtime_.empty();
  const Config running = Overlay(config, &d->runtime_);
  if (Status s = d->Apply(running, Plan(d->config_, running)); !s.ok()) return s;
  d->RestoreOverrides();
  if (had_state) {
    LBD_LOG(kInfo, "state restored from %s: %zu servers added, %zu removed, %zu weights/disables",
            config.global.state_file.c_str(), d->runtime_.added.size(), d->runtime_.removed.size(),
            d->runtime_.overrides.size());
  }
  if (!config.vrrp.empty()) {
    // Sockets now (a bad interface fails the start); adverts once all runs.
    auto v = NewVrrpRunner(loop, config.vrrp);
    if (!v.ok()) return Status::Error("vrrp: " + v.status().message());
    d->vrrp_ = std::move(v).value();
  }

  if (config.global.metrics_listen) {
    Daemon* self = d.get();
    HttpRoutes routes;
    routes.metrics = [self] {
      return FormatPrometheus(self->Report()) + FormatProcessPrometheus(ReadProcessStats());
    };
    routes.status_json = [self] { return FormatStatsJson(self->Report()); };
    routes.basic_auth = [self] { return self->config_.global.status_auth; };
    auto ms = MetricsServer::Create(
        loop, *config.global.metrics_listen,
        [routes](std::string_view head) { return RespondHttp(head, routes); });
    if (!ms.ok()) return Status::Error("metrics: " + ms.status().message());
    d->metrics_ = std::move(ms).value();
  }
  {
    Daemon* self = d.get();
    d->health_ = NewHealthMonitor(
        loop, [self](const std::string& svc, Endpoint rs, bool up) { self->OnHealth(svc, rs, up); },
        [self](const std::string& svc, Endpoint rs, int weight) {
          self->OnHealthWeight(svc, rs, weight);
        });
    d->health_->Configure(d->config_);
    d->UpdateQuorum();
  }
  for (auto& w : d->workers_) w->Start();

  ev_signal_init(&d->sighup_, OnSignal, SIGHUP);
  ev_signal_init(&d->sigterm_, OnSignal, SIGTERM);
  ev_signal_init(&d->sigint_, OnSignal, SIGINT);
  for (ev_signal* s : {&d->sighup_, &d->sigterm_, &d->sigint_}) {
    s->data = d.get();
    ev_signal_start(loop, s);
  }
  sigemptyset(&set);
  for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&set, s);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);

  ev_timer_init(&d->tick_, OnTickTimer, 1.0, 1.0);
  d->tick_.data = d.get();
  ev_timer_start(loop, &d->tick_);
  ev_init(&d->drain_timer_, OnDrainTimer);
  d->drain_timer_.data = d.get();
  if (d->vrrp_) {
    d->FeedVrrp();
    d->vrrp_->Start();
  }
  LBD_LOG(kInfo, "lbd started: %zu workers, %zu services, control socket %s", d->workers_.size(),
          d->services_.size(), config.global.control_socket.c_str());
  return d;
}

Daemon::Daemon(struct ev_loop* loop, const Clock& clock) : loop_(loop), clock_(clock) {}

void Daemon::NotifyServiceManager(std::string_view state) const {
  std::string message(state);
  message += "\nSTATUS=" + std::to_string(services_.size()) + " services, " +
             std::to_string(counters_.live.load()) + " connections";
  if (Status s = SdNotify(message); !s.ok()) LBD_LOG(kWarning, "%s", s.message().c_str());
}

Daemon::~Daemon() {
  vrrp_.reset();  // stops gracefully if still running
  for (auto& w : workers_) w->Abort();
  for (auto& w : workers_) w->Join();
  workers_.clear();
  health_.reset();
  metrics_.reset();
  control_.reset();  // removes the socket file
  for (ev_signal* s : {&sighup_, &sigterm_, &sigint_}) ev_signal_stop(loop_, s);
  ev_timer_stop(loop_, &tick_);
  ev_timer_stop(loop_, &drain_timer_);
}

int Daemon::Run() {
  // The service manager's READY=1: every listener and socket is open.
  NotifyServiceManager("READY=1");
  ev_run(loop_, 0);
  for (auto& w : workers_) w->Join();
  LBD_LOG(kInfo, "lbd stopped%s", aborted_ ? " (drain timeout: remaining connections reset)" : "");
  return 0;
}

ServiceState* Daemon::FindService(std::string_view name) {
  for (auto& s : services_) {
    if (s.config.name == name) return &s;
  }
  return nullptr;
}

bool Daemon::SorryOnly(const ServiceState& st) const {
  return st.config.sorry_server && health_ && !health_->HasQuorum(st.config.name);
}

void Daemon::Publish() {
  auto table = std::make_shared<ServiceTable>();
  table->generation = ++generation_;
  for (auto& s : services_) {
    if (const bool sorry_only = SorryOnly(s); sorry_only != s.sorry_only) {
      s.sorry_only = sorry_only;
      const char* name = s.config.name.c_str();
      if (sorry_only) {
        LBD_LOG(kWarning, "service %s: new connections go to the sorry server %s (quorum lost)",
                name, ToString(*s.config.sorry_server).c_str());
      } else if (health_ && !health_->HasQuorum(s.config.name)) {
        LBD_LOG(kWarning,
                "service %s: new connections no longer go to a sorry server (sorry_server "
                "removed; quorum still lost)",
                name);
      } else {
        LBD_LOG(kInfo, "service %s: new connections go to the real servers again (quorum regained)",
                name);
      }
    }
    ServiceEntry e;
    e.runtime = s.runtime;
    e.listeners = shutting_down_ ? nullptr : s.listeners;
    e.listen = s.config.listen;
    e.connect_timeout = Seconds(s.config.connect_timeout);
    e.idle_timeout = Seconds(s.config.idle_timeout);
    e.sorry_server = s.config.sorry_server;
    e.sorry_only = s.sorry_only;
    e.access_log = s.config.access_log;
    e.server_stats = s.StatsMap();
    table->services.push_back(std::move(e));
  }
  std::shared_ptr<const ServiceTable> frozen = std::move(table);
  for (auto& w : workers_) w->Publish(frozen);
}

StatusReport Daemon::Report() const {
  return BuildStatusReport({services_, health_.get(), vrrp_.get(), counters_, total_rates_,
                            service_rates_, reloads_, reload_failures_});
}

double Daemon::NowSeconds() const { return std::chrono::duration<double>(clock_.Now()).count(); }

void Daemon::OnTick() {
  const double now = NowSeconds();
  uint64_t connections = 0, bytes_in = 0, bytes_out = 0;
  std::map<std::string, RateWindow> next;  // removed services' windows go
  for (const auto& st : services_) {
    RateWindow& w = next[st.config.name];
    if (auto it = service_rates_.find(st.config.name); it != service_rates_.end()) {
      w = std::move(it->second);
    }
    const TrafficStats& t = st.runtime->stats;
    const uint64_t c = t.connections.load(), in = t.bytes_in.load(), out = t.bytes_out.load();
    w.Add(now, c, in, out);
    connections += c;
    bytes_in += in;
    bytes_out += out;
    // Workers stamp persistence entries with the steady clock itself.
    st.runtime->persistence.Expire(std::chrono::steady_clock::now().time_since_epoch());
  }
  service_rates_ = std::move(next);
  total_rates_.Add(now, connections, bytes_in, bytes_out);
  UpdateQuorum();  // catches any change not hooked above
  FeedVrrp();
}

void Daemon::BeginShutdown(int signum) {
  if (shutting_down_) {
    LBD_LOG(kInfo, "signal %d again: still draining", signum);
    return;
  }
  shutting_down_ = true;
  NotifyServiceManager("STOPPING=1");
  if (vrrp_) {
    // First: priority 0 and the VIPs gone, so the peer takes over at once
    // (after its Skew_Time) while this lbd drains.
    vrrp_->Stop();
    LBD_LOG(kInfo, "vrrp stopped: the peer takes over");
  }
  for (auto& st : services_) {
    if (!st.packet) continue;
    st.packet.reset();  // tun device, route and rules removed
    LBD_LOG(kInfo, "service %s: packet forwarding stopped", st.config.name.c_str());
  }
  LBD_LOG(kInfo, "signal %d: stopping; draining %lld connections for up to %.1f s", signum,
          static_cast<long long>(counters_.live.load()), Seconds(config_.global.drain_timeout));
  // A table without listeners: they close once every worker let go of the old one.
  for (auto& st : services_) st.listeners.reset();
  Publish();
  for (auto& w : workers_) w->BeginDrain();
  drain_deadline_ = NowSeconds() + Seconds(config_.global.drain_timeout);
  ev_timer_set(&drain_timer_, 0.02, 0.02);
  ev_timer_start(loop_, &drain_timer_);
}

void Daemon::OnSignal(struct ev_loop*, ev_signal* w, int) {
  auto* self = static_cast<Daemon*>(w->data);
  if (w->signum == SIGHUP) {
    if (!self->shutting_down_) (void)self->Reload();
    return;
  }
  self->BeginShutdown(w->signum);
}

void Daemon::OnTickTimer(struct ev_loop*, ev_timer* w, int) {
  static_cast<Daemon*>(w->data)->OnTick();
}

void Daemon::OnDrainTimer(struct ev_loop* loop, ev_timer* w, int) {
  auto* self = static_cast<Daemon*>(w->data);
  bool all_done = std::all_of(self->workers_.begin(), self->workers_.end(),
                              [](const auto& wk) { return wk->finished(); });
  if (all_done) {
    ev_break(loop, EVBREAK_ALL);
    return;
  }
  if (!self->aborted_ && self->NowSeconds() >= self->drain_deadline_) {
    self->aborted_ = true;
    LBD_LOG(kWarning, "drain timeout: resetting %lld connections",
            static_cast<long long>(self->counters_.live.load()));
    for (auto& wk : self->workers_) wk->Abort();
  }
}

}  // namespace lbd
