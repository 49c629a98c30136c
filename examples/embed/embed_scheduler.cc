// embed_scheduler: liblbsched on its own, with nothing of lbd around it.
//
// Builds a wrr service of three real servers (weights 4, 3, 2), schedules nine
// new connections, and keeps the per-server connection counters the way a data
// plane does: ConnectionOpened() when a connection is bound to its server,
// ConnectionDeactivated() when it starts closing (active -> inactive), and
// ConnectionClosed() when it is gone. The least-connection schedulers read
// exactly these counters.
//
// Built against the lbsched::lbsched target alone (examples/embed/CMakeLists.txt),
// which proves the library needs only the C++ standard library.
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lbsched/service.h"

namespace {

void PrintTable(const lbd::Service& svc, const char* title) {
  std::printf("\n%s\n  %-14s %6s %6s %8s\n", title, "server", "weight", "active", "inactive");
  for (const auto& rs : svc.Servers()) {
    std::printf("  %-14s %6d %6d %8d\n", lbd::ToString(rs->endpoint()).c_str(), rs->weight(),
                rs->active(), rs->inactive());
  }
}

}  // namespace

int main() {
  auto created = lbd::Service::Create("wrr");
  if (!created.ok()) {
    std::fprintf(stderr, "embed_scheduler: %s\n", created.status().message().c_str());
    return 1;
  }
  std::unique_ptr<lbd::Service> svc = std::move(created).value();

  const std::pair<const char*, int> servers[] = {
      {"10.0.0.1:8080", 4}, {"10.0.0.2:8080", 3}, {"10.0.0.3:8080", 2}};
  for (const auto& [address, weight] : servers) {
    auto endpoint = lbd::ParseEndpoint(address);
    if (!endpoint.ok()) {
      std::fprintf(stderr, "embed_scheduler: %s\n", endpoint.status().message().c_str());
      return 1;
    }
    auto added = svc->AddServer(endpoint.value(), {.weight = weight});
    if (!added.ok()) {
      std::fprintf(stderr, "embed_scheduler: %s\n", added.status().message().c_str());
      return 1;
    }
  }

  // Nine new connections from different clients to the VIP 192.0.2.10:80.
  // (Servers added one by one to a live wrr service start the first cycle at
  // cw = 1, as in the kernel: A B C, then A A B A B C ...; nine picks still
  // give each server exactly its weight.)
  const lbd::Endpoint vip = lbd::ParseEndpoint("192.0.2.10:80").value();
  std::vector<std::shared_ptr<lbd::RealServer>> connections;
  std::printf("scheduler %s, 3 real servers\n", svc->scheduler_name().c_str());
  for (uint16_t i = 0; i < 9; ++i) {
    const lbd::Flow flow{{0xC6336400u + i, static_cast<uint16_t>(40000 + i)}, vip};
    std::shared_ptr<lbd::RealServer> rs = svc->Pick(flow);
    if (rs == nullptr) {
      std::printf("pick %d: no server available\n", i + 1);
      continue;
    }
    rs->ConnectionOpened(/*active=*/true);  // bound to its server, established
    connections.push_back(rs);
    std::printf("pick %d: %s -> %s\n", i + 1, lbd::ToString(flow.source).c_str(),
                lbd::ToString(rs->endpoint()).c_str());
  }
  PrintTable(*svc, "after 9 connections:");

  // The first three connections send FIN (active -> inactive), then the first
  // two are gone.
  for (size_t i = 0; i < 3 && i < connections.size(); ++i) connections[i]->ConnectionDeactivated();
  for (size_t i = 0; i < 2 && i < connections.size(); ++i) {
    connections[i]->ConnectionClosed(/*was_active=*/false);
  }
  PrintTable(*svc, "after 3 closing, 2 closed:");
  return 0;
}
