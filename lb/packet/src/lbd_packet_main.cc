// lbd-packet -c FILE [--stats FILE] [--max-flows N] [--timeouts TCP,TCPFIN,UDP]
//            [--tun-prefix NAME]
// Runs the config's nat/dr/tun services until SIGTERM/SIGINT, with health
// checks when lbd_healthcheck is built. The stats file (FormatSnapshot() per
// service, then "generation N") is rewritten every second, on SIGUSR1 and at
// exit; its first appearance means the services are up.
#include <ev.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lbd/conf/loader.h"
#include "lbd/healthcheck/checker.h"
#include "lbd/packet/forwarder.h"

namespace {

// lbd_healthcheck's options from a validated `healthcheck:` config (type
// not kNone); as lbd does in lb/daemon/src/health_monitor_checkers.cc.
lbd::CheckOptions CheckOptionsOf(const lbd::HealthCheckConfig& c) {
  lbd::CheckOptions o;
  o.type = c.type == lbd::HealthCheckType::kHttp   ? lbd::CheckType::kHttp
           : c.type == lbd::HealthCheckType::kExec ? lbd::CheckType::kExec
                                                   : lbd::CheckType::kTcp;
  o.interval = c.interval;
  o.timeout = c.timeout;
  o.rise = c.rise;
  o.fall = c.fall;
  o.alpha = c.alpha;
  o.port = c.port;
  o.path = c.path;
  o.host = c.host;
  o.expect_status.clear();
  for (const lbd::StatusRange& r : c.expect_status) o.expect_status.push_back({r.low, r.high});
  o.expect_md5 = c.expect_md5;
  o.command = c.command;
  o.dynamic_weight = c.dynamic_weight;
  return o;
}

struct App {
  std::vector<std::shared_ptr<lbd::Service>> services;
  std::vector<std::unique_ptr<lbd::PacketService>> packet;
  std::vector<std::unique_ptr<lbd::HealthChecker>> checkers;
  std::string stats_path;
  uint64_t generation = 0;
};

void WriteStats(App* app) {
  if (app->stats_path.empty()) return;
  std::string text;
  for (const auto& p : app->packet) text += lbd::FormatSnapshot(p->Snapshot(10000));
  text += "generation " + std::to_string(++app->generation) + "\n";
  const std::string tmp = app->stats_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
  }
  std::rename(tmp.c_str(), app->stats_path.c_str());
}

