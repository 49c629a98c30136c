// lbctl: talks to a running lbd over its control socket. Glue only.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "lbd/daemon/control_client.h"
#include "lbd/daemon/control_protocol.h"
#include "lbd/daemon/status_report.h"

namespace lbd {
int RunTop(const std::string& socket_path, int argc, char** argv);  // lbctl_top.cc
int RunImport(int argc, char** argv);                               // lbctl_import.cc
}  // namespace lbd

namespace {

constexpr const char* kDefaultSocket = "/run/lbd/lbd.sock";

void Usage(FILE* out) {
  fprintf(out,
          "usage: lbctl [-s SOCKET] COMMAND\n"
          "  status [--json]          services and real servers (like ipvsadm -Ln)\n"
          "  stats [--json]           totals and rates of connections and bytes\n"
          "  flows [SVC] [--max N] [--json]\n"
          "                           nat/dr/tun flows like ipvsadm -Lnc (first N, default 1000,\n"
          "                           at most 100000)\n"
          "  weight SVC IP:PORT N     set a real server's weight (0..65535)\n"
          "  drain SVC IP:PORT        weight 0: existing connections continue\n"
          "  enable SVC IP:PORT       clear a maintenance 'down'\n"
          "  disable SVC IP:PORT      mark a real server down for maintenance\n"
          "  add-server SVC IP:PORT [weight N] [max_conns N]\n"
          "                           add a real server at run time\n"
          "  remove-server SVC IP:PORT\n"
          "                           remove one (it leaves the scheduler; its connections\n"
          "                           continue)\n"
          "  reload                   re-read the configuration file\n"
          "  top [--interval S] [--iterations N]  live view with rates; q quits\n"
          "  dump                     the running configuration, runtime changes included, as\n"
          "                           YAML that lbd -c FILE --check accepts\n"
          "  plan FILE                what a reload to FILE would do (nothing is applied)\n"
          "  import keepalived|ipvsadm [--strict] FILE\n"
          "                           convert keepalived.conf or ipvsadm -S -n rules (- for\n"
          "                           stdin) to lbd YAML on stdout, locally; warnings on stderr\n"
          "  -s SOCKET                control socket (default %s)\n"
          "  --version                print the version\n",
          kDefaultSocket);
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path = kDefaultSocket;
  std::string line;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (line.empty() && (a == "-s" || a == "--socket")) {
      if (i + 1 >= argc) {
        Usage(stderr);
        return 2;
      }
      socket_path = argv[++i];
    } else if (line.empty() && a == "top") {
      return lbd::RunTop(socket_path, argc - i - 1, argv + i + 1);
    } else if (line.empty() && a == "import") {
      return lbd::RunImport(argc - i - 1, argv + i + 1);
    } else if (line.empty() && (a == "-h" || a == "--help")) {
      Usage(stdout);
      return 0;
    } else if (line.empty() && (a == "--version" || a == "-V")) {
      printf("%s\n", lbd::kLbdVersion);
      return 0;
    } else if (line == "plan" && a.front() != '/') {
      // lbd resolves paths from its own working directory: send ours.
      char* resolved = realpath(a.c_str(), nullptr);
      line += ' ';
      line += resolved != nullptr ? resolved : a;
      free(resolved);
    } else {
      if (!line.empty()) line += ' ';
      line += a;
    }
  }
  if (line.empty()) {
    Usage(stderr);
    return 2;
  }
  if (line.find('\n') != std::string::npos) {
    fprintf(stderr, "lbctl: arguments may not contain newlines\n");
    return 2;
  }
  auto cmd = lbd::ParseCommand(line);
  if (!cmd.ok()) {
    fprintf(stderr, "lbctl: %s\n", cmd.status().message().c_str());
    return 2;
  }
  auto reply = lbd::SendControlCommand(socket_path, line);
  if (!reply.ok()) {
    fprintf(stderr, "lbctl: %s\n", reply.status().message().c_str());
    return 1;
  }
  const bool reload = cmd->kind == lbd::Command::Kind::kReload;
  if (!reply->ok) {
    // reload: its errors alone, one per line (a config's FILE:LINE:COL ones).
    if (!reload || reply->body.empty()) fprintf(stderr, "lbctl: %s\n", reply->error.c_str());
    fputs(reply->body.c_str(), stderr);
    return 1;
  }
  fputs(reply->body.c_str(), stdout);
  if (reload) puts("reloaded");
  return 0;
}
