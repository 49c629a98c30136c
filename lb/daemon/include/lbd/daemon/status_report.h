// Internal header of lbd_daemon.
//
// StatusReport: a point-in-time copy of every service, real server and
// process counter, taken by the control thread, and its renderings: the
// ipvsadm -Ln-like table and JSON for `lbctl status`, the stats table and
// JSON for `lbctl stats`, and the Prometheus text exposition for /metrics
// (status_report.cc: text; status_report_json.cc; status_report_prometheus.cc;
// flows_writer.cc). The daemon builds it in report_builder.cc.
//
// Thread-safety: plain values and pure functions.
#ifndef LBD_DAEMON_STATUS_REPORT_H_
#define LBD_DAEMON_STATUS_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lbd/conf/config.h"
#include "lbd/sys/process_stats.h"

namespace lbd {

// "lbd-" + the CMake project version (LBD_VERSION, set by lb/daemon/CMakeLists.txt).
inline constexpr const char* kLbdVersion = "lbd-" LBD_VERSION;

struct Rates {
  double connections = 0;  // per second
  double bytes_in = 0;
  double bytes_out = 0;
};

// The health check of one real server (HealthMonitor::CheckReport).
struct HealthCheckReport {
  std::string type;  // tcp http exec
  bool up = true;    // the check's own state (lbctl disable not included)
  uint64_t checks = 0;
  uint64_t failures = 0;     // checks that failed
  uint64_t transitions = 0;  // up <-> down
  // Unix time of the last transition, or of the check's start without one.
  double last_change = 0;
  double since_seconds = 0;  // in the current state, when the report was taken
  // The last check; meaningful when has_result.
  bool has_result = false;
  bool success = false;
  double latency_seconds = 0;
  std::string message;  // "status 200", "connect: Connection refused", "timeout after 1000 ms"
};

struct ServerReport {
  Endpoint address;
  int weight = 0;  // configured weight (0 after drain)
  int active = 0;
  int inactive = 0;
  bool up = true;
  bool disabled = false;  // lbctl disable
  // Weight 0 at run time (lbctl drain/weight, a check's dynamic weight)
  // where the file gives it more: no new connections, the others continue.
  bool draining = false;
  uint64_t connections = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  // false: held out of the scheduler by a failed check with
  // inhibit_on_failure: false (listed with up = false).
  bool in_table = true;
  std::optional<HealthCheckReport> check;  // none: no check configured
  // The peak-EWMA latency estimate (RealServer::LatencyEstimate(): connect
  // and first-byte times, see connection.h), decayed to when the report was
  // taken; 0 before the first sample. None for nat/dr/tun services, which
  // have no signal.
  std::optional<double> latency_seconds;
};

// keepalived's quorum of one service (sum of the weights of live servers).
struct QuorumReport {
  bool up = true;         // has quorum
  int64_t up_weight = 0;  // configured weights of the servers up and in the table
  int64_t quorum = 1;     // effective: the configured quorum, 1 when not set
  int64_t hysteresis = 0;
  bool sorry_server = false;  // one is configured
  // quorum, hysteresis or on_quorum_* set, or a server has a check: the text shows the line.
  bool shown = false;
  // Quorum lost with a sorry server: every new connection goes there.
  bool sorry_in_use() const { return sorry_server && !up; }
};

struct ServiceReport {
  std::string name;
  Endpoint listen;
  std::string scheduler;
  Forwarding forwarding = Forwarding::kProxy;
  int64_t persistence_seconds = 0;
  uint64_t connections = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  Rates rates;
  std::vector<ServerReport> servers;
  QuorumReport quorum;
};

struct ProcessReport {
  int64_t live_connections = 0;
  uint64_t accepted = 0;
  uint64_t accept_errors = 0;
  uint64_t emfile = 0;
  uint64_t connect_failures = 0;
  uint64_t retries = 0;
  uint64_t no_server = 0;
  uint64_t sorry = 0;
  uint64_t resets = 0;         // client_resets + server_resets
  uint64_t client_resets = 0;  // the client's socket failed first (an aborting client)
  uint64_t server_resets = 0;  // the real server's socket failed first
  uint64_t idle_timeouts = 0;
  uint64_t reloads = 0;
  uint64_t reload_failures = 0;
  int64_t maxconn = 0;           // the connection cap in force; 0 = none
  uint64_t maxconn_reached = 0;  // times a worker stopped accepting at the cap
};

// One VRRP instance (lb/vrrp's InstanceStatus as plain values).
struct VrrpReport {
  std::string name;
  std::string interface;
  int vrid = 0;
  int version = 3;
  std::string state;           // INIT BACKUP MASTER FAULT
  int priority = 0;            // configured
  int effective_priority = 0;  // after track_services weights
  std::string master_ip;       // last master seen (ours while MASTER); "" = none
  std::string primary_ip;      // our source address
  std::vector<std::string> virtual_ips;
  bool interface_up = false;
  uint64_t adverts_sent = 0;
  uint64_t adverts_received = 0;  // accepted
  uint64_t priority_zero_sent = 0;
  uint64_t priority_zero_received = 0;
  uint64_t became_master = 0;
  uint64_t became_backup = 0;
  uint64_t became_fault = 0;
  uint64_t garps_sent = 0;
  uint64_t send_errors = 0;
  uint64_t address_errors = 0;
  // Received packets dropped, per kind ("checksum", "vrid", ...), every kind listed.
  std::vector<std::pair<std::string, uint64_t>> dropped;
  uint64_t DroppedTotal() const;
};

// One real server of a nat/dr/tun service, as its data plane counts it.
// In is client -> server; out is server -> client through the director
// (nat only: dr and tun replies bypass it).
struct PacketServerReport {
  Endpoint address;
  int active = 0;      // flows in ESTABLISHED
  int inactive = 0;    // flows in any other state (UDP flows too)
  uint64_t flows = 0;  // flows ever scheduled to it
  uint64_t packets_in = 0;
  uint64_t bytes_in = 0;
  uint64_t packets_out = 0;
  uint64_t bytes_out = 0;
};

// One line of `ipvsadm -Lnc`.
struct FlowReport {
  std::string protocol;  // "TCP" or "UDP"
  Endpoint client;
  Endpoint virtual_address;
  Endpoint server;
  std::string state;  // ESTABLISHED, SYN_RECV, ...; "UDP" for UDP (as IPVS names it)
  int64_t expires_seconds = 0;
};

// The data plane of one nat/dr/tun service.
struct PacketReport {
  std::string name;
  std::string tun;
  uint64_t flows = 0;  // current
  uint64_t packets_read = 0;
  uint64_t packets_forwarded = 0;
  uint64_t drops = 0;  // every kind
  // Every drop kind ("no_flow", "fragment", ...), listed even when 0.
  std::vector<std::pair<std::string, uint64_t>> drops_by_kind;
  std::vector<PacketServerReport> servers;
  // Filled only for `lbctl flows`: at most the number asked for, of `flows`.
  std::vector<FlowReport> flow_list;
};

struct StatusReport {
  std::vector<ServiceReport> services;
  std::vector<PacketReport> packet;  // one per nat/dr/tun service lbd forwards
  std::vector<VrrpReport> vrrp;      // empty without a `vrrp:` section
  ProcessReport process;
  Rates rates;  // all services
  uint64_t connections = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
};

std::string FormatStatusText(const StatusReport& r);
std::string FormatStatusJson(const StatusReport& r);
std::string FormatStatsText(const StatusReport& r);
std::string FormatStatsJson(const StatusReport& r);
std::string FormatPrometheus(const StatusReport& r);
// lbd_build_info{version} and the process_* families (cpu, memory, fds, start
// time), appended to /metrics after FormatPrometheus.
std::string FormatProcessPrometheus(const ProcessStats& p);
// `lbctl flows`: the flow lists of `packet` like `ipvsadm -Lnc`, then, when
// some flows were not listed, one line `(N more flows not listed; --max M)`.
std::string FormatFlowsText(const std::vector<PacketReport>& packet, size_t max);
// {"flows":[{"service","protocol","client","virtual","server","state",
// "expires"}...],"total":N,"listed":L}
std::string FormatFlowsJson(const std::vector<PacketReport>& packet);

// The same text or JSON made part by part, so that a long listing is
// formatted as the control client drains it (ControlReply::more) instead of
// at once on the control loop. Owns its snapshot.
class FlowsWriter {
 public:
  static constexpr size_t kFlowsPerPart = 1024;  // ~90 KB of text

  FlowsWriter(std::vector<PacketReport> packet, bool json, size_t max);
  // Appends the next part (the header, up to kFlowsPerPart flows, or the
  // end); false once the end was appended.
  bool Next(std::string& out);

 private:
  std::vector<PacketReport> packet_;
  bool json_;
  size_t max_;
  bool started_ = false;
  size_t service_ = 0;  // cursor: packet_[service_].flow_list[flow_]
  size_t flow_ = 0;
  uint64_t listed_ = 0;
};

// "Masq", "Route", "Tunnel", "Proxy" (ipvsadm's Forward column).
const char* ForwardName(Forwarding f);
// A JSON string literal, quotes included.
std::string JsonString(std::string_view s);

}  // namespace lbd

#endif  // LBD_DAEMON_STATUS_REPORT_H_
