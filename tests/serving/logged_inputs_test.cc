// A window of the prediction log read back as a table: AppendRecordJson inverts RecordJson on
// every row, a bad record is refused naming the field and leaves the table as it was, and
// ReadLoggedInputs keeps the window, the model and the newest max_rows.
#include "churn/serving/logged_inputs.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "serving/serving_fixture.h"
#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/serving/request_decoder.h"

namespace churn::serving {
namespace {

using testing::StatusIs;

class LoggedInputsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = testing::ServingFixture::Create();
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = *std::move(f);
  }

  std::string Row(size_t r) const {
    return RecordJson(fixture_->Schema(), fixture_->Rows(), r, /*with_entity=*/true);
  }

  std::unique_ptr<testing::ServingFixture> fixture_;
};

TEST_F(LoggedInputsTest, AppendRecordJsonInvertsRecordJson) {
  const data::Schema& schema = fixture_->Schema();
  const data::Table& rows = fixture_->Rows();
  data::Table back(schema);
  for (size_t r = 0; r < rows.NumRows(); ++r) {
    ASSERT_TRUE(AppendRecordJson(Row(r), &back).ok()) << Row(r);
  }
  ASSERT_EQ(back.NumRows(), rows.NumRows());
  for (const data::Column& c : rows.Columns()) {
    const data::Column* got = back.Find(c.spec.name);
    ASSERT_NE(got, nullptr) << c.spec.name;
    for (size_t r = 0; r < rows.NumRows(); ++r) {
      if (c.spec.name == schema.target) {
        EXPECT_TRUE(got->IsMissing(r)) << "the log never holds the label";
      } else {
        ASSERT_EQ(got->AsText(r), c.AsText(r)) << c.spec.name << " row " << r;
      }
    }
  }
}

TEST_F(LoggedInputsTest, ABadRecordIsRefusedNamingTheFieldAndLeavesTheTable) {
  data::Table t(fixture_->Schema());
  ASSERT_TRUE(AppendRecordJson(Row(0), &t).ok());
  EXPECT_THAT(AppendRecordJson("[1]", &t), StatusIs(absl::StatusCode::kInvalidArgument));
  std::string wrong = Row(1);
  wrong.replace(wrong.find("\"gender\":\"") + 10, 1, "X");
  EXPECT_THAT(AppendRecordJson(wrong, &t),
              StatusIs(absl::StatusCode::kInvalidArgument, "field gender"));
  std::string text = Row(1);
  const size_t at = text.find("\"customer_age\":") + 15;
  text.replace(at, text.find(',', at) - at, "\"old\"");
  EXPECT_THAT(AppendRecordJson(text, &t),
              StatusIs(absl::StatusCode::kInvalidArgument, "field customer_age"));
  EXPECT_THAT(AppendRecordJson(R"({"customer_age":1e300})", &t),
              StatusIs(absl::StatusCode::kInvalidArgument, "field customer_age"))
      << "an integer beyond int64";
  EXPECT_THAT(AppendRecordJson(R"({"customer_age":40,"shoe_size":9})", &t),
              StatusIs(absl::StatusCode::kInvalidArgument, "field shoe_size"))
      << "another schema's record";
  EXPECT_EQ(t.NumRows(), 1U);
  for (const data::Column& c : t.Columns()) {
    EXPECT_EQ(c.size(), 1U) << c.spec.name;
  }
}

TEST_F(LoggedInputsTest, ReadsTheWindowTheModelAndTheNewestRows) {
  base::TempDir dir;
  auto log = PredictionLog::Open({.url = "sqlite:" + (dir.Path() / "p.db").string()});
  ASSERT_TRUE(log.ok()) << log.status();
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  std::vector<PredictionRecord> records;
  const auto add = [&](int i, absl::Time t, const std::string& model, std::string inputs) {
    records.push_back({.request_id = absl::StrCat("r", i),
                       .time_us = absl::ToUnixMicros(t),
                       .model_name = model,
                       .model_version = 1,
                       .inputs_json = std::move(inputs),
                       .probability = i / 1000.0});
  };
  for (int i = 0; i < 200; ++i) {
    add(i, now - absl::Hours(5), "churn", Row(i));
  }
  for (int i = 200; i < 500; ++i) {
    add(i, now - absl::Minutes(10), "churn", Row(i));
  }
  for (int i = 500; i < 520; ++i) {
    add(i, now - absl::Minutes(5), "other", R"({"something":"else"})");
  }
  add(520, now - absl::Minutes(1), "churn", R"({"customer_age":"not a number"})");
  ASSERT_TRUE((*log)->Append(std::move(records), nullptr).ok());
  (*log)->Flush();

  CHURN_ASSERT_OK_AND_ASSIGN(LogWindow hour, ParseLogWindow("1h", now));
  CHURN_ASSERT_OK_AND_ASSIGN(LoggedInputs in, ReadLoggedInputs(**log, fixture_->Schema(), hour));
  EXPECT_EQ(in.table.NumRows(), 300U);
  EXPECT_EQ(in.skipped, 21U) << "another model's inputs and one that breaks the schema";
  ASSERT_EQ(in.probabilities.size(), 300U);
  EXPECT_FLOAT_EQ(in.probabilities.front(), 0.2f);

  hour.model_name = "churn";
  hour.max_rows = 100;
  CHURN_ASSERT_OK_AND_ASSIGN(in, ReadLoggedInputs(**log, fixture_->Schema(), hour));
  EXPECT_EQ(in.table.NumRows(), 99U) << "the newest 100 churn rows, one of them broken";
  EXPECT_EQ(in.dropped, 201U);
  EXPECT_EQ(in.skipped, 1U);
  EXPECT_FLOAT_EQ(in.probabilities.back(), 0.499f);

  CHURN_ASSERT_OK_AND_ASSIGN(const LogWindow all, ParseLogWindow("", now));
  CHURN_ASSERT_OK_AND_ASSIGN(in, ReadLoggedInputs(**log, fixture_->Schema(), all));
  EXPECT_EQ(in.table.NumRows(), 500U);
}

TEST(LogWindowTest, DurationsRangesAndBadText) {
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  CHURN_ASSERT_OK_AND_ASSIGN(LogWindow w, ParseLogWindow("90m", now));
  EXPECT_EQ(w.since, now - absl::Minutes(90));
  EXPECT_EQ(w.until, absl::InfiniteFuture());
  CHURN_ASSERT_OK_AND_ASSIGN(w, ParseLogWindow("2026-12-01T10:00:00Z..2026-12-01T13:00:00Z", now));
  EXPECT_EQ(absl::ToUnixSeconds(w.until) - absl::ToUnixSeconds(w.since), 3 * 3600);
  CHURN_ASSERT_OK_AND_ASSIGN(w, ParseLogWindow("..2026-12-01T13:00:00Z", now));
  EXPECT_EQ(w.since, absl::InfinitePast());
  EXPECT_THAT(ParseLogWindow("yesterday", now),
              StatusIs(absl::StatusCode::kInvalidArgument, "yesterday"));
  EXPECT_THAT(ParseLogWindow("-1h", now), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseLogWindow("2026-13-01..", now),
              StatusIs(absl::StatusCode::kInvalidArgument, "RFC 3339"));
}

}  // namespace
}  // namespace churn::serving
