// ImportVirtualServer(): keepalived's `virtual_server` (and the groups it
// names) -> VirtualServiceConfig(s); see keepalived_reader.h.
//
// keepalived's checker semantics (reference: vrrp-and-keepalived.md §5): a
// server is probed every delay_loop; it goes down after retry + 1
// consecutive failures (the retries spaced by delay_before_retry, which lbd
// does not separate from the interval) and up after one success. So
// interval = delay_loop, fall = retry + 1, rise = 1, timeout =
// connect_timeout (MISC_CHECK: misc_timeout, default delay_loop).
#include <algorithm>
#include <cctype>

#include "keepalived_reader.h"

namespace lbd::import {
namespace {

constexpr double kDelayLoop = 60, kConnectTimeout = 5;

struct PendingCheck {
  const KaNode* node = nullptr;
  HealthCheckConfig hc;
  Timing timing;
  std::optional<double> misc_timeout;
};

bool IsScheduler(const std::string& s) {
  static const std::set<std::string> kKnown = {"rr", "wrr", "lc", "wlc", "lblc", "lblcr",
                                               "dh", "sh",  "mh", "sed", "nq"};
  return kKnown.count(s) != 0;
}

class VsReader {
 public:
  VsReader(KaReader& k, const std::map<std::string, const KaNode*>& groups)
      : k_(k), groups_(groups) {}

  void Run(const KaNode& node) {
    if (!node.has_block || node.args.empty()) {
      k_.Error(node, "virtual_server needs IP PORT { ... }, group NAME { ... } or fwmark N");
      return;
    }
    if (!Listens(node)) return;
    Body(node);
    if (skip_ || listens_.empty()) return;
    for (const auto& [listen, name] : listens_) {
      VirtualServiceConfig vs = proto_;
      vs.listen = listen;
      vs.name = name;
      const uint64_t key = (uint64_t{listen.ip} << 16) | listen.port;
      if (auto it = k_.listen_origin.find(key); it != k_.listen_origin.end()) {
        k_.Error(node, "virtual server " + ToString(listen) + " defined twice (first at " +
                           it->second + ")");
        return;
      }
      k_.listen_origin[key] = node.where;
      std::vector<RealServerConfig> kept;
      for (auto& rs : vs.real_servers) {
        if ((vs.forwarding == Forwarding::kDr || vs.forwarding == Forwarding::kTun) &&
            rs.address.port != listen.port) {
          k_.Warn(node, "real server " + ToString(rs.address) + ": with " +
                            ToString(vs.forwarding) + " the packet keeps the service port " +
                            std::to_string(listen.port) + "; lbd uses that port");
          rs.address.port = listen.port;
        }
        if (Same(rs.address, listen)) {
          k_.Warn(node, "real server " + ToString(rs.address) + " (" + server_at_[rs.mark.line] +
                            ") is the service address itself, which lbd refuses: not imported "
                            "into " +
                            name);
          continue;
        }
        k_.result().server_origin[{name, ToString(rs.address)}] = server_at_[rs.mark.line];
        kept.push_back(rs);
      }
      vs.real_servers = std::move(kept);
      if (vs.sorry_server && Same(*vs.sorry_server, listen)) {
        k_.Error(node, "sorry_server is the service address");
        return;
      }
      k_.result().service_origin[name] = node.where;
      k_.result().config.virtual_services.push_back(std::move(vs));
    }
  }

 private:
  void AddListen(const KaNode& at, Endpoint ep, const std::string& prefix) {
    listens_.push_back(
        {ep, SafeName(prefix + Ipv4ToString(ep.ip) + "_" + std::to_string(ep.port))});
    (void)at;
  }

