#include "lbd/daemon/daemon.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "lbd/conf/loader.h"
#include "lbd/daemon/control_protocol.h"
#include "lbd/sys/log.h"

namespace lbd {
namespace {

// Samples kept for the rates: one per tick (1 s), so rates cover ~4 s.
constexpr size_t kRateSamples = 5;

SchedulerOptions SchedulerOptionsOf(const VirtualServiceConfig& vs) {
  SchedulerOptions o;
  o.hash_port = vs.hash_port;
  o.hash_fallback = vs.hash_fallback;
  return o;
}

RealServerOptions ServerOptionsOf(const RealServerConfig& rs) {
  RealServerOptions o;
  o.weight = rs.weight;
  o.upper_threshold = rs.max_conns;
  o.lower_threshold = rs.min_conns;
  return o;
}

const RealServerConfig* FindServer(const VirtualServiceConfig& vs, Endpoint e) {
  for (const auto& rs : vs.real_servers) {
    if (rs.address == e) return &rs;
  }
  return nullptr;
}

double Seconds(Duration d) { return static_cast<double>(d.count()) / 1000.0; }

std::shared_ptr<ServiceRuntime> NewRuntime(const VirtualServiceConfig& vs,
                                           std::unique_ptr<Service> service) {
  auto runtime = std::make_shared<ServiceRuntime>(vs.name, std::move(service));
  for (const auto& rs : vs.real_servers) {
    auto added = runtime->service->AddServer(rs.address, ServerOptionsOf(rs));
    if (!added.ok()) {
      LBD_LOG(kError, "service %s: %s", vs.name.c_str(), added.status().message().c_str());
    }
  }
  return runtime;
}

// Sum of the configured weights of the servers that are up, in the table
// (> 0: the service has a server up, for VRRP's track_services).
int64_t UpWeight(const Service& service) {
  int64_t sum = 0;
  for (const auto& rs : service.Servers()) {
    if (rs->up()) sum += rs->configured_weight();
  }
  return sum;
}

// The check that applies to `rs` keeps failed servers in the table.
bool InhibitOnFailure(const VirtualServiceConfig& vs, const RealServerConfig& rs) {
  return rs.healthcheck ? rs.healthcheck->inhibit_on_failure : vs.healthcheck.inhibit_on_failure;
}

// Field by field, source positions ignored.
bool SameVrrpInstance(const VrrpInstanceConfig& a, const VrrpInstanceConfig& b) {
  auto tracks_equal = [](const VrrpInstanceConfig::Track& x, const VrrpInstanceConfig::Track& y) {
    return x.service == y.service && x.weight == y.weight;
  };
  return a.name == b.name && a.interface == b.interface &&
         a.virtual_router_id == b.virtual_router_id && a.priority == b.priority &&
         a.version == b.version && a.advert_interval == b.advert_interval &&
         a.preempt == b.preempt && a.preempt_delay == b.preempt_delay &&
         a.auth_pass == b.auth_pass && a.virtual_ips == b.virtual_ips &&
         a.unicast_peers == b.unicast_peers && a.notify == b.notify &&
         a.notify_master == b.notify_master && a.notify_backup == b.notify_backup &&
         a.notify_fault == b.notify_fault &&
         std::equal(a.track_services.begin(), a.track_services.end(), b.track_services.begin(),
                    b.track_services.end(), tracks_equal);
}

bool SameVrrpConfig(const std::vector<VrrpInstanceConfig>& a,
                    const std::vector<VrrpInstanceConfig>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), SameVrrpInstance);
}

}  // namespace

