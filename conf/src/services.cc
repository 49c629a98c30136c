// `global:` and `virtual_services:` with their real servers.
#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>

#include "lbd/conf/loader.h"
#include "lbsched/scheduler.h"
#include "sections.h"

namespace lbd::conf_internal {
namespace {

constexpr std::array<std::string_view, 4> kForwardingNames = {"proxy", "nat", "dr", "tun"};
constexpr std::array<std::string_view, 4> kSchedulerFlags = {"port", "fallback", "choices=N",
                                                             "decay=DURATION"};
constexpr int64_t kMaxChoices = 64;  // SchedulerOptions::choices
constexpr std::array<std::string_view, 4> kLogLevels = {"debug", "info", "warning", "error"};
constexpr std::array<std::string_view, 4> kLogSinks = {"auto", "stderr", "journal", "syslog"};
// A user or group name as useradd(8) accepts it (and no more than 32 bytes).
bool ValidAccountName(std::string_view name) {
  if (name.empty() || name.size() > 32 || name[0] == '-') return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}
constexpr int kMaxWorkers = 1024;
// Two descriptors per connection: above fs.nr_open's ceiling (2^30) / 2 no
// process could hold them.
constexpr int kMaxMaxconn = 1 << 29;
constexpr int kMaxWeight = 65535;  // ipvsadm's limit
constexpr int64_t kMaxInt = std::numeric_limits<int>::max();
constexpr int64_t kMaxUint32 = std::numeric_limits<uint32_t>::max();
// sizeof(sockaddr_un::sun_path) minus the terminating NUL.
constexpr size_t kMaxSocketPath = 107;

Forwarding ForwardingFromName(std::string_view name) {
  if (name == "nat") return Forwarding::kNat;
  if (name == "dr") return Forwarding::kDr;
  if (name == "tun") return Forwarding::kTun;
  return Forwarding::kProxy;
}

// What a real server's reading needs to know of its service.
struct ServiceView {
  const VirtualServiceConfig& service;
  bool listen_known;
  bool forwarding_known;
};

void ReadRealServer(const Value& value, const ServiceView& view, UniqueSet* servers,
                    RealServerConfig* out) {
  MapReader map(value, {"address", "weight", "max_conns", "min_conns", "healthcheck"});
  out->mark = value.mark();
  if (!map.is_map()) return;
  const VirtualServiceConfig& service = view.service;
  if (auto address = map.Require("address")) {
    if (auto endpoint = address->AsEndpoint()) {
      out->address = *endpoint;
      servers->Insert(ToString(*endpoint), *address, "real server");
      bool moves_port =
          service.forwarding == Forwarding::kDr || service.forwarding == Forwarding::kTun;
      if (view.listen_known && *endpoint == service.listen) {
        address->Error("real server " + ToString(*endpoint) +
                       " is the service's own listen address");
      } else if (view.listen_known && view.forwarding_known && moves_port &&
                 endpoint->port != service.listen.port) {
        // dr and tun deliver the client's packet unchanged: the real server
        // sees the VIP's port, so a different one cannot be honoured.
        address->Error(std::string("forwarding ") + ToString(service.forwarding) +
                       " cannot change the port: real server port " +
                       std::to_string(endpoint->port) + " differs from the listen port " +
                       std::to_string(service.listen.port));
      }
    }
  }
  map.Read("weight", &out->weight, 0, kMaxWeight);
  map.Read("max_conns", &out->max_conns, 0, kMaxUint32);
  if (map.Read("min_conns", &out->min_conns, 0, kMaxUint32) && out->max_conns > 0 &&
      out->min_conns > out->max_conns) {
    map.Get("min_conns")
        ->Error("min_conns " + std::to_string(out->min_conns) + " is above max_conns " +
                std::to_string(out->max_conns));
  }
  if (auto check = map.Get("healthcheck")) {
    out->healthcheck.emplace();
    ReadHealthCheck(*check, &service.healthcheck, &*out->healthcheck);
  }
}

void ReadService(const Value& value, const GlobalConfig& global, UniqueSet* names,
                 UniqueSet* addresses, VirtualServiceConfig* out) {
  MapReader map(value,
                {"name", "listen", "scheduler", "scheduler_flags", "forwarding", "persistence",
                 "timeouts", "sorry_server", "healthcheck", "quorum", "hysteresis", "on_quorum_up",
                 "on_quorum_down", "real_servers", "access_log"});
  out->mark = value.mark();
  if (!map.is_map()) return;
  if (auto name = map.Require("name")) {
    if (auto text = name->AsName()) {
      out->name = *text;
      names->Insert(*text, *name, "service name");
    }
  }
  bool listen_known = false;
  if (auto listen = map.Require("listen")) {
    if (auto endpoint = listen->AsEndpoint()) {
      out->listen = *endpoint;
      listen_known = true;
      addresses->Insert(ToString(*endpoint), *listen, "listen address");
    }
  }
  bool scheduler_known = true;
  if (auto scheduler = map.Get("scheduler")) {
    auto name = scheduler->AsEnum(Scheduler::Names());
    if (name) out->scheduler = *name;
    scheduler_known = name.has_value();
  }
  if (auto flags = map.Get("scheduler_flags")) {
    bool hash_flags = false;
    for (const Value& flag : flags->Items()) {
      const std::string text = flag.node().IsScalar() ? flag.node().Scalar() : std::string();
      // Each flag and the schedulers it applies to.
      std::string_view applies_to;
      bool applies = true;
      if (text == "port" || text == "fallback") {
        (text == "port" ? out->hash_port : out->hash_fallback) = true;
        hash_flags = true;
        continue;  // reported once for the whole list, below
      } else if (text.starts_with("choices=")) {
        int64_t n = 0;
        const std::string_view digits = std::string_view(text).substr(8);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (ec != std::errc() || end != digits.data() + digits.size() || n < 1 || n > kMaxChoices) {
          flag.Error("choices must be an integer in 1..64; got '" + std::string(digits) + "'");
        } else {
          out->choices = static_cast<int>(n);
        }
        applies_to = "the p2c and ewma schedulers";
        applies = out->scheduler == "p2c" || out->scheduler == "ewma";
      } else if (text.starts_with("decay=")) {
        auto decay = ParseDuration(std::string_view(text).substr(6));
        if (!decay.ok()) {
          flag.Error("decay: " + decay.status().message());
        } else if (decay->count() <= 0) {
          flag.Error("decay must be positive");
        } else {
          out->ewma_decay = *decay;
        }
        applies_to = "the ewma scheduler";
        applies = out->scheduler == "ewma";
      } else {
        (void)flag.AsEnum(kSchedulerFlags);  // the error, listing the flags
        continue;
      }
      if (scheduler_known && !applies) {
        flag.Error("applies only to " + std::string(applies_to) + ", not '" + out->scheduler + "'");
      }
    }
    const bool hashing =
        out->scheduler == "sh" || out->scheduler == "mh" || out->scheduler == "rendezvous";
    if (scheduler_known && !hashing && (hash_flags || !flags->node().IsSequence())) {
      map.Reject("scheduler_flags",
                 "port and fallback apply only to the sh, mh and rendezvous "
                 "schedulers, not '" +
                     out->scheduler + "'");
    }
  }
  bool forwarding_known = true;
  if (auto forwarding = map.Get("forwarding")) {
    auto name = forwarding->AsEnum(kForwardingNames);
    if (name) out->forwarding = ForwardingFromName(*name);
    forwarding_known = name.has_value();
  }
  // ewma schedules by the latency the proxy measures (RealServer::ReportLatency()); the packet
  // modes see no connect and no first byte.
  if (forwarding_known && out->scheduler == "ewma" && out->forwarding != Forwarding::kProxy) {
    map.Get("scheduler")
        ->Error("ewma needs a latency signal, which only forwarding proxy measures");
  }
  map.ReadDuration("persistence", &out->persistence, Duration(0));
  if (auto timeouts = map.Get("timeouts")) {
    MapReader t(*timeouts, {"connect", "idle"});
    t.ReadDuration("connect", &out->connect_timeout, Duration(1));
    t.ReadDuration("idle", &out->idle_timeout, Duration(1));
  }
  if (map.Read("sorry_server", &out->sorry_server) && listen_known &&
      *out->sorry_server == out->listen) {
    map.Get("sorry_server")
        ->Error("sorry_server " + ToString(out->listen) + " is the service's own listen address");
  }
  // The packet modes never see a connection end in user space: nothing to log.
  out->access_log = global.access_log && out->forwarding == Forwarding::kProxy;
  if (map.Read("access_log", &out->access_log) && out->access_log && forwarding_known &&
      out->forwarding != Forwarding::kProxy) {
    map.Get("access_log")->Error("needs forwarding proxy (the packet modes relay no connection)");
  }
  // Before the real servers, whose overrides start from it.
  if (auto check = map.Get("healthcheck")) ReadHealthCheck(*check, nullptr, &out->healthcheck);
  map.Read("quorum", &out->quorum, 0, kMaxInt);
  map.Read("hysteresis", &out->hysteresis, 0, kMaxInt);
  map.Read("on_quorum_up", &out->on_quorum_up);
  map.Read("on_quorum_down", &out->on_quorum_down);
  if (auto servers = map.Get("real_servers")) {
    UniqueSet seen;
    ServiceView view{*out, listen_known, forwarding_known};
    for (const Value& item : servers->Items()) {
      RealServerConfig server;
      ReadRealServer(item, view, &seen, &server);
      out->real_servers.push_back(std::move(server));
    }
  }
}

// `status_auth: USER:PASSWORD` or `status_auth: {file: PATH}` (a file whose
// first line is USER:PASSWORD). USER is non-empty without ':' (RFC 7617 §2),
// PASSWORD non-empty; neither has control characters.
void ReadStatusAuth(const Value& value, std::string* out) {
  std::string text;
  const Value* where = &value;
  std::optional<Value> file;
  if (value.node().IsMap()) {
    MapReader map(value, {"file"});
    file = map.Require("file");
    if (!file) return;
    auto path = file->AsString();
    if (!path) return;
    errno = 0;
    std::ifstream in(*path);
    if (!in || !std::getline(in, text)) {
      file->Error("cannot read '" + *path + "'" +
                  (errno != 0 ? ": " + std::string(strerror(errno)) : ""));
      return;
    }
    if (!text.empty() && text.back() == '\r') text.pop_back();
    where = &*file;
  } else {
    auto s = value.AsString();
    if (!s) return;
    text = *s;
  }
  const size_t colon = text.find(':');
  const bool control = std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size() || control) {
    where->Error(file ? "the file's first line must be USER:PASSWORD (both non-empty)"
                      : "expected USER:PASSWORD (both non-empty) or {file: PATH}");
    return;
  }
  *out = std::move(text);
}

}  // namespace

