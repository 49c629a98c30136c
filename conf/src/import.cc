// FinishImport(): what both converters share (see import.h): the YAML with
// each service, VRRP instance and real server commented with its source line,
// checked by lbd's own loader before it is handed out.
#include "lbd/conf/import.h"

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "lbd/conf/dump.h"
#include "lbd/conf/loader.h"

namespace lbd {
namespace {

// Appends "  # from ORIGIN" to the `  - name: NAME` line of each listed item
// of `section` (DumpConfig has a comment hook for servers only). One pass:
// the text may hold many thousands of services.
std::string CommentNames(const std::string& yaml, const std::string& section,
                         const std::map<std::string, std::string>& origin) {
  std::string out;
  out.reserve(yaml.size() + origin.size() * 48);
  bool inside = false;
  size_t pos = 0;
  while (pos < yaml.size()) {
    size_t end = yaml.find('\n', pos);
    if (end == std::string::npos) end = yaml.size();
    const std::string_view line(yaml.data() + pos, end - pos);
    if (!line.empty() && line[0] != ' ') inside = line == section + ":";
    out += line;
    constexpr std::string_view kPrefix = "  - name: ";
    if (inside && line.starts_with(kPrefix)) {
      auto it = origin.find(std::string(line.substr(kPrefix.size())));
      if (it != origin.end()) out += "  # from " + it->second;
    }
    out += '\n';
    pos = end + 1;
  }
  return out;
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
  yaml = CommentNames(yaml, "virtual_services", result.service_origin);
  yaml = CommentNames(yaml, "vrrp", result.vrrp_origin);
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