int Usage() {
  std::fprintf(stderr,
               "usage: lbd-packet -c FILE [--stats FILE] [--max-flows N]\n"
               "                  [--timeouts TCP,TCPFIN,UDP] [--tun-prefix NAME]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  App app;
  lbd::PacketServiceOptions base;
  std::string tun_prefix = "lbd";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "-c" && (v = next())) {
      config_path = v;
    } else if (arg == "--stats" && (v = next())) {
      app.stats_path = v;
    } else if (arg == "--max-flows" && (v = next())) {
      base.max_flows = std::strtoul(v, nullptr, 10);
    } else if (arg == "--tun-prefix" && (v = next())) {
      tun_prefix = v;
    } else if (arg == "--timeouts" && (v = next())) {
      long tcp = 0, fin = 0, udp = 0;
      if (std::sscanf(v, "%ld,%ld,%ld", &tcp, &fin, &udp) != 3) return Usage();
      base.timeouts = {std::chrono::seconds(tcp), std::chrono::seconds(fin),
                       std::chrono::seconds(udp)};
    } else {
      return Usage();
    }
  }
  if (config_path.empty()) return Usage();
  lbd::LoadResult loaded = lbd::LoadConfigFile(config_path);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    return 1;
  }
  const lbd::Config& config = *loaded.config;
  const int workers = config.global.workers > 0
                          ? config.global.workers
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  struct ev_loop* loop = ev_default_loop(0);
  int index = 0;
  for (const auto& vs : config.virtual_services) {
    if (vs.forwarding == lbd::Forwarding::kProxy) continue;
    lbd::SchedulerOptions scheduler_options;
    scheduler_options.hash_port = vs.hash_port;
    scheduler_options.hash_fallback = vs.hash_fallback;
    scheduler_options.choices = vs.choices;
    auto created = lbd::Service::Create(vs.scheduler, scheduler_options);
    if (!created.ok()) {
      std::fprintf(stderr, "lbd-packet: %s: %s\n", vs.name.c_str(),
                   created.status().message().c_str());
      return 1;
    }
    std::shared_ptr<lbd::Service> svc = std::move(created.value());
    for (const auto& rs : vs.real_servers) {
      auto added = svc->AddServer(
          rs.address,
          {.weight = rs.weight, .upper_threshold = rs.max_conns, .lower_threshold = rs.min_conns});
      if (!added.ok()) {
        std::fprintf(stderr, "lbd-packet: %s\n", added.status().message().c_str());
        return 1;
      }
    }
    // The config's service, translated into the library's options.
    lbd::PacketServiceOptions options = base;
    options.name = vs.name;
    options.virtual_address = vs.listen;
    options.mode = vs.forwarding == lbd::Forwarding::kNat  ? lbd::PacketMode::kNat
                   : vs.forwarding == lbd::Forwarding::kDr ? lbd::PacketMode::kDr
                                                           : lbd::PacketMode::kTun;
    options.persistence = vs.persistence;
    options.threads = workers;
    options.tun_name = tun_prefix + std::to_string(index);
    options.nat_table = base.nat_table + static_cast<uint32_t>(index);
    auto ps = lbd::PacketService::Create(svc, options);
    if (!ps.ok()) {
      std::fprintf(stderr, "lbd-packet: %s\n", ps.status().message().c_str());
      return 1;
    }
    app.packet.push_back(std::move(ps.value()));
    app.services.push_back(svc);
    for (const auto& rs : vs.real_servers) {
      const lbd::HealthCheckConfig& hc = rs.healthcheck.value_or(vs.healthcheck);
      if (hc.type == lbd::HealthCheckType::kNone) continue;
      const lbd::Endpoint ep = rs.address;
      auto checker = lbd::HealthChecker::Create(
          loop, CheckOptionsOf(hc), ep,
          {.on_result = {}, .on_state_change = [svc, ep](bool up, const lbd::CheckResult& last) {
             std::fprintf(stderr, "lbd-packet: %s %s (%s)\n", lbd::ToString(ep).c_str(),
                          up ? "up" : "down", last.message.c_str());
             (void)svc->SetUp(ep, up);
           }});
      if (!checker.ok()) {
        std::fprintf(stderr, "lbd-packet: %s\n", checker.status().message().c_str());
        return 1;
      }
      if (!checker.value()->up()) (void)svc->SetUp(ep, false);
      app.checkers.push_back(std::move(checker.value()));
    }
    ++index;
  }
  if (app.packet.empty()) {
    std::fprintf(stderr, "lbd-packet: no nat/dr/tun service in %s\n", config_path.c_str());
    return 1;
  }
  ev_signal term, intr, usr1;
  ev_timer tick;
  auto stop = [](struct ev_loop* l, ev_signal*, int) { ev_break(l, EVBREAK_ALL); };
  ev_signal_init(&term, stop, SIGTERM);
  ev_signal_init(&intr, stop, SIGINT);
  ev_signal_init(
      &usr1, [](struct ev_loop*, ev_signal* w, int) { WriteStats(static_cast<App*>(w->data)); },
      SIGUSR1);
  usr1.data = &app;
  ev_timer_init(
      &tick, [](struct ev_loop*, ev_timer* w, int) { WriteStats(static_cast<App*>(w->data)); }, 1.0,
      1.0);
  tick.data = &app;
  ev_signal_start(loop, &term);
  ev_signal_start(loop, &intr);
  ev_signal_start(loop, &usr1);
  ev_timer_start(loop, &tick);
  WriteStats(&app);
  std::fprintf(stderr, "lbd-packet: ready (%zu services, %d workers)\n", app.packet.size(),
               workers);
  ev_run(loop, 0);
  app.checkers.clear();
  WriteStats(&app);
  app.packet.clear();  // stops the forwarding threads, removes routes and rules
  return 0;
}