Result<std::unique_ptr<Daemon>> Daemon::Create(const Config& config) {
  // Workers inherit a mask with the control signals blocked; SIGPIPE stays
  // blocked (and ignored) everywhere: a write to a closed peer is an EPIPE.
  signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGHUP, SIGTERM, SIGINT, SIGPIPE}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  struct ev_loop* loop = ev_default_loop(EVFLAG_AUTO);
  if (loop == nullptr) return Status::Error("cannot create the control loop");
  std::unique_ptr<Daemon> d(new Daemon(loop));
  if (!config.global.log_level.empty()) SetLogLevel(config.global.log_level);

  int workers = config.global.workers > 0
                    ? config.global.workers
                    : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  for (int i = 0; i < workers; ++i) {
    WorkerOptions wo;
    wo.index = i;
    wo.counters = &d->counters_;
    auto w = Worker::Create(wo);
    if (!w.ok()) return w.status();
    d->workers_.push_back(std::move(w).value());
  }
  d->config_.global = config.global;
  d->config_.file = config.file;
  if (Status s = d->Apply(config); !s.ok()) return s;
  if (!config.vrrp.empty()) {
    // Sockets now (a bad interface fails the start); adverts once all runs.
    auto v = NewVrrpRunner(loop, config.vrrp);
    if (!v.ok()) return Status::Error("vrrp: " + v.status().message());
    d->vrrp_ = std::move(v).value();
  }

  if (!config.global.control_socket.empty()) {
    Daemon* self = d.get();
    auto cs = ControlServer::Create(
        loop, config.global.control_socket,
        [self](std::string_view line) { return self->HandleControlLine(line); });
    if (!cs.ok()) return Status::Error("control socket: " + cs.status().message());
    d->control_ = std::move(cs).value();
  }
  if (config.global.metrics_listen) {
    Daemon* self = d.get();
    auto ms = MetricsServer::Create(loop, *config.global.metrics_listen,
                                    [self] { return FormatPrometheus(self->Report()); });
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

Daemon::Daemon(struct ev_loop* loop) : loop_(loop) {}

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
  ev_run(loop_, 0);
  for (auto& w : workers_) w->Join();
  LBD_LOG(kInfo, "lbd stopped%s", aborted_ ? " (drain timeout: remaining connections reset)" : "");
  return 0;
}

Daemon::ServiceState* Daemon::FindService(std::string_view name) {
  for (auto& s : services_) {
    if (s.config.name == name) return &s;
  }
  return nullptr;
}

