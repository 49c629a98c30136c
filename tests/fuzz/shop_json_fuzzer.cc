// libFuzzer target: shopd's JSON reader and string writer
// (examples/shop/json.h). Properties: ParseJson() never crashes, whatever
// the input; a parsed document is walked whole; AppendJsonString() always
// yields a JSON string that ParseJson() accepts, and for an input the reader
// accepts as a JSON string's content the text comes back unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "json.h"

namespace {

size_t Walk(const lbd::shop::JsonValue& v, int depth) {
  if (depth > lbd::shop::kMaxJsonDepth + 1) std::abort();
  size_t n = 1;
  if (v.IsArray()) {
    for (const auto& e : v.AsArray()) n += Walk(e, depth + 1);
    if (v.At(v.size()) != nullptr) std::abort();
  } else if (v.IsObject()) {
    for (const auto& [key, e] : v.AsObject()) {
      if (v.Find(key) != &e) std::abort();
      n += Walk(e, depth + 1);
    }
  } else if (v.IsInteger()) {
    (void)v.AsInt();
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  if (auto v = lbd::shop::ParseJson(text, &error)) {
    (void)Walk(*v, 0);
  } else if (error.empty()) {
    std::abort();  // a failure always says why
  }

  std::string quoted;
  lbd::shop::AppendJsonString(quoted, text);
  auto back = lbd::shop::ParseJson(quoted);
  if (!back || !back->IsString()) std::abort();
  // Valid UTF-8 without changes: the reader accepted the raw text as the
  // content of a string (escaped to be safe for quotes and controls).
  if (back->AsString() != text) {
    // Only malformed UTF-8 may change (replaced by U+FFFD).
    if (back->AsString().find("\xef\xbf\xbd") == std::string::npos) std::abort();
  }
  return 0;
}
