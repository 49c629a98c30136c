// lbd-vrrp -c FILE: a thin main over lbd_vrrp, for tests and for running VRRP
// alone. Loads the file with lbd_conf, translates its `vrrp:` instances into
// lbd_vrrp's InstanceOptions (lbd's own InstanceOptionsOf, vrrp_runner.h)
// and runs them on a libev loop, in the foreground, logging to stderr.
// SIGTERM/SIGINT: graceful stop (priority 0 adverts, VIPs removed), exit 0.
// SIGUSR1: prints each instance's state and counters to stderr.
#include <ev.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "lbd/conf/loader.h"
#include "lbd/daemon/vrrp_runner.h"
#include "lbd/vrrp/vrrp.h"

namespace {

using lbd::vrrp::Vrrp;

void PrintStatus(const Vrrp& vrrp) {
  for (const lbd::vrrp::InstanceStatus& s : vrrp.Snapshot()) {
    const lbd::vrrp::Counters& c = s.counters;
    std::string drops;
    for (size_t i = 0; i < c.dropped.size(); ++i) {
      if (c.dropped[i] == 0) continue;
      drops += std::string(" ") + lbd::vrrp::ToString(static_cast<lbd::vrrp::DropReason>(i)) + "=" +
               std::to_string(c.dropped[i]);
    }
    std::fprintf(stderr,
                 "status %s state=%s priority=%d effective=%d master=%s sent=%llu received=%llu "
                 "prio0_sent=%llu prio0_received=%llu garps=%llu dropped:%s\n",
                 s.name.c_str(), lbd::vrrp::ToString(s.state), s.priority, s.effective_priority,
                 s.master_ip.empty() ? "-" : s.master_ip.c_str(),
                 static_cast<unsigned long long>(c.adverts_sent),
                 static_cast<unsigned long long>(c.adverts_received),
                 static_cast<unsigned long long>(c.priority_zero_sent),
                 static_cast<unsigned long long>(c.priority_zero_received),
                 static_cast<unsigned long long>(c.garps_sent),
                 drops.empty() ? " none" : drops.c_str());
  }
}

void OnStop(struct ev_loop* loop, ev_signal* w, int) {
  auto* vrrp = static_cast<Vrrp*>(w->data);
  std::fprintf(stderr, "lbd-vrrp: signal %d, stopping\n", w->signum);
  vrrp->Stop();
  ev_break(loop, EVBREAK_ALL);
}

void OnStatus(struct ev_loop*, ev_signal* w, int) { PrintStatus(*static_cast<Vrrp*>(w->data)); }

int Usage() {
  std::fprintf(stderr, "usage: lbd-vrrp -c FILE\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string file;
  for (int i = 1; i < argc; ++i) {
    if ((std::strcmp(argv[i], "-c") == 0 || std::strcmp(argv[i], "--config") == 0) &&
        i + 1 < argc) {
      file = argv[++i];
    } else {
      return Usage();
    }
  }
  if (file.empty()) return Usage();
  lbd::LoadResult loaded = lbd::LoadConfigFile(file);
  if (!loaded.config) {
    for (const lbd::ConfigError& e : loaded.errors)
      std::fprintf(stderr, "%s\n", e.ToString().c_str());
    return 1;
  }
  if (loaded.config->vrrp.empty()) {
    std::fprintf(stderr, "lbd-vrrp: %s has no vrrp instances\n", file.c_str());
    return 1;
  }
  std::vector<lbd::vrrp::InstanceOptions> instances;
  for (const lbd::VrrpInstanceConfig& c : loaded.config->vrrp) {
    auto instance = lbd::InstanceOptionsOf(c);
    if (!instance.ok()) {
      std::fprintf(stderr, "lbd-vrrp: %s\n", instance.status().message().c_str());
      return 1;
    }
    instances.push_back(std::move(instance).value());
  }
  struct ev_loop* loop = ev_default_loop(EVFLAG_AUTO);
  auto vrrp = Vrrp::Create(loop, instances, {});
  if (!vrrp.ok()) {
    std::fprintf(stderr, "lbd-vrrp: %s\n", vrrp.status().message().c_str());
    return 1;
  }
  ev_signal term{}, intr{}, usr1{};
  ev_signal_init(&term, OnStop, SIGTERM);
  ev_signal_init(&intr, OnStop, SIGINT);
  ev_signal_init(&usr1, OnStatus, SIGUSR1);
  for (ev_signal* w : {&term, &intr, &usr1}) {
    w->data = vrrp->get();
    ev_signal_start(loop, w);
  }
  (*vrrp)->Start();
  ev_run(loop, 0);
  PrintStatus(**vrrp);
  return 0;
}
