#include "lbd/daemon/server_state.h"

#include "lbd/sys/log.h"

namespace lbd {
namespace {

// The check that applies to `rs` keeps failed servers in the table.
bool InhibitOnFailure(const VirtualServiceConfig& vs, const RealServerConfig& rs) {
  return rs.healthcheck ? rs.healthcheck->inhibit_on_failure : vs.healthcheck.inhibit_on_failure;
}

}  // namespace

ServerState ServerStateOf(const VirtualServiceConfig& vs, const RealServerConfig& rs) {
  ServerState s;
  s.address = rs.address;
  UpdateFromFile(vs, rs, /*reweighted=*/false, &s);
  return s;
}

void UpdateFromFile(const VirtualServiceConfig& vs, const RealServerConfig& rs, bool reweighted,
                    ServerState* state) {
  state->configured_weight = rs.weight;
  state->max_conns = rs.max_conns;
  state->min_conns = rs.min_conns;
  state->inhibit_on_failure = InhibitOnFailure(vs, rs);
  if (reweighted) {
    state->weight_override.reset();
    state->weight_event = true;
  }
}

TableChange ApplyServerState(const std::string& service_name, Service& service,
                             ServerState& state) {
  const char* name = service_name.c_str();
  const Endpoint address = state.address;
  std::shared_ptr<RealServer> in = service.Find(address);
  if (state.retired) {
    state.held.reset();
    if (in == nullptr) return TableChange::kNone;
    (void)service.RemoveServer(address);
    return TableChange::kRemoved;
  }
  if (state.out_of_table()) {
    if (in == nullptr || state.held != nullptr) return TableChange::kNone;
    // Down first (weight 0): whatever looks at the weight alone sees it
    // leave before it leaves the list.
    (void)service.SetUp(address, false);
    if (!service.RemoveServer(address).ok()) return TableChange::kNone;
    state.held = std::move(in);
    LBD_LOG(kWarning,
            "service %s: real server %s out of the table (inhibit_on_failure: false); its "
            "connections continue",
            name, ToString(address).c_str());
    return TableChange::kTakenOut;
  }
  TableChange change = TableChange::kNone;
  if (in == nullptr) {
    const bool was_held = state.held != nullptr;
    state.held.reset();
    RealServerOptions options;
    options.weight = state.weight();
    options.upper_threshold = state.max_conns;
    options.lower_threshold = state.min_conns;
    auto added = service.AddServer(address, options);
    if (!added.ok()) {
      LBD_LOG(kError, "service %s: %s", name, added.status().message().c_str());
      return TableChange::kAddFailed;
    }
    in = std::move(added).value();
    state.weight_event = false;  // AddServer was the event
    change = was_held ? TableChange::kBackIn : TableChange::kAdded;
    if (was_held) {
      LBD_LOG(kInfo, "service %s: real server %s back in the table, weight %d", name,
              ToString(address).c_str(), options.weight);
    }
  }
  if (state.weight_event || in->configured_weight() != state.weight()) {
    (void)service.SetWeight(address, state.weight());
  }
  state.weight_event = false;
  if (in->upper_threshold() != state.max_conns || in->lower_threshold() != state.min_conns) {
    (void)service.SetThresholds(address, state.max_conns, state.min_conns);
  }
  (void)service.SetUp(address, state.up());
  return change;
}

int64_t UpWeight(const Service& service) {
  int64_t sum = 0;
  for (const auto& rs : service.Servers()) {
    if (rs->up()) sum += rs->configured_weight();
  }
  return sum;
}

ServerState* ServiceState::FindServer(Endpoint address) {
  for (auto& s : servers) {
    if (s.address == address) return &s;
  }
  return nullptr;
}

const ServerState* ServiceState::FindServer(Endpoint address) const {
  for (const auto& s : servers) {
    if (s.address == address) return &s;
  }
  return nullptr;
}

ServerStatsMap ServiceState::StatsMap() const {
  ServerStatsMap map;
  for (const auto& s : servers) map.emplace(s.address, s.stats);
  return map;
}

}  // namespace lbd
