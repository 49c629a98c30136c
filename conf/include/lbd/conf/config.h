// Public header of lbd_conf.
//
// The configuration as plain structs, filled by LoadConfig() (loader.h) from
// the YAML file described in DESIGN.md and README.md. No yaml-cpp here: the
// daemon, the health checker and tests use these structs only.
//
// Thread-safety: plain values; a const Config may be shared by threads.
#ifndef LBD_CONF_CONFIG_H_
#define LBD_CONF_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lbsched/endpoint.h"

namespace lbd {

using Duration = std::chrono::milliseconds;

// Where a value came from, for messages that name it ("file:line:col").
struct SourceMark {
  int line = 0;    // 1-based; 0 = not from a file
  int column = 0;  // 1-based
};

enum class Forwarding { kProxy, kNat, kDr, kTun };
enum class HealthCheckType { kNone, kTcp, kHttp, kExec };

// Inclusive HTTP status ranges; a single code is [c, c].
struct StatusRange {
  int low = 200;
  int high = 299;
};

// A service's health check; real servers may override any field.
struct HealthCheckConfig {
  HealthCheckType type = HealthCheckType::kNone;  // Default: none (all servers up).
  Duration interval{2000};                        // Default: 2s.
  Duration timeout{1000};                         // Default: 1s.
  int rise = 2;                                   // Default: 2.
  int fall = 3;                                   // Default: 3.
  bool alpha = false;              // start servers down until they pass. Default: false.
  bool inhibit_on_failure = true;  // down = weight 0 (true) or removed (false). Default: true.
  uint16_t port = 0;               // connect here instead of the server's port; 0 = same.
  // http
  std::string path = "/";                              // Default: "/".
  std::string host;                                    // Host header; default: the address.
  std::vector<StatusRange> expect_status{{200, 299}};  // Default: 200-299.
  std::string expect_md5;                              // lower-case hex; empty = no check.
  // exec
  std::string command;          // run by /bin/sh -c; exit 0 up, 1 down.
  bool dynamic_weight = false;  // exit 2..255 sets weight code-2. Default: false.
};

struct RealServerConfig {
  Endpoint address;
  int weight = 1;          // 0..65535. Default: 1.
  uint32_t max_conns = 0;  // upper threshold (overload flag); 0 = none. Default: 0.
  uint32_t min_conns = 0;  // lower threshold; 0 = 3/4 of max_conns. Default: 0.
  // Per-server override of the service's check (fields not given keep the service's).
  std::optional<HealthCheckConfig> healthcheck;
  SourceMark mark;
};

struct VirtualServiceConfig {
  std::string name;
  Endpoint listen;  // VIP:port
  // rr wrr sh dh lc wlc sed nq lblc lblcr mh random p2c ewma rendezvous. Default: wlc.
  std::string scheduler = "wlc";
  bool hash_port = false;      // scheduler_flags: [port] (sh, mh, rendezvous)
  bool hash_fallback = false;  // scheduler_flags: [fallback] (sh, mh, rendezvous)
  int choices = 2;             // scheduler_flags: [choices=N] (p2c, ewma), 1..64. Default: 2.
  Duration ewma_decay{10000};  // scheduler_flags: [decay=10s] (ewma), > 0. Default: 10s.
  Forwarding forwarding = Forwarding::kProxy;  // Default: proxy.
  Duration persistence{0};                     // 0 = off. Default: 0s.
  Duration connect_timeout{2000};              // timeouts.connect. Default: 2s.
  Duration idle_timeout{300000};               // timeouts.idle. Default: 300s.
  std::optional<Endpoint> sorry_server;
  // One access line per finished connection (forwarding proxy only; format
  // and termination codes in lb/daemon/README.md). The loader fills it from
  // global.access_log when the service does not say. Default: global's.
  bool access_log = false;
  HealthCheckConfig healthcheck;
  // Quorum (keepalived): sum of the weights of up servers needed; 0 = not
  // set, the daemon then uses keepalived's default 1 (lost when no server is
  // up). Default: 0.
  int quorum = 0;
  int hysteresis = 0;
  std::string on_quorum_up;
  std::string on_quorum_down;
  std::vector<RealServerConfig> real_servers;
  SourceMark mark;
};

struct VrrpInstanceConfig {
  std::string name;
  std::string interface;
  int virtual_router_id = 0;  // 1..255
  int priority = 100;         // 1..255. Default: 100.
  int version = 3;            // 2 | 3. Default: 3.
  Duration advert_interval{1000};
  bool preempt = true;
  Duration preempt_delay{0};
  std::string auth_pass;                 // v2 simple password; empty = none
  std::vector<std::string> virtual_ips;  // "a.b.c.d/len"
  std::vector<std::string> unicast_peers;
  std::string notify;  // keepalived-style notify script
  std::string notify_master, notify_backup, notify_fault;
  struct Track {
    std::string service;
    int weight = 0;  // priority change when the service has no server up; 0 = go FAULT
  };
  std::vector<Track> track_services;
  SourceMark mark;
};

struct GlobalConfig {
  int workers = 0;                                   // 0 = number of cores. Default: cores.
  std::string control_socket = "/run/lbd/lbd.sock";  // Default: /run/lbd/lbd.sock.
  unsigned control_socket_mode = 0600;               // octal, owner rw required. Default: 0600.
  std::string control_socket_group;        // the socket's group (operators). Default: lbd's.
  std::optional<Endpoint> metrics_listen;  // Default: none.
  Duration drain_timeout{30000};           // Default: 30s.
  std::string log_level = "info";          // debug info warning error. Default: info.
  // auto stderr journal syslog. auto: journal when stderr is the journal
  // ($JOURNAL_STREAM), else stderr. Default: auto.
  std::string log = "auto";
  // Drop root after set-up: the user (and group, default the user's) lbd runs
  // as, keeping only the capabilities its modes need. Default: stay as started.
  std::string user;
  std::string group;
  // "USER:PASSWORD" that the status page (`/`, `/status.json` on metrics_listen)
  // asks for with HTTP basic auth, read from the key or from its `file`;
  // empty = the page is open. Default: none.
  std::string status_auth;
  // Client connections all workers hold at once (proxy services); at the cap
  // the workers stop accepting until one ends. 0 = derived from the
  // descriptor limit at start (conf/README.md has the formula). Default: 0.
  int maxconn = 0;
  // Where lbctl's runtime changes (weights, drains, disables, servers added
  // or removed) are saved and restored from at start; empty = not saved.
  // Default: none.
  std::string state_file;
  // The default of every service's access_log. Default: false.
  bool access_log = false;
};

struct Config {
  std::string file;  // the path it was loaded from
  GlobalConfig global;
  std::vector<VirtualServiceConfig> virtual_services;
  std::vector<VrrpInstanceConfig> vrrp;
};

const char* ToString(Forwarding f);
const char* ToString(HealthCheckType t);

}  // namespace lbd

#endif  // LBD_CONF_CONFIG_H_
