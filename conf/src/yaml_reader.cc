#include "yaml_reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <tuple>

namespace lbd::conf_internal {
namespace {

std::string Quote(std::string_view text) { return "'" + std::string(text) + "'"; }

std::string Join(std::span<const std::string_view> words, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += separator;
    out += words[i];
  }
  return out;
}

// Levenshtein distance, for "did you mean" on unknown keys.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string RangeText(int64_t min, int64_t max) {
  if (max == std::numeric_limits<int64_t>::max() || max == std::numeric_limits<int>::max() ||
      max == std::numeric_limits<uint32_t>::max()) {
    return ">= " + std::to_string(min);
  }
  return std::to_string(min) + ".." + std::to_string(max);
}

std::string MarkText(SourceMark mark) {
  return "line " + std::to_string(mark.line) + ":" + std::to_string(mark.column);
}

// A plain scalar (or one tagged !!int / !!bool explicitly), as opposed to a
// quoted string, which is never taken for a number or a boolean.
bool IsPlainScalar(const YAML::Node& node, std::string_view explicit_tag) {
  return node.IsScalar() && (node.Tag() == "?" || node.Tag() == explicit_tag);
}

}  // namespace

SourceMark ToSourceMark(const YAML::Mark& mark) {
  if (mark.line < 0 || mark.column < 0) return SourceMark{};
  return SourceMark{mark.line + 1, mark.column + 1};
}

void Diagnostics::Error(SourceMark mark, std::string message) {
  errors_.push_back(ConfigError{file_, mark.line, mark.column, std::move(message)});
}

std::vector<ConfigError> Diagnostics::Take() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  return std::move(errors_);
}

Value::Value(YAML::Node node, std::string path, Diagnostics* diagnostics,
             std::optional<SourceMark> fallback)
    : node_(std::move(node)), path_(std::move(path)), diagnostics_(diagnostics) {
  SourceMark own = ToSourceMark(node_.Mark());
  if (fallback && (node_.IsNull() || own.line == 0)) {
    mark_ = *fallback;
  } else {
    mark_ = own;
  }
}

void Value::Error(std::string_view message) const {
  diagnostics_->Error(mark_,
                      path_.empty() ? std::string(message) : path_ + ": " + std::string(message));
}

Value Value::Child(YAML::Node node, std::string_view suffix,
                   std::optional<SourceMark> fallback) const {
  return Value(std::move(node), path_ + std::string(suffix), diagnostics_, fallback);
}

std::string Value::Describe() const {
  if (!node_.IsDefined() || node_.IsNull()) return "nothing";
  if (node_.IsMap()) return "a mapping";
  if (node_.IsSequence()) return "a sequence";
  if (node_.Tag() == "!") return "the quoted string \"" + node_.Scalar() + "\"";
  return Quote(node_.Scalar());
}

std::optional<std::string> Value::AsString() const {
  if (!node_.IsScalar()) {
    Error("expected a string, got " + Describe());
    return std::nullopt;
  }
  if (node_.Scalar().empty()) {
    Error("must not be empty");
    return std::nullopt;
  }
  return node_.Scalar();
}

std::optional<std::string> Value::AsName() const {
  constexpr size_t kMaxName = 64;
  auto text = AsString();
  if (!text) return std::nullopt;
  bool ok = text->size() <= kMaxName;
  for (char c : *text) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  }
  if (!ok) {
    Error("bad name " + Quote(*text) + " (expected 1..64 letters, digits, '_', '-' or '.')");
    return std::nullopt;
  }
  return text;
}

std::optional<int64_t> Value::AsInt(int64_t min, int64_t max) const {
  if (!IsPlainScalar(node_, "tag:yaml.org,2002:int")) {
    Error("expected an integer, got " + Describe());
    return std::nullopt;
  }
  const std::string& text = node_.Scalar();
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range) {
    Error(text + " is out of range (expected " + RangeText(min, max) + ")");
    return std::nullopt;
  }
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    Error("expected an integer, got " + Describe());
    return std::nullopt;
  }
  if (v < min || v > max) {
    Error(text + " is out of range (expected " + RangeText(min, max) + ")");
    return std::nullopt;
  }
  return v;
}

std::optional<bool> Value::AsBool() const {
  if (IsPlainScalar(node_, "tag:yaml.org,2002:bool")) {
    std::string text = node_.Scalar();
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (text == "true" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "no" || text == "off") return false;
  }
  Error("expected true or false, got " + Describe());
  return std::nullopt;
}

std::optional<Duration> Value::AsDuration(Duration min) const {
  if (!node_.IsScalar()) {
    Error("expected a duration such as 500ms, 2s or 5m, got " + Describe());
    return std::nullopt;
  }
  auto d = ParseDuration(node_.Scalar());
  if (!d.ok()) {
    Error(d.status().message());
    return std::nullopt;
  }
  if (*d < min) {
    Error(min == Duration(1) ? "must be greater than 0"
                             : "must be at least " + std::to_string(min.count()) + "ms");
    return std::nullopt;
  }
  return *d;
}

std::optional<Endpoint> Value::AsEndpoint() const {
  if (!node_.IsScalar()) {
    Error("expected an address IP:PORT, got " + Describe());
    return std::nullopt;
  }
  auto e = ParseEndpoint(node_.Scalar());
  if (!e.ok()) {
    Error(e.status().message());
    return std::nullopt;
  }
  return *e;
}