Status Daemon::Apply(const Config& next) {
  const int nworkers = static_cast<int>(workers_.size());
  // Phase 1: everything that can fail, without touching the running state.
  struct Prepared {
    const VirtualServiceConfig* config;
    ServiceState* old;
    std::unique_ptr<Service> service;  // new services only
    std::shared_ptr<const ListenerSet> listeners;
    // nat/dr/tun: a new data plane (and, for a new service, its runtime),
    // or `packet_late`: the old one is replaced in phase 2 (same VIP route).
    std::shared_ptr<ServiceRuntime> runtime;
    std::shared_ptr<PacketRunner> packet;
    bool packet_late = false;
  };
  std::vector<Prepared> prepared;
  // The smallest lbd<N> index no running or prepared data plane has.
  auto free_packet_index = [&] {
    std::set<int> used;
    for (const auto& st : services_) {
      if (st.packet) used.insert(st.packet->index());
    }
    for (const auto& q : prepared) {
      if (q.packet) used.insert(q.packet->index());
    }
    int i = 0;
    while (used.count(i)) ++i;
    return i;
  };
  for (const auto& vs : next.virtual_services) {
    Prepared p{&vs, FindService(vs.name), nullptr, nullptr, nullptr, nullptr, false};
    if (p.old == nullptr) {
      auto svc = Service::Create(vs.scheduler, SchedulerOptionsOf(vs));
      if (!svc.ok()) return Status::Error("service " + vs.name + ": " + svc.status().message());
      p.service = std::move(svc).value();
    } else if (p.old->config.scheduler != vs.scheduler || p.old->config.hash_port != vs.hash_port ||
               p.old->config.hash_fallback != vs.hash_fallback) {
      auto check = Scheduler::Create(vs.scheduler, SchedulerOptionsOf(vs));
      if (!check.ok()) return Status::Error("service " + vs.name + ": " + check.status().message());
    }
    if (vs.forwarding == Forwarding::kProxy) {
      if (p.old != nullptr && p.old->listeners && p.old->config.listen == vs.listen) {
        p.listeners = p.old->listeners;
      } else {
        auto ls = ListenerSet::Open(vs.listen, nworkers);
        if (!ls.ok()) return Status::Error("service " + vs.name + ": " + ls.status().message());
        p.listeners = std::move(ls).value();
      }
    } else if (p.old == nullptr || !p.old->packet || p.old->config.forwarding != vs.forwarding ||
               p.old->config.listen != vs.listen) {
      // A data plane to create (a kept one follows its servers in phase 2).
      if (p.old != nullptr && p.old->packet && p.old->config.listen.ip == vs.listen.ip) {
        p.packet_late = true;  // the VIP's route is the old one's until it goes
      } else {
        if (p.old == nullptr) p.runtime = NewRuntime(vs, std::move(p.service));
        auto runner = NewPacketRunner(vs, p.old != nullptr ? p.old->runtime : p.runtime, nworkers,
                                      free_packet_index());
        if (!runner.ok()) {
          return Status::Error("service " + vs.name + ": " + runner.status().message());
        }
        p.packet = std::move(runner).value();
      }
    }
    prepared.push_back(std::move(p));
  }

  // Phase 2: commit.
  std::vector<ServiceState> next_services;
  for (auto& p : prepared) {
    const VirtualServiceConfig& vs = *p.config;
    ServiceState st;
    if (p.old == nullptr) {
      st.runtime =
          p.runtime != nullptr ? std::move(p.runtime) : NewRuntime(vs, std::move(p.service));
      LBD_LOG(kInfo, "service %s: %s %s %s, %zu real servers", vs.name.c_str(),
              ToString(vs.listen).c_str(), vs.scheduler.c_str(), ToString(vs.forwarding),
              vs.real_servers.size());
    } else {
      const VirtualServiceConfig& old = p.old->config;
      st.runtime = p.old->runtime;
      st.server_stats = p.old->server_stats;
      st.sorry_only = p.old->sorry_only;
      Service& svc = *st.runtime->service;
      if (old.scheduler != vs.scheduler || old.hash_port != vs.hash_port ||
          old.hash_fallback != vs.hash_fallback) {
        (void)svc.SetScheduler(vs.scheduler, SchedulerOptionsOf(vs));
        LBD_LOG(kInfo, "service %s: scheduler %s -> %s", vs.name.c_str(), old.scheduler.c_str(),
                vs.scheduler.c_str());
      }
      for (const auto& rs : svc.Servers()) {
        if (FindServer(vs, rs->endpoint()) == nullptr) {
          (void)svc.RemoveServer(rs->endpoint());
          st.server_stats.erase(rs->endpoint());
          disabled_.erase({vs.name, rs->endpoint()});
          health_down_.erase({vs.name, rs->endpoint()});
          LBD_LOG(kInfo, "service %s: real server %s removed (its connections drain)",
                  vs.name.c_str(), ToString(rs->endpoint()).c_str());
        }
      }
      // Held out by their check: gone from the file -> forgotten; still
      // there -> not re-added here (their check does), a new weight kept.
      for (auto it = held_out_.begin(); it != held_out_.end();) {
        const ServerKey& key = it->first;
        if (key.first != vs.name) {
          ++it;
          continue;
        }
        const RealServerConfig* now = FindServer(vs, key.second);
        if (now != nullptr) {
          const RealServerConfig* before = FindServer(old, key.second);
          if (before == nullptr || before->weight != now->weight) it->second.weight = now->weight;
          ++it;
          continue;
        }
        st.server_stats.erase(key.second);
        disabled_.erase(key);
        health_down_.erase(key);
        LBD_LOG(kInfo, "service %s: real server %s removed (was out of the table: down)",
                vs.name.c_str(), ToString(key.second).c_str());
        it = held_out_.erase(it);
      }
      for (const auto& rs : vs.real_servers) {
        if (held_out_.count({vs.name, rs.address})) continue;
        if (svc.Find(rs.address) == nullptr) {
          auto added = svc.AddServer(rs.address, ServerOptionsOf(rs));
          if (!added.ok()) {
            LBD_LOG(kError, "service %s: %s", vs.name.c_str(), added.status().message().c_str());
          } else {
            LBD_LOG(kInfo, "service %s: real server %s added, weight %d", vs.name.c_str(),
                    ToString(rs.address).c_str(), rs.weight);
          }
          continue;
        }
        const RealServerConfig* before = FindServer(old, rs.address);
        if (before == nullptr || before->weight != rs.weight) {
          (void)svc.SetWeight(rs.address, rs.weight);
          LBD_LOG(kInfo, "service %s: real server %s weight %d", vs.name.c_str(),
                  ToString(rs.address).c_str(), rs.weight);
        }
        (void)svc.SetThresholds(rs.address, rs.max_conns, rs.min_conns);
      }
      if (old.listen != vs.listen) {
        LBD_LOG(kInfo, "service %s: now listening on %s", vs.name.c_str(),
                ToString(vs.listen).c_str());
      }
    }
    for (const auto& rs : vs.real_servers) {
      if (!st.server_stats.count(rs.address)) {
        st.server_stats.emplace(rs.address, std::make_shared<TrafficStats>());
      }
    }
    st.runtime->persistence.SetTimeout(
        std::chrono::duration_cast<std::chrono::nanoseconds>(vs.persistence));
    st.listeners = std::move(p.listeners);
    if (vs.forwarding != Forwarding::kProxy) {
      SetPacketRunner(p.old, vs, nworkers, std::move(p.packet), p.packet_late, &st);
    }
    st.config = vs;
    next_services.push_back(std::move(st));
  }
  for (const auto& old : services_) {
    bool kept = std::any_of(next_services.begin(), next_services.end(),
                            [&](const ServiceState& s) { return s.runtime == old.runtime; });
    if (!kept) {
      LBD_LOG(kInfo, "service %s removed (its connections drain)", old.config.name.c_str());
      std::erase_if(disabled_, [&](const ServerKey& k) { return k.first == old.config.name; });
      std::erase_if(health_down_, [&](const ServerKey& k) { return k.first == old.config.name; });
      std::erase_if(held_out_, [&](const auto& h) { return h.first.first == old.config.name; });
    }
  }
  services_ = std::move(next_services);
  config_.virtual_services = next.virtual_services;
  config_.vrrp = next.vrrp;
  Publish();
  FeedVrrp();
  return Status::Ok();
}

