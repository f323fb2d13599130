// CompareTables on the synthetic generator: a halved Total_Trans_Ct is flagged and the verdict
// follows the share rule; an undrifted sample is mostly not flagged; overrides are honoured; a
// column's result is RunTest's on the column's non-missing values.
#include "churn/drift/report.h"

#include <string>
#include <vector>

#include "drift/drift_fixture.h"
#include "testing/test_env.h"

#include "churn/data/csv_table.h"
#include "churn/data/synth.h"

namespace churn::drift {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;
using testing::BankSchema;
using testing::Synth;

const ColumnReport* FindColumn(const DatasetReport& r, const std::string& name) {
  for (const ColumnReport& c : r.columns) {
    if (c.column == name) {
      return &c;
    }
  }
  return nullptr;
}

class CompareTablesTest : public ::testing::Test {
 protected:
  data::Schema schema_ = BankSchema();
  data::Table reference_ = Synth(schema_, 2000, 1);
};

TEST_F(CompareTablesTest, EveryFeatureColumnAndNothingElse) {
  const data::Table current = Synth(schema_, 1000, 2);
  CHURN_ASSERT_OK_AND_ASSIGN(const DatasetReport r,
                             CompareTables(schema_, reference_, current, {}));
  ASSERT_EQ(r.columns.size(), schema_.Features().size());
  EXPECT_EQ(r.columns.size(), 19U);
  EXPECT_EQ(FindColumn(r, "Attrition_Flag"), nullptr);
  EXPECT_EQ(FindColumn(r, "CLIENTNUM"), nullptr);
  const ColumnReport* gender = FindColumn(r, "Gender");
  ASSERT_NE(gender, nullptr);
  EXPECT_EQ(gender->kind, ColumnKind::kCategorical);
  EXPECT_EQ(gender->result.test_name, "jensenshannon");  // reference > 1000 rows
  const ColumnReport* age = FindColumn(r, "Customer_Age");
  ASSERT_NE(age, nullptr);
  EXPECT_EQ(age->kind, ColumnKind::kNumeric);
  EXPECT_EQ(age->result.test_name, "wasserstein");
  EXPECT_EQ(age->reference_values, 2000U);
  EXPECT_EQ(age->current_values, 1000U);
}

TEST_F(CompareTablesTest, HalvedTransactionCountIsFlagged) {
  const data::Table current = Synth(schema_, 1000, 2, {"scale:Total_Trans_Ct=0.5"});
  CHURN_ASSERT_OK_AND_ASSIGN(const DatasetReport r,
                             CompareTables(schema_, reference_, current, {}));
  const ColumnReport* ct = FindColumn(r, "Total_Trans_Ct");
  ASSERT_NE(ct, nullptr);
  EXPECT_TRUE(ct->result.drifted) << ct->result.score;
  size_t drifted = 0;
  for (const ColumnReport& c : r.columns) {
    drifted += c.result.drifted ? 1 : 0;
  }
  EXPECT_EQ(r.dataset.drifted_columns, drifted);
  EXPECT_EQ(r.dataset.columns, 19U);
  EXPECT_DOUBLE_EQ(r.dataset.share, static_cast<double>(drifted) / 19.0);
  EXPECT_EQ(r.dataset.drifted, r.dataset.share >= 0.5);

  // The share rule: a threshold at or below the share says drift, one above it does not.
  CHURN_ASSERT_OK_AND_ASSIGN(
      const DatasetReport low,
      CompareTables(schema_, reference_, current, {.share_threshold = r.dataset.share}));
  EXPECT_TRUE(low.dataset.drifted);
  CHURN_ASSERT_OK_AND_ASSIGN(
      const DatasetReport high,
      CompareTables(schema_, reference_, current,
                    {.share_threshold = std::min(1.0, r.dataset.share + 0.01)}));
  EXPECT_FALSE(high.dataset.drifted);
  // Only the drifted column: the whole dataset drifted.
  CHURN_ASSERT_OK_AND_ASSIGN(
      const DatasetReport only,
      CompareTables(schema_, reference_, current, {.columns = {"total_trans_ct"}}));
  ASSERT_EQ(only.columns.size(), 1U);
  EXPECT_EQ(only.columns[0].column, "Total_Trans_Ct");
  EXPECT_TRUE(only.dataset.drifted);
  EXPECT_DOUBLE_EQ(only.dataset.share, 1.0);
}

TEST_F(CompareTablesTest, UndriftedSampleIsMostlyNotFlagged) {
  const data::Table current = Synth(schema_, 1000, 7);
  CHURN_ASSERT_OK_AND_ASSIGN(const DatasetReport r,
                             CompareTables(schema_, reference_, current, {}));
  EXPECT_LE(r.dataset.drifted_columns, 2U);
  EXPECT_FALSE(r.dataset.drifted);
  const ColumnReport* ct = FindColumn(r, "Total_Trans_Ct");
  ASSERT_NE(ct, nullptr);
  EXPECT_FALSE(ct->result.drifted) << ct->result.score;
}

TEST_F(CompareTablesTest, OverridesOfTestAndThresholdAreHonoured) {
  const data::Table current = Synth(schema_, 1000, 2);
  CompareOptions options;
  options.per_column["Customer_Age"].test = DriftTest::kKs;
  options.per_column["gender"].test = DriftTest::kChiSquare;
  options.per_column["Gender"].threshold = 1.0;        // every p-value is below 1: drifted
  options.per_column["Credit_Limit"].threshold = 0.0;  // any distance: drifted
  CHURN_ASSERT_OK_AND_ASSIGN(const DatasetReport r,
                             CompareTables(schema_, reference_, current, options));
  const ColumnReport* age = FindColumn(r, "Customer_Age");
  ASSERT_NE(age, nullptr);
  EXPECT_EQ(age->result.test, DriftTest::kKs);
  EXPECT_DOUBLE_EQ(age->result.threshold, 0.05);
  const ColumnReport* gender = FindColumn(r, "Gender");
  ASSERT_NE(gender, nullptr);
  EXPECT_EQ(gender->result.test_name, "chisquare");
  EXPECT_DOUBLE_EQ(gender->result.threshold, 1.0);
  EXPECT_TRUE(gender->result.drifted);
  const ColumnReport* limit = FindColumn(r, "Credit_Limit");
  ASSERT_NE(limit, nullptr);
  EXPECT_EQ(limit->result.test_name, "wasserstein");
  EXPECT_DOUBLE_EQ(limit->result.threshold, 0.0);
  EXPECT_TRUE(limit->result.drifted);
}

TEST_F(CompareTablesTest, ColumnResultEqualsRunTest) {
  const data::Table current = Synth(schema_, 1000, 2, {"scale:Total_Trans_Ct=0.5"});
  CompareOptions options;
  options.per_column["Education_Level"].test = DriftTest::kPsi;
  CHURN_ASSERT_OK_AND_ASSIGN(const DatasetReport r,
                             CompareTables(schema_, reference_, current, options));
  for (const ColumnReport& c : r.columns) {
    const data::Column& ref = *reference_.Find(c.column);
    const data::Column& cur = *current.Find(c.column);
    const ColumnOptions column_options =
        c.column == "Education_Level"
            ? ColumnOptions{.test = DriftTest::kPsi, .threshold = std::nullopt}
            : ColumnOptions{};
    absl::StatusOr<DriftResult> direct =
        c.kind == ColumnKind::kNumeric
            ? RunTest(NumericValues(ref), NumericValues(cur), column_options)
            : RunTest(CategoricalValues(ref), CategoricalValues(cur), column_options);
    ASSERT_THAT(direct.status(), IsOk()) << c.column;
    EXPECT_EQ(c.result.test, direct->test) << c.column;
    EXPECT_EQ(c.result.score, direct->score) << c.column;
    EXPECT_EQ(c.result.threshold, direct->threshold) << c.column;
    EXPECT_EQ(c.result.drifted, direct->drifted) << c.column;
  }
}

TEST(CompareTablesMissingTest, MissingValuesAreDroppedPerColumn) {
  const data::Schema schema = BankSchema();
  data::Table reference = Synth(schema, 500, 1);
  const data::Table current = Synth(schema, 500, 2);
  data::Column* age = reference.FindMutable("Customer_Age");
  ASSERT_NE(age, nullptr);
  for (size_t row = 0; row < 100; ++row) {
    age->missing[row] = 1;
  }
  CHURN_ASSERT_OK_AND_ASSIGN(const DatasetReport r, CompareTables(schema, reference, current,
                                                                  {.columns = {"Customer_Age"}}));
  ASSERT_EQ(r.columns.size(), 1U);
  EXPECT_EQ(r.columns[0].reference_values, 400U);
  CHURN_ASSERT_OK_AND_ASSIGN(
      const DriftResult direct,
      RunTest(NumericValues(*age), NumericValues(*current.Find("Customer_Age"))));
  EXPECT_EQ(r.columns[0].result.score, direct.score);
  for (size_t row = 0; row < age->size(); ++row) {
    age->missing[row] = 1;
  }
  EXPECT_THAT(CompareTables(schema, reference, current, {.columns = {"Customer_Age"}}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "Customer_Age"));
}

TEST_F(CompareTablesTest, BadNamesAndTestsAreErrorsNamingTheColumn) {
  const data::Table current = Synth(schema_, 300, 2);
  CompareOptions bad_column;
  bad_column.per_column["no_such"].test = DriftTest::kKs;
  EXPECT_THAT(CompareTables(schema_, reference_, current, bad_column).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "no column 'no_such'"));
  EXPECT_THAT(CompareTables(schema_, reference_, current, {.columns = {"Attrition_Flag"}}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "not a feature"));
  CompareOptions ks_on_category;
  ks_on_category.per_column["Gender"].test = DriftTest::kKs;
  EXPECT_THAT(CompareTables(schema_, reference_, current, ks_on_category).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "Gender"));
  EXPECT_THAT(CompareTables(schema_, reference_, current, {.share_threshold = 1.5}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace churn::drift
