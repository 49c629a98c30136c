// lbd: the load balancer daemon. Glue only: parse flags, load the file, run
// lbd::Daemon. See DESIGN.md for the contract of the flags.
#include <linux/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "lbd/conf/loader.h"
#include "lbd/daemon/control_client.h"
#include "lbd/daemon/daemon.h"
#include "lbd/daemon/status_report.h"
#include "lbd/sys/log.h"
#include "lbd/sys/privileges.h"
#include "lbd/sys/systemd.h"

namespace {

constexpr const char* kDefaultConfig = "/etc/lbd/lbd.yaml";

void Usage(FILE* out) {
  fprintf(out,
          "usage: lbd [-c FILE] [--check [--against SOCKET]]\n"
          "       lbd --version\n"
          "  -c, --config FILE  the YAML configuration (default %s)\n"
          "  --check            validate FILE and exit (0 valid, 1 invalid)\n"
          "  --against SOCKET   with --check: also print what a reload of the lbd at SOCKET\n"
          "                     to FILE would do (lbctl plan FILE); nothing is applied\n",
          kDefaultConfig);
}

// --check's look beyond the file: the directories the control socket and the
// state file go in must exist (lbd creates those files, not their directories).
bool CheckPaths(const lbd::Config& config) {
  bool ok = true;
  for (auto [key, path] : {std::pair{"control_socket", &config.global.control_socket},
                           std::pair{"state_file", &config.global.state_file}}) {
    if (path->empty()) continue;
    const size_t slash = path->rfind('/');
    const std::string dir =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : path->substr(0, slash));
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      fprintf(stderr, "%s: global.%s: directory %s does not exist\n", config.file.c_str(), key,
              dir.c_str());
      ok = false;
    }
  }
  return ok;
}

// global.log: auto picks the journal when stderr is connected to it.
void SetUpLogging(const lbd::Config& config) {
  const std::string& name = config.global.log;
  if (name == "auto") {
    lbd::SetLogSink(lbd::StderrIsJournal() ? lbd::LogSink::kJournal : lbd::LogSink::kStderr);
  } else if (auto sink = lbd::ParseLogSink(name)) {
    lbd::SetLogSink(*sink);
  }
}

// The capabilities lbd keeps after dropping root: binding low ports always;
// tun devices, routes, rules, addresses (NET_ADMIN) and raw/packet sockets
// (NET_RAW) when the configuration has a packet-mode service or VRRP.
std::vector<int> NeededCapabilities(const lbd::Config& config) {
  std::vector<int> caps = {CAP_NET_BIND_SERVICE};
  bool packet = !config.vrrp.empty();
  for (const auto& vs : config.virtual_services) {
    packet = packet || vs.forwarding != lbd::Forwarding::kProxy;
  }
  if (packet) {
    caps.push_back(CAP_NET_ADMIN);
    caps.push_back(CAP_NET_RAW);
  }
  return caps;
}

}  // namespace

int main(int argc, char** argv) {
  std::string file;
  bool check = false;
  std::string against;  // --check --against SOCKET: the running lbd to plan against
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "-c" || a == "--config") && i + 1 < argc) {
      file = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      file = a.substr(9);
    } else if (a == "--check" || a == "-t") {
      check = true;
    } else if (a == "--against" && i + 1 < argc) {
      against = argv[++i];
    } else if (a == "--version" || a == "-V") {
      printf("%s\n", lbd::kLbdVersion);
      return 0;
    } else if (a == "-h" || a == "--help") {
      Usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "lbd: unknown argument '%s'\n", a.c_str());
      Usage(stderr);
      return 2;
    }
  }
  if (file.empty()) file = kDefaultConfig;
  lbd::LoadResult loaded = lbd::LoadConfigFile(file);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) fprintf(stderr, "%s\n", e.ToString().c_str());
    if (!check) fprintf(stderr, "lbd: %s: configuration refused\n", file.c_str());
    return 1;
  }
  if (check) {
    if (!CheckPaths(*loaded.config)) return 1;
    printf("%s: configuration OK\n", file.c_str());
    if (against.empty()) return 0;
    char* resolved = realpath(file.c_str(), nullptr);
    const std::string path = resolved != nullptr ? resolved : file;
    free(resolved);
    auto reply = lbd::SendControlCommand(against, "plan " + path);
    if (!reply.ok()) {
      fprintf(stderr, "lbd: %s: %s\n", against.c_str(), reply.status().message().c_str());
      return 1;
    }
    fputs(reply->body.c_str(), reply->ok ? stdout : stderr);
    if (!reply->ok) fprintf(stderr, "lbd: %s\n", reply->error.c_str());
    return reply->ok ? 0 : 1;
  }
  if (!against.empty()) {
    fprintf(stderr, "lbd: --against needs --check\n");
    return 2;
  }
  SetUpLogging(*loaded.config);
  auto daemon = lbd::Daemon::Create(*loaded.config);
  if (!daemon.ok()) {
    LBD_LOG(kError, "cannot start: %s", daemon.status().message().c_str());
    return 1;
  }
  const lbd::GlobalConfig& g = loaded.config->global;
  if (!g.user.empty()) {
    const std::vector<int> caps = NeededCapabilities(*loaded.config);
    if (lbd::Status s = lbd::DropPrivileges(g.user, g.group, caps); !s.ok()) {
      LBD_LOG(kError, "cannot drop privileges: %s", s.message().c_str());
      return 1;
    }
    LBD_LOG(kInfo, "running as %s (uid %d, gid %d), capabilities %s", g.user.c_str(),
            static_cast<int>(getuid()), static_cast<int>(getgid()),
            lbd::CapabilityNames(caps).c_str());
  }
  return (*daemon)->Run();
}