void ReadGlobal(const Value& value, UniqueSet* addresses, GlobalConfig* out) {
  MapReader map(value, {"workers", "control_socket", "metrics_listen", "drain_timeout", "log_level",
                        "log", "user", "group", "control_socket_mode", "control_socket_group",
                        "status_auth", "maxconn", "state_file", "access_log"});
  map.Read("workers", &out->workers, 0, kMaxWorkers);
  map.Read("maxconn", &out->maxconn, 0, kMaxMaxconn);
  if (map.Read("control_socket", &out->control_socket) &&
      out->control_socket.size() > kMaxSocketPath) {
    map.Get("control_socket")
        ->Error("is " + std::to_string(out->control_socket.size()) +
                " bytes long; a Unix socket path has at most " + std::to_string(kMaxSocketPath));
  }
  if (map.Read("metrics_listen", &out->metrics_listen)) {
    addresses->Insert(ToString(*out->metrics_listen), *map.Get("metrics_listen"), "listen address");
  }
  map.ReadDuration("drain_timeout", &out->drain_timeout, Duration(0));
  if (auto level = map.Get("log_level")) {
    if (auto name = level->AsEnum(kLogLevels)) out->log_level = *name;
  }
  if (auto log = map.Get("log")) {
    if (auto name = log->AsEnum(kLogSinks)) out->log = *name;
  }
  for (auto [key, field] : {std::pair{"user", &out->user}, std::pair{"group", &out->group},
                            std::pair{"control_socket_group", &out->control_socket_group}}) {
    if (map.Read(key, field) && !ValidAccountName(*field)) {
      map.Get(key)->Error("'" + *field + "' is not a valid user or group name");
    }
  }
  if (!out->group.empty() && out->user.empty()) {
    map.Get("group")->Error("needs global.user (the group lbd switches to together with the user)");
  }
  std::string mode;
  if (map.Read("control_socket_mode", &mode)) {
    // Octal, like chmod: "0660" or "660"; only read/write bits mean anything for a socket.
    char* end = nullptr;
    const unsigned long bits = std::strtoul(mode.c_str(), &end, 8);
    if (mode.empty() || mode.size() > 4 || *end != '\0' || (bits & ~0666UL) != 0 ||
        (bits & 0600UL) != 0600UL) {
      map.Get("control_socket_mode")
          ->Error("'" + mode +
                  "' is not a socket mode: octal, owner rw, no execute bits (e.g. 0660)");
    } else {
      out->control_socket_mode = static_cast<unsigned>(bits);
    }
  }
  if (auto auth = map.Get("status_auth")) ReadStatusAuth(*auth, &out->status_auth);
  map.Read("state_file", &out->state_file);
  map.Read("access_log", &out->access_log);
}

void ReadServices(const Value& value, const GlobalConfig& global, UniqueSet* addresses,
                  std::vector<VirtualServiceConfig>* out) {
  UniqueSet names;
  for (const Value& item : value.Items()) {
    VirtualServiceConfig service;
    ReadService(item, global, &names, addresses, &service);
    out->push_back(std::move(service));
  }
}

}  // namespace lbd::conf_internal
