// StatusReport as JSON (`lbctl status --json`, `lbctl stats --json`).
#include <cinttypes>
#include <cstdio>

#include "lbd/daemon/status_report.h"
#include "report_format.h"

namespace lbd {
namespace {

const char* ForwardingKey(Forwarding f) { return ToString(f); }

// ,"in_table":...,"check":{...}|null — appended to a server's JSON object.
void AppendHealthJson(std::string& out, const ServerReport& rs) {
  Appendf(out, ",\"in_table\":%s,\"check\":", rs.in_table ? "true" : "false");
  if (!rs.check) {
    out += "null";
    return;
  }
  const HealthCheckReport& c = *rs.check;
  Appendf(out,
          "{\"type\":%s,\"up\":%s,\"checks\":%" PRIu64 ",\"failures\":%" PRIu64
          ",\"transitions\":%" PRIu64 ",\"last_change\":%.3f,\"since\":%.3f,\"last\":",
          JsonString(c.type).c_str(), c.up ? "true" : "false", c.checks, c.failures, c.transitions,
          c.last_change, c.since_seconds);
  if (c.has_result) {
    Appendf(out, "{\"success\":%s,\"latency\":%.6f,\"message\":%s}}", c.success ? "true" : "false",
            c.latency_seconds, JsonString(c.message).c_str());
  } else {
    out += "null}";
  }
}

std::string PacketJson(const PacketReport& p) {
  std::string out;
  Appendf(out,
          "{\"name\":%s,\"tun\":%s,\"flows\":%" PRIu64 ",\"packets_read\":%" PRIu64
          ",\"packets_forwarded\":%" PRIu64 ",\"drops\":%" PRIu64 ",\"drops_by_kind\":{",
          JsonString(p.name).c_str(), JsonString(p.tun).c_str(), p.flows, p.packets_read,
          p.packets_forwarded, p.drops);
  for (size_t j = 0; j < p.drops_by_kind.size(); ++j) {
    Appendf(out, "%s%s:%" PRIu64, j > 0 ? "," : "", JsonString(p.drops_by_kind[j].first).c_str(),
            p.drops_by_kind[j].second);
  }
  out += "},\"servers\":[";
  for (size_t j = 0; j < p.servers.size(); ++j) {
    const auto& s = p.servers[j];
    Appendf(out,
            "%s{\"address\":%s,\"active\":%d,\"inactive\":%d,\"flows\":%" PRIu64
            ",\"packets_in\":%" PRIu64 ",\"bytes_in\":%" PRIu64 ",\"packets_out\":%" PRIu64
            ",\"bytes_out\":%" PRIu64 "}",
            j > 0 ? "," : "", JsonString(ToString(s.address)).c_str(), s.active, s.inactive,
            s.flows, s.packets_in, s.bytes_in, s.packets_out, s.bytes_out);
  }
  out += "]}";
  return out;
}

}  // namespace

std::string FormatStatusJson(const StatusReport& r) {
  std::string out = "{\"version\":" + JsonString(kLbdVersion) + ",\"services\":[";
  for (size_t i = 0; i < r.services.size(); ++i) {
    const auto& s = r.services[i];
    if (i > 0) out += ',';
    Appendf(out,
            "{\"name\":%s,\"protocol\":\"TCP\",\"listen\":%s,\"scheduler\":%s,"
            "\"forwarding\":\"%s\",\"persistence\":%" PRId64 ",\"connections\":%" PRIu64
            ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64 ",\"servers\":[",
            JsonString(s.name).c_str(), JsonString(ToString(s.listen)).c_str(),
            JsonString(s.scheduler).c_str(), ForwardingKey(s.forwarding), s.persistence_seconds,
            s.connections, s.bytes_in, s.bytes_out);
    for (size_t j = 0; j < s.servers.size(); ++j) {
      const auto& rs = s.servers[j];
      if (j > 0) out += ',';
      Appendf(out,
              "{\"address\":%s,\"weight\":%d,\"active\":%d,\"inactive\":%d,\"up\":%s,"
              "\"disabled\":%s,\"connections\":%" PRIu64 ",\"bytes_in\":%" PRIu64
              ",\"bytes_out\":%" PRIu64,
              JsonString(ToString(rs.address)).c_str(), rs.weight, rs.active, rs.inactive,
              rs.up ? "true" : "false", rs.disabled ? "true" : "false", rs.connections, rs.bytes_in,
              rs.bytes_out);
      AppendHealthJson(out, rs);
      if (rs.latency_seconds) {
        Appendf(out, ",\"latency_ms\":%.3f}", *rs.latency_seconds * 1e3);
      } else {
        out += ",\"latency_ms\":null}";
      }
    }
    const QuorumReport& q = s.quorum;
    Appendf(out,
            "],\"quorum\":{\"up\":%s,\"up_weight\":%" PRId64 ",\"quorum\":%" PRId64
            ",\"hysteresis\":%" PRId64 ",\"sorry_server\":%s,\"sorry_in_use\":%s}",
            q.up ? "true" : "false", q.up_weight, q.quorum, q.hysteresis,
            q.sorry_server ? "true" : "false", q.sorry_in_use() ? "true" : "false");
    out += "}";
  }
  out += "],\"packet\":[";
  for (size_t i = 0; i < r.packet.size(); ++i) {
    out += (i > 0 ? "," : "") + PacketJson(r.packet[i]);
  }
  out += "],\"vrrp\":[";
  for (size_t i = 0; i < r.vrrp.size(); ++i) {
    const auto& v = r.vrrp[i];
    if (i > 0) out += ',';
    Appendf(out,
            "{\"name\":%s,\"interface\":%s,\"vrid\":%d,\"version\":%d,\"state\":%s,"
            "\"priority\":%d,\"effective_priority\":%d,\"master\":%s,\"primary\":%s,"
            "\"interface_up\":%s,\"virtual_ips\":[",
            JsonString(v.name).c_str(), JsonString(v.interface).c_str(), v.vrid, v.version,
            JsonString(v.state).c_str(), v.priority, v.effective_priority,
            JsonString(v.master_ip).c_str(), JsonString(v.primary_ip).c_str(),
            v.interface_up ? "true" : "false");
    for (size_t j = 0; j < v.virtual_ips.size(); ++j) {
      out += (j > 0 ? "," : "") + JsonString(v.virtual_ips[j]);
    }
    Appendf(out,
            "],\"counters\":{\"adverts_sent\":%" PRIu64 ",\"adverts_received\":%" PRIu64
            ",\"priority_zero_sent\":%" PRIu64 ",\"priority_zero_received\":%" PRIu64
            ",\"became_master\":%" PRIu64 ",\"became_backup\":%" PRIu64 ",\"became_fault\":%" PRIu64
            ",\"garps_sent\":%" PRIu64 ",\"send_errors\":%" PRIu64 ",\"address_errors\":%" PRIu64
            ",\"dropped\":%" PRIu64 "},\"dropped\":{",
            v.adverts_sent, v.adverts_received, v.priority_zero_sent, v.priority_zero_received,
            v.became_master, v.became_backup, v.became_fault, v.garps_sent, v.send_errors,
            v.address_errors, v.DroppedTotal());
    for (size_t j = 0; j < v.dropped.size(); ++j) {
      Appendf(out, "%s%s:%" PRIu64, j > 0 ? "," : "", JsonString(v.dropped[j].first).c_str(),
              v.dropped[j].second);
    }
    out += "}}";
  }
  out += "]}\n";
  return out;
}

std::string FormatStatsJson(const StatusReport& r) {
  std::string status = FormatStatusJson(r);
  // Reuse the status document and add the totals, rates and counters.
  status.pop_back();  // '\n'
  status.pop_back();  // '}'
  const ProcessReport& p = r.process;
  Appendf(status,
          ",\"totals\":{\"connections\":%" PRIu64 ",\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
          "},\"rates\":{\"connections\":%.3f,\"bytes_in\":%.3f,"
          "\"bytes_out\":%.3f},\"service_rates\":{",
          r.connections, r.bytes_in, r.bytes_out, r.rates.connections, r.rates.bytes_in,
          r.rates.bytes_out);
  for (size_t i = 0; i < r.services.size(); ++i) {
    const auto& s = r.services[i];
    Appendf(status, "%s%s:{\"connections\":%.3f,\"bytes_in\":%.3f,\"bytes_out\":%.3f}",
            i > 0 ? "," : "", JsonString(s.name).c_str(), s.rates.connections, s.rates.bytes_in,
            s.rates.bytes_out);
  }
  Appendf(status,
          "},\"counters\":{\"live\":%" PRId64 ",\"accepted\":%" PRIu64 ",\"accept_errors\":%" PRIu64
          ",\"emfile\":%" PRIu64 ",\"connect_failures\":%" PRIu64 ",\"retries\":%" PRIu64
          ",\"no_server\":%" PRIu64 ",\"sorry\":%" PRIu64 ",\"resets\":%" PRIu64
          ",\"idle_timeouts\":%" PRIu64 ",\"reloads\":%" PRIu64 ",\"reload_failures\":%" PRIu64
          ",\"client_resets\":%" PRIu64 ",\"server_resets\":%" PRIu64 ",\"maxconn\":%" PRId64
          ",\"maxconn_reached\":%" PRIu64 "}}\n",
          p.live_connections, p.accepted, p.accept_errors, p.emfile, p.connect_failures, p.retries,
          p.no_server, p.sorry, p.resets, p.idle_timeouts, p.reloads, p.reload_failures,
          p.client_resets, p.server_resets, p.maxconn, p.maxconn_reached);
  return status;
}

}  // namespace lbd
