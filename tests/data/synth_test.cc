#include "churn/data/synth.h"

#include <algorithm>
#include <filesystem>

#include "testing/test_env.h"

#include "churn/base/status_macros.h"
#include "churn/data/csv_table.h"
#include "churn/data/profile.h"

namespace churn::data {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;

Schema BankChurners() {
  auto schema = LoadSchemaFile(
      (std::filesystem::path(testing::SourceDir()) / "configs" / "bank_churners.yaml").string());
  EXPECT_THAT(schema, IsOk());
  return *schema;
}

absl::StatusOr<ReadTableResult> Generate(const SynthOptions& options) {
  CHURN_ASSIGN_OR_RETURN(const std::string csv, GenerateSynthCsv(options));
  return ReadCsvTable(csv, BankChurners(), {});
}

double Mean(const Column& c) {
  double sum = 0;
  for (size_t r = 0; r < c.size(); ++r) {
    sum += c.AsDouble(r);
  }
  return sum / static_cast<double>(c.size());
}

TEST(Synth, SameSeedGivesSameBytesAndOtherSeedsDiffer) {
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string a, GenerateSynthCsv({.rows = 2000, .seed = 9}));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string b, GenerateSynthCsv({.rows = 2000, .seed = 9}));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string c, GenerateSynthCsv({.rows = 2000, .seed = 10}));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Synth, EveryRowValidatesAgainstTheBankChurnersSchema) {
  CHURN_ASSERT_OK_AND_ASSIGN(const ReadTableResult r, Generate({.rows = 20000, .seed = 1}));
  EXPECT_EQ(r.table.NumRows(), 20000U);
  EXPECT_EQ(r.report.violations_total, 0U);
}

TEST(Synth, ChurnRateAndItsDriversLookLikeTheRealData) {
  CHURN_ASSERT_OK_AND_ASSIGN(const ReadTableResult r, Generate({.rows = 20000, .seed = 1}));
  const DatasetProfile profile = ComputeProfile(r.table, BankChurners());
  const double rate = static_cast<double>(profile.positives) / 20000.0;
  EXPECT_GT(rate, 0.13);
  EXPECT_LT(rate, 0.19);
  // Churners transact less and keep lower balances, as in the Kaggle file.
  const Column& label = *r.table.Find("Attrition_Flag");
  const Column& count = *r.table.Find("Total_Trans_Ct");
  const Column& balance = *r.table.Find("Total_Revolving_Bal");
  double churned_ct = 0;
  double stayed_ct = 0;
  double churned_bal = 0;
  double stayed_bal = 0;
  for (size_t i = 0; i < label.size(); ++i) {
    const bool churned = label.codes[i] == 1;
    (churned ? churned_ct : stayed_ct) += count.AsDouble(i);
    (churned ? churned_bal : stayed_bal) += balance.AsDouble(i);
  }
  const auto churners = static_cast<double>(profile.positives);
  const double stayers = 20000.0 - churners;
  EXPECT_LT(churned_ct / churners, stayed_ct / stayers - 10);
  EXPECT_LT(churned_bal / churners, stayed_bal / stayers - 200);
}

TEST(Synth, DerivedIdentitiesHold) {
  CHURN_ASSERT_OK_AND_ASSIGN(const ReadTableResult r, Generate({.rows = 5000, .seed = 2}));
  const Column& limit = *r.table.Find("Credit_Limit");
  const Column& balance = *r.table.Find("Total_Revolving_Bal");
  const Column& open = *r.table.Find("Avg_Open_To_Buy");
  const Column& utilisation = *r.table.Find("Avg_Utilization_Ratio");
  for (size_t i = 0; i < limit.size(); ++i) {
    EXPECT_NEAR(open.AsDouble(i), limit.AsDouble(i) - balance.AsDouble(i), 0.051) << i;
    EXPECT_NEAR(utilisation.AsDouble(i), balance.AsDouble(i) / limit.AsDouble(i), 0.0006) << i;
  }
}

