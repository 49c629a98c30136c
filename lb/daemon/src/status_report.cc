#include "lbd/daemon/status_report.h"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>

namespace lbd {
namespace {

void Appendf(std::string& out, const char* format, ...) __attribute__((format(printf, 2, 3)));
void Appendf(std::string& out, const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list again;
  va_copy(again, args);
  char buf[512];
  int n = vsnprintf(buf, sizeof(buf), format, args);
  va_end(args);
  if (n > 0 && static_cast<size_t>(n) < sizeof(buf)) {
    out.append(buf, static_cast<size_t>(n));
  } else if (n > 0) {  // longer than the stack buffer: format again in place
    const size_t at = out.size();
    out.resize(at + static_cast<size_t>(n) + 1);
    vsnprintf(out.data() + at, static_cast<size_t>(n) + 1, format, again);
    out.resize(at + static_cast<size_t>(n));
  }
  va_end(again);
}

const char* ForwardingKey(Forwarding f) { return ToString(f); }

std::string ServiceLine(const ServiceReport& s) {
  std::string line = "TCP  " + ToString(s.listen) + " " + s.scheduler;
  if (s.persistence_seconds > 0) line += " persistent " + std::to_string(s.persistence_seconds);
  line += " (" + s.name + ")";
  return line;
}

std::string Label(const std::string& service, const ServerReport* server) {
  std::string l = "service=" + JsonString(service);
  if (server != nullptr) l += ",server=" + JsonString(ToString(server->address));
  return l;
}

std::string VrrpLabel(const VrrpReport& v) {
  return "instance=" + JsonString(v.name) + ",interface=" + JsonString(v.interface) + ",vrid=\"" +
         std::to_string(v.vrid) + "\"";
}

// After the ipvsadm table: per service with checks or quorum settings
//   QUORUM web up weight 4 quorum 1 hysteresis 0 sorry none|idle|in-use
// and per server with a check
//   HEALTH web 127.0.0.1:9001 tcp up last ok latency 0.214ms checks 12 failures 0
//     transitions 0 since 5.3s table in msg connect ok          (one line)
void AppendHealthText(std::string& out, const ServiceReport& s) {
  const QuorumReport& q = s.quorum;
  if (q.shown) {
    Appendf(out,
            "QUORUM %s %s weight %" PRId64 " quorum %" PRId64 " hysteresis %" PRId64 " sorry %s\n",
            s.name.c_str(), q.up ? "up" : "lost", q.up_weight, q.quorum, q.hysteresis,
            !q.sorry_server    ? "none"
            : q.sorry_in_use() ? "in-use"
                               : "idle");
  }
  for (const auto& rs : s.servers) {
    if (!rs.check) continue;
    const HealthCheckReport& c = *rs.check;
    Appendf(out,
            "HEALTH %s %s %s %s last %s latency %.3fms checks %" PRIu64 " failures %" PRIu64
            " transitions %" PRIu64 " since %.1fs table %s msg %s\n",
            s.name.c_str(), ToString(rs.address).c_str(), c.type.c_str(), c.up ? "up" : "down",
            !c.has_result ? "none"
            : c.success   ? "ok"
                          : "fail",
            c.latency_seconds * 1000.0, c.checks, c.failures, c.transitions, c.since_seconds,
            rs.in_table ? "in" : "out",
            c.has_result && !c.message.empty() ? c.message.c_str() : "-");
  }
}

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

// Quorum per service, table membership per server, and the check series of
// the servers that have one. `family` prints a family's HELP and TYPE.
template <typename Family>
void AppendHealthPrometheus(std::string& out, const StatusReport& r, const Family& family) {
  struct ServiceGauge {
    const char* name;
    const char* help;
    double (*value)(const QuorumReport&);
  };
  static const ServiceGauge kQuorumFamilies[] = {
      {"lbd_service_quorum", "Quorum held (1) or lost (0).",
       [](const QuorumReport& q) { return q.up ? 1.0 : 0.0; }},
      {"lbd_service_quorum_up_weight", "Sum of the weights of the servers up, in the table.",
       [](const QuorumReport& q) { return double(q.up_weight); }},
      {"lbd_service_sorry_in_use", "Quorum lost: new connections go to the sorry server.",
       [](const QuorumReport& q) { return q.sorry_in_use() ? 1.0 : 0.0; }},
  };
  for (const ServiceGauge& g : kQuorumFamilies) {
    family(g.name, "gauge", g.help);
    for (const auto& s : r.services) {
      Appendf(out, "%s{%s} %.17g\n", g.name, Label(s.name, nullptr).c_str(), g.value(s.quorum));
    }
  }
  family("lbd_real_server_in_table", "gauge",
         "0 while a failed check holds it out (inhibit_on_failure: false).");
  for (const auto& s : r.services) {
    for (const auto& rs : s.servers) {
      Appendf(out, "lbd_real_server_in_table{%s} %d\n", Label(s.name, &rs).c_str(),
              rs.in_table ? 1 : 0);
    }
  }
  struct CheckFamily {
    const char* name;
    const char* type;
    const char* help;
    double (*value)(const HealthCheckReport&);
  };
  static const CheckFamily kCheckFamilies[] = {
      {"lbd_healthcheck_up", "gauge", "The check's state (1 up, 0 down).",
       [](const HealthCheckReport& c) { return c.up ? 1.0 : 0.0; }},
      {"lbd_healthcheck_checks_total", "counter", "Checks finished.",
       [](const HealthCheckReport& c) { return double(c.checks); }},
      {"lbd_healthcheck_failures_total", "counter", "Checks failed.",
       [](const HealthCheckReport& c) { return double(c.failures); }},
      {"lbd_healthcheck_transitions_total", "counter", "Up/down transitions.",
       [](const HealthCheckReport& c) { return double(c.transitions); }},
      {"lbd_healthcheck_last_success", "gauge", "The last check passed (1) or failed (0).",
       [](const HealthCheckReport& c) { return c.has_result && c.success ? 1.0 : 0.0; }},
      {"lbd_healthcheck_latency_seconds", "gauge", "Duration of the last check.",
       [](const HealthCheckReport& c) { return c.latency_seconds; }},
      {"lbd_healthcheck_last_change_timestamp_seconds", "gauge",
       "Unix time of the last transition (or of the check's start).",
       [](const HealthCheckReport& c) { return c.last_change; }},
  };
  for (const CheckFamily& f : kCheckFamilies) {
    family(f.name, f.type, f.help);
    for (const auto& s : r.services) {
      for (const auto& rs : s.servers) {
        if (!rs.check) continue;
        Appendf(out, "%s{%s} %.17g\n", f.name, Label(s.name, &rs).c_str(), f.value(*rs.check));
      }
    }
  }
}

// Prometheus value of a state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT.
int StateNumber(const std::string& state) {
  if (state == "BACKUP") return 1;
  if (state == "MASTER") return 2;
  if (state == "FAULT") return 3;
  return 0;
}

// The PACKET lines of one nat/dr/tun service: its totals, one line per real
// server and, for stats, the drops by kind.
void AppendPacketLines(std::string& out, const PacketReport& p, bool drops_by_kind) {
  Appendf(out,
          "PACKET %s %s flows %" PRIu64 " packets in %" PRIu64 " forwarded %" PRIu64
          " drops %" PRIu64 "\n",
          p.name.c_str(), p.tun.c_str(), p.flows, p.packets_read, p.packets_forwarded, p.drops);
  for (const auto& s : p.servers) {
    Appendf(out,
            "PACKET %s %s active %d inactive %d flows %" PRIu64 " packets in %" PRIu64
            " out %" PRIu64 " bytes in %" PRIu64 " out %" PRIu64 "\n",
            p.name.c_str(), ToString(s.address).c_str(), s.active, s.inactive, s.flows,
            s.packets_in, s.packets_out, s.bytes_in, s.bytes_out);
  }
  if (!drops_by_kind) return;
  out += "PACKET " + p.name + " drops";
  for (const auto& [kind, n] : p.drops_by_kind) Appendf(out, " %s %" PRIu64, kind.c_str(), n);
  out += "\n";
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

// Prometheus families of the nat/dr/tun data planes.
void AppendPacketMetrics(std::string& out, const std::vector<PacketReport>& packet) {
  auto family = [&](const char* name, const char* type, const char* help) {
    Appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
  };
  struct ServiceFamily {
    const char* name;
    const char* type;
    const char* help;
    uint64_t (*value)(const PacketReport&);
  };
  static const ServiceFamily kServiceFamilies[] = {
      {"lbd_packet_packets_read_total", "counter", "Packets read from the service's tun device.",
       [](const PacketReport& p) { return p.packets_read; }},
      {"lbd_packet_packets_forwarded_total", "counter", "Packets sent on, both directions.",
       [](const PacketReport& p) { return p.packets_forwarded; }},
      {"lbd_packet_flows", "gauge", "Flows in the flow tables now.",
       [](const PacketReport& p) { return p.flows; }},
  };
  for (const ServiceFamily& f : kServiceFamilies) {
    family(f.name, f.type, f.help);
    for (const auto& p : packet) {
      Appendf(out, "%s{%s} %" PRIu64 "\n", f.name, Label(p.name, nullptr).c_str(), f.value(p));
    }
  }
  family("lbd_packet_drops_total", "counter", "Packets dropped, by kind.");
  for (const auto& p : packet) {
    for (const auto& [kind, n] : p.drops_by_kind) {
      Appendf(out, "lbd_packet_drops_total{%s,reason=%s} %" PRIu64 "\n",
              Label(p.name, nullptr).c_str(), JsonString(kind).c_str(), n);
    }
  }
  struct ServerFamily {
    const char* name;
    const char* type;
    const char* help;
    uint64_t (*value)(const PacketServerReport&);
  };
  static const ServerFamily kServerFamilies[] = {
      {"lbd_packet_real_server_active_flows", "gauge", "Flows in ESTABLISHED.",
       [](const PacketServerReport& s) { return uint64_t(s.active); }},
      {"lbd_packet_real_server_inactive_flows", "gauge", "Flows in any other state.",
       [](const PacketServerReport& s) { return uint64_t(s.inactive); }},
      {"lbd_packet_real_server_flows_total", "counter", "Flows scheduled to the real server.",
       [](const PacketServerReport& s) { return s.flows; }},
      {"lbd_packet_real_server_packets_in_total", "counter", "Packets client -> real server.",
       [](const PacketServerReport& s) { return s.packets_in; }},
      {"lbd_packet_real_server_bytes_in_total", "counter", "Bytes client -> real server.",
       [](const PacketServerReport& s) { return s.bytes_in; }},
      {"lbd_packet_real_server_packets_out_total", "counter",
       "Packets real server -> client through the director (nat).",
       [](const PacketServerReport& s) { return s.packets_out; }},
      {"lbd_packet_real_server_bytes_out_total", "counter",
       "Bytes real server -> client through the director (nat).",
       [](const PacketServerReport& s) { return s.bytes_out; }},
  };
  for (const ServerFamily& f : kServerFamilies) {
    family(f.name, f.type, f.help);
    for (const auto& p : packet) {
      for (const auto& s : p.servers) {
        Appendf(out, "%s{service=%s,server=%s} %" PRIu64 "\n", f.name, JsonString(p.name).c_str(),
                JsonString(ToString(s.address)).c_str(), f.value(s));
      }
    }
  }
}

}  // namespace

uint64_t VrrpReport::DroppedTotal() const {
  uint64_t total = 0;
  for (const auto& [kind, n] : dropped) total += n;
  return total;
}

const char* ForwardName(Forwarding f) {
  switch (f) {
    case Forwarding::kProxy:
      return "Proxy";
    case Forwarding::kNat:
      return "Masq";
    case Forwarding::kDr:
      return "Route";
    case Forwarding::kTun:
      return "Tunnel";
  }
  return "?";
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string FormatStatusText(const StatusReport& r) {
  std::string out;
  Appendf(out, "IP Virtual Server version %s (size=%" PRId64 ")\n", kLbdVersion,
          r.process.live_connections);
  out += "Prot LocalAddress:Port Scheduler Flags\n";
  out += "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";
  for (const auto& s : r.services) {
    out += ServiceLine(s) + "\n";
    for (const auto& rs : s.servers) {
      Appendf(out, "  -> %-28s %-7s %-6d %-10d %-10d %s\n", ToString(rs.address).c_str(),
              ForwardName(s.forwarding), rs.weight, rs.active, rs.inactive, rs.up ? "up" : "down");
    }
  }
  for (const auto& s : r.services) AppendHealthText(out, s);
  for (const auto& p : r.packet) AppendPacketLines(out, p, /*drops_by_kind=*/false);
  for (const auto& v : r.vrrp) {
    Appendf(out,
            "VRRP %s %s vrid %d %s prio %d/%d master %s adverts tx %" PRIu64 " rx %" PRIu64
            " drops %" PRIu64 "\n",
            v.name.c_str(), v.interface.c_str(), v.vrid, v.state.c_str(), v.effective_priority,
            v.priority, v.master_ip.empty() ? "-" : v.master_ip.c_str(), v.adverts_sent,
            v.adverts_received, v.DroppedTotal());
  }
  return out;
}

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
      out += '}';
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

std::string FormatStatsText(const StatusReport& r) {
  std::string out;
  Appendf(out, "IP Virtual Server version %s (size=%" PRId64 ")\n", kLbdVersion,
          r.process.live_connections);
  out +=
      "Prot LocalAddress:Port               Conns   InBytes  OutBytes   Conns/s  InBytes/s "
      "OutBytes/s\n";
  out += "  -> RemoteAddress:Port\n";
  for (const auto& s : r.services) {
    Appendf(out, "TCP  %-28s %8" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9.1f %10.1f %10.1f\n",
            ToString(s.listen).c_str(), s.connections, s.bytes_in, s.bytes_out, s.rates.connections,
            s.rates.bytes_in, s.rates.bytes_out);
    for (const auto& rs : s.servers) {
      Appendf(out, "  -> %-28s %8" PRIu64 " %9" PRIu64 " %9" PRIu64 "\n",
              ToString(rs.address).c_str(), rs.connections, rs.bytes_in, rs.bytes_out);
    }
  }
  Appendf(out, "Total %-27s %8" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9.1f %10.1f %10.1f\n", "",
          r.connections, r.bytes_in, r.bytes_out, r.rates.connections, r.rates.bytes_in,
          r.rates.bytes_out);
  const ProcessReport& p = r.process;
  Appendf(out,
          "Live %" PRId64 "  Accepted %" PRIu64 "  AcceptErrors %" PRIu64 " (EMFILE %" PRIu64
          ")  ConnectFailures %" PRIu64 "  Retries %" PRIu64 "  NoServer %" PRIu64
          "  Sorry %" PRIu64 "  Resets %" PRIu64 "  IdleTimeouts %" PRIu64 "  ClientResets %" PRIu64
          "  ServerResets %" PRIu64 "\n",
          p.live_connections, p.accepted, p.accept_errors, p.emfile, p.connect_failures, p.retries,
          p.no_server, p.sorry, p.resets, p.idle_timeouts, p.client_resets, p.server_resets);
  for (const auto& pk : r.packet) AppendPacketLines(out, pk, /*drops_by_kind=*/true);
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
          ",\"client_resets\":%" PRIu64 ",\"server_resets\":%" PRIu64 "}}\n",
          p.live_connections, p.accepted, p.accept_errors, p.emfile, p.connect_failures, p.retries,
          p.no_server, p.sorry, p.resets, p.idle_timeouts, p.reloads, p.reload_failures,
          p.client_resets, p.server_resets);
  return status;
}

std::string FormatPrometheus(const StatusReport& r) {
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help) {
    Appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
  };
  family("lbd_service_connections_total", "counter", "Connections established, per service.");
  for (const auto& s : r.services) {
    Appendf(out, "lbd_service_connections_total{%s} %" PRIu64 "\n", Label(s.name, nullptr).c_str(),
            s.connections);
  }
  family("lbd_service_bytes_in_total", "counter", "Bytes client -> real server, per service.");
  for (const auto& s : r.services) {
    Appendf(out, "lbd_service_bytes_in_total{%s} %" PRIu64 "\n", Label(s.name, nullptr).c_str(),
            s.bytes_in);
  }
  family("lbd_service_bytes_out_total", "counter", "Bytes real server -> client, per service.");
  for (const auto& s : r.services) {
    Appendf(out, "lbd_service_bytes_out_total{%s} %" PRIu64 "\n", Label(s.name, nullptr).c_str(),
            s.bytes_out);
  }
  struct Gauge {
    const char* name;
    const char* type;
    const char* help;
    double (*value)(const ServerReport&);
  };
  static const Gauge kServerFamilies[] = {
      {"lbd_real_server_active_connections", "gauge", "Active (established) connections.",
       [](const ServerReport& s) { return double(s.active); }},
      {"lbd_real_server_inactive_connections", "gauge", "Inactive (connecting, closing).",
       [](const ServerReport& s) { return double(s.inactive); }},
      {"lbd_real_server_connections_total", "counter", "Connections established.",
       [](const ServerReport& s) { return double(s.connections); }},
      {"lbd_real_server_bytes_in_total", "counter", "Bytes client -> real server.",
       [](const ServerReport& s) { return double(s.bytes_in); }},
      {"lbd_real_server_bytes_out_total", "counter", "Bytes real server -> client.",
       [](const ServerReport& s) { return double(s.bytes_out); }},
      {"lbd_real_server_up", "gauge", "Health state (1 up, 0 down).",
       [](const ServerReport& s) { return s.up ? 1.0 : 0.0; }},
      {"lbd_real_server_weight", "gauge", "Configured weight.",
       [](const ServerReport& s) { return double(s.weight); }},
  };
  for (const Gauge& g : kServerFamilies) {
    family(g.name, g.type, g.help);
    for (const auto& s : r.services) {
      for (const auto& rs : s.servers) {
        Appendf(out, "%s{%s} %.17g\n", g.name, Label(s.name, &rs).c_str(), g.value(rs));
      }
    }
  }
  AppendHealthPrometheus(out, r, family);
  const ProcessReport& p = r.process;
  struct Counter {
    const char* name;
    const char* type;
    const char* help;
    double value;
  };
  const Counter process[] = {
      {"lbd_connections_live", "gauge", "Client connections held by the workers.",
       double(p.live_connections)},
      {"lbd_accepted_total", "counter", "Client connections accepted.", double(p.accepted)},
      {"lbd_accept_errors_total", "counter", "accept() failures.", double(p.accept_errors)},
      {"lbd_accept_emfile_total", "counter", "accept() failures for lack of descriptors.",
       double(p.emfile)},
      {"lbd_connect_failures_total", "counter", "Connects to real servers that failed.",
       double(p.connect_failures)},
      {"lbd_connect_retries_total", "counter", "Second attempts on another real server.",
       double(p.retries)},
      {"lbd_no_server_total", "counter", "Clients closed because no server was available.",
       double(p.no_server)},
      {"lbd_sorry_total", "counter", "Clients sent to the sorry server.", double(p.sorry)},
      {"lbd_resets_total", "counter", "Connections ended by a reset.", double(p.resets)},
      {"lbd_idle_timeouts_total", "counter", "Connections closed by timeouts.idle.",
       double(p.idle_timeouts)},
      {"lbd_reloads_total", "counter", "Configuration reloads applied.", double(p.reloads)},
      {"lbd_reload_failures_total", "counter", "Configuration reloads refused.",
       double(p.reload_failures)},
  };
  for (const Counter& c : process) {
    family(c.name, c.type, c.help);
    Appendf(out, "%s %.17g\n", c.name, c.value);
  }
  family("lbd_resets_by_side_total", "counter",
         "Connections ended by a reset, by the side whose socket failed first.");
  Appendf(out, "lbd_resets_by_side_total{side=\"client\"} %" PRIu64 "\n", p.client_resets);
  Appendf(out, "lbd_resets_by_side_total{side=\"server\"} %" PRIu64 "\n", p.server_resets);
  if (!r.packet.empty()) AppendPacketMetrics(out, r.packet);
  if (r.vrrp.empty()) return out;
  struct VrrpFamily {
    const char* name;
    const char* type;
    const char* help;
    double (*value)(const VrrpReport&);
  };
  static const VrrpFamily kVrrpFamilies[] = {
      {"lbd_vrrp_state", "gauge", "VRRP state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT.",
       [](const VrrpReport& v) { return double(StateNumber(v.state)); }},
      {"lbd_vrrp_priority", "gauge", "Configured priority.",
       [](const VrrpReport& v) { return double(v.priority); }},
      {"lbd_vrrp_effective_priority", "gauge", "Priority after track_services weights.",
       [](const VrrpReport& v) { return double(v.effective_priority); }},
      {"lbd_vrrp_adverts_sent_total", "counter", "Advertisements sent.",
       [](const VrrpReport& v) { return double(v.adverts_sent); }},
      {"lbd_vrrp_adverts_received_total", "counter", "Advertisements received and accepted.",
       [](const VrrpReport& v) { return double(v.adverts_received); }},
      {"lbd_vrrp_priority_zero_sent_total", "counter", "Priority 0 advertisements sent.",
       [](const VrrpReport& v) { return double(v.priority_zero_sent); }},
      {"lbd_vrrp_priority_zero_received_total", "counter", "Priority 0 advertisements received.",
       [](const VrrpReport& v) { return double(v.priority_zero_received); }},
      {"lbd_vrrp_became_master_total", "counter", "Transitions to MASTER.",
       [](const VrrpReport& v) { return double(v.became_master); }},
      {"lbd_vrrp_became_backup_total", "counter", "Transitions to BACKUP.",
       [](const VrrpReport& v) { return double(v.became_backup); }},
      {"lbd_vrrp_became_fault_total", "counter", "Transitions to FAULT.",
       [](const VrrpReport& v) { return double(v.became_fault); }},
      {"lbd_vrrp_garps_sent_total", "counter", "Gratuitous ARPs sent.",
       [](const VrrpReport& v) { return double(v.garps_sent); }},
      {"lbd_vrrp_send_errors_total", "counter", "Advertisements that could not be sent.",
       [](const VrrpReport& v) { return double(v.send_errors); }},
      {"lbd_vrrp_address_errors_total", "counter", "Virtual IP add/remove failures.",
       [](const VrrpReport& v) { return double(v.address_errors); }},
  };
  for (const VrrpFamily& f : kVrrpFamilies) {
    family(f.name, f.type, f.help);
    for (const auto& v : r.vrrp) {
      Appendf(out, "%s{%s} %.17g\n", f.name, VrrpLabel(v).c_str(), f.value(v));
    }
  }
  family("lbd_vrrp_dropped_total", "counter", "Received packets dropped, by kind.");
  for (const auto& v : r.vrrp) {
    for (const auto& [kind, n] : v.dropped) {
      Appendf(out, "lbd_vrrp_dropped_total{%s,reason=%s} %" PRIu64 "\n", VrrpLabel(v).c_str(),
              JsonString(kind).c_str(), n);
    }
  }
  family("lbd_vrrp_master_info", "gauge", "The master last seen (ours while MASTER).");
  for (const auto& v : r.vrrp) {
    Appendf(out, "lbd_vrrp_master_info{%s,master=%s} 1\n", VrrpLabel(v).c_str(),
            JsonString(v.master_ip).c_str());
  }
  return out;
}

FlowsWriter::FlowsWriter(std::vector<PacketReport> packet, bool json, size_t max)
    : packet_(std::move(packet)), json_(json), max_(max) {}

bool FlowsWriter::Next(std::string& out) {
  if (!started_) {
    started_ = true;
    // ipvsadm.c print_conn(): "%-3s %02d:%02d  %-11s %-18s %-18s %s".
    out += json_ ? "{\"flows\":["
                 : "IPVS connection entries\n"
                   "pro expire state       source             virtual            destination\n";
    return true;
  }
  for (size_t n = 0; n < kFlowsPerPart && service_ < packet_.size();) {
    const PacketReport& p = packet_[service_];
    if (flow_ == p.flow_list.size()) {
      ++service_;
      flow_ = 0;
      continue;
    }
    const FlowReport& f = p.flow_list[flow_++];
    if (json_) {
      Appendf(
          out,
          "%s{\"service\":%s,\"protocol\":\"%s\",\"client\":%s,\"virtual\":%s,"
          "\"server\":%s,\"state\":%s,\"expires\":%" PRId64 "}",
          listed_ > 0 ? "," : "", JsonString(p.name).c_str(), f.protocol.c_str(),
          JsonString(ToString(f.client)).c_str(), JsonString(ToString(f.virtual_address)).c_str(),
          JsonString(ToString(f.server)).c_str(), JsonString(f.state).c_str(), f.expires_seconds);
    } else {
      Appendf(out, "%-3s %02" PRId64 ":%02" PRId64 "  %-11s %-18s %-18s %s\n", f.protocol.c_str(),
              f.expires_seconds / 60, f.expires_seconds % 60, f.state.c_str(),
              ToString(f.client).c_str(), ToString(f.virtual_address).c_str(),
              ToString(f.server).c_str());
    }
    ++listed_;
    ++n;
  }
  if (service_ < packet_.size()) return true;
  uint64_t total = 0;
  for (const auto& p : packet_) total += p.flows;
  if (json_) {
    Appendf(out, "],\"total\":%" PRIu64 ",\"listed\":%" PRIu64 "}\n", total, listed_);
  } else if (listed_ < total) {
    Appendf(out, "(%" PRIu64 " more flows not listed; --max %zu)\n", total - listed_, max_);
  }
  return false;
}

std::string FormatFlowsText(const std::vector<PacketReport>& packet, size_t max) {
  FlowsWriter w(packet, /*json=*/false, max);
  std::string out;
  while (w.Next(out)) {
  }
  return out;
}

std::string FormatFlowsJson(const std::vector<PacketReport>& packet) {
  FlowsWriter w(packet, /*json=*/true, 0);
  std::string out;
  while (w.Next(out)) {
  }
  return out;
}

}  // namespace lbd
