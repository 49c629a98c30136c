#include "lbd/daemon/reload_plan.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <tuple>

#include "lbsched/service.h"

namespace lbd {
namespace {

const RealServerConfig* FindServer(const VirtualServiceConfig& vs, Endpoint e) {
  for (const auto& rs : vs.real_servers) {
    if (rs.address == e) return &rs;
  }
  return nullptr;
}

const VirtualServiceConfig* FindService(const Config& c, std::string_view name) {
  for (const auto& vs : c.virtual_services) {
    if (vs.name == name) return &vs;
  }
  return nullptr;
}

// Every field, inhibit_on_failure included.
bool SameCheck(const HealthCheckConfig& a, const HealthCheckConfig& b) {
  auto same_range = [](const StatusRange& x, const StatusRange& y) {
    return x.low == y.low && x.high == y.high;
  };
  return a.type == b.type && a.interval == b.interval && a.timeout == b.timeout &&
         a.rise == b.rise && a.fall == b.fall && a.alpha == b.alpha &&
         a.inhibit_on_failure == b.inhibit_on_failure && a.port == b.port && a.path == b.path &&
         a.host == b.host && a.expect_md5 == b.expect_md5 && a.command == b.command &&
         a.dynamic_weight == b.dynamic_weight &&
         std::equal(a.expect_status.begin(), a.expect_status.end(), b.expect_status.begin(),
                    b.expect_status.end(), same_range);
}

bool SameChecks(const VirtualServiceConfig& a, const VirtualServiceConfig& b) {
  if (!SameCheck(a.healthcheck, b.healthcheck)) return false;
  for (const auto& rs : b.real_servers) {
    const RealServerConfig* before = FindServer(a, rs.address);
    if (before == nullptr) continue;  // a new server: its check is new anyway
    if (before->healthcheck.has_value() != rs.healthcheck.has_value()) return false;
    if (rs.healthcheck && !SameCheck(*before->healthcheck, *rs.healthcheck)) return false;
  }
  return true;
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

ServiceStep KeptService(const VirtualServiceConfig& old, const VirtualServiceConfig& vs) {
  ServiceStep st;
  st.kind = ServiceStep::Kind::kKeep;
  st.name = vs.name;
  st.scheduler_changed = old.scheduler != vs.scheduler || old.hash_port != vs.hash_port ||
                         old.hash_fallback != vs.hash_fallback || old.choices != vs.choices ||
                         old.ewma_decay != vs.ewma_decay;
  st.listen_changed = old.listen != vs.listen;
  st.forwarding_changed = old.forwarding != vs.forwarding;
  st.settings_changed =
      old.persistence != vs.persistence || old.connect_timeout != vs.connect_timeout ||
      old.idle_timeout != vs.idle_timeout || old.sorry_server != vs.sorry_server ||
      old.access_log != vs.access_log || old.quorum != vs.quorum ||
      old.hysteresis != vs.hysteresis || old.on_quorum_up != vs.on_quorum_up ||
      old.on_quorum_down != vs.on_quorum_down;
  st.checks_changed = !SameChecks(old, vs);
  const bool was_proxy = old.forwarding == Forwarding::kProxy;
  if (vs.forwarding == Forwarding::kProxy) {
    st.listeners = was_proxy && !st.listen_changed ? ListenerStep::kKeep : ListenerStep::kOpen;
  } else if (was_proxy) {
    st.data_plane = DataPlaneStep::kCreate;
  } else if (!st.listen_changed && !st.forwarding_changed) {
    st.data_plane = DataPlaneStep::kKeep;
  } else {
    st.data_plane =
        old.listen.ip == vs.listen.ip ? DataPlaneStep::kReplaceInPlace : DataPlaneStep::kReplace;
  }
  for (const auto& rs : old.real_servers) {
    if (FindServer(vs, rs.address) == nullptr) {
      st.servers.push_back({ServerStep::Kind::kRemove, rs.address, rs.weight, 0});
    }
  }
  for (const auto& rs : vs.real_servers) {
    const RealServerConfig* before = FindServer(old, rs.address);
    if (before == nullptr) {
      st.servers.push_back({ServerStep::Kind::kAdd, rs.address, 0, rs.weight});
      continue;
    }
    if (before->weight != rs.weight) {
      st.servers.push_back({ServerStep::Kind::kReweight, rs.address, before->weight, rs.weight});
    }
    if (before->max_conns != rs.max_conns || before->min_conns != rs.min_conns) {
      st.servers.push_back({ServerStep::Kind::kThresholds, rs.address, rs.weight, rs.weight});
    }
  }
  return st;
}

}  // namespace

bool ServiceStep::changed() const {
  return kind != Kind::kKeep || scheduler_changed || listen_changed || forwarding_changed ||
         settings_changed || checks_changed || listeners == ListenerStep::kOpen ||
         (data_plane != DataPlaneStep::kNone && data_plane != DataPlaneStep::kKeep) ||
         !servers.empty();
}

bool ServiceStep::Reweighted(Endpoint address) const {
  return std::any_of(servers.begin(), servers.end(), [&](const ServerStep& s) {
    return s.kind == ServerStep::Kind::kReweight && s.address == address;
  });
}

bool ReloadPlan::empty() const {
  return !vrrp_changed && !restart_only_changed && !drain_timeout_changed && !log_level_changed &&
         std::none_of(services.begin(), services.end(),
                      [](const ServiceStep& s) { return s.changed(); });
}

const ServiceStep* ReloadPlan::Find(std::string_view name) const {
  for (const auto& s : services) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

ReloadPlan Plan(const Config& old, const Config& next) {
  ReloadPlan plan;
  for (const auto& vs : next.virtual_services) {
    const VirtualServiceConfig* before = FindService(old, vs.name);
    if (before != nullptr) {
      plan.services.push_back(KeptService(*before, vs));
      continue;
    }
    ServiceStep st;
    st.kind = ServiceStep::Kind::kAdd;
    st.name = vs.name;
    if (vs.forwarding == Forwarding::kProxy) {
      st.listeners = ListenerStep::kOpen;
    } else {
      st.data_plane = DataPlaneStep::kCreate;
    }
    for (const auto& rs : vs.real_servers) {
      st.servers.push_back({ServerStep::Kind::kAdd, rs.address, 0, rs.weight});
    }
    plan.services.push_back(std::move(st));
  }
  for (const auto& vs : old.virtual_services) {
    if (FindService(next, vs.name) != nullptr) continue;
    ServiceStep st;
    st.kind = ServiceStep::Kind::kRemove;
    st.name = vs.name;
    plan.services.push_back(std::move(st));
  }
  plan.vrrp_changed = !std::equal(old.vrrp.begin(), old.vrrp.end(), next.vrrp.begin(),
                                  next.vrrp.end(), SameVrrpInstance);
  plan.restart_only_changed = old.global.workers != next.global.workers ||
                              old.global.control_socket != next.global.control_socket ||
                              old.global.metrics_listen != next.global.metrics_listen ||
                              old.global.maxconn != next.global.maxconn;
  plan.drain_timeout_changed = old.global.drain_timeout != next.global.drain_timeout;
  plan.log_level_changed = old.global.log_level != next.global.log_level;
  return plan;
}

const char* ToString(ServerStep::Kind kind) {
  switch (kind) {
    case ServerStep::Kind::kAdd:
      return "added";
    case ServerStep::Kind::kRemove:
      return "removed";
    case ServerStep::Kind::kReweight:
      return "reweighted";
    case ServerStep::Kind::kThresholds:
      return "thresholds changed";
  }
  return "?";
}

const char* ToString(ListenerStep step) {
  switch (step) {
    case ListenerStep::kNone:
      return "none";
    case ListenerStep::kKeep:
      return "kept";
    case ListenerStep::kOpen:
      return "opened";
  }
  return "?";
}

const char* ToString(DataPlaneStep step) {
  switch (step) {
    case DataPlaneStep::kNone:
      return "none";
    case DataPlaneStep::kKeep:
      return "kept";
    case DataPlaneStep::kCreate:
      return "created";
    case DataPlaneStep::kReplace:
      return "replaced (the new one first)";
    case DataPlaneStep::kReplaceInPlace:
      return "replaced in place (the old one goes first)";
  }
  return "?";
}

std::string ToString(const ReloadPlan& plan) {
  std::string out;
  auto line = [&](const std::string& name, const std::string& what) {
    out += "service " + name + ": " + what + "\n";
  };
  for (const auto& s : plan.services) {
    if (!s.changed()) continue;
    if (s.kind == ServiceStep::Kind::kRemove) {
      line(s.name, "removed (its connections drain)");
      continue;
    }
    if (s.kind == ServiceStep::Kind::kAdd) {
      line(s.name, "added, " + std::to_string(s.servers.size()) + " real servers");
    }
    if (s.scheduler_changed) line(s.name, "scheduler changed");
    if (s.listen_changed) line(s.name, "listen changed");
    if (s.forwarding_changed) line(s.name, "forwarding changed");
    if (s.settings_changed) line(s.name, "settings changed");
    if (s.checks_changed) line(s.name, "health checks changed");
    if (s.listeners == ListenerStep::kOpen) line(s.name, "listeners opened");
    if (s.data_plane != DataPlaneStep::kNone && s.data_plane != DataPlaneStep::kKeep) {
      line(s.name, std::string("data plane ") + ToString(s.data_plane));
    }
    if (s.kind == ServiceStep::Kind::kAdd) continue;
    for (const auto& rs : s.servers) {
      std::string what = "real server " + ToString(rs.address) + " ";
      switch (rs.kind) {
        case ServerStep::Kind::kAdd:
          what += "added, weight " + std::to_string(rs.weight);
          break;
        case ServerStep::Kind::kReweight:
          what += "weight " + std::to_string(rs.old_weight) + " -> " + std::to_string(rs.weight);
          break;
        default:
          what += ToString(rs.kind);
          break;
      }
      line(s.name, what);
    }
  }
  if (plan.vrrp_changed) out += "vrrp: changed (the instances restart)\n";
  if (plan.restart_only_changed) {
    out +=
        "global: workers/control_socket/metrics_listen/maxconn changed (apply at restart only)\n";
  }
  if (plan.drain_timeout_changed) out += "global: drain_timeout changed\n";
  if (plan.log_level_changed) out += "global: log_level changed\n";
  if (out.empty()) out = "nothing to change\n";
  return out;
}

namespace {

bool Hashing(const std::string& scheduler) {
  return scheduler == "sh" || scheduler == "dh" || scheduler == "mh" || scheduler == "rendezvous";
}

// An off-line copy of `vs`'s scheduler and servers; null when it cannot be
// built (the reload would refuse it anyway).
std::unique_ptr<Service> OfflineService(const VirtualServiceConfig& vs) {
  SchedulerOptions o;
  o.hash_port = vs.hash_port;
  o.hash_fallback = vs.hash_fallback;
  o.choices = vs.choices;
  o.ewma_decay = vs.ewma_decay;
  o.random_seed = 1;
  auto svc = Service::Create(vs.scheduler, o);
  if (!svc.ok()) return nullptr;
  for (const auto& rs : vs.real_servers) {
    RealServerOptions ro;
    ro.weight = rs.weight;
    (void)(*svc)->AddServer(rs.address, ro);
  }
  return std::move(svc).value();
}

std::optional<Endpoint> PickOf(Service& svc, const Flow& flow) {
  auto rs = svc.Pick(flow);
  if (rs == nullptr) return std::nullopt;
  return rs->endpoint();
}

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::vector<ServiceMoves> PlanMoves(const Config& old, const Config& next,
                                    const std::vector<std::pair<std::string, LiveEntry>>& live,
                                    size_t keys) {
  std::vector<ServiceMoves> out;
  for (const auto& vs : next.virtual_services) {
    const VirtualServiceConfig* before = FindService(old, vs.name);
    if (before == nullptr) continue;
    const bool hashed = Hashing(before->scheduler) && Hashing(vs.scheduler);
    const bool has_live =
        std::any_of(live.begin(), live.end(), [&](const auto& e) { return e.first == vs.name; });
    if (!hashed && !has_live) continue;
    std::unique_ptr<Service> was = OfflineService(*before);
    std::unique_ptr<Service> will = OfflineService(vs);
    if (was == nullptr || will == nullptr) continue;
    ServiceMoves m;
    m.service = vs.name;
    m.scheduler = vs.scheduler;
    m.hashed = hashed;
    if (hashed) {
      // dh hashes the destination, the others the source (and its port
      // with the port flag).
      const bool by_destination = vs.scheduler == "dh";
      for (size_t i = 0; i < keys; ++i) {
        const uint64_t h = SplitMix(i);
        const Endpoint key{static_cast<uint32_t>(h), static_cast<uint16_t>(h >> 32)};
        const Flow flow =
            by_destination ? Flow{Endpoint{0x0a000001, 1024}, key} : Flow{key, vs.listen};
        if (PickOf(*was, flow) != PickOf(*will, flow)) ++m.moved_keys;
      }
      m.keys = keys;
    }
    for (const auto& [name, entry] : live) {
      if (name != vs.name) continue;
      ++m.live;
      const RealServerConfig* rs = FindServer(vs, entry.server);
      HashMove move{entry, std::nullopt, rs == nullptr || rs->weight == 0};
      bool moves = move.server_leaves;
      if (moves || Hashing(vs.scheduler)) move.to = PickOf(*will, entry.flow);
      if (!moves && hashed) {
        // The key would go elsewhere than before (an entry may sit on
        // another server than its hash, e.g. placed while that one was down).
        moves = move.to != PickOf(*was, entry.flow);
      } else if (!moves && Hashing(vs.scheduler)) {
        moves = move.to != entry.server;  // hashing only from now on
      }
      // The other schedulers pick no fixed server for a key: an entry moves
      // only when its server leaves.
      if (moves) m.moves.push_back(move);
    }
    std::sort(m.moves.begin(), m.moves.end(), [](const HashMove& a, const HashMove& b) {
      return std::tie(a.entry.flow.source, a.entry.flow.destination) <
             std::tie(b.entry.flow.source, b.entry.flow.destination);
    });
    if (m.moved_keys > 0 || !m.moves.empty()) out.push_back(std::move(m));
  }
  return out;
}

std::string ToString(const std::vector<ServiceMoves>& moves) {
  std::string out;
  char buf[160];
  for (const auto& m : moves) {
    if (m.hashed) {
      snprintf(buf, sizeof(buf), "service %s: %s: %.1f%% of the hash space moves (%zu of %zu",
               m.service.c_str(), m.scheduler.c_str(),
               m.keys > 0 ? 100.0 * static_cast<double>(m.moved_keys) / static_cast<double>(m.keys)
                          : 0.0,
               m.moved_keys, m.keys);
      out += std::string(buf) + " sampled keys)\n";
    }
    if (m.live == 0) continue;
    out += "service " + m.service + ": " + std::to_string(m.moves.size()) + " of " +
           std::to_string(m.live) + " live flows/clients move" + (m.moves.empty() ? "" : ":") +
           "\n";
    for (const auto& mv : m.moves) {
      const LiveEntry& e = mv.entry;
      std::string line =
          e.kind == LiveEntry::Kind::kPersistence
              ? "  client " + Ipv4ToString(e.flow.source.ip)
              : "  flow " + ToString(e.flow.source) + " -> " + ToString(e.flow.destination);
      line += ": " + ToString(e.server) + " -> " + (mv.to ? ToString(*mv.to) : "none");
      if (mv.server_leaves) line += " (its server leaves)";
      out += line + "\n";
    }
  }
  return out;
}

}  // namespace lbd
