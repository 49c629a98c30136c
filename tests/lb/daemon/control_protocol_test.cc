#include "lbd/daemon/control_protocol.h"

#include <gtest/gtest.h>

#include <random>

namespace lbd {
namespace {

TEST(ParseCommand, AcceptsEveryCommand) {
  auto s = ParseCommand("status");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->kind, Command::Kind::kStatus);
  EXPECT_FALSE(s->json);
  auto sj = ParseCommand("  stats   --json \r");
  ASSERT_TRUE(sj.ok());
  EXPECT_EQ(sj->kind, Command::Kind::kStats);
  EXPECT_TRUE(sj->json);
  auto w = ParseCommand("weight shop 127.0.0.1:9001 7");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->kind, Command::Kind::kWeight);
  EXPECT_EQ(w->service, "shop");
  EXPECT_EQ(ToString(w->server), "127.0.0.1:9001");
  EXPECT_EQ(w->weight, 7);
  EXPECT_EQ(ParseCommand("drain shop 10.0.0.1:80")->kind, Command::Kind::kDrain);
  EXPECT_EQ(ParseCommand("enable shop 10.0.0.1:80")->kind, Command::Kind::kEnable);
  EXPECT_EQ(ParseCommand("disable shop 10.0.0.1:80")->kind, Command::Kind::kDisable);
  EXPECT_EQ(ParseCommand("reload")->kind, Command::Kind::kReload);
  auto f = ParseCommand("flows");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->kind, Command::Kind::kFlows);
  EXPECT_EQ(f->service, "");
  EXPECT_EQ(f->max_flows, kDefaultFlowsListed);
  EXPECT_FALSE(f->json);
  auto fs = ParseCommand("flows web --max 5 --json");
  ASSERT_TRUE(fs.ok());
  EXPECT_EQ(fs->service, "web");
  EXPECT_EQ(fs->max_flows, 5u);
  EXPECT_TRUE(fs->json);
  EXPECT_EQ(ParseCommand("flows --json --max 100000 web")->max_flows, kMaxFlowsListed);
  EXPECT_EQ(ParseCommand("weight shop 10.0.0.1:80 0")->weight, 0);
  EXPECT_EQ(ParseCommand("weight shop 10.0.0.1:80 65535")->weight, 65535);
}

TEST(ParseCommand, RuntimeServerCommandsDumpAndPlan) {
  auto add = ParseCommand("add-server web 10.0.0.9:80 weight 7 max_conns 100");
  ASSERT_TRUE(add.ok()) << add.status().message();
  EXPECT_EQ(add->kind, Command::Kind::kAddServer);
  EXPECT_EQ(add->service, "web");
  EXPECT_EQ(ToString(add->server), "10.0.0.9:80");
  EXPECT_EQ(add->weight, 7);
  EXPECT_EQ(add->max_conns, 100u);
  auto plain = ParseCommand("add-server web 10.0.0.9:80");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->weight, 1);
  EXPECT_EQ(plain->max_conns, 0u);
  auto rm = ParseCommand("remove-server web 10.0.0.9:80");
  ASSERT_TRUE(rm.ok());
  EXPECT_EQ(rm->kind, Command::Kind::kRemoveServer);
  EXPECT_EQ(ParseCommand("dump")->kind, Command::Kind::kDump);
  auto plan = ParseCommand("plan /etc/lbd/new config.yaml ");
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->kind, Command::Kind::kPlan);
  EXPECT_EQ(plan->path, "/etc/lbd/new config.yaml");

  for (const char* bad :
       {"add-server web", "add-server web 10.0.0.9:80 weight",
        "add-server web 10.0.0.9:80 weight 70000", "add-server web 10.0.0.9:80 max_conns -1",
        "add-server web 10.0.0.9:80 colour red", "add-server web nohost", "remove-server web",
        "remove-server web 10.0.0.9:80 x", "dump x", "plan", "add-server bad/name 10.0.0.9:80"}) {
    EXPECT_FALSE(ParseCommand(bad).ok()) << bad;
  }
}

TEST(ParseCommand, RejectsBadInputWithAClearMessage) {
  struct Case {
    const char* line;
    const char* needle;
  };
  const Case cases[] = {
      {"", "empty"},
      {"   ", "empty"},
      {"bogus", "unknown command 'bogus'"},
      {"status --yaml", "unknown option"},
      {"reload now", "usage: reload"},
      {"weight shop 127.0.0.1:9001", "usage: weight"},
      {"weight shop 127.0.0.1:9001 1 2", "usage: weight"},
      {"weight shop 127.0.0.1:9001 -1", "bad weight"},
      {"weight shop 127.0.0.1:9001 65536", "bad weight"},
      {"weight shop 127.0.0.1:9001 3x", "bad weight"},
      {"weight shop 127.0.0.1:9001 99999999999999999999", "bad weight"},
      {"drain shop", "usage: drain"},
      {"drain shop 300.0.0.1:80", "bad real server"},
      {"drain shop 127.0.0.1", "bad real server"},
      {"enable shop 127.0.0.1:0", "bad real server"},
      {"disable", "usage: disable"},
      {"flows --max", "usage: flows"},
      {"flows --max 0", "bad --max '0'"},
      {"flows --max -3", "bad --max"},
      {"flows --max 100001", "bad --max '100001': expected 1..100000"},
      {"flows --max 12x", "bad --max"},
      {"flows --max 99999999999999999999999", "bad --max"},
      {"flows web --verbose", "unknown option '--verbose' for flows"},
      {"flows web other", "usage: flows"},
      {"\x01\x02\xff", "unknown command '?\?\?'"},
  };
  for (const Case& c : cases) {
    auto r = ParseCommand(c.line);
    ASSERT_FALSE(r.ok()) << c.line;
    EXPECT_NE(r.status().message().find(c.needle), std::string::npos)
        << c.line << " -> " << r.status().message();
  }
  // Huge garbage is refused without echoing all of it back.
  auto huge = ParseCommand(std::string(100000, 'x'));
  ASSERT_FALSE(huge.ok());
  EXPECT_LT(huge.status().message().size(), 200u);
}

