#include "instance.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "lbd/vrrp/receive.h"

namespace lbd::vrrp::internal {
namespace {

constexpr int kMaxReadsPerWakeup = 64;  // bounds the work of one callback
constexpr size_t kMaxPacket = 2048;     // a VRRP advert is at most 20+60+8+4*255+8 bytes

bool LogThisDrop(uint64_t count) { return count <= 3 || count % 1000 == 0; }

}  // namespace

Instance::Instance(struct ev_loop* loop, const InstanceOptions& config, const Options& options,
                   CommandRunner* runner)
    : loop_(loop), config_(config), options_(options), runner_(runner), router_(RouterConfig{}) {}

Result<std::unique_ptr<Instance>> Instance::Create(struct ev_loop* loop,
                                                   const InstanceOptions& config,
                                                   const Options& options, CommandRunner* runner) {
  std::unique_ptr<Instance> self(new Instance(loop, config, options, runner));
  const std::string where = "vrrp " + config.name + ": ";
  if (config.version != 2 && config.version != 3) {
    return Status::Error(where + "version must be 2 or 3");
  }
  if (config.virtual_router_id < 1 || config.virtual_router_id > 255 || config.priority < 1 ||
      config.priority > 255) {
    return Status::Error(where + "virtual_router_id and priority must be 1..255");
  }
  for (const Ipv4Prefix& vip : config.virtual_ips) {
    if (vip.length < 1 || vip.length > 32) {
      return Status::Error(where + "bad prefix length for virtual IP " + Ipv4ToString(vip.ip));
    }
  }
  auto interface = LookupInterface(config.interface);
  if (!interface.ok()) return Status::Error(where + interface.status().message());
  self->interface_ = *interface;
  std::vector<uint32_t> vip_addresses;
  for (const Ipv4Prefix& vip : config.virtual_ips) vip_addresses.push_back(vip.ip);
  auto primary = PrimaryAddress(config.interface, vip_addresses);
  if (!primary.ok()) return Status::Error(where + primary.status().message());
  self->primary_ip_ = *primary;

  const bool unicast = !config.unicast_peers.empty();
  auto vrrp_fd = OpenVrrpSocket(config.interface, interface->index, *primary, unicast);
  if (!vrrp_fd.ok()) return Status::Error(where + vrrp_fd.status().message());
  self->vrrp_fd_ = std::move(*vrrp_fd);
  auto arp_fd = OpenArpSocket(interface->index);
  if (!arp_fd.ok()) return Status::Error(where + arp_fd.status().message());
  self->arp_fd_ = std::move(*arp_fd);
  auto link_monitor = LinkMonitor::Open();
  if (!link_monitor.ok()) return Status::Error(where + link_monitor.status().message());
  self->link_monitor_ = std::move(*link_monitor);

  const auto interval = std::chrono::duration_cast<Micros>(config.advert_interval);
  self->router_ = Router(RouterConfig{.version = config.version,
                                      .priority = config.priority,
                                      .advert_interval = interval,
                                      .preempt = config.preempt,
                                      .preempt_delay = config.preempt_delay,
                                      .primary_ip = *primary});
  RxPolicy& p = self->policy_;
  p.version = config.version;
  p.vrid = static_cast<uint8_t>(config.virtual_router_id);
  p.auth_pass = config.auth_pass;
  p.interval_cs = static_cast<int>(config.advert_interval.count() / 10);
  p.unicast = unicast;
  p.virtual_ips = vip_addresses;
  for (const auto& track : config.track_services) self->service_down_[track.service] = false;

  ev_io_init(&self->io_watcher_, &Instance::OnReadable, self->vrrp_fd_.get(), EV_READ);
  self->io_watcher_.data = self.get();
  ev_io_init(&self->link_watcher_, &Instance::OnLinkEvent, self->link_monitor_.fd(), EV_READ);
  self->link_watcher_.data = self.get();
  ev_init(&self->timer_, &Instance::OnTimer);
  self->timer_.data = self.get();
  ev_init(&self->garp_timer_, &Instance::OnGarpTimer);
  self->garp_timer_.data = self.get();
  return self;
}

Instance::~Instance() {
  ev_io_stop(loop_, &io_watcher_);
  ev_io_stop(loop_, &link_watcher_);
  ev_timer_stop(loop_, &timer_);
  ev_timer_stop(loop_, &garp_timer_);
}

void Instance::Log(const std::string& message) const {
  const std::string line = "vrrp " + config_.name + ": " + message;
  if (options_.log) options_.log(line);
}

void Instance::Start() {
  if (stopped_) return;
  ev_io_start(loop_, &io_watcher_);
  ev_io_start(loop_, &link_watcher_);
  Log("starting: vrid " + std::to_string(config_.virtual_router_id) + ", version " +
      std::to_string(config_.version) + ", priority " + std::to_string(config_.priority) +
      ", interface " + config_.interface + " (" + Ipv4ToString(primary_ip_) + ")" +
      (config_.unicast_peers.empty() ? ", multicast" : ", unicast"));
  const TimePoint now = Clock::now();
  if (!interface_.up) Apply(router_.SetFault(now, true));
  UpdateTracking();
  Apply(router_.Start(now));
}

void Instance::Stop() {
  if (stopped_) return;
  const State before = router_.state();
  Apply(router_.Stop(Clock::now()));
  stopped_ = true;
  ev_io_stop(loop_, &io_watcher_);
  ev_io_stop(loop_, &link_watcher_);
  ev_timer_stop(loop_, &timer_);
  ev_timer_stop(loop_, &garp_timer_);
  if (before != State::kInit) {
    Log("stopped");
    Notify("STOP", "");
  }
}

void Instance::SetServiceUp(std::string_view service, bool up) {
  auto it = service_down_.find(service);
  if (it == service_down_.end() || it->second == !up) return;
  it->second = !up;
  Log("tracked service " + std::string(service) + (up ? " up" : " down"));
  if (!stopped_) UpdateTracking();
}

void Instance::UpdateTracking() {
  int delta = 0;
  bool fault = !interface_.up;
  for (const auto& track : config_.track_services) {
    auto it = service_down_.find(track.service);
    if (it == service_down_.end() || !it->second) continue;
    if (track.weight == 0) {
      fault = true;
    } else {
      delta -= std::abs(track.weight);
    }
  }
  const TimePoint now = Clock::now();
  const int before = router_.effective_priority();
  Apply(router_.SetPriorityDelta(now, delta));
  if (router_.effective_priority() != before) {
    Log("effective priority " + std::to_string(before) + " -> " +
        std::to_string(router_.effective_priority()));
  }
  if (router_.state() != State::kInit || fault) Apply(router_.SetFault(now, fault));
}

void Instance::OnReadable(struct ev_loop*, ev_io* w, int) {
  static_cast<Instance*>(w->data)->ReadAdverts();
}

void Instance::OnLinkEvent(struct ev_loop*, ev_io* w, int) {
  auto* self = static_cast<Instance*>(w->data);
  auto up = self->link_monitor_.Read(self->interface_.index);
  if (!up || *up == self->interface_.up) return;
  self->interface_.up = *up;
  self->Log(std::string("interface ") + self->config_.interface + (*up ? " up" : " down"));
  self->UpdateTracking();
}

void Instance::OnTimer(struct ev_loop*, ev_timer* w, int) {
  auto* self = static_cast<Instance*>(w->data);
  self->Apply(self->router_.OnTimer(Clock::now()));
  self->Rearm();
}

void Instance::OnGarpTimer(struct ev_loop*, ev_timer* w, int) {
  auto* self = static_cast<Instance*>(w->data);
  if (self->router_.state() == State::kMaster) self->SendGarps();
}

void Instance::ReadAdverts() {
  uint8_t buffer[kMaxPacket];
  for (int i = 0; i < kMaxReadsPerWakeup; ++i) {
    const ssize_t n = recv(vrrp_fd_.get(), buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // EAGAIN, or an error we cannot act on; the watcher stays
    }
    const Received r = ReceiveAdvert(std::span<const uint8_t>(buffer, static_cast<size_t>(n)),
                                     policy_, primary_ip_, Clock::now(), &router_, &counters_);
    const Decoded& d = r.decoded;
    if (d.drop) {
      const uint64_t count = counters_.dropped[static_cast<size_t>(*d.drop)];
      if (LogThisDrop(count)) {
        Log("dropped an advert from " + Ipv4ToString(d.source) + ": " + ToString(*d.drop) + " (" +
            std::to_string(count) + " so far)");
      }
      continue;
    }
    if (r.own) continue;
    if (d.address_mismatch && LogThisDrop(counters_.address_mismatch)) {
      Log("advert from " + Ipv4ToString(d.source) + " lists other virtual IPs than ours");
    }
    if (d.interval_mismatch && LogThisDrop(counters_.interval_mismatch)) {
      Log("advert from " + Ipv4ToString(d.source) + " has interval " +
          std::to_string(d.advert.interval_cs * 10) + "ms, ours " +
          std::to_string(policy_.interval_cs * 10) + "ms");
    }
    if (d.advert.priority == kPriorityStop && router_.state() == State::kBackup) {
      Log("master " + Ipv4ToString(d.source) + " left (priority 0); taking over after skew time");
    }
    Apply(r.actions);
  }
  Rearm();
}

void Instance::Apply(const Actions& a) {
  if (a.transition && *a.transition != State::kInit) {
    // Logged first, as keepalived does ("Entering MASTER STATE", then
    // "setting VIPs"): the rtnetlink calls below can wait on the kernel.
    Log(std::string("entering ") + ToString(*a.transition) + " state (priority " +
        std::to_string(router_.effective_priority()) + ")");
  }
  if (a.remove_vips) SetVips(false);
  if (a.send_advert) SendAdvert(*a.send_advert);
  if (a.add_vips) SetVips(true);
  if (a.send_garp) SendGarps();
  if (a.transition) {
    const State state = *a.transition;
    ev_timer_stop(loop_, &garp_timer_);
    if (state == State::kMaster) {
      ++counters_.became_master;
      ev_timer_set(&garp_timer_, std::chrono::duration<double>(options_.garp_delay).count(), 0.);
      if (options_.garp_delay.count() > 0) ev_timer_start(loop_, &garp_timer_);
    }
    if (state == State::kBackup) ++counters_.became_backup;
    if (state == State::kFault) ++counters_.became_fault;
    if (state != State::kInit) {
      // After the VIPs changed, so that notify_master finds them in place.
      const std::string& command = state == State::kMaster   ? config_.notify_master
                                   : state == State::kBackup ? config_.notify_backup
                                                             : config_.notify_fault;
      Notify(ToString(state), command);
    }
  }
  Rearm();
}

void Instance::Rearm() {
  ev_timer_stop(loop_, &timer_);
  if (stopped_) return;
  auto deadline = router_.deadline();
  if (!deadline) return;
  // ev_timer counts from the loop's cached time; refresh it so the timer
  // does not fire before the Router's deadline (which uses the real clock).
  ev_now_update(loop_);
  const double after =
      std::max(0.0, std::chrono::duration<double>(*deadline - Clock::now()).count());
  ev_timer_set(&timer_, after, 0.);
  ev_timer_start(loop_, &timer_);
}

void Instance::SendAdvert(uint8_t priority) {
  Advert advert;
  advert.version = config_.version;
  advert.vrid = static_cast<uint8_t>(config_.virtual_router_id);
  advert.priority = priority;
  advert.interval_cs = policy_.interval_cs;
  if (config_.version == 2 && !config_.auth_pass.empty()) {
    advert.auth_type = kAuthSimple;
    advert.auth_data = AuthData(config_.auth_pass);
  }
  for (const Ipv4Prefix& vip : config_.virtual_ips) advert.addresses.push_back(vip.ip);
  std::vector<uint32_t> destinations = config_.unicast_peers;
  if (destinations.empty()) destinations.push_back(kVrrpGroup);
  for (uint32_t to : destinations) {
    // RFC 5798 §5.2.8: the v3 checksum covers the real destination.
    const std::vector<uint8_t> message = EncodeAdvert(advert, primary_ip_, to);
    Status s = SendTo(vrrp_fd_.get(), message, primary_ip_, to);
    if (!s.ok()) {
      if (LogThisDrop(++counters_.send_errors)) Log(s.message());
      continue;
    }
    ++counters_.adverts_sent;
    if (priority == kPriorityStop) ++counters_.priority_zero_sent;
  }
}

void Instance::SendGarps() {
  for (int i = 0; i < options_.garp_repeat; ++i) {
    for (const Ipv4Prefix& vip : config_.virtual_ips) {
      Status s = SendGratuitousArp(arp_fd_.get(), interface_.index, interface_.mac, vip.ip);
      if (!s.ok()) {
        if (LogThisDrop(++counters_.send_errors)) Log(s.message());
      } else {
        ++counters_.garps_sent;
      }
    }
  }
}

void Instance::SetVips(bool present) {
  auto nl = Netlink::Open();
  for (const auto& [ip, length] : config_.virtual_ips) {
    const auto start = Clock::now();
    Status s = !nl.ok()  ? nl.status()
               : present ? nl->AddVirtualAddress(interface_.index, ip, length)
                         : nl->DeleteVirtualAddress(interface_.index, ip, length);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    if (!s.ok()) {
      ++counters_.address_errors;
      Log(std::string(present ? "adding " : "removing ") + Ipv4ToString(ip) + "/" +
          std::to_string(length) + ": " + s.message());
    }
    if (took.count() >= 100) {
      // rtnetlink requests run under the kernel's global RTNL lock.
      Log(std::string(present ? "adding " : "removing ") + Ipv4ToString(ip) + " took " +
          std::to_string(took.count()) + "ms (rtnetlink busy)");
    }
  }
}

void Instance::Notify(const char* state, const std::string& command) {
  if (runner_ == nullptr) return;
  // keepalived: the per-state script first, then the generic one with
  // "INSTANCE <name> <state> <priority>" (reference §4).
  std::vector<std::string> commands;
  if (!command.empty()) commands.push_back(command);
  if (!config_.notify.empty()) {
    commands.push_back(config_.notify + " INSTANCE " + config_.name + " " + state + " " +
                       std::to_string(router_.effective_priority()));
  }
  for (const std::string& c : commands) {
    Status s = runner_->Run(c);
    if (s.ok()) {
      ++counters_.notify_runs;
    } else {
      Log("notify '" + c + "': " + s.message());
    }
  }
}

InstanceStatus Instance::Snapshot() const {
  InstanceStatus s;
  s.name = config_.name;
  s.interface = config_.interface;
  s.vrid = config_.virtual_router_id;
  s.version = config_.version;
  s.state = router_.state();
  s.priority = config_.priority;
  s.effective_priority = router_.effective_priority();
  if (router_.master_ip() != 0 && (s.state == State::kMaster || s.state == State::kBackup)) {
    s.master_ip = Ipv4ToString(router_.master_ip());
  }
  s.primary_ip = Ipv4ToString(primary_ip_);
  for (const Ipv4Prefix& vip : config_.virtual_ips) {
    s.virtual_ips.push_back(Ipv4ToString(vip.ip) + "/" + std::to_string(vip.length));
  }
  s.interface_up = interface_.up;
  s.counters = counters_;
  return s;
}

}  // namespace lbd::vrrp::internal