void Daemon::SetPacketRunner(ServiceState* old, const VirtualServiceConfig& vs, int workers,
                             std::shared_ptr<PacketRunner> created, bool late, ServiceState* st) {
  const char* name = vs.name.c_str();
  if (late) {
    // Same VIP, other forwarding: the old data plane (and its route) goes first.
    const int index = old->packet->index();
    LBD_LOG(kWarning, "service %s: forwarding changed: data plane lbd%d recreated, its flows reset",
            name, index);
    old->packet.reset();
    auto runner = NewPacketRunner(vs, st->runtime, workers, index);
    if (!runner.ok()) {
      LBD_LOG(kError, "service %s: %s: it forwards nothing until a reload succeeds", name,
              runner.status().message().c_str());
      return;
    }
    created = std::move(runner).value();
  } else if (created != nullptr && old != nullptr && old->packet) {
    LBD_LOG(kWarning, "service %s: listen changed: new data plane lbd%d, the flows of lbd%d reset",
            name, created->index(), old->packet->index());
  }
  if (created != nullptr) {
    LBD_LOG(kInfo, "service %s: %s forwarding through lbd%d", name, ToString(vs.forwarding),
            created->index());
    st->packet = std::move(created);
  } else if (old != nullptr) {
    st->packet = old->packet;
  }
  // The runtime's servers may have changed (reload): new ones get set up.
  if (st->packet && old != nullptr) {
    if (Status s = st->packet->SyncServers(); !s.ok()) {
      LBD_LOG(kError, "service %s: %s", name, s.message().c_str());
    }
  }
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
    e.server_stats = s.server_stats;
    table->services.push_back(std::move(e));
  }
  std::shared_ptr<const ServiceTable> frozen = std::move(table);
  for (auto& w : workers_) w->Publish(frozen);
}