TEST(ParseCommand, ServiceNamesAreConfigNames) {
  // Names as the config allows them (1..64 letters, digits, '_', '-', '.'):
  // anything else is refused here, printable, before the daemon echoes it.
  EXPECT_EQ(ParseCommand("drain a-b_c.9 10.0.0.1:80")->service, "a-b_c.9");
  EXPECT_EQ(ParseCommand("flows " + std::string(64, 's'))->service, std::string(64, 's'));
  const std::vector<std::string> bad = {
      "weight \xff\xfe 10.0.0.1:80 1",
      "drain we\x01b 10.0.0.1:80",
      "enable a/b 10.0.0.1:80",
      "disable " + std::string(65, 's') + " 10.0.0.1:80",
      "flows sh\xc3\xa9p",
      std::string("flows a\0b", 9),
  };
  for (const std::string& line : bad) {
    auto r = ParseCommand(line);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.status().message().rfind("bad service name '", 0), 0u) << r.status().message();
  }
}

TEST(ParseCommand, RandomLinesNeverCrashAndAnswerInPrintableText) {
  // Mutations of valid commands plus random bytes (seeded: reproducible).
  const std::vector<std::string> seeds = {"status --json",
                                          "stats",
                                          "flows web --max 5 --json",
                                          "weight web 127.0.0.1:9001 7",
                                          "drain web 127.0.0.1:9001",
                                          "enable web 127.0.0.1:9001",
                                          "disable web 10.0.0.1:80",
                                          "reload"};
  std::mt19937 rng(20261125);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  for (int i = 0; i < 20000; ++i) {
    std::string line = seeds[pick(seeds.size())];
    const int edits = 1 + static_cast<int>(pick(6));
    for (int e = 0; e < edits; ++e) {
      const size_t at = line.empty() ? 0 : pick(line.size() + 1);
      const char byte = static_cast<char>(pick(256));
      switch (pick(5)) {
        case 0:
          line.insert(at, 1, byte);
          break;
        case 1:
          if (at < line.size()) line[at] = byte;
          break;
        case 2:
          if (at < line.size()) line.erase(at, 1 + pick(4));
          break;
        case 3:
          line.insert(at, pick(2) ? " " : "99999999999999999999");
          break;
        default:
          line.insert(at, std::string(pick(3) ? 1 : 5000, pick(2) ? '\t' : 'x'));
          break;
      }
    }
    auto r = ParseCommand(line);
    if (r.ok()) {
      for (char c : r->service) {
        EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')
            << "service " << r->service;
      }
      EXPECT_LE(r->service.size(), 64u);
      continue;
    }
    const std::string m = r.status().message();
    EXPECT_LT(m.size(), 300u);
    for (char c : m) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "in: " << m;
  }
}

TEST(Reply, EncodeDecodeRoundTrip) {
  std::string ok = EncodeReply(Status::Ok(), "line one\n\nline two");
  EXPECT_EQ(ok, "OK\nline one\nline two\n\n");
  auto r = DecodeReply(ok);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_TRUE((*r)->ok);
  EXPECT_EQ((*r)->body, "line one\nline two\n");

  std::string err = EncodeReply(Status::Error("no service 'x'\nsecond"), "");
  EXPECT_EQ(err, "ERR no service 'x' second\n\n");
  auto e = DecodeReply(err);
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_FALSE((*e)->ok);
  EXPECT_EQ((*e)->error, "no service 'x' second");
  EXPECT_EQ((*e)->body, "");
}

TEST(Reply, PartialAndMalformed) {
  for (const char* partial : {"", "O", "OK", "OK\n", "OK\nbody\n"}) {
    auto r = DecodeReply(partial);
    ASSERT_TRUE(r.ok()) << partial;
    EXPECT_FALSE(r->has_value()) << partial;
  }
  EXPECT_FALSE(DecodeReply("HELLO\n\n").ok());
  EXPECT_FALSE(DecodeReply("\n\n").ok());
}

TEST(LineSplitter, SplitsAndCapsLines) {
  LineSplitter s;
  std::string line;
  s.Append("sta");
  EXPECT_EQ(s.Pop(&line), LineSplitter::Next::kNeedMore);
  s.Append("tus\nreload\nwei");
  ASSERT_EQ(s.Pop(&line), LineSplitter::Next::kLine);
  EXPECT_EQ(line, "status");
  ASSERT_EQ(s.Pop(&line), LineSplitter::Next::kLine);
  EXPECT_EQ(line, "reload");
  EXPECT_EQ(s.Pop(&line), LineSplitter::Next::kNeedMore);

  LineSplitter big;
  big.Append(std::string(kMaxControlLine + 1, 'a'));
  EXPECT_EQ(big.Pop(&line), LineSplitter::Next::kTooLong);
  LineSplitter big_line;
  big_line.Append(std::string(kMaxControlLine + 10, 'a') + "\n");
  EXPECT_EQ(big_line.Pop(&line), LineSplitter::Next::kTooLong);
}

}  // namespace
}  // namespace lbd
