// Daemon: what changes a real server at run time (health reports, dynamic
// weights, lbctl commands), the quorum and VRRP feeds that follow, and the
// control protocol's commands.
#include <algorithm>

#include "lbd/conf/dump.h"
#include "lbd/daemon/daemon.h"
#include "lbd/sys/log.h"

namespace lbd {

TableChange Daemon::ApplyServer(ServiceState& st, ServerState& state) {
  const TableChange change = ApplyServerState(st.config.name, *st.runtime->service, state);
  // A reload while it was out may have retired its data-plane slot.
  if (change == TableChange::kBackIn && st.packet) {
    if (Status s = st.packet->SyncServers(); !s.ok()) {
      LBD_LOG(kError, "service %s: %s", st.config.name.c_str(), s.message().c_str());
    }
  }
  return change;
}

void Daemon::ApplyAllServers() {
  for (auto& st : services_) {
    for (auto& state : st.servers) (void)ApplyServer(st, state);
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
  ServiceState* st = FindService(service);
  ServerState* state = st != nullptr ? st->FindServer(server) : nullptr;
  if (state == nullptr || state->health_down == !up) return;  // no transition
  state->health_down = !up;
  Log(up ? LogLevel::kInfo : LogLevel::kWarning, "service %s: real server %s is %s",
      service.c_str(), ToString(server).c_str(), up ? "up" : "down");
  (void)ApplyServer(*st, *state);
  UpdateQuorum();
  FeedVrrp();
}

void Daemon::OnHealthWeight(const std::string& service, Endpoint server, int weight) {
  ServiceState* st = FindService(service);
  ServerState* state = st != nullptr ? st->FindServer(server) : nullptr;
  if (state == nullptr || weight < 0 || weight > kMaxWeight) return;
  if (state->weight() == weight) return;
  state->weight_override = weight;
  (void)ApplyServer(*st, *state);
  if (state->held != nullptr) {
    LBD_LOG(kInfo,
            "service %s: real server %s weight %d (health check; out of the table, applies "
            "when it is back)",
            service.c_str(), ToString(server).c_str(), weight);
    return;
  }
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
    case Command::Kind::kReload: {
      // The errors one per line in the body (a config's FILE:LINE:COL ones).
      Status s = Reload();
      if (s.ok()) return EncodeReply(s, "");
      return EncodeReply(Status::Error("reload refused"), s.message());
    }
    case Command::Kind::kFlows:
      return FlowsReply(c);
    case Command::Kind::kAddServer:
    case Command::Kind::kRemoveServer:
      return EncodeReply(ServerSetCommand(c), "");
    case Command::Kind::kDump:
      return EncodeReply(Status::Ok(), DumpRunning());
    case Command::Kind::kPlan: {
      std::string out;
      Status s = PlanReload(c.path, &out);
      return EncodeReply(s, out);
    }
    default:
      return EncodeReply(ServerCommand(c), "");
  }
}

Status Daemon::ServerCommand(const Command& c) {
  ServiceState* st = FindService(c.service);
  if (st == nullptr) return Status::Error("no service '" + c.service + "'");
  ServerState* state = st->FindServer(c.server);
  // One a check holds out of the table is still there for the commands.
  if (state == nullptr ||
      (state->held == nullptr && st->runtime->service->Find(c.server) == nullptr)) {
    return Status::Error("service " + c.service + " has no real server " + ToString(c.server));
  }
  const char* service = c.service.c_str();
  const std::string server = ToString(c.server);
  Status s;
  switch (c.kind) {
    case Command::Kind::kWeight:
      if (c.weight < 0 || c.weight > kMaxWeight) {
        s = Status::Error("weight " + std::to_string(c.weight) + " out of range 0..65535");
      } else {
        state->weight_override = c.weight;
        state->weight_event = true;
      }
      LBD_LOG(kInfo, "lbctl: service %s: real server %s weight %d", service, server.c_str(),
              c.weight);
      break;
    case Command::Kind::kDrain:
      state->weight_override = 0;
      state->weight_event = true;
      LBD_LOG(kInfo, "lbctl: service %s: real server %s drained (weight 0)", service,
              server.c_str());
      break;
    case Command::Kind::kEnable:
    case Command::Kind::kDisable:
      state->disabled = c.kind == Command::Kind::kDisable;
      LBD_LOG(kInfo, "lbctl: service %s: real server %s %s", service, server.c_str(),
              state->disabled ? "disabled" : "enabled");
      break;
    default:
      break;
  }
  (void)ApplyServer(*st, *state);
  UpdateQuorum();
  FeedVrrp();
  if (s.ok()) {
    // Remembered (and saved) as a runtime change, with the weight the file
    // gives it now: a reload that changes that weight wins over it.
    RuntimeState::Override& o = runtime_.OverrideOf(c.service, c.server);
    if (c.kind == Command::Kind::kWeight || c.kind == Command::Kind::kDrain) {
      const RealServerConfig* rs = nullptr;
      for (const auto& r : st->config.real_servers) {
        if (r.address == c.server) rs = &r;
      }
      o.weight = c.kind == Command::Kind::kDrain ? 0 : c.weight;
      o.file_weight = rs != nullptr ? rs->weight : state->configured_weight;
    } else {
      o.disabled = state->disabled;
    }
    runtime_.Compact();
    SaveState();
  }
  return s;
}

Status Daemon::ServerSetCommand(const Command& c) {
  if (shutting_down_) return Status::Error("lbd is shutting down");
  ServiceState* st = FindService(c.service);
  if (st == nullptr) return Status::Error("no service '" + c.service + "'");
  const std::string server = ToString(c.server);
  const bool listed = st->FindServer(c.server) != nullptr;
  RuntimeState next = runtime_;
  auto is_server = [&](const auto& r) { return r.service == c.service && r.server == c.server; };
  if (c.kind == Command::Kind::kAddServer) {
    if (listed) return Status::Error("service " + c.service + " already has real server " + server);
    if (c.server == st->config.listen) {
      return Status::Error("real server " + server + " is the service's own listen address");
    }
    const Forwarding f = st->config.forwarding;
    if ((f == Forwarding::kDr || f == Forwarding::kTun) &&
        c.server.port != st->config.listen.port) {
      return Status::Error(std::string("forwarding ") + ToString(f) +
                           " cannot change the port: real server port differs from the listen "
                           "port " +
                           std::to_string(st->config.listen.port));
    }
    // A server of the file that lbctl removed comes back with its file line.
    const size_t was_removed = std::erase_if(next.removed, is_server);
    if (was_removed == 0) {
      RealServerConfig rs;
      rs.address = c.server;
      rs.weight = c.weight;
      rs.max_conns = c.max_conns;
      next.added.push_back({c.service, rs});
    }
    LBD_LOG(kInfo, "lbctl: service %s: add real server %s weight %d max_conns %u",
            c.service.c_str(), server.c_str(), c.weight, c.max_conns);
  } else {
    if (!listed) return Status::Error("service " + c.service + " has no real server " + server);
    auto is_added = [&](const RuntimeState::Added& a) {
      return a.service == c.service && a.server.address == c.server;
    };
    if (std::erase_if(next.added, is_added) == 0) next.removed.push_back({c.service, c.server});
    std::erase_if(next.overrides, is_server);
    LBD_LOG(kInfo, "lbctl: service %s: remove real server %s (its connections drain)",
            c.service.c_str(), server.c_str());
  }
  Status s = CommitRuntime(std::move(next));
  if (s.ok() && c.kind == Command::Kind::kAddServer) {
    // A weight or max_conns given for a file server that comes back.
    ServiceState* now = FindService(c.service);
    ServerState* state = now != nullptr ? now->FindServer(c.server) : nullptr;
    if (state != nullptr && state->configured_weight != c.weight) {
      state->weight_override = c.weight;
      state->weight_event = true;
      RuntimeState::Override& o = runtime_.OverrideOf(c.service, c.server);
      o.weight = c.weight;
      o.file_weight = state->configured_weight;
      (void)ApplyServer(*now, *state);
      UpdateQuorum();
      FeedVrrp();
      SaveState();
    }
  }
  return s;
}

Status Daemon::CommitRuntime(RuntimeState next) {
  const Config running = [&] {
    Config c = Overlay(file_config_, &next);
    c.global = config_.global;
    c.file = config_.file;
    return c;
  }();
  const ReloadPlan plan = Plan(config_, running);
  if (Status s = Apply(running, plan); !s.ok()) return s;
  runtime_ = std::move(next);
  health_->Configure(config_);
  ApplyAllServers();
  UpdateQuorum();
  FeedVrrp();
  SaveState();
  return Status::Ok();
}

void Daemon::RestoreOverrides() {
  for (const auto& o : runtime_.overrides) {
    ServiceState* st = FindService(o.service);
    ServerState* state = st != nullptr ? st->FindServer(o.server) : nullptr;
    if (state == nullptr) continue;
    if (o.weight) {
      state->weight_override = *o.weight;
      state->weight_event = true;
    }
    state->disabled = o.disabled;
    (void)ApplyServer(*st, *state);
  }
  Publish();
}

void Daemon::SaveState() {
  const std::string& path = config_.global.state_file;
  if (path.empty()) return;
  if (Status s = WriteStateFile(path, runtime_); !s.ok()) {
    LBD_LOG(kError, "state file %s not saved: %s", path.c_str(), s.message().c_str());
  }
}

Config Daemon::RunningConfig() const {
  Config c = config_;
  for (auto& vs : c.virtual_services) {
    const ServiceState* st = nullptr;
    for (const auto& s : services_) {
      if (s.config.name == vs.name) st = &s;
    }
    if (st == nullptr) continue;
    for (auto& rs : vs.real_servers) {
      if (const ServerState* state = st->FindServer(rs.address)) rs.weight = state->weight();
    }
  }
  return c;
}

std::string Daemon::DumpRunning() const {
  const RuntimeState& runtime = runtime_;
  auto comment = [&](const std::string& service, Endpoint server) {
    std::string note;
    const RuntimeState::Override* o = runtime.FindOverride(service, server);
    if (o != nullptr && o->disabled) note = "disabled (lbctl disable)";
    if (o != nullptr && o->weight) {
      if (!note.empty()) note += "; ";
      note += *o->weight == 0 ? "draining (lbctl drain)" : "weight set by lbctl";
      note += ", file weight " + std::to_string(o->file_weight);
    }
    for (const auto& a : runtime.added) {
      if (a.service == service && a.server.address == server) {
        note += std::string(note.empty() ? "" : "; ") + "added by lbctl add-server";
      }
    }
    return note;
  };
  std::string out = "# lbd running configuration (lbctl dump): " + config_.file + "\n";
  for (const auto& r : runtime.removed) {
    out += "# " + r.service + " " + ToString(r.server) + ": removed by lbctl remove-server\n";
  }
  return out + DumpConfig(RunningConfig(), comment);
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

}  // namespace lbd
