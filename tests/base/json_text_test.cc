// The hand-written JSON text helpers, checked against an independent parser (nlohmann::json):
// whatever they write parses back to what went in.
#include "churn/base/json_text.h"

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace churn::base {
namespace {

TEST(JsonText, EscapesWhatJsonNeedsAndKeepsTheRest) {
  EXPECT_EQ(JsonEscape("plain"), "plain");
  EXPECT_EQ(JsonEscape("a\"b\\c\nd\re\tf"), "a\\\"b\\\\c\\nd\\re\\tf");
  EXPECT_EQ(JsonEscape(std::string("\x01\x1f", 2)), "\\u0001\\u001f");
  EXPECT_EQ(JsonEscape("caf\xc3\xa9"), "caf\xc3\xa9") << "UTF-8 passes through";
  std::string out = "[";
  AppendJsonString("", &out);
  EXPECT_EQ(out, "[\"\"");
}

TEST(JsonText, EveryStringParsesBackToItself) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 127);
  std::uniform_int_distribution<int> length(0, 40);
  for (int i = 0; i < 2000; ++i) {
    std::string text;
    for (int n = length(rng); n > 0; --n) {
      text.push_back(static_cast<char>(byte(rng)));
    }
    text += i % 3 == 0 ? "\xe2\x82\xac" : "";  // a euro sign now and then
    std::string json;
    AppendJsonString(text, &json);
    EXPECT_EQ(nlohmann::json::parse(json).get<std::string>(), text) << json;
  }
}

TEST(JsonText, NumbersAreShortestRoundTripsAndNullWhenNotFinite) {
  std::string out;
  AppendJsonNumber(0.1F, &out);
  EXPECT_EQ(out, "0.1");
  out.clear();
  AppendJsonNumber(std::numeric_limits<double>::quiet_NaN(), &out);
  EXPECT_EQ(out, "null");
  for (const double v : {1e-300, 3.141592653589793, -2.5e17, 12691.0}) {
    out.clear();
    AppendJsonNumber(v, &out);
    EXPECT_EQ(nlohmann::json::parse(out).get<double>(), v) << out;
  }
}

}  // namespace
}  // namespace churn::base
