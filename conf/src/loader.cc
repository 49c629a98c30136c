// LoadConfigFile / LoadConfigString: the boundary where YAML text becomes a
// Config or a list of errors, and where yaml-cpp's exceptions stop.
#include "lbd/conf/loader.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <exception>
#include <optional>
#include <sstream>
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
    ReadServices(*services, config.global, &addresses, &config.virtual_services);
  }
  if (auto vrrp = map.Get("vrrp")) ReadVrrp(*vrrp, config.virtual_services, &config.vrrp);
  return config;
}

}  // namespace conf_internal

namespace {

// What one document of the stream held, from the parser's events.
class DocumentProbe : public YAML::EventHandler {
 public:
  bool empty() const { return empty_; }
  const YAML::Mark& mark() const { return mark_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark, true); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark, false); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Node(mark, false);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Node(mark, false);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Node(mark, false);
  }
  void OnMapEnd() override {}

 private:
  // The document's root is its first node.
  void Node(const YAML::Mark& mark, bool null) {
    if (seen_) return;
    seen_ = true;
    empty_ = null;
    mark_ = mark;
  }
  bool seen_ = false;
  bool empty_ = true;
  YAML::Mark mark_ = YAML::Mark::null_mark();
};

// Checks that the stream holds one document (empty ones after it are fine).
// Not YAML::LoadAll: on a token its parser cannot place (a ',' outside a flow
// collection) yaml-cpp 0.7 reports an empty document without consuming
// anything, so LoadAll loops for ever, allocating (jbeder/yaml-cpp#1040,
// fixed upstream by #1319). An empty document at the same place as the one
// before it is that case, reported as a syntax error.
void CheckOneDocument(const std::string& yaml, conf_internal::Diagnostics* diagnostics) {
  std::istringstream input(yaml);
  YAML::Parser parser(input);
  std::optional<YAML::Mark> last_empty;
  for (size_t i = 0;; ++i) {
    DocumentProbe probe;
    if (!parser.HandleNextDocument(probe)) return;
    const YAML::Mark& mark = probe.mark();
    if (probe.empty()) {
      if (last_empty && last_empty->pos == mark.pos) {
        diagnostics->Error(conf_internal::ToSourceMark(mark), "syntax error: unexpected token");
        return;
      }
      last_empty = mark;
      continue;
    }
    last_empty.reset();
    if (i > 0) {
      diagnostics->Error(conf_internal::ToSourceMark(mark),
                         "the file holds more than one YAML document; lbd reads one");
      return;
    }
  }
}

}  // namespace

LoadResult LoadConfigString(std::string_view yaml, const std::string& file_name) {
  using conf_internal::Diagnostics;
  using conf_internal::ToSourceMark;
  LoadResult result;
  Diagnostics diagnostics(file_name);
  try {
    const std::string text(yaml);
    // A trailing "---" opens an empty document: harmless, so not an error.
    CheckOneDocument(text, &diagnostics);
    YAML::Node root = YAML::Load(text);  // the first document
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
