#include "lbd/daemon/runtime_state.h"

#include <gtest/gtest.h>

#include "lb_test_util.h"

namespace lbd {
namespace {

Endpoint Ep(const char* s) { return ParseEndpoint(s).value(); }

Config File(std::vector<std::pair<const char*, int>> servers) {
  Config c;
  VirtualServiceConfig vs;
  vs.name = "web";
  vs.listen = Ep("10.0.0.100:80");
  for (const auto& [address, weight] : servers) {
    RealServerConfig rs;
    rs.address = Ep(address);
    rs.weight = weight;
    vs.real_servers.push_back(rs);
  }
  c.virtual_services.push_back(vs);
  return c;
}

std::vector<std::string> Addresses(const Config& c) {
  std::vector<std::string> out;
  for (const auto& rs : c.virtual_services.at(0).real_servers) out.push_back(ToString(rs.address));
  return out;
}

TEST(RuntimeState, OverlayAddsAndRemovesAndTheFileWinsWhereItChanged) {
  RuntimeState st;
  RealServerConfig added;
  added.address = Ep("10.0.0.9:80");
  added.weight = 4;
  st.added.push_back({"web", added});
  st.removed.push_back({"web", Ep("10.0.0.2:80")});
  auto& w = st.OverrideOf("web", Ep("10.0.0.1:80"));
  w.weight = 7;
  w.file_weight = 1;
  st.OverrideOf("web", Ep("10.0.0.3:80")).disabled = true;

  Config run = Overlay(File({{"10.0.0.1:80", 1}, {"10.0.0.2:80", 1}, {"10.0.0.3:80", 1}}), &st);
  EXPECT_EQ(Addresses(run),
            (std::vector<std::string>{"10.0.0.1:80", "10.0.0.3:80", "10.0.0.9:80"}));
  EXPECT_EQ(run.virtual_services[0].real_servers[2].weight, 4);
  EXPECT_EQ(st.overrides.size(), 2u);

  // The file now lists the added server, drops the removed one, changes
  // 10.0.0.1's weight and drops 10.0.0.3: each of those records goes.
  RuntimeState next = st;
  run = Overlay(File({{"10.0.0.1:80", 2}, {"10.0.0.9:80", 1}}), &next);
  EXPECT_EQ(Addresses(run), (std::vector<std::string>{"10.0.0.1:80", "10.0.0.9:80"}));
  EXPECT_EQ(run.virtual_services[0].real_servers[1].weight, 1);  // the file's line
  EXPECT_TRUE(next.empty()) << FormatStateFile(next);

  // A service gone takes its records along.
  next = st;
  Config none;
  (void)Overlay(none, &next);
  EXPECT_TRUE(next.empty());
}

TEST(RuntimeState, FileRoundTripAndBadLinesNameTheirLine) {
  RuntimeState st;
  RealServerConfig added;
  added.address = Ep("10.0.0.9:80");
  added.weight = 4;
  added.max_conns = 10;
  added.min_conns = 5;
  st.added.push_back({"web", added});
  st.removed.push_back({"web", Ep("10.0.0.2:80")});
  auto& o = st.OverrideOf("web", Ep("10.0.0.1:80"));
  o.weight = 0;
  o.file_weight = 3;
  o.disabled = true;
  const std::string text = FormatStateFile(st);
  auto back = ParseStateFile(text, "s");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(FormatStateFile(*back), text);
  EXPECT_EQ(back->added.at(0).server.max_conns, 10u);
  EXPECT_TRUE(back->overrides.at(0).disabled);

  EXPECT_TRUE(ParseStateFile("", "s").ok());
  EXPECT_EQ(ParseStateFile("garbage\n", "s").status().message(), "s:1: expected 'lbd-state 1'");
  EXPECT_EQ(ParseStateFile("lbd-state 1\n# c\n\nweight web 10.0.0.1:80 x file 1\n", "s")
                .status()
                .message(),
            "s:4: bad weight");
  EXPECT_FALSE(ParseStateFile("lbd-state 1\nadd web 10.0.0.1:80 weight 1\n", "s").ok());
  EXPECT_FALSE(ParseStateFile("lbd-state 1\nremove web 10.0.0.1\n", "s").ok());
}

TEST(RuntimeState, WrittenAtomicallyAndReadBack) {
  lbtest::TempDir dir;
  const std::string path = dir.File("state");
  auto missing = ReadStateFile(path);
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->empty());
  RuntimeState st;
  st.OverrideOf("web", Ep("10.0.0.1:80")).disabled = true;
  ASSERT_TRUE(WriteStateFile(path, st).ok());
  auto back = ReadStateFile(path);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(FormatStateFile(*back), FormatStateFile(st));
  EXPECT_FALSE(WriteStateFile(dir.File("no/such/dir/state"), st).ok());
  EXPECT_NE(ReadStateFile(dir.path()).status().message().find(dir.path() + ":0: cannot read"),
            std::string::npos);
}

}  // namespace
}  // namespace lbd
