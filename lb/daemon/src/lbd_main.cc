// lbd: the load balancer daemon. Glue only: parse flags, load the file, run
// lbd::Daemon. See DESIGN.md for the contract of the flags.
#include <linux/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "lbd/conf/loader.h"
#include "lbd/daemon/daemon.h"
#include "lbd/daemon/status_report.h"
#include "lbd/sys/log.h"
#include "lbd/sys/privileges.h"
#include "lbd/sys/systemd.h"

namespace {

constexpr const char* kDefaultConfig = "/etc/lbd/lbd.yaml";

void Usage(FILE* out) {
  fprintf(out,
          "usage: lbd [-c FILE] [--check]\n"
          "       lbd --version\n"
          "  -c, --config FILE  the YAML configuration (default %s)\n"
          "  --check            validate FILE and exit (0 valid, 1 invalid)\n",
          kDefaultConfig);
}

// --check's look beyond the file: the directory the control socket goes in
// must exist (lbd creates the socket, not its directory).
bool CheckPaths(const lbd::Config& config) {
  const std::string& path = config.global.control_socket;
  const std::string dir = path.find('/') == std::string::npos
                              ? "."
                              : (path.rfind('/') == 0 ? "/" : path.substr(0, path.rfind('/')));
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    fprintf(stderr, "%s: global.control_socket: directory %s does not exist\n", config.file.c_str(),
            dir.c_str());
    return false;
  }
  return true;
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
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "-c" || a == "--config") && i + 1 < argc) {
      file = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      file = a.substr(9);
    } else if (a == "--check" || a == "-t") {
      check = true;
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
    return 0;
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
