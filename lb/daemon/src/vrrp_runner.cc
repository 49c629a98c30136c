// The VRRP seam over lbd_vrrp: the config's `vrrp:` instances on the
// daemon's control loop, their messages in lbd's log.
#include "lbd/daemon/vrrp_runner.h"

#include <charconv>

#include "lbd/sys/log.h"
#include "lbd/vrrp/vrrp.h"

namespace lbd {
namespace {

VrrpReport ReportOf(const vrrp::InstanceStatus& s) {
  VrrpReport r;
  r.name = s.name;
  r.interface = s.interface;
  r.vrid = s.vrid;
  r.version = s.version;
  r.state = vrrp::ToString(s.state);
  r.priority = s.priority;
  r.effective_priority = s.effective_priority;
  r.master_ip = s.master_ip;
  r.primary_ip = s.primary_ip;
  r.virtual_ips = s.virtual_ips;
  r.interface_up = s.interface_up;
  const vrrp::Counters& c = s.counters;
  r.adverts_sent = c.adverts_sent;
  r.adverts_received = c.adverts_received;
  r.priority_zero_sent = c.priority_zero_sent;
  r.priority_zero_received = c.priority_zero_received;
  r.became_master = c.became_master;
  r.became_backup = c.became_backup;
  r.became_fault = c.became_fault;
  r.garps_sent = c.garps_sent;
  r.send_errors = c.send_errors;
  r.address_errors = c.address_errors;
  for (size_t i = 0; i < vrrp::kDropReasonCount; ++i) {
    r.dropped.emplace_back(vrrp::ToString(static_cast<vrrp::DropReason>(i)), c.dropped[i]);
  }
  return r;
}

class LbdVrrpRunner : public VrrpRunner {
 public:
  explicit LbdVrrpRunner(std::unique_ptr<vrrp::Vrrp> vrrp) : vrrp_(std::move(vrrp)) {}
  ~LbdVrrpRunner() override { Stop(); }

  void Start() override {
    if (!started_ && !stopped_) vrrp_->Start();
    started_ = true;
  }
  void Stop() override {
    if (started_ && !stopped_) vrrp_->Stop();
    stopped_ = true;
  }
  void SetServiceUp(std::string_view service, bool up) override {
    if (!stopped_) vrrp_->SetServiceUp(service, up);
  }
  std::vector<VrrpReport> Snapshot() const override {
    std::vector<VrrpReport> out;
    for (const auto& s : vrrp_->Snapshot()) out.push_back(ReportOf(s));
    return out;
  }

 private:
  std::unique_ptr<vrrp::Vrrp> vrrp_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace

Result<vrrp::InstanceOptions> InstanceOptionsOf(const VrrpInstanceConfig& c) {
  vrrp::InstanceOptions o;
  o.name = c.name;
  o.interface = c.interface;
  o.virtual_router_id = c.virtual_router_id;
  o.priority = c.priority;
  o.version = c.version;
  o.advert_interval = c.advert_interval;
  o.preempt = c.preempt;
  o.preempt_delay = c.preempt_delay;
  o.auth_pass = c.auth_pass;
  o.notify = c.notify;
  o.notify_master = c.notify_master;
  o.notify_backup = c.notify_backup;
  o.notify_fault = c.notify_fault;
  for (const std::string& text : c.virtual_ips) {
    const size_t slash = text.find('/');
    auto ip = ParseIpv4(std::string_view(text).substr(0, slash));
    int length = 0;
    const char* end = text.data() + text.size();
    if (!ip.ok() || slash == std::string::npos ||
        std::from_chars(text.data() + slash + 1, end, length).ptr != end) {
      return Status::Error("vrrp " + c.name + ": bad virtual IP '" + text + "'");
    }
    o.virtual_ips.push_back({.ip = ip->ip, .length = length});
  }
  for (const std::string& text : c.unicast_peers) {
    auto ip = ParseIpv4(text);
    if (!ip.ok()) return Status::Error("vrrp " + c.name + ": bad unicast peer '" + text + "'");
    o.unicast_peers.push_back(ip->ip);
  }
  for (const auto& t : c.track_services) o.track_services.push_back({t.service, t.weight});
  return o;
}

Result<std::unique_ptr<VrrpRunner>> NewVrrpRunner(struct ev_loop* loop,
                                                  const std::vector<VrrpInstanceConfig>& configs) {
  vrrp::Options options;
  // Transitions are what an operator looks for: info level.
  options.log = [](const std::string& line) { LBD_LOG(kInfo, "%s", line.c_str()); };
  std::vector<vrrp::InstanceOptions> instances;
  for (const VrrpInstanceConfig& c : configs) {
    auto instance = InstanceOptionsOf(c);
    if (!instance.ok()) return instance.status();
    instances.push_back(std::move(instance).value());
  }
  auto v = vrrp::Vrrp::Create(loop, instances, options);
  if (!v.ok()) return v.status();
  return std::unique_ptr<VrrpRunner>(std::make_unique<LbdVrrpRunner>(std::move(v).value()));
}

}  // namespace lbd