Status Daemon::Reload() {
  if (shutting_down_) return Status::Error("lbd is shutting down; reload refused");
  LBD_LOG(kInfo, "reloading %s", config_.file.c_str());
  LoadResult loaded = LoadConfigFile(config_.file);
  if (!loaded.config) {
    ++reload_failures_;
    std::string message;
    for (const auto& e : loaded.errors) {
      LBD_LOG(kError, "%s", e.ToString().c_str());
      message += e.ToString() + "\n";
    }
    LBD_LOG(kError, "reload refused: the running configuration is kept");
    if (!message.empty()) message.pop_back();
    return Status::Error(message.empty() ? "reload failed" : message);
  }
  const Config& next = *loaded.config;
  if (next.global.workers != config_.global.workers ||
      next.global.control_socket != config_.global.control_socket ||
      next.global.metrics_listen != config_.global.metrics_listen) {
    LBD_LOG(kWarning,
            "reload: global.workers/control_socket/metrics_listen change at restart only");
  }
  // A changed `vrrp:` section means new instances: their sockets are opened
  // before anything changes, so a bad interface refuses the whole reload.
  const bool vrrp_changed = !SameVrrpConfig(config_.vrrp, next.vrrp);
  std::unique_ptr<VrrpRunner> next_vrrp;
  if (vrrp_changed && !next.vrrp.empty()) {
    auto v = NewVrrpRunner(loop_, next.vrrp);
    if (!v.ok()) {
      ++reload_failures_;
      LBD_LOG(kError, "reload refused: vrrp: %s; the running configuration is kept",
              v.status().message().c_str());
      return Status::Error("vrrp: " + v.status().message());
    }
    next_vrrp = std::move(v).value();
  }
  if (Status s = Apply(next); !s.ok()) {
    ++reload_failures_;
    LBD_LOG(kError, "reload refused: %s; the running configuration is kept", s.message().c_str());
    return s;
  }
  if (vrrp_changed) {
    if (vrrp_) {
      LBD_LOG(kWarning, "reload: vrrp section changed: restarting the VRRP instances");
      vrrp_->Stop();  // a master hands over (priority 0) before the new ones start
    }
    vrrp_ = std::move(next_vrrp);
    vrrp_fed_.clear();
    if (vrrp_) {
      FeedVrrp();
      vrrp_->Start();
    }
  }
  config_.global.drain_timeout = next.global.drain_timeout;
  if (next.global.log_level != config_.global.log_level) {
    SetLogLevel(next.global.log_level);
    config_.global.log_level = next.global.log_level;
  }
  ++reloads_;
  health_->Configure(config_);
  UpdateAllUp();  // inhibit_on_failure may have changed
  UpdateQuorum();
  LBD_LOG(kInfo, "reload done: %zu services", services_.size());
  return Status::Ok();
}

void Daemon::UpdateUp(const std::string& service, Endpoint server) {
  ServiceState* st = FindService(service);
  if (st == nullptr) return;
  ServerKey key{service, server};
  const bool health_down = health_down_.count(key) > 0;
  bool up = !disabled_.count(key) && !health_down;
  Service& svc = *st->runtime->service;
  const RealServerConfig* rs = FindServer(st->config, server);
  const bool out = rs != nullptr && health_down && !InhibitOnFailure(st->config, *rs);
  auto held = held_out_.find(key);
  if (out && held == held_out_.end()) {
    // Down first (weight 0): whatever looks at the weight alone sees it
    // leave before it leaves the list.
    (void)svc.SetUp(server, false);
    if (auto in = svc.Find(server); in != nullptr && svc.RemoveServer(server).ok()) {
      held_out_.emplace(key, HeldOut{in, in->configured_weight()});
      LBD_LOG(kWarning,
              "service %s: real server %s out of the table (inhibit_on_failure: false); its "
              "connections continue",
              service.c_str(), ToString(server).c_str());
    }
  } else if (!out && held != held_out_.end() && rs != nullptr) {
    RealServerOptions options = ServerOptionsOf(*rs);
    options.weight = held->second.weight;
    auto added = svc.AddServer(server, options);
    held_out_.erase(held);
    if (!added.ok()) {
      LBD_LOG(kError, "service %s: %s", service.c_str(), added.status().message().c_str());
    } else {
      LBD_LOG(kInfo, "service %s: real server %s back in the table, weight %d", service.c_str(),
              ToString(server).c_str(), options.weight);
      // A reload while it was out may have retired its data-plane slot.
      if (st->packet) {
        if (Status s = st->packet->SyncServers(); !s.ok()) {
          LBD_LOG(kError, "service %s: %s", service.c_str(), s.message().c_str());
        }
      }
    }
  }
  if (!out) (void)svc.SetUp(server, up);
}

