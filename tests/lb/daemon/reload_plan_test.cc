#include "lbd/daemon/reload_plan.h"

#include <gtest/gtest.h>

#include "lbd/daemon/report_builder.h"
#include "lbd/daemon/server_state.h"

namespace lbd {
namespace {

Endpoint Ep(const char* s) { return ParseEndpoint(s).value(); }

RealServerConfig Server(const char* address, int weight = 1) {
  RealServerConfig rs;
  rs.address = Ep(address);
  rs.weight = weight;
  return rs;
}

VirtualServiceConfig ProxyService(const char* name, const char* listen) {
  VirtualServiceConfig vs;
  vs.name = name;
  vs.listen = Ep(listen);
  vs.scheduler = "wrr";
  vs.real_servers = {Server("10.0.0.1:80", 1), Server("10.0.0.2:80", 2)};
  return vs;
}

Config Sample() {
  Config c;
  c.file = "/etc/lbd.yaml";
  c.virtual_services.push_back(ProxyService("web", "127.0.0.1:8080"));
  VirtualServiceConfig nat = ProxyService("nat", "10.1.0.1:80");
  nat.forwarding = Forwarding::kNat;
  c.virtual_services.push_back(nat);
  VrrpInstanceConfig v;
  v.name = "VI_1";
  v.interface = "eth0";
  v.virtual_router_id = 51;
  v.virtual_ips = {"10.1.0.1/32"};
  c.vrrp.push_back(v);
  return c;
}

const ServerStep* FindStep(const ServiceStep& s, ServerStep::Kind kind, const char* address) {
  for (const auto& step : s.servers) {
    if (step.kind == kind && step.address == Ep(address)) return &step;
  }
  return nullptr;
}

TEST(ReloadPlanTest, UnchangedConfigHasNothingToDo) {
  const Config c = Sample();
  Config same = c;
  same.virtual_services[0].mark.line = 42;  // source positions do not count
  ReloadPlan plan = Plan(c, same);
  EXPECT_TRUE(plan.empty()) << ToString(plan);
  EXPECT_EQ(ToString(plan), "nothing to change\n");
  ASSERT_EQ(plan.services.size(), 2u);
  EXPECT_EQ(plan.services[0].kind, ServiceStep::Kind::kKeep);
  EXPECT_EQ(plan.services[0].listeners, ListenerStep::kKeep);
  EXPECT_EQ(plan.services[1].data_plane, DataPlaneStep::kKeep);
  EXPECT_FALSE(plan.vrrp_changed);
}

TEST(ReloadPlanTest, StartIsAPlanFromNothing) {
  Config empty;
  ReloadPlan plan = Plan(empty, Sample());
  ASSERT_EQ(plan.services.size(), 2u);
  EXPECT_EQ(plan.services[0].kind, ServiceStep::Kind::kAdd);
  EXPECT_EQ(plan.services[0].listeners, ListenerStep::kOpen);
  EXPECT_EQ(plan.services[0].servers.size(), 2u);
  EXPECT_EQ(plan.services[1].data_plane, DataPlaneStep::kCreate);
  EXPECT_TRUE(plan.vrrp_changed);
  EXPECT_NE(ToString(plan).find("service web: added, 2 real servers\n"), std::string::npos);
}

TEST(ReloadPlanTest, ServicesAddedAndRemoved) {
  const Config old = Sample();
  Config next = old;
  next.virtual_services.erase(next.virtual_services.begin());
  next.virtual_services.push_back(ProxyService("api", "127.0.0.1:8081"));
  ReloadPlan plan = Plan(old, next);
  ASSERT_EQ(plan.services.size(), 3u);
  EXPECT_EQ(plan.services[0].name, "nat");
  EXPECT_FALSE(plan.services[0].changed());
  EXPECT_EQ(plan.services[1].name, "api");
  EXPECT_EQ(plan.services[1].kind, ServiceStep::Kind::kAdd);
  EXPECT_EQ(plan.services[2].name, "web");
  EXPECT_EQ(plan.services[2].kind, ServiceStep::Kind::kRemove);
  EXPECT_NE(ToString(plan).find("service web: removed"), std::string::npos);
  EXPECT_EQ(plan.Find("nosuch"), nullptr);
}

TEST(ReloadPlanTest, SchedulerChanged) {
  const Config old = Sample();
  for (auto change : {+[](VirtualServiceConfig& vs) { vs.scheduler = "rr"; },
                      +[](VirtualServiceConfig& vs) { vs.hash_port = true; },
                      +[](VirtualServiceConfig& vs) { vs.hash_fallback = true; }}) {
    Config next = old;
    change(next.virtual_services[0]);
    ReloadPlan plan = Plan(old, next);
    EXPECT_TRUE(plan.services[0].scheduler_changed);
    EXPECT_FALSE(plan.services[1].scheduler_changed);
    EXPECT_FALSE(plan.empty());
  }
}

TEST(ReloadPlanTest, ServersAddedRemovedAndThresholds) {
  const Config old = Sample();
  Config next = old;
  auto& servers = next.virtual_services[0].real_servers;
  servers.erase(servers.begin());               // 10.0.0.1 gone
  servers.push_back(Server("10.0.0.3:80", 4));  // new
  servers[0].max_conns = 100;                   // 10.0.0.2: thresholds only
  ReloadPlan plan = Plan(old, next);
  const ServiceStep& web = plan.services[0];
  ASSERT_EQ(web.servers.size(), 3u) << ToString(plan);
  EXPECT_EQ(web.servers[0].kind, ServerStep::Kind::kRemove);  // removals first
  EXPECT_EQ(web.servers[0].address, Ep("10.0.0.1:80"));
  ASSERT_NE(FindStep(web, ServerStep::Kind::kAdd, "10.0.0.3:80"), nullptr);
  EXPECT_EQ(FindStep(web, ServerStep::Kind::kAdd, "10.0.0.3:80")->weight, 4);
  EXPECT_NE(FindStep(web, ServerStep::Kind::kThresholds, "10.0.0.2:80"), nullptr);
  EXPECT_FALSE(web.Reweighted(Ep("10.0.0.2:80")));
  EXPECT_NE(ToString(plan).find("service web: real server 10.0.0.3:80 added, weight 4\n"),
            std::string::npos);
}

// A weight is set only when the file changed it: an unchanged line keeps an
// lbctl weight/drain, a changed one replaces it.
TEST(ReloadPlanTest, WeightOnlyWhenTheFileChangedIt) {
  const Config old = Sample();
  Config next = old;
  next.virtual_services[0].real_servers[1].weight = 5;  // 10.0.0.2: 2 -> 5
  ReloadPlan plan = Plan(old, next);
  const ServiceStep& web = plan.services[0];
  ASSERT_EQ(web.servers.size(), 1u);
  EXPECT_EQ(web.servers[0].kind, ServerStep::Kind::kReweight);
  EXPECT_EQ(web.servers[0].old_weight, 2);
  EXPECT_EQ(web.servers[0].weight, 5);
  EXPECT_TRUE(web.Reweighted(Ep("10.0.0.2:80")));
  EXPECT_FALSE(web.Reweighted(Ep("10.0.0.1:80")));
  EXPECT_NE(ToString(plan).find("service web: real server 10.0.0.2:80 weight 2 -> 5\n"),
            std::string::npos);

  // The records: an lbctl drain survives the unchanged line, not the changed one.
  const VirtualServiceConfig& vs = next.virtual_services[0];
  ServerState kept =
      ServerStateOf(old.virtual_services[0], old.virtual_services[0].real_servers[0]);
  ServerState changed =
      ServerStateOf(old.virtual_services[0], old.virtual_services[0].real_servers[1]);
  kept.weight_override = 0;
  changed.weight_override = 0;
  UpdateFromFile(vs, vs.real_servers[0], web.Reweighted(kept.address), &kept);
  UpdateFromFile(vs, vs.real_servers[1], web.Reweighted(changed.address), &changed);
  EXPECT_EQ(kept.weight(), 0);
  EXPECT_EQ(changed.weight(), 5);
}

TEST(ReloadPlanTest, ListenersReplacedWhenListenChanges) {
  const Config old = Sample();
  Config next = old;
  next.virtual_services[0].listen = Ep("127.0.0.1:9090");
  ReloadPlan plan = Plan(old, next);
  EXPECT_TRUE(plan.services[0].listen_changed);
  EXPECT_EQ(plan.services[0].listeners, ListenerStep::kOpen);
  // Proxied now, nat before: listeners open, the data plane goes.
  next = old;
  next.virtual_services[1].forwarding = Forwarding::kProxy;
  plan = Plan(old, next);
  EXPECT_EQ(plan.services[1].listeners, ListenerStep::kOpen);
  EXPECT_EQ(plan.services[1].data_plane, DataPlaneStep::kNone);
}

TEST(ReloadPlanTest, DataPlaneReplacedWhenListenOrForwardingChanges) {
  const Config old = Sample();
  Config next = old;
  next.virtual_services[1].listen = Ep("10.1.0.2:80");  // another VIP: new one first
  EXPECT_EQ(Plan(old, next).services[1].data_plane, DataPlaneStep::kReplace);
  next = old;
  next.virtual_services[1].listen = Ep("10.1.0.1:81");  // same VIP: the old one goes first
  EXPECT_EQ(Plan(old, next).services[1].data_plane, DataPlaneStep::kReplaceInPlace);
  next = old;
  next.virtual_services[1].forwarding = Forwarding::kDr;
  ReloadPlan plan = Plan(old, next);
  EXPECT_TRUE(plan.services[1].forwarding_changed);
  EXPECT_EQ(plan.services[1].data_plane, DataPlaneStep::kReplaceInPlace);
  // nat now, proxied before.
  next = old;
  next.virtual_services[0].forwarding = Forwarding::kTun;
  plan = Plan(old, next);
  EXPECT_EQ(plan.services[0].data_plane, DataPlaneStep::kCreate);
  EXPECT_EQ(plan.services[0].listeners, ListenerStep::kNone);
}

TEST(ReloadPlanTest, VrrpSectionChanged) {
  const Config old = Sample();
  Config next = old;
  next.vrrp[0].priority = 150;
  EXPECT_TRUE(Plan(old, next).vrrp_changed);
  next = old;
  next.vrrp[0].track_services.push_back({"web", -20});
  EXPECT_TRUE(Plan(old, next).vrrp_changed);
  next = old;
  next.vrrp.clear();
  ReloadPlan plan = Plan(old, next);
  EXPECT_TRUE(plan.vrrp_changed);
  EXPECT_NE(ToString(plan).find("vrrp: changed"), std::string::npos);
  next = old;
  next.vrrp[0].mark.line = 7;
  EXPECT_FALSE(Plan(old, next).vrrp_changed);
}

TEST(ReloadPlanTest, SettingsChecksAndGlobals) {
  const Config old = Sample();
  Config next = old;
  next.virtual_services[0].idle_timeout = Duration(1000);
  next.virtual_services[1].healthcheck.inhibit_on_failure = false;
  next.global.workers = 3;
  next.global.drain_timeout = Duration(5000);
  next.global.log_level = "debug";
  ReloadPlan plan = Plan(old, next);
  EXPECT_TRUE(plan.services[0].settings_changed);
  EXPECT_FALSE(plan.services[0].checks_changed);
  EXPECT_TRUE(plan.services[1].checks_changed);
  EXPECT_TRUE(plan.restart_only_changed);
  EXPECT_TRUE(plan.drain_timeout_changed);
  EXPECT_TRUE(plan.log_level_changed);
  const std::string text = ToString(plan);
  EXPECT_NE(text.find("service web: settings changed\n"), std::string::npos) << text;
  EXPECT_NE(text.find("service nat: health checks changed\n"), std::string::npos) << text;
  EXPECT_NE(text.find("global: drain_timeout changed\n"), std::string::npos) << text;
}

// The record -> Service calls: held out and back with its counters and the
// weight given meanwhile; retired for good.
TEST(ServerStateTest, HeldOutAndBack) {
  auto service = Service::Create("wrr").value();
  VirtualServiceConfig vs = ProxyService("web", "127.0.0.1:8080");
  vs.healthcheck.inhibit_on_failure = false;
  ServerState s = ServerStateOf(vs, vs.real_servers[1]);
  EXPECT_EQ(ApplyServerState("web", *service, s), TableChange::kAdded);
  std::shared_ptr<RealServer> rs = service->Find(s.address);
  ASSERT_NE(rs, nullptr);
  EXPECT_EQ(UpWeight(*service), 2);

  s.health_down = true;
  EXPECT_EQ(ApplyServerState("web", *service, s), TableChange::kTakenOut);
  EXPECT_EQ(service->Find(s.address), nullptr);
  EXPECT_EQ(s.held, rs);
  s.weight_override = 7;  // lbctl weight while out
  EXPECT_EQ(ApplyServerState("web", *service, s), TableChange::kNone);

  s.health_down = false;
  EXPECT_EQ(ApplyServerState("web", *service, s), TableChange::kBackIn);
  EXPECT_EQ(service->Find(s.address), rs);  // the same object, its counters
  EXPECT_EQ(s.held, nullptr);
  EXPECT_EQ(rs->configured_weight(), 7);
  EXPECT_TRUE(rs->up());

  s.disabled = true;  // a maintenance down is weight 0, never a removal
  EXPECT_EQ(ApplyServerState("web", *service, s), TableChange::kNone);
  EXPECT_FALSE(rs->up());
  EXPECT_EQ(UpWeight(*service), 0);

  s.retired = true;
  EXPECT_EQ(ApplyServerState("web", *service, s), TableChange::kRemoved);
  EXPECT_TRUE(service->Servers().empty());
}

TEST(RateWindowTest, RatesOverTheWindowAndRestartWhenTotalsDrop) {
  RateWindow w;
  EXPECT_EQ(w.Rate().connections, 0);
  for (int i = 0; i <= 6; ++i) w.Add(i, 10u * i, 100u * i, 0);
  EXPECT_DOUBLE_EQ(w.Rate().connections, 10);  // over the last kSamples
  EXPECT_DOUBLE_EQ(w.Rate().bytes_in, 100);
  w.Add(7, 5, 0, 0);  // a service's totals vanished
  EXPECT_EQ(w.Rate().connections, 0);
  w.Add(9, 25, 0, 0);
  EXPECT_DOUBLE_EQ(w.Rate().connections, 10);
}

TEST(PlanMoves, RemovingOneOfFourMaglevServersMovesAQuarterAndItsClients) {
  Config old;
  VirtualServiceConfig vs = ProxyService("web", "127.0.0.1:8080");
  vs.scheduler = "mh";
  vs.real_servers = {Server("10.0.0.1:80"), Server("10.0.0.2:80"), Server("10.0.0.3:80"),
                     Server("10.0.0.4:80")};
  old.virtual_services.push_back(vs);
  Config next = old;
  next.virtual_services[0].real_servers.pop_back();

  std::vector<std::pair<std::string, LiveEntry>> live;
  LiveEntry on_gone{LiveEntry::Kind::kPersistence,
                    Flow{Endpoint{Ep("192.0.2.7:1").ip, 0}, vs.listen}, Ep("10.0.0.4:80")};
  live.emplace_back("web", on_gone);
  auto moves = PlanMoves(old, next, live, 20000);
  ASSERT_EQ(moves.size(), 1u);
  const double share = static_cast<double>(moves[0].moved_keys) / moves[0].keys;
  EXPECT_GT(share, 0.22);
  EXPECT_LT(share, 0.28);
  ASSERT_EQ(moves[0].moves.size(), 1u);
  EXPECT_TRUE(moves[0].moves[0].server_leaves);
  ASSERT_TRUE(moves[0].moves[0].to.has_value());
  EXPECT_NE(*moves[0].moves[0].to, Ep("10.0.0.4:80"));
  const std::string text = ToString(moves);
  EXPECT_NE(text.find("service web: mh: "), std::string::npos) << text;
  EXPECT_NE(text.find("  client 192.0.2.7: 10.0.0.4:80 -> "), std::string::npos) << text;
  EXPECT_NE(text.find("(its server leaves)\n"), std::string::npos) << text;

  // The same config: nothing moves, nothing printed.
  EXPECT_TRUE(PlanMoves(old, old, live, 2000).empty());
  EXPECT_EQ(ToString(PlanMoves(old, old, live, 2000)), "");
  // Round robin has no hash space: only entries whose server leaves move.
  old.virtual_services[0].scheduler = next.virtual_services[0].scheduler = "rr";
  moves = PlanMoves(old, next, live, 2000);
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_FALSE(moves[0].hashed);
  EXPECT_EQ(moves[0].moves.size(), 1u);
}

}  // namespace
}  // namespace lbd
