// lbd: the load balancer daemon. Glue only: parse flags, load the file, run
// lbd::Daemon. See DESIGN.md for the contract of the flags.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "lbd/conf/loader.h"
#include "lbd/daemon/control_client.h"
#include "lbd/daemon/daemon.h"
#include "lbd/daemon/status_report.h"
#include "lbd/sys/log.h"

namespace {

void Usage(FILE* out) {
  fprintf(out,
          "usage: lbd -c FILE [--check [--against SOCKET]]\n"
          "       lbd --version\n"
          "  -c, --config FILE  the YAML configuration\n"
          "  --check            validate FILE and exit (0 valid, 1 invalid)\n"
          "  --against SOCKET   with --check: also print what a reload of the lbd at SOCKET\n"
          "                     to FILE would do (lbctl plan FILE); nothing is applied\n");
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
  if (file.empty()) {
    Usage(stderr);
    return 2;
  }
  lbd::LoadResult loaded = lbd::LoadConfigFile(file);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) fprintf(stderr, "%s\n", e.ToString().c_str());
    if (!check) fprintf(stderr, "lbd: %s: configuration refused\n", file.c_str());
    return 1;
  }
  if (check) {
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
  auto daemon = lbd::Daemon::Create(*loaded.config);
  if (!daemon.ok()) {
    LBD_LOG(kError, "cannot start: %s", daemon.status().message().c_str());
    return 1;
  }
  return (*daemon)->Run();
}
