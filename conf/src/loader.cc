// LoadConfigFile / LoadConfigString. Minimal first version: reads the file and
// reports YAML syntax errors; the schema walk follows.
#include "lbd/conf/loader.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <exception>

namespace lbd {

LoadResult LoadConfigString(std::string_view yaml, const std::string& file_name) {
  LoadResult result;
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    (void)root;
  } catch (const YAML::Exception& e) {
    result.errors.push_back({file_name, e.mark.line + 1, e.mark.column + 1, e.msg});
    return result;
  } catch (const std::exception& e) {
    result.errors.push_back({file_name, 0, 0, std::string("internal error: ") + e.what()});
    return result;
  }
  Config config;
  config.file = file_name;
  result.config = std::move(config);
  return result;
}

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
    result.errors.push_back({path, 0, 0, std::string("cannot read: ") + std::strerror(error)});
    return result;
  }
  return LoadConfigString(text, path);
}

}  // namespace lbd
