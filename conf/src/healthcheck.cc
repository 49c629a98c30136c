// The `healthcheck:` mapping of a service, and a real server's override of it.
#include <array>
#include <cctype>
#include <charconv>
#include <limits>

#include "sections.h"

namespace lbd::conf_internal {
namespace {

constexpr std::array<std::string_view, 4> kTypeNames = {"none", "tcp", "http", "exec"};
constexpr int kMinStatus = 100;
constexpr int kMaxStatus = 599;

HealthCheckType TypeFromName(std::string_view name) {
  if (name == "tcp") return HealthCheckType::kTcp;
  if (name == "http") return HealthCheckType::kHttp;
  if (name == "exec") return HealthCheckType::kExec;
  return HealthCheckType::kNone;
}

std::optional<int> ParseStatusCode(std::string_view text) {
  int code = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return code;
}

// 200, "200" or "200-299"; codes 100..599.
std::optional<StatusRange> ReadStatusRange(const Value& value) {
  const std::string kExpected =
      "expected a status code 100..599, a list of them, or a range such as 200-299; got ";
  if (!value.node().IsScalar()) {
    value.Error(kExpected + value.Describe());
    return std::nullopt;
  }
  std::string_view text = value.node().Scalar();
  size_t dash = text.find('-', 1);
  auto low = ParseStatusCode(text.substr(0, dash));
  auto high = dash == std::string_view::npos ? low : ParseStatusCode(text.substr(dash + 1));
  if (!low || !high) {
    value.Error(kExpected + value.Describe());
    return std::nullopt;
  }
  if (*low < kMinStatus || *high > kMaxStatus || *low > *high) {
    value.Error("status " + std::string(text) + " is out of range (expected codes 100..599" +
                (*low > *high ? ", low-high with low <= high)" : ")"));
    return std::nullopt;
  }
  return StatusRange{*low, *high};
}

void ReadExpectStatus(const Value& value, std::vector<StatusRange>* out) {
  std::vector<StatusRange> ranges;
  bool ok = true;
  if (value.node().IsSequence()) {
    std::vector<Value> items = value.Items();
    if (items.empty()) {
      value.Error("must list at least one status code");
      return;
    }
    for (const Value& item : items) {
      auto range = ReadStatusRange(item);
      if (range) ranges.push_back(*range);
      ok = ok && range.has_value();
    }
  } else if (auto range = ReadStatusRange(value)) {
    ranges.push_back(*range);
  } else {
    ok = false;
  }
  if (ok) *out = std::move(ranges);
}

// What goes verbatim into the request line and the Host header.
bool IsHttpToken(std::string_view text) {
  for (unsigned char c : text) {
    if (c <= ' ' || c == 0x7f) return false;
  }
  return true;
}

bool IsMd5Hex(std::string_view text) {
  if (text.size() != 32) return false;
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Keys that mean something only for some check types (a mask of TypeBit()s).
constexpr unsigned TypeBit(HealthCheckType t) { return 1u << static_cast<unsigned>(t); }
struct TypedKey {
  std::string_view key;
  unsigned types;
  std::string_view types_text;
};
constexpr unsigned kTcpBit = TypeBit(HealthCheckType::kTcp);
constexpr unsigned kHttpBit = TypeBit(HealthCheckType::kHttp);
constexpr unsigned kExecBit = TypeBit(HealthCheckType::kExec);
constexpr TypedKey kTypedKeys[] = {
    {"port", kTcpBit | kHttpBit, "tcp and http"},
    {"path", kHttpBit, "http"},
    {"host", kHttpBit, "http"},
    {"expect_status", kHttpBit, "http"},
    {"expect_md5", kHttpBit, "http"},
    {"command", kExecBit, "exec"},
    {"dynamic_weight", kExecBit, "exec"},
};
constexpr std::string_view kCommonKeys[] = {"interval", "timeout", "rise",
                                            "fall",     "alpha",   "inhibit_on_failure"};

// Keys that do not apply to the effective type are errors, not silently
// ignored: a `path` on a tcp check is a mistake the user wants to hear about.
void RejectKeysForType(const MapReader& map, HealthCheckType type) {
  std::string type_text = ToString(type);
  for (const TypedKey& typed : kTypedKeys) {
    if ((typed.types & TypeBit(type)) == 0) {
      map.Reject(typed.key, "applies only to " + std::string(typed.types_text) +
                                " checks, and this check's type is " + type_text);
    }
  }
  if (type == HealthCheckType::kNone) {
    for (std::string_view key : kCommonKeys) {
      map.Reject(key, "has no effect: this check's type is none");
    }
  }
}

}  // namespace

void ReadHealthCheck(const Value& value, const HealthCheckConfig* base, HealthCheckConfig* out) {
  MapReader map(
      value, {"type", "interval", "timeout", "rise", "fall", "alpha", "inhibit_on_failure", "port",
              "path", "host", "expect_status", "expect_md5", "command", "dynamic_weight"});
  *out = base ? *base : HealthCheckConfig{};
  if (!map.is_map()) return;
  bool any_key = value.node().IsMap() && value.node().size() > 0;

  // A service's check must say what it is; an override inherits the type.
  std::optional<Value> type = (base || !any_key) ? map.Get("type") : map.Require("type");
  bool type_known = !type && (base || !any_key);
  if (type) {
    if (auto name = type->AsEnum(kTypeNames)) {
      out->type = TypeFromName(*name);
      type_known = true;
    }
  }
  if (type_known) RejectKeysForType(map, out->type);

  map.ReadDuration("interval", &out->interval, Duration(1));
  map.ReadDuration("timeout", &out->timeout, Duration(1));
  map.Read("rise", &out->rise, 1, std::numeric_limits<int>::max());
  map.Read("fall", &out->fall, 1, std::numeric_limits<int>::max());
  map.Read("alpha", &out->alpha);
  map.Read("inhibit_on_failure", &out->inhibit_on_failure);
  int port = out->port;
  if (map.Read("port", &port, 0, 65535)) out->port = static_cast<uint16_t>(port);

  if (auto path = map.Get("path")) {
    if (auto text = path->AsString()) {
      if ((*text)[0] != '/') {
        path->Error("must start with '/', got '" + *text + "'");
      } else if (!IsHttpToken(*text)) {
        path->Error("must not contain spaces or control characters");
      } else {
        out->path = *text;
      }
    }
  }
  if (auto host = map.Get("host")) {
    if (auto text = host->AsString()) {
      if (IsHttpToken(*text)) {
        out->host = *text;
      } else {
        host->Error("must not contain spaces or control characters");
      }
    }
  }
  if (auto status = map.Get("expect_status")) ReadExpectStatus(*status, &out->expect_status);
  if (auto md5 = map.Get("expect_md5")) {
    if (auto text = md5->AsString()) {
      if (IsMd5Hex(*text)) {
        for (char& c : *text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out->expect_md5 = *text;
      } else {
        md5->Error("expected 32 hexadecimal digits (an MD5 digest), got '" + *text + "'");
      }
    }
  }
  map.Read("command", &out->command);
  map.Read("dynamic_weight", &out->dynamic_weight);

  if (type_known && out->type == HealthCheckType::kExec && out->command.empty() &&
      !map.Has("command")) {
    value.Error("an exec check needs 'command'");
  }
}

}  // namespace lbd::conf_internal
