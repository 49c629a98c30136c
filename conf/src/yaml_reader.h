// Internal header of lbd_conf (not installed).
//
// The small toolkit the schema walk is written in: Diagnostics collects
// errors with their marks; Value is a YAML node together with the path that
// names it in messages ("virtual_services[0].listen"); MapReader checks a
// mapping's keys against the allowed list once, then hands out its values.
// Every As*/Read* reports its own type or range error and leaves the output
// untouched on failure, so callers write one line per key and never stop at
// the first problem.
//
// Only yaml-cpp's non-throwing calls are used (type tests, Scalar(), Tag(),
// Mark(), iteration); LoadConfigString() still catches at the boundary.
//
// Thread-safety: none; one loader call owns its objects.
#ifndef LBD_CONF_SRC_YAML_READER_H_
#define LBD_CONF_SRC_YAML_READER_H_

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lbd/conf/config.h"
#include "lbd/conf/loader.h"

namespace lbd::conf_internal {

// yaml-cpp's 0-based mark as a 1-based SourceMark; {0, 0} when it has none.
SourceMark ToSourceMark(const YAML::Mark& mark);

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  void Error(SourceMark mark, std::string message);
  bool empty() const { return errors_.empty(); }
  // The errors in file order (stable for equal positions).
  std::vector<ConfigError> Take();

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

class Value {
 public:
  // `fallback` is used when the node carries no useful mark (a null value's
  // mark points at the next token, so its key's mark is passed instead).
  Value(YAML::Node node, std::string path, Diagnostics* diagnostics,
        std::optional<SourceMark> fallback = std::nullopt);

  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }
  SourceMark mark() const { return mark_; }
  Diagnostics* diagnostics() const { return diagnostics_; }
  bool IsNull() const { return node_.IsNull(); }

  // Reports "PATH: message" at this value's mark.
  void Error(std::string_view message) const;
  // A child value, for sequences' items and sub-paths.
  Value Child(YAML::Node node, std::string_view suffix,
              std::optional<SourceMark> fallback = std::nullopt) const;

  // Each reports what was expected and what was found, and returns nullopt.
  std::optional<std::string> AsString() const;  // a non-empty scalar
  // A name that lbctl arguments and metric labels carry unquoted: 1..64 of
  // letters, digits, '_', '-', '.'.
  std::optional<std::string> AsName() const;
  std::optional<int64_t> AsInt(int64_t min, int64_t max) const;
  std::optional<bool> AsBool() const;
  std::optional<Duration> AsDuration(Duration min) const;
  std::optional<Endpoint> AsEndpoint() const;  // "a.b.c.d:port", port 1..65535
  std::optional<uint32_t> AsIpv4() const;      // "a.b.c.d"
  // One of `allowed`; the message lists them.
  std::optional<std::string> AsEnum(std::span<const std::string_view> allowed) const;
  // A sequence's items; null is an empty sequence; anything else is reported.
  std::vector<Value> Items() const;

  // "a mapping", "a sequence", "nothing", "'text'", for "expected X, got Y".
  std::string Describe() const;

 private:
  YAML::Node node_;
  std::string path_;
  Diagnostics* diagnostics_;
  SourceMark mark_;
};

class MapReader {
 public:
  // Reports a non-mapping (null counts as an empty mapping), keys that are not
  // scalars, duplicate keys, and keys not in `allowed` (naming the allowed
  // ones, with a suggestion when one is close).
  MapReader(const Value& map, std::initializer_list<std::string_view> allowed);

  const Value& value() const { return map_; }
  bool is_map() const { return is_map_; }
  bool Has(std::string_view key) const { return entries_.count(key) != 0; }
  std::optional<Value> Get(std::string_view key) const;
  // Reports "missing required key 'KEY'" at the mapping when absent.
  std::optional<Value> Require(std::string_view key) const;
  // The mark of the key itself, for errors about the key's presence.
  SourceMark KeyMark(std::string_view key) const;
  // Reports at KEY's key: "PATH.KEY: REASON" when KEY is present.
  void Reject(std::string_view key, std::string_view reason) const;

  // Read*: when KEY is present and valid, store it in *out and return true.
  bool Read(std::string_view key, std::string* out) const;
  bool Read(std::string_view key, bool* out) const;
  bool Read(std::string_view key, int* out, int64_t min, int64_t max) const;
  bool Read(std::string_view key, uint32_t* out, int64_t min, int64_t max) const;
  bool Read(std::string_view key, Endpoint* out) const;
  bool Read(std::string_view key, std::optional<Endpoint>* out) const;
  bool ReadDuration(std::string_view key, Duration* out, Duration min) const;

 private:
  struct Entry {
    SourceMark key_mark;
    Value value;
  };

  Value map_;
  bool is_map_ = false;
  std::map<std::string, Entry, std::less<>> entries_;
};

// Remembers where each key (a name, an address) was first seen, and reports a
// later one: "PATH: duplicate WHAT 'KEY' (first at FIRST_PATH, line L:C)".
class UniqueSet {
 public:
  // Returns false (after reporting at `where`) if `key` was seen before.
  bool Insert(const std::string& key, const Value& where, std::string_view what);

 private:
  struct First {
    SourceMark mark;
    std::string path;
  };
  std::map<std::string, First, std::less<>> seen_;
};

}  // namespace lbd::conf_internal

#endif  // LBD_CONF_SRC_YAML_READER_H_