TEST(Synth, WithoutLabelLeavesOutTheTargetColumn) {
  SynthOptions options{.rows = 10, .seed = 1};
  options.with_label = false;
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string csv, GenerateSynthCsv(options));
  const std::string header = csv.substr(0, csv.find('\n'));
  EXPECT_EQ(header.rfind("CLIENTNUM,Customer_Age,", 0), 0U) << header;
  EXPECT_EQ(std::count(header.begin(), header.end(), ','), 21);
  EXPECT_EQ(csv.find(" Customer"), std::string::npos);  // no "Existing/Attrited Customer"
}

TEST(Synth, ShiftAndScaleMoveANumericColumn) {
  CHURN_ASSERT_OK_AND_ASSIGN(const ReadTableResult base, Generate({.rows = 10000, .seed = 4}));
  CHURN_ASSERT_OK_AND_ASSIGN(const SynthDrift shift, ParseSynthDrift("shift:Customer_Age=5"));
  CHURN_ASSERT_OK_AND_ASSIGN(const ReadTableResult moved,
                             Generate({.rows = 10000, .seed = 4, .drift = {shift}}));
  const double delta =
      Mean(*moved.table.Find("Customer_Age")) - Mean(*base.table.Find("Customer_Age"));
  EXPECT_NEAR(delta, 5.0, 0.6);  // clipping at 73 takes a little off
  // Covariates move, the concept does not: the labels are the same.
  EXPECT_EQ(moved.table.Find("Attrition_Flag")->codes, base.table.Find("Attrition_Flag")->codes);
  CHURN_ASSERT_OK_AND_ASSIGN(const SynthDrift scale, ParseSynthDrift("scale:Credit_Limit=0.5"));
  CHURN_ASSERT_OK_AND_ASSIGN(const ReadTableResult scaled,
                             Generate({.rows = 10000, .seed = 4, .drift = {scale}}));
  EXPECT_LT(Mean(*scaled.table.Find("Credit_Limit")), 0.6 * Mean(*base.table.Find("Credit_Limit")));
}

TEST(Synth, MixChangesCategoryFrequencies) {
  CHURN_ASSERT_OK_AND_ASSIGN(const SynthDrift mix,
                             ParseSynthDrift("mix:Card_Category=Blue:1,Gold:1"));
  CHURN_ASSERT_OK_AND_ASSIGN(const ReadTableResult r,
                             Generate({.rows = 10000, .seed = 5, .drift = {mix}}));
  const Column& card = *r.table.Find("Card_Category");
  size_t gold = 0;
  size_t silver = 0;
  for (size_t i = 0; i < card.size(); ++i) {
    gold += card.codes[i] == 2 ? 1 : 0;
    silver += card.codes[i] == 1 ? 1 : 0;
  }
  EXPECT_NEAR(static_cast<double>(gold) / 10000.0, 0.5, 0.03);
  EXPECT_EQ(silver, 0U);
  CHURN_ASSERT_OK_AND_ASSIGN(const SynthDrift income,
                             ParseSynthDrift("mix:Income_Category=$120K +:1"));
  EXPECT_EQ(income.mix[0].first, "$120K +");
}

TEST(Synth, BadOptionsAndDriftSpecsAreRejected) {
  EXPECT_THAT(GenerateSynthCsv({.rows = 0}), StatusIs(absl::StatusCode::kInvalidArgument));
  for (const char* bad : {"tilt:Customer_Age=1", "shift:Customer_Age", "shift:Customer_Age=abc",
                          "mix:Card_Category=Blue", "shift:=3"}) {
    EXPECT_THAT(ParseSynthDrift(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  CHURN_ASSERT_OK_AND_ASSIGN(const SynthDrift unknown, ParseSynthDrift("shift:Nope=1"));
  EXPECT_THAT(GenerateSynthCsv({.rows = 10, .drift = {unknown}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "'Nope'"));
  CHURN_ASSERT_OK_AND_ASSIGN(const SynthDrift level, ParseSynthDrift("mix:Gender=X:1"));
  EXPECT_THAT(GenerateSynthCsv({.rows = 10, .drift = {level}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "no level 'X'"));
  CHURN_ASSERT_OK_AND_ASSIGN(const SynthDrift categorical, ParseSynthDrift("shift:Gender=1"));
  EXPECT_THAT(GenerateSynthCsv({.rows = 10, .drift = {categorical}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "not a numeric column"));
}

}  // namespace
}  // namespace churn::data
