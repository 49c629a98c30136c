// Internal to shopd: a small strict JSON reader and an append-only writer.
//
// shopd's request bodies are flat objects ({"product_id": 1, "quantity": 2}); the reader still
// accepts any RFC 8259 document (nesting bounded by kMaxJsonDepth) so that tests can read the
// responses with it. Numbers keep their integer value when they are integers that fit in int64.
// Everything here is a plain value: no shared state, safe to use from any thread.
#ifndef LBD_EXAMPLES_SHOP_JSON_H_
#define LBD_EXAMPLES_SHOP_JSON_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lbd::shop {

inline constexpr int kMaxJsonDepth = 32;

class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  using Array = std::vector<JsonValue>;
  using Object = std::map<std::string, JsonValue, std::less<>>;

  JsonValue() = default;
  static JsonValue Bool(bool b);
  static JsonValue Number(double d, std::optional<int64_t> integer);
  static JsonValue String(std::string s);
  static JsonValue MakeArray(Array a);
  static JsonValue MakeObject(Object o);

  Type type() const { return type_; }
  bool IsNull() const { return type_ == Type::kNull; }
  bool IsObject() const { return type_ == Type::kObject; }
  bool IsArray() const { return type_ == Type::kArray; }
  bool IsString() const { return type_ == Type::kString; }
  // True for numbers written without fraction or exponent that fit in int64.
  bool IsInteger() const { return type_ == Type::kNumber && integer_.has_value(); }

  bool AsBool() const { return bool_; }
  double AsDouble() const { return number_; }
  // REQUIRES: IsInteger().
  int64_t AsInt() const { return *integer_; }
  const std::string& AsString() const { return string_; }
  const Array& AsArray() const { return *array_; }
  const Object& AsObject() const { return *object_; }

  // Member lookup; nullptr when this is not an object or has no such key.
  const JsonValue* Find(std::string_view key) const;
  // Array element; nullptr when out of range or not an array.
  const JsonValue* At(size_t index) const;
  // Element count of an array or object, 0 otherwise.
  size_t size() const;

 private:
  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::optional<int64_t> integer_;
  std::string string_;
  // Held by shared_ptr to keep JsonValue copyable and cheap; the values are never mutated.
  std::shared_ptr<const Array> array_;
  std::shared_ptr<const Object> object_;
};

// Parses one JSON document (surrounding whitespace allowed). On failure returns nullopt and,
// when `error` is given, a message with the byte offset. Rejects duplicate object keys, invalid
// UTF-8, unpaired UTF-16 escapes, control characters in strings, trailing garbage and nesting
// deeper than kMaxJsonDepth.
std::optional<JsonValue> ParseJson(std::string_view text, std::string* error = nullptr);

// Appends `s` as a quoted JSON string: escapes quotes, backslashes and control characters, and
// replaces malformed UTF-8 with U+FFFD so that the output is always valid JSON.
void AppendJsonString(std::string& out, std::string_view s);

// Builds a JSON text front to back; inserts the commas. Misuse (a value where a key is needed)
// is a programming error, not checked.
class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  // Appends an already serialized JSON value verbatim.
  JsonWriter& Raw(std::string_view json);

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void BeforeValue();

  std::string out_;
  // One entry per open container: whether it already holds an element.
  std::vector<bool> has_element_;
  bool after_key_ = false;
};

// {"error": message}
std::string JsonError(std::string_view message);

}  // namespace lbd::shop

#endif  // LBD_EXAMPLES_SHOP_JSON_H_
