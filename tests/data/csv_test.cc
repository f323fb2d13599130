#include "churn/data/csv.h"

#include "testing/test_env.h"

namespace churn::data {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;
using ::testing::ElementsAre;

absl::StatusOr<std::vector<std::vector<std::string>>> ParseAll(absl::string_view input) {
  CsvParser parser(input, CsvOptions{});
  std::vector<std::vector<std::string>> records;
  std::vector<absl::string_view> fields;
  while (true) {
    auto more = parser.Next(&fields);
    if (!more.ok()) {
      return more.status();
    }
    if (!*more) {
      return records;
    }
    records.emplace_back(fields.begin(), fields.end());
  }
}

TEST(CsvParser, ReadsPlainRecords) {
  CHURN_ASSERT_OK_AND_ASSIGN(auto r, ParseAll("a,b,c\n1,2,3\n"));
  EXPECT_THAT(r, ElementsAre(ElementsAre("a", "b", "c"), ElementsAre("1", "2", "3")));
}

TEST(CsvParser, HandlesQuotedCommasQuotesAndLineBreaks) {
  CHURN_ASSERT_OK_AND_ASSIGN(auto r, ParseAll("\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\"\n"));
  EXPECT_THAT(r, ElementsAre(ElementsAre("x,y", "say \"hi\"", "two\nlines")));
}

TEST(CsvParser, HandlesCrlfAndMissingFinalNewline) {
  CHURN_ASSERT_OK_AND_ASSIGN(auto r, ParseAll("a,b\r\n1,\"2\"\r\n3,4"));
  EXPECT_THAT(r, ElementsAre(ElementsAre("a", "b"), ElementsAre("1", "2"), ElementsAre("3", "4")));
}

TEST(CsvParser, SkipsByteOrderMarkAndEmptyLines) {
  CHURN_ASSERT_OK_AND_ASSIGN(auto r, ParseAll("\xEF\xBB\xBF"
                                              "a,b\n\n1,2\n\n"));
  EXPECT_THAT(r, ElementsAre(ElementsAre("a", "b"), ElementsAre("1", "2")));
}

TEST(CsvParser, KeepsEmptyFields) {
  CHURN_ASSERT_OK_AND_ASSIGN(auto r, ParseAll(",,\n\"\",x,\n"));
  EXPECT_THAT(r, ElementsAre(ElementsAre("", "", ""), ElementsAre("", "x", "")));
}

TEST(CsvParser, ReportsLineOfRecordAfterQuotedLineBreak) {
  CsvParser parser("h\n\"a\nb\"\nc\n", CsvOptions{});
  std::vector<absl::string_view> f;
  ASSERT_TRUE(*parser.Next(&f));
  ASSERT_TRUE(*parser.Next(&f));
  EXPECT_EQ(parser.Line(), 2U);
  ASSERT_TRUE(*parser.Next(&f));
  EXPECT_EQ(parser.Line(), 4U);
}

TEST(CsvParser, RejectsUnterminatedQuoteNamingItsLine) {
  EXPECT_THAT(ParseAll("a\n\"open\n"), StatusIs(absl::StatusCode::kInvalidArgument, "line 2"));
}

TEST(CsvParser, RejectsStrayQuotes) {
  EXPECT_THAT(ParseAll("a\nb\"c\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, "quote inside unquoted field"));
  EXPECT_THAT(ParseAll("a\n\"b\"c\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, "after the closing quote"));
}

TEST(CsvField, QuotesOnlyWhenNeededAndRoundTrips) {
  std::string out;
  AppendCsvField("plain", ',', &out);
  out.push_back(',');
  AppendCsvField("a \"b\", c", ',', &out);
  EXPECT_EQ(out, "plain,\"a \"\"b\"\", c\"");
  CHURN_ASSERT_OK_AND_ASSIGN(auto r, ParseAll(out));
  EXPECT_THAT(r, ElementsAre(ElementsAre("plain", "a \"b\", c")));
}

TEST(CheckCsvBytes, AcceptsUtf8AndRejectsInvalidSequencesNamingLineAndByte) {
  EXPECT_THAT(CheckCsvBytes("name\nJos\xC3\xA9\n\xE2\x82\xAC\n", CsvOptions{}), IsOk());
  EXPECT_THAT(CheckCsvBytes("a\nab\xC3(\n", CsvOptions{}),
              StatusIs(absl::StatusCode::kInvalidArgument, "line 2, byte 3: invalid UTF-8"));
  // Overlong encoding of '/', and a UTF-16 surrogate: both invalid.
  EXPECT_THAT(CheckCsvBytes("\xC0\xAF", CsvOptions{}),
              StatusIs(absl::StatusCode::kInvalidArgument, "invalid UTF-8"));
  EXPECT_THAT(CheckCsvBytes("\xED\xA0\x80", CsvOptions{}),
              StatusIs(absl::StatusCode::kInvalidArgument, "invalid UTF-8"));
}

TEST(CheckCsvBytes, RejectsNulBytes) {
  EXPECT_THAT(CheckCsvBytes(std::string("a,b\n1,\0\n", 8), CsvOptions{}),
              StatusIs(absl::StatusCode::kInvalidArgument, "line 2, byte 3: NUL byte"));
}

TEST(CheckCsvBytes, RejectsLinesOverTheLimit) {
  CsvOptions options;
  options.max_record_bytes = 100;
  EXPECT_THAT(CheckCsvBytes("a\n" + std::string(101, 'x') + "\n", options),
              StatusIs(absl::StatusCode::kInvalidArgument, "line 2 is longer than the limit"));
  EXPECT_THAT(CheckCsvBytes("a\n" + std::string(100, 'x') + "\n", options), IsOk());
}

}  // namespace
}  // namespace churn::data
