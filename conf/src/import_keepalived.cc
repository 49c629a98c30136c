// ImportKeepalived*(): keepalived.conf -> Config (see import.h), on the
// statement tree of keepalived_tree.h. Values keep keepalived's meaning:
// its defaults (delay_loop 60s, connect_timeout 5s, retry 1, VRRP version 2,
// servers removed on failure unless inhibit_on_failure) are written out.
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "import_util.h"
#include "keepalived_reader.h"
#include "keepalived_tree.h"
#include "lbd/conf/import.h"
#include "lbd/conf/loader.h"

namespace lbd {
namespace {

using import::KaNode;
using import::Lacking;

class KeepalivedImporter : public import::KaReader {
 public:
  explicit KeepalivedImporter(ImportResult& result) : KaReader(result) {}

  void Run(const std::vector<KaNode>& nodes) {
    for (const auto& n : nodes) {
      if (n.key == "virtual_server_group" && n.args.size() == 1) groups_[n.args[0]] = &n;
    }
    for (const auto& n : nodes) {
      if (TooMany()) return;
      if (n.key == "global_defs") {
        Global(n);
      }
    }
    for (const auto& n : nodes) {
      if (TooMany()) return;
      if (n.key == "global_defs") continue;
      if (n.key == "vrrp_instance") {
        Vrrp(n);
      } else if (n.key == "virtual_server") {
        import::ImportVirtualServer(*this, n, groups_);
      } else if (n.key == "virtual_server_group") {
        if (n.args.size() != 1 || !n.has_block) Error(n, "virtual_server_group needs NAME {...}");
      } else if (Lacking("top").count(n.key) != 0) {
        Warn(n, n.key + " is not supported by lbd, ignored");
      } else {
        Error(n, "unknown keyword '" + n.key + "'");
      }
    }
  }

 private:
  void Global(const KaNode& g) {
    for (const auto& n : g.block) {
      long long v = 0;
      if (n.key == "vrrp_version") {
        if (Int(n, 2, 3, v)) version_ = static_cast<int>(v);
      } else {
        Warn(n, "global_defs " + n.key + " is not supported by lbd, ignored");
      }
    }
  }

  void Vrrp(const KaNode& node) {
    if (node.args.size() != 1 || !node.has_block) {
      Error(node, "vrrp_instance needs NAME { ... }");
      return;
    }
    VrrpInstanceConfig v;
    current_vips_.clear();
    v.name = import::SafeName(node.args[0]);
    v.version = version_;
    std::optional<double> advert, preempt_delay;
    std::string auth_pass;
    const KaNode* auth_at = nullptr;
    long long x = 0;
    for (const auto& n : node.block) {
      if (n.key == "state") {
        // The initial state only: the election decides (priority 255 owns the VIPs).
        if (Args(n, 1) && n.args[0] != "MASTER" && n.args[0] != "BACKUP") {
          Error(n, "state is MASTER or BACKUP");
        }
      } else if (n.key == "interface") {
        if (Args(n, 1)) v.interface = n.args[0];
      } else if (n.key == "virtual_router_id") {
        if (Int(n, 1, 255, x)) v.virtual_router_id = static_cast<int>(x);
      } else if (n.key == "priority") {
        if (Int(n, 1, 255, x)) v.priority = static_cast<int>(x);
      } else if (n.key == "version") {
        if (Int(n, 2, 3, x)) v.version = static_cast<int>(x);
      } else if (n.key == "advert_int") {
        Seconds(n, advert);
      } else if (n.key == "nopreempt") {
        v.preempt = false;
      } else if (n.key == "preempt") {
        v.preempt = true;
      } else if (n.key == "preempt_delay") {
        Seconds(n, preempt_delay);
      } else if (n.key == "authentication") {
        for (const auto& a : n.block) {
          if (a.key == "auth_type") {
            if (Args(a, 1) && a.args[0] != "PASS") {
              Warn(a, "auth_type " + a.args[0] + " is not supported by lbd (PASS only), ignored");
            }
          } else if (a.key == "auth_pass") {
            if (Args(a, 1)) auth_pass = a.args[0], auth_at = &a;
          } else {
            Error(a, "unknown keyword '" + a.key + "' in authentication");
          }
        }
      } else if (n.key == "unicast_peer") {
        for (const auto& p : n.block) {
          auto ip = ParseIpv4(p.key);
          if (!ip.ok()) {
            Error(p, "bad unicast_peer address '" + p.key + "' (lbd is IPv4 only)");
            continue;
          }
          if (!p.args.empty()) Warn(p, "unicast_peer options are not supported by lbd, ignored");
          v.unicast_peers.push_back(Ipv4ToString(ip->ip));
        }
      } else if (n.key == "virtual_ipaddress" || n.key == "virtual_ipaddress_excluded") {
        if (n.key == "virtual_ipaddress_excluded") {
          Warn(n,
               "virtual_ipaddress_excluded: lbd has no excluded addresses; they are imported "
               "as virtual_ips (announced in adverts)");
        }
        for (const auto& a : n.block) Vip(a, v);
      } else if (n.key == "notify") {
        v.notify = Command(n.args);
      } else if (n.key == "notify_master") {
        v.notify_master = Command(n.args);
      } else if (n.key == "notify_backup") {
        v.notify_backup = Command(n.args);
      } else if (n.key == "notify_fault") {
        v.notify_fault = Command(n.args);
      } else {
        Other(n, "vrrp", "vrrp_instance");
      }
    }
    if (v.interface.empty()) Error(node, "vrrp_instance " + node.args[0] + " has no interface");
    if (v.virtual_router_id == 0) {
      Error(node, "vrrp_instance " + node.args[0] + " has no virtual_router_id");
    }
    if (advert && (*advert < 0.01 || *advert > (v.version == 2 ? 255 : 40.95))) {
      Error(node, "advert_int must be within " +
                      std::string(v.version == 2 ? "1..255 s (VRRP version 2)"
                                                 : "0.01..40.95 s (VRRP version 3)"));
      advert.reset();
    }
    if (advert) {
      // v2 counts whole seconds (RFC 3768), v3 centiseconds (RFC 5798).
      long long ms = std::llround(*advert * 1000);
      if (v.version == 2 && ms % 1000 != 0) {
        ms = std::max<long long>(1000, (ms + 999) / 1000 * 1000);
        Warn(node, "advert_int " + std::to_string(*advert) +
                       " is not whole seconds, which VRRP "
                       "version 2 requires: rounded up");
      }
      if (v.version == 3) ms = std::max<long long>(10, ms / 10 * 10);
      v.advert_interval = Duration(ms);
    } else {
      v.advert_interval = Duration(1000);
    }
    if (preempt_delay) v.preempt_delay = Ms(*preempt_delay);
    if (auth_at != nullptr) {
      if (v.version == 3) {
        Warn(*auth_at, "VRRP version 3 has no authentication: auth_pass ignored");
      } else {
        if (auth_pass.size() > 8) {
          Warn(*auth_at, "auth_pass longer than 8 characters: keepalived and lbd use the first 8");
          auth_pass.resize(8);
        }
        v.auth_pass = auth_pass;
      }
    }
    if (r_.vrrp_origin.count(v.name) != 0) {
      Error(node,
            "vrrp_instance " + v.name + " defined twice (first at " + r_.vrrp_origin[v.name] + ")");
      return;
    }
    for (const auto& vip : v.virtual_ips) vip_owner_[vip.substr(0, vip.find('/'))] = v.name;
    r_.vrrp_origin[v.name] = node.where;
    r_.config.vrrp.push_back(std::move(v));
  }

