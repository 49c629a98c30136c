// Internal header of lbd_vrrp.
//
// Instance: one vrrp_instance on a libev loop. Glue between the sockets
// (vrrp_socket.h, lbd/sys/netlink.h) and the pure Router (router.h): reads adverts, feeds accepted
// ones to the router, runs its timer, and carries out its Actions (adverts, VIPs, gratuitous ARPs,
// notify scripts).
//
// Thread-safety: belongs to the loop's thread.
#ifndef LBD_VRRP_INSTANCE_H_
#define LBD_VRRP_INSTANCE_H_

#include <ev.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lbd/sys/command_runner.h"
#include "lbd/sys/netlink.h"
#include "lbd/vrrp/vrrp.h"
#include "vrrp_socket.h"

namespace lbd::vrrp::internal {

class Instance {
 public:
  // REQUIRES: loop, runner and options outlive the instance.
  static Result<std::unique_ptr<Instance>> Create(struct ev_loop* loop,
                                                  const InstanceOptions& config,
                                                  const Options& options, CommandRunner* runner);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  void Start();
  void Stop();
  void SetServiceUp(std::string_view service, bool up);
  InstanceStatus Snapshot() const;

 private:
  Instance(struct ev_loop* loop, const InstanceOptions& config, const Options& options,
           CommandRunner* runner);

  static void OnReadable(struct ev_loop* loop, ev_io* w, int revents);
  static void OnLinkEvent(struct ev_loop* loop, ev_io* w, int revents);
  static void OnTimer(struct ev_loop* loop, ev_timer* w, int revents);
  static void OnGarpTimer(struct ev_loop* loop, ev_timer* w, int revents);

  void ReadAdverts();
  void Apply(const Actions& actions);
  void SendAdvert(uint8_t priority);
  void SendGarps();
  void SetVips(bool present);
  void Notify(const char* state, const std::string& command);
  void UpdateTracking();
  void Rearm();
  void Log(const std::string& message) const;

  struct ev_loop* loop_;
  InstanceOptions config_;
  const Options& options_;
  CommandRunner* runner_;
  Router router_;
  RxPolicy policy_;
  InterfaceInfo interface_;
  uint32_t primary_ip_ = 0;
  Fd vrrp_fd_;
  Fd arp_fd_;
  LinkMonitor link_monitor_;
  ev_io io_watcher_{};
  ev_io link_watcher_{};
  ev_timer timer_{};
  ev_timer garp_timer_{};
  std::map<std::string, bool, std::less<>> service_down_;
  bool stopped_ = false;
  Counters counters_;
};

}  // namespace lbd::vrrp::internal

#endif  // LBD_VRRP_INSTANCE_H_
