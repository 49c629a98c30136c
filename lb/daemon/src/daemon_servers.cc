// Daemon: what changes a real server at run time (health reports, dynamic
// weights, lbctl commands), the quorum and VRRP feeds that follow, and the
// control protocol's commands.
#include <algorithm>

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
    case Command::Kind::kReload:
      return EncodeReply(Reload(), "");
    case Command::Kind::kFlows:
      return FlowsReply(c);
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
  return s;
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