  void Vip(const KaNode& a, VrrpInstanceConfig& v) {
    std::string addr = a.key;
    int len = 32;
    if (const size_t slash = addr.find('/'); slash != std::string::npos) {
      long long l = 0;
      if (LooksIpv6(addr) || !import::ParseInt(addr.substr(slash + 1), 1, 32, l)) {
        if (LooksIpv6(addr)) {
          Warn(a, "IPv6 address " + a.key + " not imported: lbd is IPv4 only");
        } else {
          Error(a, "bad virtual address '" + a.key + "'");
        }
        return;
      }
      len = static_cast<int>(l);
      addr = addr.substr(0, slash);
    }
    if (LooksIpv6(addr)) {
      Warn(a, "IPv6 address " + a.key + " not imported: lbd is IPv4 only");
      return;
    }
    auto ip = ParseIpv4(addr);
    if (!ip.ok()) {
      Error(a, "bad virtual address '" + a.key + "': " + ip.status().message());
      return;
    }
    if (!a.args.empty()) {
      Warn(a, "address options (" + Command(a.args) + ") are not supported by lbd, ignored");
    }
    const std::string host = Ipv4ToString(ip->ip);
    const std::string text = host + "/" + std::to_string(len);
    if (auto it = vip_owner_.find(host); it != vip_owner_.end()) {
      Warn(a, "address " + text + " already belongs to vrrp_instance " + it->second +
                  "; lbd gives an address to one instance only");
      return;
    }
    // Listed twice in this instance (e.g. again with a label): one address.
    if (!current_vips_.insert(host).second) return;
    v.virtual_ips.push_back(text);
  }

  std::map<std::string, std::string> vip_owner_;  // address -> instance, earlier instances
  std::set<std::string> current_vips_;            // addresses of the instance being read
  int version_ = 2;                               // keepalived's default vrrp_version
  std::map<std::string, const KaNode*> groups_;
};

}  // namespace

ImportResult ImportKeepalivedString(std::string_view text, const std::string& file_name) {
  ImportResult result;
  result.config.file = file_name;
  import::KaTree tree = import::ParseKeepalived(text, file_name);
  result.warnings = std::move(tree.warnings);
  result.errors = std::move(tree.errors);
  if (result.errors.empty()) KeepalivedImporter(result).Run(tree.nodes);
  FinishImport(result, file_name, "keepalived");
  return result;
}

ImportResult ImportKeepalivedFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ImportResult r;
    r.errors.push_back(path + ":0: cannot read: " + std::strerror(errno));
    return r;
  }
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > (size_t{16} << 20)) {
      ImportResult r;
      r.errors.push_back(path + ":1: larger than 16 MiB: not a keepalived configuration");
      return r;
    }
  }
  return ImportKeepalivedString(text, path);
}

}  // namespace lbd
