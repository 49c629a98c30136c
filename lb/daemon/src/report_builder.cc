#include "lbd/daemon/report_builder.h"

#include <algorithm>
#include <chrono>

namespace lbd {

void RateWindow::Add(double now_seconds, uint64_t connections, uint64_t bytes_in,
                     uint64_t bytes_out) {
  if (!samples_.empty()) {
    const Sample& last = samples_.back();
    if (connections < last.connections || bytes_in < last.bytes_in || bytes_out < last.bytes_out) {
      samples_.clear();
    }
  }
  samples_.push_back({now_seconds, connections, bytes_in, bytes_out});
  while (samples_.size() > kSamples) samples_.pop_front();
}

Rates RateWindow::Rate() const {
  Rates r;
  if (samples_.size() < 2) return r;
  const Sample& a = samples_.front();
  const Sample& b = samples_.back();
  const double dt = b.time - a.time;
  if (dt <= 0) return r;
  r.connections = static_cast<double>(b.connections - a.connections) / dt;
  r.bytes_in = static_cast<double>(b.bytes_in - a.bytes_in) / dt;
  r.bytes_out = static_cast<double>(b.bytes_out - a.bytes_out) / dt;
  return r;
}

namespace {

ServerReport ServerReportOf(const std::string& service, const RealServer& rs,
                            const ServerState* state, const HealthMonitor* health,
                            bool has_latency) {
  const bool held = state != nullptr && state->held != nullptr;
  ServerReport sr;
  sr.address = rs.endpoint();
  sr.weight = held ? state->weight() : rs.configured_weight();
  sr.active = rs.active();
  sr.inactive = rs.inactive();
  sr.up = !held && rs.up();
  sr.in_table = !held;
  if (state != nullptr) {
    sr.disabled = state->disabled;
    sr.draining = state->weight() == 0 && state->configured_weight > 0;
    sr.connections = state->stats->connections.load();
    sr.bytes_in = state->stats->bytes_in.load();
    sr.bytes_out = state->stats->bytes_out.load();
  }
  if (health != nullptr) sr.check = health->CheckReport(service, sr.address);
  if (has_latency) sr.latency_seconds = rs.LatencyEstimate() * 1e-9;
  return sr;
}

ServiceReport ServiceReportOf(const ServiceState& st, const ReportSources& from) {
  const Service& service = *st.runtime->service;
  ServiceReport s;
  s.name = st.config.name;
  s.listen = st.config.listen;
  s.scheduler = service.scheduler_name();
  s.forwarding = st.config.forwarding;
  s.persistence_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(st.config.persistence).count();
  s.connections = st.runtime->stats.connections.load();
  s.bytes_in = st.runtime->stats.bytes_in.load();
  s.bytes_out = st.runtime->stats.bytes_out.load();
  if (auto it = from.service_rates.find(s.name); it != from.service_rates.end()) {
    s.rates = it->second.Rate();
  }
  // Only the proxy relay feeds the latency signal (connection.h).
  const bool has_latency = s.forwarding == Forwarding::kProxy;
  for (const auto& rs : service.Servers()) {
    s.servers.push_back(
        ServerReportOf(s.name, *rs, st.FindServer(rs->endpoint()), from.health, has_latency));
  }
  std::vector<const ServerState*> held;
  for (const auto& state : st.servers) {
    if (state.held != nullptr) held.push_back(&state);
  }
  std::sort(held.begin(), held.end(),
            [](const ServerState* a, const ServerState* b) { return a->address < b->address; });
  for (const ServerState* state : held) {
    s.servers.push_back(ServerReportOf(s.name, *state->held, state, from.health, has_latency));
  }
  QuorumReport& q = s.quorum;
  q.up = from.health == nullptr || from.health->HasQuorum(s.name);
  q.up_weight = UpWeight(service);
  q.quorum = EffectiveQuorum(st.config);
  q.hysteresis = st.config.hysteresis;
  q.sorry_server = st.config.sorry_server.has_value();
  q.shown = st.config.quorum > 0 || st.config.hysteresis > 0 || !st.config.on_quorum_up.empty() ||
            !st.config.on_quorum_down.empty() ||
            std::any_of(s.servers.begin(), s.servers.end(),
                        [](const ServerReport& sr) { return sr.check.has_value(); });
  return s;
}

}  // namespace

StatusReport BuildStatusReport(const ReportSources& from) {
  StatusReport r;
  for (const auto& st : from.services) {
    ServiceReport s = ServiceReportOf(st, from);
    r.connections += s.connections;
    r.bytes_in += s.bytes_in;
    r.bytes_out += s.bytes_out;
    r.services.push_back(std::move(s));
  }
  r.rates = from.total_rates.Rate();
  for (const auto& st : from.services) {
    if (st.packet) r.packet.push_back(st.packet->Snapshot(0));
  }
  if (from.vrrp != nullptr) r.vrrp = from.vrrp->Snapshot();
  ProcessReport& p = r.process;
  const ProcessCounters& c = from.counters;
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
  p.reloads = from.reloads;
  p.reload_failures = from.reload_failures;
  p.maxconn = c.maxconn.load();
  p.maxconn_reached = c.maxconn_reached.load();
  return r;
}

}  // namespace lbd
