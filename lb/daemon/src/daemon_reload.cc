// Daemon: reloads. Plan() says what changes; Apply executes it in two
// phases so a reload that cannot open a listener, create a scheduler or set
// up a data plane changes nothing.
#include <algorithm>
#include <chrono>
#include <set>

#include "lbd/conf/loader.h"
#include "lbd/daemon/daemon.h"
#include "lbd/daemon/listen_probe.h"
#include "lbd/sys/log.h"
#include "lbd/sys/systemd.h"

namespace lbd {
namespace {

SchedulerOptions SchedulerOptionsOf(const VirtualServiceConfig& vs) {
  SchedulerOptions o;
  o.hash_port = vs.hash_port;
  o.hash_fallback = vs.hash_fallback;
  o.choices = vs.choices;
  o.ewma_decay = vs.ewma_decay;
  return o;
}

}  // namespace

Status Daemon::Reload() {
  if (shutting_down_) return Status::Error("lbd is shutting down; reload refused");
  // systemd: RELOADING=1 (with MONOTONIC_USEC) now, READY=1 when done either way.
  NotifyServiceManager(ReloadingState());
  struct ReadyAgain {
    const Daemon* d;
    ~ReadyAgain() { d->NotifyServiceManager("READY=1"); }
  } ready_again{this};
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
  // lbctl's runtime changes carry over, except what the file changed since.
  RuntimeState next_runtime = runtime_;
  const Config next = Overlay(*loaded.config, &next_runtime);
  const ReloadPlan plan = Plan(config_, next);
  if (LogEnabled(LogLevel::kDebug)) {
    const std::string steps = ToString(plan);
    size_t begin = 0;
    while (begin < steps.size()) {
      size_t end = steps.find('\n', begin);
      if (end == std::string::npos) end = steps.size();
      LBD_LOG(kDebug, "reload plan: %.*s", static_cast<int>(end - begin), steps.data() + begin);
      begin = end + 1;
    }
  }
  if (plan.restart_only_changed) {
    LBD_LOG(kWarning,
            "reload: global.workers/control_socket/metrics_listen/maxconn change at restart only");
  }
  // A changed `vrrp:` section means new instances: their sockets are opened
  // before anything changes, so a bad interface refuses the whole reload.
  std::unique_ptr<VrrpRunner> next_vrrp;
  if (plan.vrrp_changed && !next.vrrp.empty()) {
    auto v = NewVrrpRunner(loop_, next.vrrp);
    if (!v.ok()) {
      ++reload_failures_;
      LBD_LOG(kError, "reload refused: vrrp: %s; the running configuration is kept",
              v.status().message().c_str());
      return Status::Error("vrrp: " + v.status().message());
    }
    next_vrrp = std::move(v).value();
  }
  if (Status s = Apply(next, plan); !s.ok()) {
    ++reload_failures_;
    LBD_LOG(kError, "reload refused: %s; the running configuration is kept", s.message().c_str());
    return s;
  }
  if (plan.vrrp_changed) {
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
  file_config_ = *loaded.config;
  const bool state_changed = FormatStateFile(next_runtime) != FormatStateFile(runtime_) ||
                             next.global.state_file != config_.global.state_file;
  runtime_ = std::move(next_runtime);
  config_.global.state_file = next.global.state_file;
  if (state_changed) SaveState();
  config_.global.drain_timeout = next.global.drain_timeout;
  config_.global.status_auth = next.global.status_auth;  // the status page asks each request
  config_.global.access_log = next.global.access_log;    // each service has its own copy
  if (plan.log_level_changed) {
    SetLogLevel(next.global.log_level);
    config_.global.log_level = next.global.log_level;
  }
  ++reloads_;
  health_->Configure(config_);
  ApplyAllServers();
  UpdateQuorum();
  LBD_LOG(kInfo, "reload done: %zu services", services_.size());
  return Status::Ok();
}

Status Daemon::Apply(const Config& next, const ReloadPlan& plan) {
  const int nworkers = static_cast<int>(workers_.size());
  // Phase 1: everything that can fail, without touching the running state.
  struct Prepared {
    const VirtualServiceConfig* config;
    const ServiceStep* step;
    ServiceState* old;
    // New services: the runtime, its servers already added (nobody sees it yet).
    std::shared_ptr<ServiceRuntime> runtime;
    std::vector<ServerState> servers;
    std::shared_ptr<const ListenerSet> listeners;
    // nat/dr/tun: a new data plane, or `packet_late`: the old one is
    // replaced in phase 2 (same VIP route).
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
    const ServiceStep* step = plan.Find(vs.name);
    if (step == nullptr) return Status::Error("service " + vs.name + ": not in the reload plan");
    Prepared p{&vs, step, FindService(vs.name), nullptr, {}, nullptr, nullptr, false};
    if (p.old == nullptr) {
      auto svc = Service::Create(vs.scheduler, SchedulerOptionsOf(vs));
      if (!svc.ok()) return Status::Error("service " + vs.name + ": " + svc.status().message());
      p.runtime = std::make_shared<ServiceRuntime>(vs.name, std::move(svc).value());
      for (const auto& rs : vs.real_servers) {
        p.servers.push_back(ServerStateOf(vs, rs));
        (void)ApplyServerState(vs.name, *p.runtime->service, p.servers.back());
      }
    } else if (step->scheduler_changed) {
      auto check = Scheduler::Create(vs.scheduler, SchedulerOptionsOf(vs));
      if (!check.ok()) return Status::Error("service " + vs.name + ": " + check.status().message());
    }
    if (vs.forwarding == Forwarding::kProxy) {
      if (step->listeners == ListenerStep::kKeep && p.old->listeners) {
        p.listeners = p.old->listeners;
      } else {
        // Another process on this VIP:port would silently share it (SO_REUSEPORT).
        const bool ours = std::any_of(services_.begin(), services_.end(), [&](const auto& st) {
          return st.listeners && st.config.listen == vs.listen;
        });
        if (!share_listeners_ && !ours) {
          if (Status s = CheckNoOtherListener(vs.listen); !s.ok()) {
            return Status::Error("service " + vs.name + ": " + s.message());
          }
        }
        auto ls = ListenerSet::Open(vs.listen, nworkers);
        if (!ls.ok()) return Status::Error("service " + vs.name + ": " + ls.status().message());
        p.listeners = std::move(ls).value();
      }
    } else {
      // Without a running data plane (a failed in-place replacement at an
      // earlier reload) there is nothing to keep or replace: create one.
      const bool running = p.old != nullptr && p.old->packet != nullptr;
      if (running && step->data_plane == DataPlaneStep::kReplaceInPlace) {
        p.packet_late = true;  // the VIP's route is the old one's until it goes
      } else if (!running || step->data_plane != DataPlaneStep::kKeep) {
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
      st.runtime = std::move(p.runtime);
      st.servers = std::move(p.servers);
      LBD_LOG(kInfo, "service %s: %s %s %s, %zu real servers", vs.name.c_str(),
              ToString(vs.listen).c_str(), vs.scheduler.c_str(), ToString(vs.forwarding),
              vs.real_servers.size());
    } else {
      st.runtime = p.old->runtime;
      st.servers = std::move(p.old->servers);
      st.sorry_only = p.old->sorry_only;
      if (p.step->scheduler_changed) {
        (void)st.runtime->service->SetScheduler(vs.scheduler, SchedulerOptionsOf(vs));
        LBD_LOG(kInfo, "service %s: scheduler %s -> %s", vs.name.c_str(),
                p.old->config.scheduler.c_str(), vs.scheduler.c_str());
      }
      ApplyServerSteps(vs, *p.step, &st);
      if (p.step->listen_changed) {
        LBD_LOG(kInfo, "service %s: now listening on %s", vs.name.c_str(),
                ToString(vs.listen).c_str());
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
  for (const auto& step : plan.services) {
    if (step.kind == ServiceStep::Kind::kRemove) {
      LBD_LOG(kInfo, "service %s removed (its connections drain)", step.name.c_str());
    }
  }
  services_ = std::move(next_services);
  config_.virtual_services = next.virtual_services;
  config_.vrrp = next.vrrp;
  Publish();
  FeedVrrp();
  return Status::Ok();
}

void Daemon::ApplyServerSteps(const VirtualServiceConfig& vs, const ServiceStep& step,
                              ServiceState* st) {
  const char* name = vs.name.c_str();
  // Gone from the file: out of the Service for good (connections drain);
  // one a check held out is forgotten.
  for (const auto& s : step.servers) {
    if (s.kind != ServerStep::Kind::kRemove) continue;
    ServerState* state = st->FindServer(s.address);
    if (state == nullptr) continue;
    const bool was_held = state->held != nullptr;
    state->retired = true;
    if (ApplyServerState(vs.name, *st->runtime->service, *state) == TableChange::kRemoved) {
      LBD_LOG(kInfo, "service %s: real server %s removed (its connections drain)", name,
              ToString(s.address).c_str());
    } else if (was_held) {
      LBD_LOG(kInfo, "service %s: real server %s removed (was out of the table: down)", name,
              ToString(s.address).c_str());
    }
  }
  // The records in file order; new ones appended to the Service. A server
  // its check holds out stays out (its check re-adds it), a new weight kept.
  std::vector<ServerState> servers;
  servers.reserve(vs.real_servers.size());
  for (const auto& rs : vs.real_servers) {
    ServerState* existing = st->FindServer(rs.address);
    const bool is_new = existing == nullptr || existing->retired;
    servers.push_back(is_new ? ServerStateOf(vs, rs) : std::move(*existing));
    ServerState& state = servers.back();
    const bool reweighted = step.Reweighted(rs.address);
    UpdateFromFile(vs, rs, reweighted, &state);
    const bool in_table = state.held == nullptr;
    if (ApplyServerState(vs.name, *st->runtime->service, state) == TableChange::kAdded) {
      LBD_LOG(kInfo, "service %s: real server %s added, weight %d", name,
              ToString(rs.address).c_str(), rs.weight);
    } else if (reweighted && in_table) {
      LBD_LOG(kInfo, "service %s: real server %s weight %d", name, ToString(rs.address).c_str(),
              rs.weight);
    }
  }
  st->servers = std::move(servers);
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

Status Daemon::PlanReload(const std::string& path, std::string* out) const {
  LoadResult loaded = LoadConfigFile(path);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) *out += e.ToString() + "\n";
    return Status::Error("configuration refused");
  }
  // What Reload() would run: the file with the runtime changes it keeps.
  RuntimeState next_runtime = runtime_;
  Config next = Overlay(*loaded.config, &next_runtime);
  const ReloadPlan plan = Plan(config_, next);
  *out = ToString(plan);
  if (plan.empty()) return Status::Ok();
  // The hash models: runtime weights (those the reload keeps), disabled = 0.
  Config was = RunningConfig();
  for (auto& vs : was.virtual_services) {
    for (auto& rs : vs.real_servers) {
      const RuntimeState::Override* o = runtime_.FindOverride(vs.name, rs.address);
      if (o != nullptr && o->disabled) rs.weight = 0;
    }
  }
  for (auto& vs : next.virtual_services) {
    for (auto& rs : vs.real_servers) {
      if (const RuntimeState::Override* o = next_runtime.FindOverride(vs.name, rs.address)) {
        if (o->weight) rs.weight = *o->weight;
        if (o->disabled) rs.weight = 0;
      }
    }
  }
  std::vector<std::pair<std::string, LiveEntry>> live;
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  for (const auto& st : services_) {
    for (const auto& [client, server] : st.runtime->persistence.Entries(now)) {
      LiveEntry e;
      e.kind = LiveEntry::Kind::kPersistence;
      e.flow = Flow{Endpoint{client, 0}, st.config.listen};
      e.server = server;
      live.emplace_back(st.config.name, e);
    }
    if (!st.packet) continue;
    for (const auto& f : st.packet->Snapshot(kMaxFlowsListed).flow_list) {
      live.emplace_back(st.config.name, LiveEntry{LiveEntry::Kind::kFlow,
                                                  Flow{f.client, f.virtual_address}, f.server});
    }
  }
  *out += ToString(PlanMoves(was, next, live));
  return Status::Ok();
}

}  // namespace lbd
