// ImportIpvsadm*(): `ipvsadm -S -n` rules -> Config (see import.h).
//
// Each `-A` line is a service `tcp_VIP_PORT`; each `-a` line one of its real
// servers. IPVS sets the forwarding method per real server, lbd per service:
// the first server's method is taken and a different one is warned about.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "import_util.h"
#include "lbd/conf/import.h"

namespace lbd {
namespace {

using import::At;

struct Line {
  int number = 0;
  std::vector<std::string> words;
};

std::vector<Line> SplitLines(std::string_view text) {
  std::vector<Line> lines;
  int number = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    ++number;
    std::istringstream in(std::string(text.substr(pos, end - pos)));
    Line line{number, {std::istream_iterator<std::string>(in), {}}};
    if (!line.words.empty() && line.words[0][0] != '#') lines.push_back(std::move(line));
    pos = end + 1;
  }
  return lines;
}

class IpvsadmImporter {
 public:
  IpvsadmImporter(const std::string& file, ImportResult& result) : file_(file), r_(result) {}

  void Run(std::string_view text) {
    if (int bad = import::FirstBinaryLine(text); bad != 0) {
      Error(bad, "binary data: not an ipvsadm rule file");
      return;
    }
    for (const Line& line : SplitLines(text)) {
      if (r_.errors.size() >= import::kMaxErrors) {
        Error(line.number, "too many errors, giving up");
        return;
      }
      line_ = line.number;
      const std::string& op = line.words[0];
      if (op == "-A" || op == "--add-service") {
        AddService(line.words);
      } else if (op == "-a" || op == "--add-server") {
        AddServer(line.words);
      } else {
        Error(line_, "unknown command '" + op + "' (expected -A or -a as ipvsadm -S writes)");
      }
    }
  }

 private:
  void Error(int line, const std::string& msg) {
    r_.errors.push_back(At(file_, line) + ": " + msg);
  }
  void Warn(const std::string& msg) {
    r_.warnings.push_back(At(file_, line_) + ": warning: " + msg);
  }

  // The value after words[i], or an error.
  bool Value(const std::vector<std::string>& words, size_t& i, std::string& out) {
    if (i + 1 >= words.size()) {
      Error(line_, "option " + words[i] + " needs a value");
      return false;
    }
    out = words[++i];
    return true;
  }

  bool Number(const std::string& opt, const std::string& text, long long high, long long& out) {
    if (!import::ParseInt(text, 0, high, out)) {
      Error(line_, "bad value '" + text + "' for " + opt + " (0.." + std::to_string(high) + ")");
      return false;
    }
    return true;
  }

  // -t/-u/-f/--sctp-service at words[i]: true with `vip` for -t; false
  // otherwise (warned or an error).
  bool ServiceSpec(const std::vector<std::string>& words, size_t& i, Endpoint& vip, bool& skip) {
    const std::string opt = words[i];
    std::string value;
    if (!Value(words, i, value)) return false;
    if (opt == "-t" || opt == "--tcp-service") {
      auto ep = ParseEndpoint(value);
      if (!ep.ok()) {
        Error(line_, "bad service address '" + value + "': " + ep.status().message() +
                         " (use ipvsadm -S -n for numeric output; lbd is IPv4 only)");
        return false;
      }
      vip = *ep;
      return true;
    }
    if (opt == "-u" || opt == "--udp-service" || opt == "-f" || opt == "--fwmark-service" ||
        opt == "--sctp-service") {
      skip = true;
      return true;
    }
    Error(line_, "unknown option '" + opt + "'");
    return false;
  }