  bool Listens(const KaNode& node) {
    const std::string& first = node.args[0];
    if (first == "fwmark") {
      k_.Warn(node,
              "fwmark virtual_server is not supported by lbd: the service and its "
              "real servers are not imported");
      skip_ = true;
      return false;
    }
    if (first != "group") {
      if (KaReader::LooksIpv6(first)) {
        k_.Warn(node, "IPv6 virtual_server " + first + " not imported: lbd is IPv4 only");
        return false;
      }
      Endpoint ep;
      if (!k_.Address(node, 0, ep, false)) return false;
      AddListen(node, ep, "vs_");
      return true;
    }
    if (node.args.size() != 2) {
      k_.Error(node, "virtual_server group needs a group name");
      return false;
    }
    auto it = groups_.find(node.args[1]);
    if (it == groups_.end()) {
      k_.Error(node, "virtual_server_group " + node.args[1] + " is not defined");
      return false;
    }
    for (const auto& e : it->second->block) {
      if (e.key == "fwmark") {
        k_.Warn(e, "fwmark in virtual_server_group " + node.args[1] +
                       " is not supported by lbd, not imported");
        continue;
      }
      if (KaReader::LooksIpv6(e.key)) {
        k_.Warn(e, "IPv6 address " + e.key + " not imported: lbd is IPv4 only");
        continue;
      }
      // "a.b.c.X-Y PORT": the addresses X..Y of the last byte.
      std::string ip = e.key;
      long long last = -1;
      if (const size_t dash = ip.find('-'); dash != std::string::npos) {
        if (!ParseInt(ip.substr(dash + 1), 0, 255, last)) {
          k_.Error(e, "bad address range '" + e.key + "'");
          continue;
        }
        ip = ip.substr(0, dash);
      }
      KaNode single = e;
      single.key = "virtual_server_group entry";
      single.args.insert(single.args.begin(), ip);
      Endpoint ep;
      if (!k_.Address(single, 0, ep, false)) continue;
      if (last < 0) last = ep.ip & 0xff;
      if (last < static_cast<long long>(ep.ip & 0xff)) {
        k_.Error(e, "bad address range '" + e.key + "'");
        continue;
      }
      for (uint32_t b = ep.ip & 0xff; b <= static_cast<uint32_t>(last); ++b) {
        AddListen(e, Endpoint{(ep.ip & ~0xffu) | b, ep.port}, node.args[1] + "_");
      }
    }
    return true;
  }