void Daemon::UpdateAllUp() {
  for (const auto& st : services_) {
    for (const auto& rs : st.config.real_servers) UpdateUp(st.config.name, rs.address);
  }
}

void Daemon::UpdateQuorum() {
  if (!health_ || shutting_down_) return;
  bool publish = false;
  for (const auto& st : services_) {
    // The monitor logs a change and starts the command; Publish logs the
    // switch to or from the sorry server.
    (void)health_->UpdateQuorum(st.config.name, UpWeight(*st.runtime->service));
    publish = publish || SorryOnly(st) != st.sorry_only;
  }
  if (publish) Publish();
}

void Daemon::OnHealth(const std::string& service, Endpoint server, bool up) {
  ServerKey key{service, server};
  if (health_down_.count(key) == (up ? 0u : 1u)) return;  // no transition
  if (up) {
    health_down_.erase(key);
  } else {
    health_down_.insert(key);
  }
  Log(up ? LogLevel::kInfo : LogLevel::kWarning, "service %s: real server %s is %s",
      service.c_str(), ToString(server).c_str(), up ? "up" : "down");
  UpdateUp(service, server);
  UpdateQuorum();
  FeedVrrp();
}

void Daemon::OnHealthWeight(const std::string& service, Endpoint server, int weight) {
  ServiceState* st = FindService(service);
  if (st == nullptr || weight < 0 || weight > kMaxWeight) return;
  if (auto held = held_out_.find({service, server}); held != held_out_.end()) {
    if (held->second.weight == weight) return;
    held->second.weight = weight;
    LBD_LOG(kInfo,
            "service %s: real server %s weight %d (health check; out of the table, applies "
            "when it is back)",
            service.c_str(), ToString(server).c_str(), weight);
    return;
  }
  auto rs = st->runtime->service->Find(server);
  if (!rs || rs->configured_weight() == weight) return;
  (void)st->runtime->service->SetWeight(server, weight);
  LBD_LOG(kInfo, "service %s: real server %s weight %d (health check)", service.c_str(),
          ToString(server).c_str(), weight);
  UpdateQuorum();
  FeedVrrp();
}

void Daemon::FeedVrrp() {
  if (!vrrp_ || shutting_down_) return;
  for (const auto& st : services_) {
    const bool up = UpWeight(*st.runtime->service) > 0;
    auto [it, inserted] = vrrp_fed_.try_emplace(st.config.name, up);
    if (!inserted && it->second == up) continue;
    it->second = up;
    vrrp_->SetServiceUp(st.config.name, up);
  }
}

ControlReply Daemon::HandleControlLine(std::string_view line) {
  auto cmd = ParseCommand(line);
  if (!cmd.ok()) return EncodeReply(cmd.status(), "");
  const Command& c = *cmd;
  switch (c.kind) {
    case Command::Kind::kStatus: {
      StatusReport r = Report();
      return EncodeReply(Status::Ok(), c.json ? FormatStatusJson(r) : FormatStatusText(r));
    }
    case Command::Kind::kStats: {
      StatusReport r = Report();
      return EncodeReply(Status::Ok(), c.json ? FormatStatsJson(r) : FormatStatsText(r));
    }
    case Command::Kind::kReload:
      return EncodeReply(Reload(), "");
    case Command::Kind::kFlows:
      return FlowsReply(c);
    default:
      break;
  }
  ServiceState* st = FindService(c.service);
  if (st == nullptr) return EncodeReply(Status::Error("no service '" + c.service + "'"), "");
  Service& svc = *st->runtime->service;
  ServerKey key{c.service, c.server};
  auto held = held_out_.find(key);  // out of the table while down: commands still apply
  if (svc.Find(c.server) == nullptr && held == held_out_.end()) {
    return EncodeReply(
        Status::Error("service " + c.service + " has no real server " + ToString(c.server)), "");
  }
  Status s;
  switch (c.kind) {
    case Command::Kind::kWeight:
      if (held != held_out_.end()) {
        if (c.weight < 0 || c.weight > kMaxWeight) {
          s = Status::Error("weight " + std::to_string(c.weight) + " out of range 0..65535");
        } else {
          held->second.weight = c.weight;
        }
      } else {
        s = svc.SetWeight(c.server, c.weight);
      }
      LBD_LOG(kInfo, "lbctl: service %s: real server %s weight %d", c.service.c_str(),
              ToString(c.server).c_str(), c.weight);
      break;
    case Command::Kind::kDrain:
      if (held != held_out_.end()) {
        held->second.weight = 0;
      } else {
        s = svc.SetWeight(c.server, 0);
      }
      LBD_LOG(kInfo, "lbctl: service %s: real server %s drained (weight 0)", c.service.c_str(),
              ToString(c.server).c_str());
      break;
    case Command::Kind::kEnable:
    case Command::Kind::kDisable: {
      bool enable = c.kind == Command::Kind::kEnable;
      if (enable) {
        disabled_.erase(key);
      } else {
        disabled_.insert(key);
      }
      UpdateUp(c.service, c.server);
      LBD_LOG(kInfo, "lbctl: service %s: real server %s %s", c.service.c_str(),
              ToString(c.server).c_str(), enable ? "enabled" : "disabled");
      break;
    }
    default:
      break;
  }
  UpdateQuorum();
  FeedVrrp();
  return EncodeReply(s, "");
}