  void AddService(const std::vector<std::string>& words) {
    VirtualServiceConfig vs;
    vs.forwarding = Forwarding::kDr;  // IPVS's default method (-g), until a server says
    bool have = false, skip = false;
    std::string skipped_kind;
    for (size_t i = 1; i < words.size(); ++i) {
      const std::string& w = words[i];
      std::string v;
      long long n = 0;
      if (w == "-t" || w == "--tcp-service" || w == "-u" || w == "--udp-service" || w == "-f" ||
          w == "--fwmark-service" || w == "--sctp-service") {
        skipped_kind = w;
        if (!ServiceSpec(words, i, vs.listen, skip)) return;
        have = true;
      } else if (w == "-s" || w == "--scheduler") {
        if (!Value(words, i, v)) return;
        vs.scheduler = v;
      } else if (w == "-p" || w == "--persistent") {
        n = 300;  // ipvsadm's default timeout
        if (i + 1 < words.size() && words[i + 1][0] != '-') {
          if (!Number(w, words[++i], 31 * 24 * 3600, n)) return;
        }
        vs.persistence = Duration(n * 1000);
      } else if (w == "-b" || w == "--sched-flags") {
        if (!Value(words, i, v)) return;
        std::istringstream flags(v);
        for (std::string f; std::getline(flags, f, ',');) {
          if (f == "flag-1" || f == "sh-fallback" || f == "mh-fallback") {
            vs.hash_fallback = true;
          } else if (f == "flag-2" || f == "sh-port" || f == "mh-port") {
            vs.hash_port = true;
          } else {
            Warn("scheduler flag '" + f + "' is not supported by lbd, ignored");
          }
        }
      } else if (w == "-M" || w == "--netmask" || w == "--pe") {
        if (!Value(words, i, v)) return;
        Warn("option " + w + " " + v + " is not supported by lbd, ignored");
      } else if (w == "-o" || w == "--ops") {
        Warn("one-packet scheduling (" + w + ") is not supported by lbd, ignored");
      } else {
        Error(line_, "unknown option '" + w + "' in -A");
        return;
      }
    }
    if (!have) {
      Error(line_, "-A without a service (-t ADDR:PORT)");
      return;
    }
    if (skip) {
      Warn("service " + skipped_kind + " " + words[2] +
           " not imported: lbd has TCP services only (no UDP, SCTP or fwmark)");
      return;
    }
    static const char* const kSchedulers[] = {"rr",  "wrr", "sh",   "dh",    "lc", "wlc",
                                              "sed", "nq",  "lblc", "lblcr", "mh"};
    bool known = false;
    for (const char* s : kSchedulers) known = known || vs.scheduler == s;
    if (!known) {
      Warn("scheduler '" + vs.scheduler + "' is not supported by lbd; using wlc");
      vs.scheduler = "wlc";
    }
    if ((vs.hash_port || vs.hash_fallback) && vs.scheduler != "sh" && vs.scheduler != "mh") {
      Warn("scheduler flags apply to sh and mh only, ignored with " + vs.scheduler);
      vs.hash_port = vs.hash_fallback = false;
    }
    vs.name = "tcp_" + Ipv4ToString(vs.listen.ip) + "_" + std::to_string(vs.listen.port);
    if (r_.service_origin.count(vs.name) != 0) {
      Error(line_, "service " + ToString(vs.listen) + " added twice (first at " +
                       r_.service_origin[vs.name] + ")");
      return;
    }
    index_[vs.name] = r_.config.virtual_services.size();
    vs.mark.line = line_;
    r_.service_origin[vs.name] = At(file_, line_);
    r_.config.virtual_services.push_back(std::move(vs));
    methods_.push_back(false);
  }

