// Public header of lbd_vrrp.
//
// Vrrp: runs VRRP instances (keepalived's vrrp_instance) on a libev loop. Per instance: a raw
// IPPROTO_VRRP socket bound to the interface (multicast 224.0.0.18, or unicast_peers), the Router
// state machine (router.h), the virtual IPs added/removed with rtnetlink, gratuitous ARPs through a
// packet socket, notify scripts, and FAULT while the interface is down (rtnetlink link events).
// Needs CAP_NET_RAW and CAP_NET_ADMIN.
//
//   InstanceOptions vi;
//   vi.name = "VI_1";
//   vi.interface = "eth0";
//   vi.virtual_router_id = 51;
//   vi.virtual_ips = {{.ip = 0xC0000264, .length = 24}};  // 192.0.2.100/24
//   auto vrrp = Vrrp::Create(loop, {vi}, {});
//   if (!vrrp.ok()) ...;
//   (*vrrp)->Start();
//   ... daemon runs the loop; health changes: (*vrrp)->SetServiceUp("shop", false);
//   (*vrrp)->Stop();   // at SIGTERM: priority 0 adverts, VIPs removed
//
// Thread-safety: a Vrrp belongs to the thread that runs its loop; every call,
// including Snapshot(), is made on that thread.
#ifndef LBD_VRRP_VRRP_H_
#define LBD_VRRP_VRRP_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lbd/vrrp/advert.h"
#include "lbd/vrrp/router.h"
#include "lbsched/status.h"

struct ev_loop;

namespace lbd::vrrp {

// The daemon's health side feeds this (a tracked service has, or has not,
// any real server up). Implemented by Vrrp.
class ServiceTracker {
 public:
  virtual ~ServiceTracker() = default;
  // `up` = the service has at least one real server up. For every instance
  // tracking it: weight 0 forces FAULT while down; another weight lowers the
  // effective priority by |weight| while down (keepalived track weights).
  virtual void SetServiceUp(std::string_view service, bool up) = 0;
};

// An IPv4 address with its prefix length ("192.0.2.100/24").
struct Ipv4Prefix {
  uint32_t ip = 0;  // host byte order
  int length = 32;  // 1..32
};

// One instance (keepalived's vrrp_instance), with values already parsed and
// validated by the caller (lbd and lbd-vrrp translate lbd_conf's
// VrrpInstanceConfig, which enforces the RFC limits noted here). Create()
// rejects a version, VRID, priority or prefix length out of range.
struct InstanceOptions {
  std::string name;           // in logs and Snapshot(). Default: "".
  std::string interface;      // the NIC adverts and VIPs live on. Default: "".
  int virtual_router_id = 0;  // 1..255. Default: 0 (rejected: required).
  int priority = 100;         // 1..255; 255 = address owner. Default: 100.
  int version = 3;            // 2 (RFC 3768) | 3 (RFC 5798). Default: 3.
  // v2: whole seconds up to 255 s; v3: a multiple of 10 ms up to 40950 ms.
  // Default: 1s.
  std::chrono::milliseconds advert_interval{1000};
  bool preempt = true;                         // false = nopreempt. Default: true.
  std::chrono::milliseconds preempt_delay{0};  // Default: 0.
  std::string auth_pass;                       // v2 PASS auth, <= 8 bytes; "" = none. Default: "".
  std::vector<Ipv4Prefix> virtual_ips;         // Default: none.
  std::vector<uint32_t> unicast_peers;         // host order; none = multicast. Default: none.
  // Scripts run by /bin/sh -c on transitions (keepalived notify*). `notify`
  // gets "INSTANCE <name> <state> <priority>" appended. Default: "" (none).
  std::string notify;
  std::string notify_master, notify_backup, notify_fault;
  struct Track {
    std::string service;  // as passed to ServiceTracker::SetServiceUp
    int weight = 0;       // priority change while the service is down; 0 = FAULT. Default: 0.
  };
  std::vector<Track> track_services;  // Default: none.
};

struct Counters {
  uint64_t adverts_sent = 0;
  uint64_t adverts_received = 0;  // accepted
  uint64_t priority_zero_sent = 0;
  uint64_t priority_zero_received = 0;
  uint64_t became_master = 0;
  uint64_t became_backup = 0;
  uint64_t became_fault = 0;
  uint64_t address_mismatch = 0;   // accepted, but their VIP list differs
  uint64_t interval_mismatch = 0;  // v3, accepted
  uint64_t garps_sent = 0;
  uint64_t send_errors = 0;
  uint64_t address_errors = 0;  // rtnetlink add/remove failures
  uint64_t notify_runs = 0;
  std::array<uint64_t, kDropReasonCount> dropped{};  // by DropReason
};

// A plain copy for `lbctl status`.
struct InstanceStatus {
  std::string name;
  std::string interface;
  int vrid = 0;
  int version = 3;
  State state = State::kInit;
  int priority = 0;                      // configured
  int effective_priority = 0;            // after track weights
  std::string master_ip;                 // last master seen (ours while MASTER); "" = none
  std::string primary_ip;                // our source address
  std::vector<std::string> virtual_ips;  // "a.b.c.d/len"
  bool interface_up = false;
  Counters counters;
};

// What every instance of one Vrrp shares.
struct Options {
  // Gratuitous ARPs on becoming MASTER, repeated once after garp_delay
  // (keepalived garp_master_repeat / garp_master_delay). Default: 5, 5s.
  int garp_repeat = 5;
  std::chrono::milliseconds garp_delay{5000};
  // Where messages go; default: stderr with a timestamp.
  std::function<void(const std::string& line)> log;
};

class Vrrp : public ServiceTracker {
 public:
  // Resolves the interfaces and opens the sockets; nothing is sent yet.
  // REQUIRES: `loop` outlives the Vrrp; instances within the limits noted
  // in InstanceOptions.
  static Result<std::unique_ptr<Vrrp>> Create(struct ev_loop* loop,
                                              const std::vector<InstanceOptions>& instances,
                                              const Options& options);

  ~Vrrp() override = default;
  Vrrp(const Vrrp&) = delete;
  Vrrp& operator=(const Vrrp&) = delete;

  // Every instance leaves INIT (RFC 5798 §6.4.1).
  virtual void Start() = 0;
  // Graceful stop: masters send priority 0, VIPs are removed, notify STOP;
  // the watchers stop. Start() may not be called again.
  virtual void Stop() = 0;
  virtual std::vector<InstanceStatus> Snapshot() const = 0;

 protected:
  Vrrp() = default;
};

}  // namespace lbd::vrrp

#endif  // LBD_VRRP_VRRP_H_
