// StatusReport as text: the ipvsadm-like status table and the stats table,
// with their QUORUM/HEALTH/PACKET/VRRP lines; and the helpers every
// rendering shares.
#include "lbd/daemon/status_report.h"

#include <cinttypes>
#include <cstdarg>
#include <cstdio>

#include "report_format.h"

namespace lbd {

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

namespace {

std::string ServiceLine(const ServiceReport& s) {
  std::string line = "TCP  " + ToString(s.listen) + " " + s.scheduler;
  if (s.persistence_seconds > 0) line += " persistent " + std::to_string(s.persistence_seconds);
  line += " (" + s.name + ")";
  return line;
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
      // The marks come after every ipvsadm column, and only when set.
      Appendf(out, "  -> %-28s %-7s %-6d %-10d %-10d %s%s%s\n", ToString(rs.address).c_str(),
              ForwardName(s.forwarding), rs.weight, rs.active, rs.inactive, rs.up ? "up" : "down",
              rs.disabled ? " disabled" : "", rs.draining ? " draining" : "");
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

}  // namespace lbd
