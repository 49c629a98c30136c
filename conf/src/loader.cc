// LoadConfigFile / LoadConfigString: the boundary where YAML text becomes a
// Config or a list of errors, and where yaml-cpp's exceptions stop.
#include "lbd/conf/loader.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <exception>
#include <system_error>

#include "sections.h"
#include "yaml_reader.h"

namespace lbd {
namespace conf_internal {

Config ReadConfig(const Value& root) {
  Config config;
  MapReader map(root, {"global", "virtual_services", "vrrp"});
  UniqueSet addresses;
  if (auto global = map.Get("global")) ReadGlobal(*global, &addresses, &config.global);
  if (auto services = map.Get("virtual_services")) {
    ReadServices(*services, &addresses, &config.virtual_services);
  }
  if (auto vrrp = map.Get("vrrp")) ReadVrrp(*vrrp, config.virtual_services, &config.vrrp);
  return config;
}

}  // namespace conf_internal

LoadResult LoadConfigString(std::string_view yaml, const std::string& file_name) {
  using conf_internal::Diagnostics;
  using conf_internal::ToSourceMark;
  LoadResult result;
  Diagnostics diagnostics(file_name);
  try {
    std::vector<YAML::Node> documents = YAML::LoadAll(std::string(yaml));
    // A trailing "---" opens an empty document: harmless, so not an error.
    for (size_t i = 1; i < documents.size(); ++i) {
      if (documents[i].IsNull()) continue;
      diagnostics.Error(ToSourceMark(documents[i].Mark()),
                        "the file holds more than one YAML document; lbd reads one");
      break;
    }
    YAML::Node root = documents.empty() ? YAML::Node() : documents[0];
    Config config = conf_internal::ReadConfig(conf_internal::Value(root, "", &diagnostics));
    if (diagnostics.empty()) {
      config.file = file_name;
      result.config = std::move(config);
    }
  } catch (const YAML::Exception& e) {
    // Syntax errors; the walk itself uses only non-throwing calls.
    diagnostics.Error(ToSourceMark(e.mark), e.msg);
  } catch (const std::exception& e) {
    diagnostics.Error(SourceMark{}, std::string("internal error: ") + e.what());
  }
  result.errors = diagnostics.Take();
  if (!result.errors.empty()) result.config.reset();
  return result;
}

// Far beyond any real configuration; stops `lbd -c /dev/zero` from eating memory.
constexpr size_t kMaxFileSize = 16 << 20;

LoadResult LoadConfigFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  std::string text;
  int error = 0;
  if (fd < 0) {
    error = errno;
  } else {
    char buffer[64 * 1024];
    for (;;) {
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n > 0) {
        text.append(buffer, static_cast<size_t>(n));
        if (text.size() > kMaxFileSize) {
          error = EFBIG;
          break;
        }
      } else if (n == 0) {
        break;
      } else if (errno != EINTR) {
        error = errno;
        break;
      }
    }
    ::close(fd);
  }
  if (error != 0) {
    LoadResult result;
    result.errors.push_back({path, 0, 0, "cannot read: " + std::generic_category().message(error)});
    return result;
  }
  return LoadConfigString(text, path);
}

}  // namespace lbd
