// `lbctl import keepalived|ipvsadm [--strict] FILE`: converts locally (no
// daemon) with lbd_conf's importers (lbd/conf/import.h). The YAML goes to
// stdout only when the conversion is complete; warnings and errors go to
// stderr, one per line with the source's FILE:LINE.
#include <cstdio>
#include <string>

#include "lbd/conf/import.h"

namespace lbd {

// Exit status: 0 converted; 1 errors (nothing printed on stdout), or
// warnings with --strict (the YAML is still printed); 2 usage.
int RunImport(int argc, char** argv) {
  std::string kind, file;
  bool strict = false;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--strict") {
      strict = true;
    } else if (kind.empty()) {
      kind = a;
    } else if (file.empty()) {
      file = a;
    } else {
      file.clear();
      break;
    }
  }
  if ((kind != "keepalived" && kind != "ipvsadm") || file.empty()) {
    fprintf(stderr,
            "usage: lbctl import keepalived [--strict] FILE\n"
            "       lbctl import ipvsadm [--strict] FILE|-\n");
    return 2;
  }
  const ImportResult r =
      kind == "keepalived" ? ImportKeepalivedFile(file) : ImportIpvsadmFile(file);
  for (const auto& w : r.warnings) fprintf(stderr, "%s\n", w.c_str());
  for (const auto& e : r.errors) fprintf(stderr, "%s: error: %s\n", "lbctl", e.c_str());
  if (!r.errors.empty() || r.yaml.empty()) {
    fprintf(stderr, "lbctl: import failed: %zu error(s), nothing written\n", r.errors.size());
    return 1;
  }
  fputs(r.yaml.c_str(), stdout);
  if (fflush(stdout) != 0) {
    perror("lbctl: stdout");
    return 1;
  }
  if (strict && !r.warnings.empty()) {
    fprintf(stderr, "lbctl: --strict: %zu warning(s)\n", r.warnings.size());
    return 1;
  }
  return 0;
}

}  // namespace lbd
