// Internal to lbd_conf: the keepalived converter's reading helpers, shared by
// import_keepalived.cc (global_defs, vrrp_instance) and
// import_keepalived_vs.cc (virtual_server).
//
// Thread-safety: a KaReader belongs to one conversion on one thread.
#ifndef LBD_CONF_SRC_KEEPALIVED_READER_H_
#define LBD_CONF_SRC_KEEPALIVED_READER_H_

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "import_util.h"
#include "keepalived_tree.h"
#include "lbd/conf/import.h"

namespace lbd::import {

// Keywords keepalived has and lbd lacks, per section ("top", "vrrp", "vs",
// "rs", "check"): warned about; other unknown keywords are errors.
inline const std::set<std::string>& Lacking(const std::string& section) {
  static const std::map<std::string, std::set<std::string>> kLacking = {
      {"top",
       {"vrrp_sync_group", "vrrp_script", "static_ipaddress", "static_routes", "static_rules",
        "vrrp_track_process", "track_file", "vrrp_track_file", "garp_group", "linkbeat_interfaces",
        "net_namespace", "instance", "use_pid_dir", "bfd_instance", "track_process"}},
      {"vrrp",
       {"use_vmac",
        "vmac_xmit_base",
        "native_ipv6",
        "dont_track_primary",
        "track_interface",
        "track_script",
        "track_process",
        "track_file",
        "track_bfd",
        "mcast_src_ip",
        "unicast_src_ip",
        "unicast_ttl",
        "check_unicast_src",
        "garp_master_delay",
        "garp_master_repeat",
        "garp_master_refresh",
        "garp_master_refresh_repeat",
        "garp_lower_prio_delay",
        "garp_lower_prio_repeat",
        "lower_prio_no_advert",
        "higher_prio_send_advert",
        "smtp_alert",
        "notify_stop",
        "notify_deleted",
        "notify_master_rx_lower_pri",
        "virtual_routes",
        "virtual_rules",
        "accept",
        "no_accept",
        "skip_check_adv_addr",
        "strict_mode",
        "debug",
        "kernel_rx_buf_size",
        "linkbeat_use_polling",
        "down_timer_adverts",
        "old_unicast_checksum",
        "promote_secondaries",
        "track_src_ip",
        "unicast_fault_no_peer",
        "use_ipvlan",
        "lvs_sync_daemon_interface",
        "sync_group_tracking_weight",
        "mcast_dst_ip"}},
      {"vs",
       {"omega", "ha_suspend", "ops", "persistence_engine", "persistence_granularity",
        "sorry_server_inhibit", "sorry_server_lvs_method", "ip_family", "smtp_alert", "warmup",
        "virtualhost", "one_packet"}},
      {"rs", {"notify_up", "notify_down", "smtp_alert", "warmup", "virtualhost"}},
      {"check",
       {"connect_ip", "bindto", "bind_port", "bind_if", "fwmark", "warmup", "log_all_failures",
        "http_protocol", "fast_recovery", "enable_sni", "user", "misc_user"}},
  };
  return kLacking.at(section);
}

// Check timing; the most specific level that sets a value wins.
struct Timing {
  std::optional<double> delay_loop, connect_timeout, retry, delay_before_retry;
};

class KaReader {
 public:
  explicit KaReader(ImportResult& result) : r_(result) {}

  bool TooMany() const { return r_.errors.size() >= import::kMaxErrors; }
  // Messages carry the node's FILE:LINE.
  void Error(const KaNode& n, const std::string& msg) { r_.errors.push_back(n.where + ": " + msg); }
  void Warn(const KaNode& n, const std::string& msg) {
    r_.warnings.push_back(n.where + ": warning: " + msg);
  }
  // Warns about a keyword lbd lacks, or errs on one keepalived lacks too.
  void Other(const KaNode& n, const std::string& section, const std::string& context) {
    if (Lacking(section).count(n.key) != 0) {
      Warn(n, n.key + " in " + context + " is not supported by lbd, ignored");
    } else {
      Error(n, "unknown keyword '" + n.key + "' in " + context);
    }
  }

  bool Args(const KaNode& n, size_t count) {
    if (n.args.size() != count) {
      Error(n, n.key + " takes " + std::to_string(count) + " value" + (count == 1 ? "" : "s"));
      return false;
    }
    return true;
  }
  bool Int(const KaNode& n, long long low, long long high, long long& out) {
    if (!Args(n, 1)) return false;
    if (!import::ParseInt(n.args[0], low, high, out)) {
      Error(n, "bad value '" + n.args[0] + "' for " + n.key + " (" + std::to_string(low) + ".." +
                   std::to_string(high) + ")");
      return false;
    }
    return true;
  }
  // Seconds, fractions allowed (keepalived's timers are), up to a day.
  bool Seconds(const KaNode& n, std::optional<double>& out) {
    if (!Args(n, 1)) return false;
    const std::string& s = n.args[0];
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || errno != 0 || !(v >= 0) || v > 86400 ||
        s.find_first_not_of("0123456789.") != std::string::npos) {
      Error(n, "bad number of seconds '" + s + "' for " + n.key);
      return false;
    }
    out = v;
    return true;
  }
  static Duration Ms(double seconds) { return Duration(std::llround(seconds * 1000)); }
  static std::string Command(const std::vector<std::string>& args) {
    std::string out;
    for (const auto& a : args) {
      if (!out.empty()) out += ' ';
      out += a;  // a "quoted" word is a whole command line, as keepalived runs it
    }
    return out;
  }
  // "IP PORT" or "IP" (port 0) in args[first..].
  bool Address(const KaNode& n, size_t first, Endpoint& out, bool port_optional) {
    if (n.args.size() < first + 1 || n.args.size() > first + 2 ||
        (!port_optional && n.args.size() != first + 2)) {
      Error(n, n.key + " needs an IPv4 address and a port");
      return false;
    }
    auto ip = ParseIpv4(n.args[first]);
    if (!ip.ok()) {
      Error(n, "bad address '" + n.args[first] + "' for " + n.key + ": " + ip.status().message());
      return false;
    }
    out = *ip;
    long long port = 0;
    if (n.args.size() == first + 2) {
      if (!import::ParseInt(n.args[first + 1], 1, 65535, port)) {
        Error(n, "bad port '" + n.args[first + 1] + "' for " + n.key);
        return false;
      }
    }
    out.port = static_cast<uint16_t>(port);
    return true;
  }
  static bool LooksIpv6(const std::string& s) { return s.find(':') != std::string::npos; }

  ImportResult& result() { return r_; }

  // ip << 16 | port -> FILE:LINE of the virtual_server that listens there.
  std::map<uint64_t, std::string> listen_origin;

 protected:
  ImportResult& r_;
};

// One `virtual_server` statement (IP PORT, `group NAME`, or fwmark).
void ImportVirtualServer(KaReader& reader, const KaNode& node,
                         const std::map<std::string, const KaNode*>& groups);

}  // namespace lbd::import

#endif  // LBD_CONF_SRC_KEEPALIVED_READER_H_