ControlReply Daemon::FlowsReply(const Command& c) const {
  std::vector<PacketReport> packet;
  size_t left = c.max_flows;
  bool found = c.service.empty();
  for (const auto& st : services_) {
    if (!c.service.empty() && st.config.name != c.service) continue;
    found = true;
    if (!st.packet && c.service.empty()) continue;  // proxy services have no flow table
    if (!st.packet) {
      return EncodeReply(Status::Error("service " + st.config.name + " forwards " +
                                       ToString(st.config.forwarding) +
                                       ": flows are listed for nat, dr and tun services"),
                         "");
    }
    packet.push_back(st.packet->Snapshot(left));
    left -= std::min(left, packet.back().flow_list.size());
  }
  if (!found) return EncodeReply(Status::Error("no service '" + c.service + "'"), "");
  // The snapshot (at most kMaxFlowsListed flows) now; the text part by part
  // as lbctl reads it, so formatting never holds the control loop for long.
  ControlReply reply(EncodeReply(Status::Ok(), ""));
  reply.text.pop_back();  // the empty line: the writer's end comes first
  auto writer = std::make_shared<FlowsWriter>(std::move(packet), c.json, c.max_flows);
  reply.more = [writer](std::string& out) {
    if (writer->Next(out)) return true;
    out += '\n';
    return false;
  };
  return reply;
}

StatusReport Daemon::Report() const {
  StatusReport r;
  for (const auto& st : services_) {
    ServiceReport s;
    s.name = st.config.name;
    s.listen = st.config.listen;
    s.scheduler = st.runtime->service->scheduler_name();
    s.forwarding = st.config.forwarding;
    s.persistence_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(st.config.persistence).count();
    s.connections = st.runtime->stats.connections.load();
    s.bytes_in = st.runtime->stats.bytes_in.load();
    s.bytes_out = st.runtime->stats.bytes_out.load();
    if (auto it = service_samples_.find(s.name); it != service_samples_.end()) {
      s.rates = RateOf(it->second);
    }
    auto add_server = [&](const RealServer& rs, const HeldOut* held) {
      ServerReport sr;
      sr.address = rs.endpoint();
      sr.weight = held ? held->weight : rs.configured_weight();
      sr.active = rs.active();
      sr.inactive = rs.inactive();
      sr.up = !held && rs.up();
      sr.in_table = !held;
      sr.disabled = disabled_.count({s.name, sr.address}) > 0;
      if (auto it = st.server_stats.find(sr.address); it != st.server_stats.end()) {
        sr.connections = it->second->connections.load();
        sr.bytes_in = it->second->bytes_in.load();
        sr.bytes_out = it->second->bytes_out.load();
      }
      if (health_) sr.check = health_->CheckReport(s.name, sr.address);
      s.servers.push_back(std::move(sr));
    };
    for (const auto& rs : st.runtime->service->Servers()) add_server(*rs, nullptr);
    for (const auto& [key, held] : held_out_) {
      if (key.first == s.name) add_server(*held.server, &held);
    }
    QuorumReport& q = s.quorum;
    q.up = !health_ || health_->HasQuorum(s.name);
    q.up_weight = UpWeight(*st.runtime->service);
    q.quorum = EffectiveQuorum(st.config);
    q.hysteresis = st.config.hysteresis;
    q.sorry_server = st.config.sorry_server.has_value();
    q.shown = st.config.quorum > 0 || st.config.hysteresis > 0 || !st.config.on_quorum_up.empty() ||
              !st.config.on_quorum_down.empty() ||
              std::any_of(s.servers.begin(), s.servers.end(),
                          [](const ServerReport& sr) { return sr.check.has_value(); });
    r.connections += s.connections;
    r.bytes_in += s.bytes_in;
    r.bytes_out += s.bytes_out;
    r.services.push_back(std::move(s));
  }
  r.rates = RateOf(total_samples_);
  for (const auto& st : services_) {
    if (st.packet) r.packet.push_back(st.packet->Snapshot(0));
  }
  if (vrrp_) r.vrrp = vrrp_->Snapshot();
  ProcessReport& p = r.process;
  const ProcessCounters& c = counters_;
  p.live_connections = c.live.load();
  p.accepted = c.accepted.load();
  p.accept_errors = c.accept_errors.load();
  p.emfile = c.emfile.load();
  p.connect_failures = c.connect_failures.load();
  p.retries = c.retries.load();
  p.no_server = c.no_server.load();
  p.sorry = c.sorry.load();
  p.resets = c.resets.load();
  p.client_resets = c.client_resets.load();
  p.server_resets = c.server_resets.load();
  p.idle_timeouts = c.idle_timeouts.load();
  p.reloads = reloads_;
  p.reload_failures = reload_failures_;
  return r;
}