std::optional<uint32_t> Value::AsIpv4() const {
  if (!node_.IsScalar()) {
    Error("expected an IPv4 address, got " + Describe());
    return std::nullopt;
  }
  auto e = ParseIpv4(node_.Scalar());
  if (!e.ok()) {
    Error(e.status().message());
    return std::nullopt;
  }
  return e->ip;
}

std::optional<std::string> Value::AsEnum(std::span<const std::string_view> allowed) const {
  if (node_.IsScalar()) {
    const std::string& text = node_.Scalar();
    if (std::find(allowed.begin(), allowed.end(), text) != allowed.end()) return text;
  }
  Error("expected one of " + Join(allowed, ", ") + "; got " + Describe());
  return std::nullopt;
}

std::vector<Value> Value::Items() const {
  std::vector<Value> items;
  if (!node_.IsDefined() || node_.IsNull()) return items;
  if (!node_.IsSequence()) {
    Error("expected a sequence, got " + Describe());
    return items;
  }
  size_t i = 0;
  for (const YAML::Node& item : node_) {
    items.push_back(Child(item, "[" + std::to_string(i++) + "]"));
  }
  return items;
}

MapReader::MapReader(const Value& map, std::initializer_list<std::string_view> allowed)
    : map_(map) {
  const YAML::Node& node = map.node();
  if (!node.IsDefined() || node.IsNull()) {
    is_map_ = true;
    return;
  }
  if (!node.IsMap()) {
    map.Error("expected a mapping, got " + map.Describe());
    return;
  }
  is_map_ = true;
  std::vector<std::string_view> allowed_list(allowed);
  for (auto it = node.begin(); it != node.end(); ++it) {
    Value key(it->first, map.path(), map.diagnostics());
    if (!it->first.IsScalar()) {
      key.Error("expected a key (a plain string), got " + key.Describe());
      continue;
    }
    const std::string& name = it->first.Scalar();
    std::string prefix = map.path().empty() ? "" : ".";
    if (std::find(allowed_list.begin(), allowed_list.end(), name) == allowed_list.end()) {
      std::string message = "unknown key " + Quote(name);
      for (std::string_view candidate : allowed_list) {
        // Close, and not merely because both are short ("ip" is not "vrrp").
        size_t distance = EditDistance(name, candidate);
        if (distance <= 2 && distance * 2 < name.size()) {
          message += " (did you mean " + Quote(candidate) + "?)";
          break;
        }
      }
      key.Error(message + "; allowed: " + Join(allowed_list, ", "));
      continue;
    }
    if (auto first = entries_.find(name); first != entries_.end()) {
      key.Error("duplicate key " + Quote(name) + " (first at " + MarkText(first->second.key_mark) +
                ")");
      continue;
    }
    entries_.emplace(name, Entry{key.mark(), map.Child(it->second, prefix + name, key.mark())});
  }
}

std::optional<Value> MapReader::Get(std::string_view key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second.value;
}

std::optional<Value> MapReader::Require(std::string_view key) const {
  auto v = Get(key);
  if (!v && is_map_) map_.Error("missing required key " + Quote(key));
  return v;
}

SourceMark MapReader::KeyMark(std::string_view key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? map_.mark() : it->second.key_mark;
}

void MapReader::Reject(std::string_view key, std::string_view reason) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  map_.diagnostics()->Error(it->second.key_mark,
                            it->second.value.path() + ": " + std::string(reason));
}

bool MapReader::Read(std::string_view key, std::string* out) const {
  auto v = Get(key);
  if (!v) return false;
  auto s = v->AsString();
  if (s) *out = std::move(*s);
  return s.has_value();
}

bool MapReader::Read(std::string_view key, bool* out) const {
  auto v = Get(key);
  if (!v) return false;
  auto b = v->AsBool();
  if (b) *out = *b;
  return b.has_value();
}

bool MapReader::Read(std::string_view key, int* out, int64_t min, int64_t max) const {
  auto v = Get(key);
  if (!v) return false;
  auto i = v->AsInt(min, max);
  if (i) *out = static_cast<int>(*i);
  return i.has_value();
}

bool MapReader::Read(std::string_view key, uint32_t* out, int64_t min, int64_t max) const {
  auto v = Get(key);
  if (!v) return false;
  auto i = v->AsInt(min, max);
  if (i) *out = static_cast<uint32_t>(*i);
  return i.has_value();
}

bool MapReader::Read(std::string_view key, Endpoint* out) const {
  auto v = Get(key);
  if (!v) return false;
  auto e = v->AsEndpoint();
  if (e) *out = *e;
  return e.has_value();
}

bool MapReader::Read(std::string_view key, std::optional<Endpoint>* out) const {
  Endpoint e;
  if (!Read(key, &e)) return false;
  *out = e;
  return true;
}

bool MapReader::ReadDuration(std::string_view key, Duration* out, Duration min) const {
  auto v = Get(key);
  if (!v) return false;
  auto d = v->AsDuration(min);
  if (d) *out = *d;
  return d.has_value();
}

bool UniqueSet::Insert(const std::string& key, const Value& where, std::string_view what) {
  auto [it, inserted] = seen_.emplace(key, First{where.mark(), where.path()});
  if (inserted) return true;
  where.Error("duplicate " + std::string(what) + " " + Quote(key) + " (first at " +
              it->second.path + ", " + MarkText(it->second.mark) + ")");
  return false;
}

}  // namespace lbd::conf_internal
