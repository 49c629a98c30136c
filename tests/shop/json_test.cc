#include "json.h"

#include <gtest/gtest.h>

#include <string>

namespace lbd::shop {
namespace {

TEST(JsonParse, FlatObject) {
  auto v = ParseJson(R"( {"product_id": 12, "quantity": 2, "note": "a\"b", "ok": true} )");
  ASSERT_TRUE(v);
  ASSERT_TRUE(v->IsObject());
  EXPECT_EQ(v->size(), 4u);
  ASSERT_TRUE(v->Find("product_id")->IsInteger());
  EXPECT_EQ(v->Find("product_id")->AsInt(), 12);
  EXPECT_EQ(v->Find("quantity")->AsInt(), 2);
  EXPECT_EQ(v->Find("note")->AsString(), "a\"b");
  EXPECT_TRUE(v->Find("ok")->AsBool());
  EXPECT_EQ(v->Find("missing"), nullptr);
}

TEST(JsonParse, NestedValues) {
  auto v = ParseJson(R"({"items":[{"a":1},{"a":2}],"n":null,"x":-1.5e2})");
  ASSERT_TRUE(v);
  ASSERT_TRUE(v->Find("items")->IsArray());
  EXPECT_EQ(v->Find("items")->size(), 2u);
  EXPECT_EQ(v->Find("items")->At(1)->Find("a")->AsInt(), 2);
  EXPECT_EQ(v->Find("items")->At(2), nullptr);
  EXPECT_TRUE(v->Find("n")->IsNull());
  EXPECT_FALSE(v->Find("x")->IsInteger());
  EXPECT_DOUBLE_EQ(v->Find("x")->AsDouble(), -150);
}

TEST(JsonParse, NumbersKeepIntegersExact) {
  EXPECT_EQ(ParseJson("9007199254740993")->AsInt(), 9007199254740993);
  EXPECT_EQ(ParseJson("-0")->AsInt(), 0);
  EXPECT_FALSE(ParseJson("1.0")->IsInteger());
  EXPECT_FALSE(ParseJson("1e3")->IsInteger());
  // Out of int64 range: still a number, but not an integer.
  auto big = ParseJson("99999999999999999999");
  ASSERT_TRUE(big);
  EXPECT_FALSE(big->IsInteger());
}

TEST(JsonParse, Escapes) {
  EXPECT_EQ(ParseJson(R"("\n\t\\\/\b\f\r")")->AsString(), "\n\t\\/\b\f\r");
  EXPECT_EQ(ParseJson(R"("\u00e9")")->AsString(), "\xC3\xA9");
  EXPECT_EQ(ParseJson(R"("\u20AC")")->AsString(), "\xE2\x82\xAC");
  EXPECT_EQ(ParseJson(R"("\ud83d\ude00")")->AsString(), "\xF0\x9F\x98\x80");
}

TEST(JsonParse, RejectsInvalidDocuments) {
  for (const char* bad :
       {"",         " ",           "{",           "}",           "{\"a\"}",
        "{\"a\":}", "{\"a\":1,}",  "[1,]",        "{a:1}",       "'x'",
        "01",       "1.",          ".5",          "-",           "1e",
        "+1",       "tru",         "nul",         "{\"a\":1} x", "{\"a\":1,\"a\":2}",
        "\"\\x\"",  "\"\\ud83d\"", "\"\\ude00\"", "\"\\u12g4\"", "\"a\nb\"",
        "\"abc",    "[1 2]",       "{\"a\" 1}",   "NaN",         "Infinity"}) {
    std::string error;
    EXPECT_FALSE(ParseJson(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(JsonParse, RequiresUtf8) {
  EXPECT_EQ(ParseJson("\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"")->AsString(),
            "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  for (const char* bad : {"\"\xFF\"", "\"\xC0\xAF\"", "\"\xE0\x80\xAF\"", "\"\xED\xA0\x80\"",
                          "\"\xF4\x90\x80\x80\"", "\"\xE2\x82\"", "\"\x80\""}) {
    std::string error;
    EXPECT_FALSE(ParseJson(bad, &error)) << bad;
    EXPECT_NE(error.find("UTF-8"), std::string::npos) << error;
  }
}

TEST(JsonParse, BoundsNesting) {
  std::string ok(kMaxJsonDepth, '[');
  ok += std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(ParseJson(ok));
  std::string deep(kMaxJsonDepth + 1, '[');
  deep += std::string(kMaxJsonDepth + 1, ']');
  std::string error;
  EXPECT_FALSE(ParseJson(deep, &error));
  EXPECT_NE(error.find("deep"), std::string::npos);
  // Far deeper input must fail cleanly, not overflow the stack.
  EXPECT_FALSE(ParseJson(std::string(100000, '[')));
}

TEST(JsonParse, ErrorNamesOffset) {
  std::string error;
  EXPECT_FALSE(ParseJson(R"({"a":1,"a":2})", &error));
  EXPECT_EQ(error, "duplicate key at offset 7");
}

TEST(JsonWriter, BuildsNestedDocuments) {
  JsonWriter w;
  w.BeginObject().Key("items").BeginArray();
  w.BeginObject().Key("id").Int(1).EndObject();
  w.BeginObject().Key("id").Int(-2).EndObject();
  w.EndArray().Key("name").String("x").Key("raw").Raw("true").EndObject();
  EXPECT_EQ(w.str(), R"({"items":[{"id":1},{"id":-2}],"name":"x","raw":true})");
}

TEST(JsonWriter, EscapesAndRoundTrips) {
  std::string nasty = "q\"b\\s\n\r\t\x01\x1f end \xC3\xA9";
  std::string out;
  AppendJsonString(out, nasty);
  EXPECT_EQ(out, "\"q\\\"b\\\\s\\n\\r\\t\\u0001\\u001f end \xC3\xA9\"");
  EXPECT_EQ(ParseJson(out)->AsString(), nasty);
  EXPECT_EQ(JsonError("bad \"x\""), R"({"error":"bad \"x\""})");
}

TEST(JsonWriter, ReplacesMalformedUtf8) {
  std::string out;
  AppendJsonString(out,
                   "a\xFF"
                   "b\xE2\x82\xAC\xE2\x82");
  EXPECT_EQ(out,
            "\"a\xEF\xBF\xBD"
            "b\xE2\x82\xAC\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_TRUE(ParseJson(out));
}

}  // namespace
}  // namespace lbd::shop