Rates Daemon::RateOf(const std::deque<Sample>& samples) {
  Rates r;
  if (samples.size() < 2) return r;
  const Sample& a = samples.front();
  const Sample& b = samples.back();
  double dt = b.time - a.time;
  if (dt <= 0) return r;
  r.connections = static_cast<double>(b.connections - a.connections) / dt;
  r.bytes_in = static_cast<double>(b.bytes_in - a.bytes_in) / dt;
  r.bytes_out = static_cast<double>(b.bytes_out - a.bytes_out) / dt;
  return r;
}

void Daemon::OnTick() {
  double now = ev_now(loop_);
  auto push = [&](std::deque<Sample>& q, const TrafficStats& t) {
    q.push_back({now, t.connections.load(), t.bytes_in.load(), t.bytes_out.load()});
    while (q.size() > kRateSamples) q.pop_front();
  };
  Sample total{now, 0, 0, 0};
  std::map<std::string, std::deque<Sample>> next;
  for (const auto& st : services_) {
    auto& q = next[st.config.name];
    if (auto it = service_samples_.find(st.config.name); it != service_samples_.end()) {
      q = std::move(it->second);
    }
    push(q, st.runtime->stats);
    total.connections += q.back().connections;
    total.bytes_in += q.back().bytes_in;
    total.bytes_out += q.back().bytes_out;
    st.runtime->persistence.Expire(std::chrono::steady_clock::now().time_since_epoch());
  }
  service_samples_ = std::move(next);
  // Totals of removed services vanish; restart the window rather than go negative.
  if (!total_samples_.empty() && (total.connections < total_samples_.back().connections ||
                                  total.bytes_in < total_samples_.back().bytes_in ||
                                  total.bytes_out < total_samples_.back().bytes_out)) {
    total_samples_.clear();
  }
  total_samples_.push_back(total);
  while (total_samples_.size() > kRateSamples) total_samples_.pop_front();
  UpdateQuorum();  // catches any change not hooked above
  FeedVrrp();
}

void Daemon::BeginShutdown(int signum) {
  if (shutting_down_) {
    LBD_LOG(kInfo, "signal %d again: still draining", signum);
    return;
  }
  shutting_down_ = true;
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
  drain_deadline_ = ev_now(loop_) + Seconds(config_.global.drain_timeout);
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
  if (!self->aborted_ && ev_now(loop) >= self->drain_deadline_) {
    self->aborted_ = true;
    LBD_LOG(kWarning, "drain timeout: resetting %lld connections",
            static_cast<long long>(self->counters_.live.load()));
    for (auto& wk : self->workers_) wk->Abort();
  }
}

}  // namespace lbd