  void AddServer(const std::vector<std::string>& words) {
    Endpoint vip, server;
    bool have_vip = false, have_server = false, skip = false;
    std::optional<Forwarding> method;
    RealServerConfig rs;
    for (size_t i = 1; i < words.size(); ++i) {
      const std::string& w = words[i];
      std::string v;
      long long n = 0;
      if (w == "-t" || w == "--tcp-service" || w == "-u" || w == "--udp-service" || w == "-f" ||
          w == "--fwmark-service" || w == "--sctp-service") {
        if (!ServiceSpec(words, i, vip, skip)) return;
        have_vip = true;
      } else if (w == "-r" || w == "--real-server") {
        if (!Value(words, i, v)) return;
        auto ep = ParseEndpoint(v);
        if (!ep.ok()) {
          auto ip = ParseIpv4(v);  // ipvsadm allows a bare address (the service's port)
          if (!ip.ok()) {
            Error(line_, "bad real server address '" + v + "': " + ep.status().message());
            return;
          }
          ep = *ip;
        }
        server = *ep;
        have_server = true;
      } else if (w == "-g" || w == "--gatewaying") {
        method = Forwarding::kDr;
      } else if (w == "-m" || w == "--masquerading") {
        method = Forwarding::kNat;
      } else if (w == "-i" || w == "--ipip") {
        method = Forwarding::kTun;
      } else if (w == "-w" || w == "--weight") {
        if (!Value(words, i, v) || !Number(w, v, 65535, n)) return;
        rs.weight = static_cast<int>(n);
      } else if (w == "-x" || w == "--u-threshold") {
        if (!Value(words, i, v) || !Number(w, v, 0xffffffffLL, n)) return;
        rs.max_conns = static_cast<uint32_t>(n);
      } else if (w == "-y" || w == "--l-threshold") {
        if (!Value(words, i, v) || !Number(w, v, 0xffffffffLL, n)) return;
        rs.min_conns = static_cast<uint32_t>(n);
      } else if (w == "--tun-type" || w == "--tun-port" || w == "--tun-nocsum" ||
                 w == "--tun-csum" || w == "--tun-remcsum") {
        if (w == "--tun-type" || w == "--tun-port") {
          if (!Value(words, i, v)) return;
        }
        Warn("tunnel option " + w + " is not supported by lbd (IPIP only), ignored");
      } else {
        Error(line_, "unknown option '" + w + "' in -a");
        return;
      }
    }
    if (!have_vip || !have_server) {
      Error(line_, "-a needs a service (-t ADDR:PORT) and a real server (-r ADDR:PORT)");
      return;
    }
    if (skip) {
      Warn("real server " + ToString(server) + " of a UDP/SCTP/fwmark service not imported");
      return;
    }
    const std::string name = "tcp_" + Ipv4ToString(vip.ip) + "_" + std::to_string(vip.port);
    auto found = index_.find(name);
    if (found == index_.end()) {
      Error(line_, "real server for service " + ToString(vip) + " which no -A line added before");
      return;
    }
    const size_t index = found->second;
    VirtualServiceConfig& vs = r_.config.virtual_services[index];
    const Forwarding f = method.value_or(Forwarding::kDr);  // -g is ipvsadm's default
    if (!methods_[index]) {
      methods_[index] = true;
      vs.forwarding = f;
    } else if (vs.forwarding != f) {
      Warn(std::string("real server ") + ToString(server) + " uses " + ToString(f) + " but lbd " +
           "forwards per service: it gets the service's " + ToString(vs.forwarding));
    }
    if (server.port == 0) server.port = vip.port;
    if ((vs.forwarding == Forwarding::kDr || vs.forwarding == Forwarding::kTun) &&
        server.port != vip.port) {
      Warn("real server " + ToString(server) + ": with " + ToString(vs.forwarding) +
           " the packet keeps the service port; using port " + std::to_string(vip.port));
      server.port = vip.port;
    }
    if (rs.min_conns > rs.max_conns) {
      Warn("lower threshold above the upper one (or no upper one): min_conns " +
           std::to_string(rs.min_conns) + " dropped");
      rs.min_conns = 0;
    }
    rs.address = server;
    if (r_.server_origin.count({vs.name, ToString(server)}) != 0) {
      Error(line_, "real server " + ToString(server) + " added twice to " + ToString(vip));
      return;
    }
    if (import::Same(server, vs.listen)) {
      Error(line_, "real server " + ToString(server) + " is the service address itself");
      return;
    }
    rs.mark.line = line_;
    r_.server_origin[{vs.name, ToString(server)}] = At(file_, line_);
    vs.real_servers.push_back(rs);
  }

  const std::string& file_;
  ImportResult& r_;
  int line_ = 0;
  std::vector<bool> methods_;            // per service: a server set its method
  std::map<std::string, size_t> index_;  // service name -> index in the config
};

}  // namespace

ImportResult ImportIpvsadmString(std::string_view text, const std::string& file_name) {
  ImportResult result;
  result.config.file = file_name;
  IpvsadmImporter(file_name, result).Run(text);
  FinishImport(result, file_name, "ipvsadm");
  return result;
}

ImportResult ImportIpvsadmFile(const std::string& path) {
  constexpr size_t kMaxBytes = size_t{16} << 20;
  const std::string name = path == "-" ? "<stdin>" : path;
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) {
      ImportResult r;
      r.errors.push_back(name + ":0: cannot read: " + std::strerror(errno));
      return r;
    }
    in = &file;
  }
  std::string text;
  char buf[65536];
  while (in->read(buf, sizeof(buf)) || in->gcount() > 0) {
    text.append(buf, static_cast<size_t>(in->gcount()));
    if (text.size() > kMaxBytes) {
      ImportResult r;
      r.errors.push_back(name + ":0: larger than 16 MiB: not an ipvsadm rule file");
      return r;
    }
  }
  return ImportIpvsadmString(text, name);
}

}  // namespace lbd