  void Body(const KaNode& node) {
    long long x = 0;
    std::vector<const KaNode*> servers;
    for (const auto& n : node.block) {
      if (n.key == "delay_loop") {
        k_.Seconds(n, vs_timing_.delay_loop);
      } else if (n.key == "lb_algo" || n.key == "lvs_sched") {
        if (!k_.Args(n, 1)) continue;
        if (IsScheduler(n.args[0])) {
          proto_.scheduler = n.args[0];
        } else {
          k_.Warn(n, "scheduler " + n.args[0] + " is not supported by lbd; using wlc");
        }
      } else if (n.key == "lb_kind" || n.key == "lvs_method") {
        if (!k_.Args(n, 1)) continue;
        std::string m = n.args[0];
        for (char& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        if (m == "NAT") {
          proto_.forwarding = Forwarding::kNat;
        } else if (m == "DR") {
          proto_.forwarding = Forwarding::kDr;
        } else if (m == "TUN") {
          proto_.forwarding = Forwarding::kTun;
        } else {
          k_.Error(n, "lb_kind is NAT, DR or TUN");
        }
      } else if (n.key == "persistence_timeout") {
        if (k_.Int(n, 0, 31LL * 24 * 3600, x)) proto_.persistence = Duration(x * 1000);
      } else if (n.key == "protocol") {
        if (!k_.Args(n, 1)) continue;
        if (n.args[0] == "UDP" || n.args[0] == "SCTP") {
          k_.Warn(n, "lbd has no " + n.args[0] +
                         " services yet: this virtual_server and its "
                         "real servers are not imported");
          skip_ = true;
        } else if (n.args[0] != "TCP") {
          k_.Error(n, "protocol is TCP, UDP or SCTP");
        }
      } else if (n.key == "sorry_server") {
        Endpoint ep;
        if (k_.Address(n, 0, ep, false)) proto_.sorry_server = ep;
      } else if (n.key == "quorum") {
        if (k_.Int(n, 0, 1LL << 30, x)) proto_.quorum = static_cast<int>(x);
      } else if (n.key == "hysteresis") {
        if (k_.Int(n, 0, 1LL << 30, x)) proto_.hysteresis = static_cast<int>(x);
      } else if (n.key == "quorum_up" || n.key == "quorum_down") {
        if (n.args.empty()) {
          k_.Error(n, n.key + " needs a command");
        } else {
          (n.key == "quorum_up" ? proto_.on_quorum_up : proto_.on_quorum_down) =
              KaReader::Command(n.args);
        }
      } else if (n.key == "alpha") {
        alpha_ = true;
      } else if (n.key == "inhibit_on_failure") {
        vs_inhibit_ = true;
      } else if (n.key == "sh-port" || n.key == "mh-port" || n.key == "flag-2" ||
                 n.key == "sh-fallback" || n.key == "mh-fallback" || n.key == "flag-1" ||
                 n.key == "lvs_flags" || n.key == "flag-3") {
        std::vector<std::string> flags = n.args;
        if (n.key != "lvs_flags") flags.insert(flags.begin(), n.key);
        for (const auto& f : flags) {
          if (f == "sh-port" || f == "mh-port" || f == "flag-2") {
            proto_.hash_port = true;
          } else if (f == "sh-fallback" || f == "mh-fallback" || f == "flag-1") {
            proto_.hash_fallback = true;
          } else {
            k_.Warn(n, "scheduler flag " + f + " is not supported by lbd, ignored");
          }
        }
      } else if (n.key == "retry" || n.key == "nb_get_retry") {
        k_.Seconds(n, vs_timing_.retry);
      } else if (n.key == "delay_before_retry") {
        k_.Seconds(n, vs_timing_.delay_before_retry);
      } else if (n.key == "connect_timeout") {
        k_.Seconds(n, vs_timing_.connect_timeout);
      } else if (n.key == "real_server") {
        servers.push_back(&n);
      } else {
        k_.Other(n, "vs", "virtual_server");
      }
    }
    if ((proto_.hash_port || proto_.hash_fallback) && proto_.scheduler != "sh" &&
        proto_.scheduler != "mh") {
      k_.Warn(node, "sh/mh flags apply to sh and mh only, ignored with " + proto_.scheduler);
      proto_.hash_port = proto_.hash_fallback = false;
    }
    if (skip_) return;
    for (const KaNode* s : servers) Server(*s);
  }

  void Server(const KaNode& n) {
    if (!n.has_block) {
      k_.Error(n, "real_server needs IP PORT { ... }");
      return;
    }
    if (!n.args.empty() && KaReader::LooksIpv6(n.args[0])) {
      k_.Warn(n, "IPv6 real_server " + n.args[0] + " not imported: lbd is IPv4 only");
      return;
    }
    RealServerConfig rs;
    if (!k_.Address(n, 0, rs.address, true)) return;
    if (rs.address.port == 0) rs.address.port = listens_.empty() ? 0 : listens_[0].first.port;
    Timing timing = vs_timing_;
    std::optional<bool> inhibit;
    bool alpha = alpha_;
    std::vector<PendingCheck> checks;
    long long x = 0;
    for (const auto& c : n.block) {
      if (c.key == "weight") {
        if (k_.Int(c, 0, 65535, x)) rs.weight = static_cast<int>(x);
      } else if (c.key == "uthreshold") {
        if (k_.Int(c, 0, 0xffffffffLL, x)) rs.max_conns = static_cast<uint32_t>(x);
      } else if (c.key == "lthreshold") {
        if (k_.Int(c, 0, 0xffffffffLL, x)) rs.min_conns = static_cast<uint32_t>(x);
      } else if (c.key == "inhibit_on_failure") {
        inhibit = true;
      } else if (c.key == "alpha") {
        alpha = true;
      } else if (c.key == "delay_loop") {
        k_.Seconds(c, timing.delay_loop);
      } else if (c.key == "retry" || c.key == "nb_get_retry") {
        k_.Seconds(c, timing.retry);
      } else if (c.key == "delay_before_retry") {
        k_.Seconds(c, timing.delay_before_retry);
      } else if (c.key == "connect_timeout") {
        k_.Seconds(c, timing.connect_timeout);
      } else if (c.key == "TCP_CHECK" || c.key == "HTTP_GET" || c.key == "MISC_CHECK") {
        checks.push_back(Check(c));
      } else if (c.key == "SSL_GET" || c.key == "SMTP_CHECK" || c.key == "DNS_CHECK" ||
                 c.key == "UDP_CHECK" || c.key == "PING_CHECK" || c.key == "ICMP_CHECK" ||
                 c.key == "BFD_CHECK" || c.key == "FILE_CHECK") {
        k_.Warn(c, c.key + " is not supported by lbd: real server " + ToString(rs.address) +
                       " is imported without this check");
      } else {
        k_.Other(c, "rs", "real_server");
      }
    }
    if (rs.min_conns > rs.max_conns) {
      k_.Warn(n, "lthreshold above uthreshold (or no uthreshold): min_conns dropped");
      rs.min_conns = 0;
    }
    for (size_t i = 1; i < checks.size(); ++i) {
      k_.Warn(*checks[i].node, "lbd runs one check per real server: this " + checks[i].node->key +
                                   " is ignored (the first one is used)");
    }
    if (!checks.empty()) {
      PendingCheck& pc = checks[0];
      HealthCheckConfig& hc = pc.hc;
      const Timing& t = pc.timing;
      const bool misc = hc.type == HealthCheckType::kExec;
      const double loop = t.delay_loop.value_or(timing.delay_loop.value_or(kDelayLoop));
      hc.interval = std::max(Duration(1), KaReader::Ms(loop));
      const double timeout =
          misc ? pc.misc_timeout.value_or(loop)
               : t.connect_timeout.value_or(timing.connect_timeout.value_or(kConnectTimeout));
      hc.timeout = std::max(Duration(1), KaReader::Ms(timeout));
      const double retry = t.retry.value_or(timing.retry.value_or(misc ? 0 : 1));
      hc.fall = static_cast<int>(std::min(1000.0, retry)) + 1;
      hc.rise = 1;
      hc.alpha = alpha;
      hc.inhibit_on_failure = inhibit.value_or(vs_inhibit_);
      rs.healthcheck = hc;
    }
    if (!server_keys_.insert((uint64_t{rs.address.ip} << 16) | rs.address.port).second) {
      k_.Error(n, "real_server " + ToString(rs.address) + " listed twice");
      return;
    }
    rs.mark.line = static_cast<int>(server_at_.size());
    server_at_.push_back(n.where);
    proto_.real_servers.push_back(rs);
  }

  PendingCheck Check(const KaNode& c) {
    PendingCheck pc;
    pc.node = &c;
    HealthCheckConfig& hc = pc.hc;
    hc.type = c.key == "TCP_CHECK"  ? HealthCheckType::kTcp
              : c.key == "HTTP_GET" ? HealthCheckType::kHttp
                                    : HealthCheckType::kExec;
    long long x = 0;
    bool have_url = false;
    for (const auto& o : c.block) {
      if (o.key == "connect_port" && hc.type != HealthCheckType::kExec) {
        if (k_.Int(o, 1, 65535, x)) hc.port = static_cast<uint16_t>(x);
      } else if (o.key == "connect_timeout") {
        k_.Seconds(o, pc.timing.connect_timeout);
      } else if (o.key == "retry" || o.key == "nb_get_retry") {
        k_.Seconds(o, pc.timing.retry);
      } else if (o.key == "delay_before_retry") {
        k_.Seconds(o, pc.timing.delay_before_retry);
      } else if (o.key == "delay_loop") {
        k_.Seconds(o, pc.timing.delay_loop);
      } else if (o.key == "url" && hc.type == HealthCheckType::kHttp) {
        if (have_url) {
          k_.Warn(o, "lbd checks one url per server: this url is ignored (the first is used)");
          continue;
        }
        have_url = true;
        Url(o, hc);
      } else if (o.key == "virtualhost" && hc.type == HealthCheckType::kHttp) {
        if (k_.Args(o, 1) && hc.host.empty()) hc.host = o.args[0];
      } else if (o.key == "misc_path" && hc.type == HealthCheckType::kExec) {
        if (o.args.empty()) {
          k_.Error(o, "misc_path needs a command");
        } else {
          hc.command = KaReader::Command(o.args);
        }
      } else if (o.key == "misc_timeout" && hc.type == HealthCheckType::kExec) {
        k_.Seconds(o, pc.misc_timeout);
      } else if (o.key == "misc_dynamic" && hc.type == HealthCheckType::kExec) {
        hc.dynamic_weight = true;
      } else {
        k_.Other(o, "check", c.key);
      }
    }
    if (hc.type == HealthCheckType::kExec && hc.command.empty()) {
      k_.Error(c, "MISC_CHECK without misc_path");
    }
    return pc;
  }

  void Url(const KaNode& u, HealthCheckConfig& hc) {
    for (const auto& o : u.block) {
      long long x = 0;
      if (o.key == "path") {
        if (k_.Args(o, 1)) {
          if (o.args[0].empty() || o.args[0][0] != '/') {
            k_.Error(o, "path must start with /");
          } else {
            hc.path = o.args[0];
          }
        }
      } else if (o.key == "digest") {
        if (!k_.Args(o, 1)) continue;
        std::string d = o.args[0];
        for (char& ch : d) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (d.size() != 32 || d.find_first_not_of("0123456789abcdef") != std::string::npos) {
          k_.Error(o, "digest is an MD5: 32 hex digits");
        } else {
          hc.expect_md5 = d;
        }
      } else if (o.key == "status_code") {
        hc.expect_status.clear();
        for (const auto& a : o.args) {
          StatusRange r;
          long long low = 0, high = 0;
          const size_t dash = a.find('-');
          const bool ok = dash == std::string::npos
                              ? ParseInt(a, 100, 599, low) && (high = low, true)
                              : ParseInt(a.substr(0, dash), 100, 599, low) &&
                                    ParseInt(a.substr(dash + 1), 100, 599, high) && low <= high;
          if (!ok) {
            k_.Error(o, "bad status_code '" + a + "'");
            continue;
          }
          r.low = static_cast<int>(low);
          r.high = static_cast<int>(high);
          hc.expect_status.push_back(r);
        }
        if (hc.expect_status.empty()) {
          if (o.args.empty()) k_.Error(o, "status_code needs a code");
          hc.expect_status = {{200, 299}};
        }
        (void)x;
      } else if (o.key == "virtualhost") {
        if (k_.Args(o, 1)) hc.host = o.args[0];
      } else if (o.key == "regex" || o.key == "regex_no_match" || o.key == "regex_options" ||
                 o.key == "regex_stack" || o.key == "regex_min_offset" ||
                 o.key == "regex_max_offset") {
        k_.Warn(o, o.key + " is not supported by lbd, ignored");
      } else {
        k_.Error(o, "unknown keyword '" + o.key + "' in url");
      }
    }
  }

  KaReader& k_;
  const std::map<std::string, const KaNode*>& groups_;
  std::vector<std::pair<Endpoint, std::string>> listens_;
  VirtualServiceConfig proto_;
  Timing vs_timing_;
  bool alpha_ = false;
  bool vs_inhibit_ = false;  // keepalived removes a failed server unless inhibit_on_failure
  bool skip_ = false;
  std::set<uint64_t> server_keys_;      // ip << 16 | port of the servers read
  std::vector<std::string> server_at_;  // FILE:LINE per server, by RealServerConfig::mark.line
};

}  // namespace

void ImportVirtualServer(KaReader& reader, const KaNode& node,
                         const std::map<std::string, const KaNode*>& groups) {
  VsReader(reader, groups).Run(node);
}

}  // namespace lbd::import
