// StatusReport as the Prometheus text exposition (GET /metrics).
#include <cinttypes>
#include <cstdio>

#include "lbd/daemon/status_report.h"
#include "report_format.h"

namespace lbd {
namespace {

// A sample value: integers (counters, byte totals, weights) exactly, other
// values with 15 significant digits (all a double holds), never 0.10000000000000001.
std::string Value(double v) {
  char buf[64];
  if (v == static_cast<double>(static_cast<int64_t>(v)) && v > -9.0e15 && v < 9.0e15) {
    std::snprintf(buf, sizeof(buf), "%" PRId64, static_cast<int64_t>(v));
  } else {
    std::snprintf(buf, sizeof(buf), "%.15g", v);
  }
  return buf;
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
      Appendf(out, "%s{%s} %s\n", g.name, Label(s.name, nullptr).c_str(),
              Value(g.value(s.quorum)).c_str());
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
        Appendf(out, "%s{%s} %s\n", f.name, Label(s.name, &rs).c_str(),
                Value(f.value(*rs.check)).c_str());
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

std::string FormatProcessPrometheus(const ProcessStats& p) {
  std::string out;
  auto one = [&out](const char* name, const char* type, const char* help, double v) {
    Appendf(out, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, help, name, type, name,
            Value(v).c_str());
  };
  Appendf(out,
          "# HELP lbd_build_info lbd's version.\n# TYPE lbd_build_info gauge\n"
          "lbd_build_info{version=\"%s\"} 1\n",
          LBD_VERSION);
  one("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.",
      p.cpu_seconds);
  one("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
      double(p.resident_bytes));
  one("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
      double(p.virtual_bytes));
  one("process_open_fds", "gauge", "Number of open file descriptors.", double(p.open_fds));
  one("process_max_fds", "gauge", "Maximum number of open file descriptors.", double(p.max_fds));
  one("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch.",
      p.start_time_seconds);
  return out;
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
        Appendf(out, "%s{%s} %s\n", g.name, Label(s.name, &rs).c_str(), Value(g.value(rs)).c_str());
      }
    }
  }
  family("lbd_real_server_latency_seconds", "gauge",
         "Peak-EWMA latency estimate from connect and first-byte times (proxy services; what "
         "ewma schedules by).");
  for (const auto& s : r.services) {
    for (const auto& rs : s.servers) {
      if (!rs.latency_seconds) continue;
      Appendf(out, "lbd_real_server_latency_seconds{%s} %.9g\n", Label(s.name, &rs).c_str(),
              *rs.latency_seconds);
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
      {"lbd_maxconn", "gauge", "Cap on client connections (global.maxconn); 0 = none.",
       double(p.maxconn)},
      {"lbd_maxconn_reached_total", "counter",
       "Times a worker stopped accepting because maxconn connections were held.",
       double(p.maxconn_reached)},
  };
  for (const Counter& c : process) {
    family(c.name, c.type, c.help);
    Appendf(out, "%s %s\n", c.name, Value(c.value).c_str());
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
      Appendf(out, "%s{%s} %s\n", f.name, VrrpLabel(v).c_str(), Value(f.value(v)).c_str());
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

}  // namespace lbd
