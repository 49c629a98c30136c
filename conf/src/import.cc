// FinishImport(): what both converters share (see import.h): the YAML with
// each service, VRRP instance and real server commented with its source line,
// checked by lbd's own loader before it is handed out.
#include "lbd/conf/import.h"

#include <cstddef>
#include <string>

#include "lbd/conf/dump.h"
#include "lbd/conf/loader.h"

namespace lbd {
namespace {

// Appends "  # from ORIGIN" to the `  - name: NAME` line of each listed item
// of `section` (DumpConfig has a comment hook for servers only).
void CommentNames(std::string& yaml, const std::string& section,
                  const std::map<std::string, std::string>& origin) {
  const size_t start = yaml.find("\n" + section + ":\n");
  if (start == std::string::npos) return;
  size_t end = yaml.find("\n", start + section.size() + 2);
  // The section ends at the next line without indentation.
  size_t pos = end;
  while (pos != std::string::npos && pos + 1 < yaml.size() && yaml[pos + 1] == ' ') {
    const size_t line_end = yaml.find('\n', pos + 1);
    const std::string line = yaml.substr(pos + 1, line_end - pos - 1);
    constexpr std::string_view kPrefix = "  - name: ";
    if (line.starts_with(kPrefix)) {
      auto it = origin.find(line.substr(kPrefix.size()));
      if (it != origin.end()) {
        const std::string note = "  # from " + it->second;
        yaml.insert(line_end, note);
        pos = line_end + note.size();
        continue;
      }
    }
    pos = line_end;
  }
}

}  // namespace

void FinishImport(ImportResult& result, const std::string& source, const std::string& kind) {
  result.yaml.clear();
  if (!result.errors.empty()) return;
  std::string yaml = "# lbd configuration imported by `lbctl import " + kind + "` from " + source +
                     ".\n# Review the warnings lbctl printed before using it.\n";
  yaml += DumpConfig(result.config, [&](const std::string& service, Endpoint server) {
    auto it = result.server_origin.find({service, ToString(server)});
    return it == result.server_origin.end() ? std::string() : "from " + it->second;
  });
  CommentNames(yaml, "virtual_services", result.service_origin);
  CommentNames(yaml, "vrrp", result.vrrp_origin);
  LoadResult check = LoadConfigString(yaml, "<imported>");
  if (!check.errors.empty()) {
    for (const auto& e : check.errors) {
      result.errors.push_back(source +
                              ": the converted configuration is not valid: " + e.ToString());
    }
    return;
  }
  result.yaml = std::move(yaml);
}

}  // namespace lbd
