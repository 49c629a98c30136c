#include <gtest/gtest.h>

#include "lbd/conf/loader.h"

namespace lbd {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(ParseDurationTest, AcceptsEveryUnit) {
  EXPECT_EQ(ParseDuration("500ms").value(), milliseconds(500));
  EXPECT_EQ(ParseDuration("2s").value(), seconds(2));
  EXPECT_EQ(ParseDuration("5m").value(), minutes(5));
  EXPECT_EQ(ParseDuration("1h").value(), hours(1));
  EXPECT_EQ(ParseDuration("0s").value(), Duration(0));
  EXPECT_EQ(ParseDuration("0ms").value(), Duration(0));
  EXPECT_EQ(ParseDuration("300s").value(), minutes(5));
}

TEST(ParseDurationTest, RejectsBareNumbersAndOtherForms) {
  for (const char* text : {"", "2", "0", "s", "ms", "2 s", " 2s", "2s ", "-1s", "+1s", "1.5s",
                           "2sec", "2S", "1d", "1m30s", "0x10s", "ms2"}) {
    auto d = ParseDuration(text);
    ASSERT_FALSE(d.ok()) << "'" << text << "'";
    EXPECT_NE(d.status().message().find("bad duration"), std::string::npos) << text;
  }
}

TEST(ParseDurationTest, BareNumberMessageNamesTheTextAndTheUnits) {
  auto d = ParseDuration("30");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(),
            "bad duration '30' (expected an integer and a unit: ms, s, m or h, as in 500ms, 2s, "
            "5m)");
}

TEST(ParseDurationTest, RejectsOverflow) {
  EXPECT_FALSE(ParseDuration("99999999999999999999ms").ok());
  EXPECT_FALSE(ParseDuration("9223372036854775807h").ok());
  EXPECT_TRUE(ParseDuration("9223372036854775807ms").ok());
  EXPECT_FALSE(ParseDuration("9223372036854776s").ok());
}

}  // namespace
}  // namespace lbd
