// DumpConfig(): the Config structs back as YAML (see dump.h). Every key the
// loader reads is written except empty strings (which the loader refuses)
// and keys that do not apply (a check's keys of another type, scheduler
// flags of another scheduler, auth_pass of VRRP version 3).
#include "lbd/conf/dump.h"

#include <cstdio>

namespace lbd {
namespace {

// A YAML double-quoted scalar: free text (paths, commands, hosts) may hold
// anything, so it is always quoted.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

const char* Bool(bool b) { return b ? "true" : "false"; }

class Writer {
 public:
  void Line(int indent, const std::string& text) {
    out_.append(static_cast<size_t>(indent), ' ');
    out_ += text;
    out_ += '\n';
  }
  // `key: value` only for a non-empty string (the loader refuses empty ones).
  void Text(int indent, const char* key, const std::string& value) {
    if (!value.empty()) Line(indent, std::string(key) + ": " + Quote(value));
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string StatusList(const std::vector<StatusRange>& ranges) {
  std::string out = "[";
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (i > 0) out += ", ";
    const StatusRange& r = ranges[i];
    out += std::to_string(r.low);
    if (r.high != r.low) out += "-" + std::to_string(r.high);
  }
  return out + "]";
}

// The keys of `hc` that apply to its type, at `indent`.
void WriteCheck(Writer& w, int indent, const HealthCheckConfig& hc) {
  w.Line(indent, std::string("type: ") + ToString(hc.type));
  if (hc.type == HealthCheckType::kNone) return;  // other keys are errors with none
  w.Line(indent, "interval: " + FormatDuration(hc.interval));
  w.Line(indent, "timeout: " + FormatDuration(hc.timeout));
  w.Line(indent, "rise: " + std::to_string(hc.rise));
  w.Line(indent, "fall: " + std::to_string(hc.fall));
  w.Line(indent, std::string("alpha: ") + Bool(hc.alpha));
  w.Line(indent, std::string("inhibit_on_failure: ") + Bool(hc.inhibit_on_failure));
  if (hc.type == HealthCheckType::kTcp || hc.type == HealthCheckType::kHttp) {
    w.Line(indent, "port: " + std::to_string(hc.port));
  }
  if (hc.type == HealthCheckType::kHttp) {
    w.Text(indent, "path", hc.path);
    w.Text(indent, "host", hc.host);
    w.Line(indent, "expect_status: " + StatusList(hc.expect_status));
    w.Text(indent, "expect_md5", hc.expect_md5);
  }
  if (hc.type == HealthCheckType::kExec) {
    w.Text(indent, "command", hc.command);
    w.Line(indent, std::string("dynamic_weight: ") + Bool(hc.dynamic_weight));
  }
}

bool Hashing(const std::string& scheduler) {
  return scheduler == "sh" || scheduler == "mh" || scheduler == "rendezvous";
}

void WriteService(Writer& w, const VirtualServiceConfig& vs, const ServerComment& comment) {
  w.Line(2, "- name: " + vs.name);
  w.Line(4, "listen: " + ToString(vs.listen));
  w.Line(4, "scheduler: " + vs.scheduler);
  std::vector<std::string> flags;
  if (Hashing(vs.scheduler)) {
    if (vs.hash_port) flags.push_back("port");
    if (vs.hash_fallback) flags.push_back("fallback");
  }
  if (vs.scheduler == "p2c" || vs.scheduler == "ewma") {
    flags.push_back("choices=" + std::to_string(vs.choices));
  }
  if (vs.scheduler == "ewma") flags.push_back("decay=" + FormatDuration(vs.ewma_decay));
  if (!flags.empty()) {
    std::string list;
    for (const auto& f : flags) list += (list.empty() ? "" : ", ") + f;
    w.Line(4, "scheduler_flags: [" + list + "]");
  }
  w.Line(4, std::string("forwarding: ") + ToString(vs.forwarding));
  w.Line(4, "persistence: " + FormatDuration(vs.persistence));
  w.Line(4, "timeouts: {connect: " + FormatDuration(vs.connect_timeout) +
                ", idle: " + FormatDuration(vs.idle_timeout) + "}");
  if (vs.sorry_server) w.Line(4, "sorry_server: " + ToString(*vs.sorry_server));
  w.Line(4, std::string("access_log: ") + (vs.access_log ? "true" : "false"));
  if (vs.healthcheck.type != HealthCheckType::kNone) {
    w.Line(4, "healthcheck:");
    WriteCheck(w, 6, vs.healthcheck);
  }
  w.Line(4, "quorum: " + std::to_string(vs.quorum));
  w.Line(4, "hysteresis: " + std::to_string(vs.hysteresis));
  w.Text(4, "on_quorum_up", vs.on_quorum_up);
  w.Text(4, "on_quorum_down", vs.on_quorum_down);
  if (vs.real_servers.empty()) return;
  w.Line(4, "real_servers:");
  for (const auto& rs : vs.real_servers) {
    std::string first = "- address: " + ToString(rs.address);
    if (comment) {
      std::string note = comment(vs.name, rs.address);
      for (char& c : note) {
        if (c == '\n' || c == '\r') c = ' ';
      }
      if (!note.empty()) first += "  # " + note;
    }
    w.Line(6, first);
    w.Line(8, "weight: " + std::to_string(rs.weight));
    w.Line(8, "max_conns: " + std::to_string(rs.max_conns));
    w.Line(8, "min_conns: " + std::to_string(rs.min_conns));
    if (rs.healthcheck) {
      // The merged check, whole: read over the service's it gives itself back.
      w.Line(8, "healthcheck:");
      WriteCheck(w, 10, *rs.healthcheck);
    }
  }
}

void WriteVrrp(Writer& w, const VrrpInstanceConfig& v) {
  w.Line(2, "- name: " + v.name);
  w.Text(4, "interface", v.interface);
  w.Line(4, "virtual_router_id: " + std::to_string(v.virtual_router_id));
  w.Line(4, "priority: " + std::to_string(v.priority));
  w.Line(4, "version: " + std::to_string(v.version));
  w.Line(4, "advert_interval: " + FormatDuration(v.advert_interval));
  w.Line(4, std::string("preempt: ") + Bool(v.preempt));
  w.Line(4, "preempt_delay: " + FormatDuration(v.preempt_delay));
  if (v.version == 2) w.Text(4, "auth_pass", v.auth_pass);
  auto list = [&](const char* key, const std::vector<std::string>& items) {
    if (items.empty()) return;
    std::string text;
    for (const auto& i : items) text += (text.empty() ? "" : ", ") + i;
    w.Line(4, std::string(key) + ": [" + text + "]");
  };
  list("virtual_ips", v.virtual_ips);
  list("unicast_peers", v.unicast_peers);
  w.Text(4, "notify", v.notify);
  w.Text(4, "notify_master", v.notify_master);
  w.Text(4, "notify_backup", v.notify_backup);
  w.Text(4, "notify_fault", v.notify_fault);
  if (v.track_services.empty()) return;
  w.Line(4, "track_services:");
  for (const auto& t : v.track_services) {
    w.Line(6, "- {service: " + t.service + ", weight: " + std::to_string(t.weight) + "}");
  }
}

}  // namespace

std::string FormatDuration(Duration d) {
  const int64_t ms = d.count();
  if (ms == 0) return "0s";
  if (ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string DumpConfig(const Config& config, const ServerComment& comment) {
  Writer w;
  const GlobalConfig& g = config.global;
  w.Line(0, "global:");
  w.Line(2, "workers: " + std::to_string(g.workers));
  w.Text(2, "control_socket", g.control_socket);
  if (g.metrics_listen) w.Line(2, "metrics_listen: " + ToString(*g.metrics_listen));
  w.Line(2, "drain_timeout: " + FormatDuration(g.drain_timeout));
  w.Line(2, "log_level: " + g.log_level);
  w.Line(2, "log: " + g.log);
  w.Text(2, "user", g.user);
  w.Text(2, "group", g.group);
  char mode[8];
  std::snprintf(mode, sizeof(mode), "%04o", g.control_socket_mode);
  w.Line(2, std::string("control_socket_mode: \"") + mode + "\"");
  w.Text(2, "control_socket_group", g.control_socket_group);
  w.Text(2, "status_auth", g.status_auth);
  w.Line(2, "maxconn: " + std::to_string(g.maxconn));
  w.Text(2, "state_file", g.state_file);
  w.Line(2, std::string("access_log: ") + (g.access_log ? "true" : "false"));
  if (!config.virtual_services.empty()) {
    w.Line(0, "virtual_services:");
    for (const auto& vs : config.virtual_services) WriteService(w, vs, comment);
  }
  if (!config.vrrp.empty()) {
    w.Line(0, "vrrp:");
    for (const auto& v : config.vrrp) WriteVrrp(w, v);
  }
  return w.Take();
}

}  // namespace lbd
