// The reference profile (exact values, Evidently's test choice, JSON round trip), the live
// monitor (count and time windows, bounded memory, labels), CBPE against labels drawn from the
// probabilities, and the two properties monitoring must have: a drift scenario is flagged within
// one window, and undrifted windows raise few false alarms (measured over many seeds).
#include "churn/drift/monitor.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "drift/drift_fixture.h"
#include "testing/test_env.h"

#include "churn/drift/quality.h"
#include "churn/drift/reference.h"
#include "churn/drift/report.h"
#include "churn/metrics/classification.h"

namespace churn::drift {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;
using testing::BankSchema;
using testing::FeaturesOf;
using testing::MatrixOf;
using testing::Synth;

// A score per row that depends on the rows (so prediction drift follows feature drift): a
// logistic function of the transaction count.
std::vector<float> ScoresOf(const data::Table& table) {
  const data::Column* ct = table.Find("Total_Trans_Ct");
  EXPECT_NE(ct, nullptr);
  std::vector<float> out(table.NumRows());
  for (size_t r = 0; r < out.size(); ++r) {
    out[r] = static_cast<float>(1.0 / (1.0 + std::exp((ct->AsDouble(r) - 55.0) / 8.0)));
  }
  return out;
}

std::vector<float> LabelsOf(const data::Table& table) {
  const data::Column* y = table.Find("Attrition_Flag");
  EXPECT_NE(y, nullptr);
  std::vector<float> out(table.NumRows());
  for (size_t r = 0; r < out.size(); ++r) {
    // Code of the positive level ("Attrited Customer") is its index in the schema's levels.
    out[r] = y->spec.levels[static_cast<size_t>(y->codes[r])] == "Attrited Customer" ? 1.0f : 0.0f;
  }
  return out;
}

struct Built {
  data::Schema schema;
  std::shared_ptr<const ReferenceProfile> reference;
};

Built MakeReference(int64_t rows, uint64_t seed) {
  Built b{.schema = BankSchema(), .reference = nullptr};
  const data::Table table = Synth(b.schema, rows, seed);
  const std::vector<float> matrix = MatrixOf(b.schema, table);
  const std::vector<float> scores = ScoresOf(table);
  const std::vector<float> labels = LabelsOf(table);
  const std::vector<MonitoredFeature> features = FeaturesOf(b.schema);
  absl::StatusOr<ReferenceProfile> ref = BuildReference({.features = features,
                                                         .matrix = matrix,
                                                         .width = features.size(),
                                                         .scores = scores,
                                                         .labels = labels,
                                                         .decision_threshold = 0.5});
  EXPECT_THAT(ref.status(), IsOk());
  b.reference = std::make_shared<const ReferenceProfile>(ref.ok() ? *ref : ReferenceProfile{});
  return b;
}

// Feeds `table` to the monitor, one prediction per row, `step` apart from `start`.
void Feed(DriftMonitor& monitor, const data::Schema& schema, const data::Table& table,
          absl::Time start, absl::Duration step = absl::Milliseconds(1)) {
  const std::vector<float> matrix = MatrixOf(schema, table);
  const std::vector<float> scores = ScoresOf(table);
  const size_t width = schema.Features().size();
  for (size_t r = 0; r < table.NumRows(); ++r) {
    monitor.Observe(absl::MakeConstSpan(&matrix[r * width], width), scores[r], "", "",
                    start + step * static_cast<double>(r));
  }
}

const ColumnDrift* Column(const WindowReport& w, const std::string& name) {
  for (const ColumnDrift& c : w.columns) {
    if (c.feature == name) {
      return &c;
    }
  }
  return nullptr;
}

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

TEST(ReferenceTest, KeepsEveryValueWithItsCountAndChoosesEvidentlysTest) {
  const Built big = MakeReference(3000, 1);
  const ReferenceProfile& ref = *big.reference;
  EXPECT_EQ(ref.rows, 3000U);
  ASSERT_EQ(ref.columns.size(), 19U);
  for (const ReferenceColumn& c : ref.columns) {
    EXPECT_EQ(c.NonMissing() + c.missing, 3000U) << c.feature.name;
    EXPECT_TRUE(std::is_sorted(c.values.begin(), c.values.end())) << c.feature.name;
    EXPECT_EQ(c.Expanded().size(), c.NonMissing());
    // Reference over 1,000 rows: wasserstein for numeric columns with more than 5 values,
    // jensenshannon otherwise, both at 0.1.
    const bool many = c.feature.kind == ColumnKind::kNumeric && c.values.size() > 5;
    EXPECT_EQ(c.test, many ? DriftTest::kWasserstein : DriftTest::kJensenShannon) << c.feature.name;
    EXPECT_EQ(c.threshold, 0.1);
  }
  EXPECT_EQ(ref.labeled, 3000U);
  EXPECT_GT(ref.positives, 0U);
  EXPECT_LT(ref.positives, 3000U);

  const Built small = MakeReference(800, 1);
  for (const ReferenceColumn& c : small.reference->columns) {
    const bool many = c.feature.kind == ColumnKind::kNumeric && c.values.size() > 5;
    const DriftTest expected =
        many ? DriftTest::kKs : (c.values.size() > 2 ? DriftTest::kChiSquare : DriftTest::kZ);
    EXPECT_EQ(c.test, expected) << c.feature.name;
    EXPECT_EQ(c.threshold, 0.05);
  }
}

TEST(ReferenceTest, JsonRoundTripsExactlyAndBadDocumentsNameTheField) {
  const Built b = MakeReference(1500, 3);
  CHURN_ASSERT_OK_AND_ASSIGN(const ReferenceProfile back,
                             ReferenceProfile::FromJson(b.reference->ToJson()));
  EXPECT_EQ(back.ToJson(), b.reference->ToJson());
  ASSERT_EQ(back.columns.size(), b.reference->columns.size());
  EXPECT_EQ(back.columns[3].values, b.reference->columns[3].values);
  EXPECT_EQ(back.scores.counts, b.reference->scores.counts);

  EXPECT_THAT(ReferenceProfile::FromJson("[1]"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ReferenceProfile::FromJson(R"({"format":7})"),
              StatusIs(absl::StatusCode::kInvalidArgument, "format"));
  std::string negative = b.reference->ToJson();
  negative.replace(negative.find("\"counts\":[") + 10, 0, "-1,");
  negative.replace(negative.find("\"values\":[") + 10, 0, "-1e300,");
  EXPECT_THAT(ReferenceProfile::FromJson(negative), StatusIs(absl::StatusCode::kInvalidArgument))
      << "a negative count";
  EXPECT_THAT(ReferenceProfile::FromJson(R"({"format":"other"})"),
              StatusIs(absl::StatusCode::kInvalidArgument, "format"));
  std::string text = b.reference->ToJson();
  text.replace(text.find("\"test\":\""), 8, "\"test\":\"x");
  EXPECT_THAT(ReferenceProfile::FromJson(text),
              StatusIs(absl::StatusCode::kInvalidArgument, "columns[0].test"));
}

TEST(ReferenceTest, OverridesAndBadInput) {
  const data::Schema schema = BankSchema();
  const data::Table table = Synth(schema, 2000, 5);
  const std::vector<float> matrix = MatrixOf(schema, table);
  const std::vector<float> scores = ScoresOf(table);
  const std::vector<MonitoredFeature> features = FeaturesOf(schema);
  ReferenceInput in{.features = features,
                    .matrix = matrix,
                    .width = features.size(),
                    .scores = scores,
                    .per_column = {{"Customer_Age", {.test = DriftTest::kPsi, .threshold = 0.2}}}};
  CHURN_ASSERT_OK_AND_ASSIGN(const ReferenceProfile ref, BuildReference(in));
  EXPECT_EQ(ref.columns[0].feature.name, "Customer_Age");
  EXPECT_EQ(ref.columns[0].test, DriftTest::kPsi);
  EXPECT_EQ(ref.columns[0].threshold, 0.2);
  EXPECT_EQ(ref.labeled, 0U);

  in.per_column = {{"Gender", {.test = DriftTest::kKs, .threshold = std::nullopt}}};
  EXPECT_THAT(BuildReference(in), StatusIs(absl::StatusCode::kInvalidArgument, "categorical"));
  in.per_column = {{"Nope", ColumnOptions{}}};
  EXPECT_THAT(BuildReference(in), StatusIs(absl::StatusCode::kInvalidArgument, "Nope"));
  in.per_column = {};
  in.width = features.size() + 1;
  EXPECT_THAT(BuildReference(in), StatusIs(absl::StatusCode::kInvalidArgument));
  in.width = features.size();
  in.scores = absl::MakeConstSpan(scores).subspan(1);
  EXPECT_THAT(BuildReference(in), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ReferenceTest, MaxRowsKeepsAnEvenlySpacedSubset) {
  const data::Schema schema = BankSchema();
  const data::Table table = Synth(schema, 5000, 7);
  const std::vector<float> matrix = MatrixOf(schema, table);
  const std::vector<float> scores = ScoresOf(table);
  const std::vector<MonitoredFeature> features = FeaturesOf(schema);
  CHURN_ASSERT_OK_AND_ASSIGN(const ReferenceProfile ref, BuildReference({.features = features,
                                                                         .matrix = matrix,
                                                                         .width = features.size(),
                                                                         .scores = scores,
                                                                         .max_rows = 1000}));
  EXPECT_EQ(ref.rows, 1000U);
  EXPECT_EQ(ref.columns[0].NonMissing() + ref.columns[0].missing, 1000U);
}

TEST(ReferenceTest, OverridesFromTextAndWhatCannotApply) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const auto overrides,
      ParseColumnOverrides(" education_level=jensenshannon, Total_Trans_Ct=ks:0.01,Gender=ks,"
                           "Nope=psi"));
  ASSERT_EQ(overrides.size(), 4U);
  EXPECT_EQ(overrides.at("Total_Trans_Ct").threshold, 0.01);
  EXPECT_FALSE(overrides.at("education_level").threshold.has_value());
  const Built b = MakeReference(800, 3);
  std::vector<std::string> ignored;
  const ReferenceProfile r = WithOverrides(*b.reference, overrides, &ignored);
  ASSERT_EQ(ignored.size(), 2U);
  EXPECT_THAT(ignored[0], ::testing::HasSubstr("Gender"));  // ks on a categorical input
  EXPECT_THAT(ignored[1], ::testing::HasSubstr("no such input"));
  for (size_t i = 0; i < r.columns.size(); ++i) {
    const ReferenceColumn& c = r.columns[i];
    if (c.feature.name == "Education_Level") {
      EXPECT_EQ(c.test, DriftTest::kJensenShannon);
      EXPECT_EQ(c.threshold, 0.1);
    } else if (c.feature.name == "Total_Trans_Ct") {
      EXPECT_EQ(c.test, DriftTest::kKs);
      EXPECT_EQ(c.threshold, 0.01);
    } else {
      EXPECT_EQ(c.test, b.reference->columns[i].test) << c.feature.name << " is unchanged";
    }
  }
  // The monitor applies them; an empty text is no override.
  DriftMonitor monitor(b.reference, {.per_column = overrides});
  EXPECT_EQ(monitor.IgnoredOverrides().size(), 2U);
  EXPECT_EQ(monitor.Reference().columns[3].test, DriftTest::kJensenShannon);
  CHURN_ASSERT_OK_AND_ASSIGN(const auto none, ParseColumnOverrides(""));
  EXPECT_TRUE(none.empty());
  EXPECT_THAT(ParseColumnOverrides("Gender"),
              StatusIs(absl::StatusCode::kInvalidArgument, "'Gender'"));
  EXPECT_THAT(ParseColumnOverrides("Gender=kolmogorov"),
              StatusIs(absl::StatusCode::kInvalidArgument, "unknown test"));
  EXPECT_THAT(ParseColumnOverrides("Gender=z:-1"),
              StatusIs(absl::StatusCode::kInvalidArgument, "threshold"));
}

// The monitor's count window gives what CompareTables (the offline path, on the raw table) gives
// for the same rows, column by column: the live numbers are Evidently's numbers.
TEST(DriftMonitorTest, CountWindowMatchesTheOfflineReport) {
  const data::Schema schema = BankSchema();
  const data::Table ref_table = Synth(schema, 3000, 11);
  const Built b = MakeReference(3000, 11);
  DriftMonitor monitor(b.reference, {.count_rows = 1000});
  const data::Table current = Synth(schema, 1000, 12, {"scale:Total_Trans_Ct=0.5"});
  Feed(monitor, schema, current, kStart);
  const MonitorReport r = monitor.Compute(kStart + absl::Seconds(1));
  ASSERT_EQ(r.windows.size(), 2U);
  const WindowReport& w = r.windows[0];
  ASSERT_TRUE(w.computed);
  EXPECT_EQ(w.rows, 1000U);
  CHURN_ASSERT_OK_AND_ASSIGN(const DatasetReport offline,
                             CompareTables(schema, ref_table, current, {}));
  ASSERT_EQ(w.columns.size(), offline.columns.size());
  for (size_t i = 0; i < w.columns.size(); ++i) {
    const ColumnReport& o = offline.columns[i];
    EXPECT_EQ(w.columns[i].feature, o.column);
    EXPECT_EQ(w.columns[i].result.test_name, o.result.test_name) << o.column;
    // Floats (what a served model sees) against the table's doubles.
    EXPECT_NEAR(w.columns[i].result.score, o.result.score, 1e-5 + 1e-5 * o.result.score)
        << o.column;
    EXPECT_EQ(w.columns[i].result.drifted, o.result.drifted) << o.column;
  }
  EXPECT_EQ(w.dataset.drifted_columns, offline.dataset.drifted_columns);
  const ColumnDrift* ct = Column(w, "Total_Trans_Ct");
  ASSERT_NE(ct, nullptr);
  EXPECT_TRUE(ct->result.drifted);
  // The score follows the transaction count: prediction drift, and a higher mean.
  EXPECT_TRUE(w.prediction.drifted);
  EXPECT_GT(w.score_mean, 0.5);
}

TEST(DriftMonitorTest, CountWindowHoldsTheLastRowsOnly) {
  const Built b = MakeReference(3000, 21);
  DriftMonitor monitor(b.reference, {.count_rows = 1000});
  Feed(monitor, b.schema, Synth(b.schema, 1000, 22, {"scale:Total_Trans_Ct=0.5"}), kStart);
  MonitorReport r = monitor.Compute(kStart + absl::Seconds(2));
  ASSERT_NE(Column(r.windows[0], "Total_Trans_Ct"), nullptr);
  EXPECT_TRUE(Column(r.windows[0], "Total_Trans_Ct")->result.drifted);
  // 1,000 undrifted rows later the drifted ones have left the count window.
  Feed(monitor, b.schema, Synth(b.schema, 1000, 23), kStart + absl::Seconds(2));
  r = monitor.Compute(kStart + absl::Seconds(4));
  EXPECT_EQ(r.observed, 2000U);
  EXPECT_EQ(r.windows[0].rows, 1000U);
  EXPECT_FALSE(Column(r.windows[0], "Total_Trans_Ct")->result.drifted);
  // The time window (5 minutes) still holds both halves: one 10 s bucket, whose reservoir keeps a
  // uniform sample of 30,000 / 30 rows.
  EXPECT_EQ(r.windows[1].rows, 1000U);
}

TEST(DriftMonitorTest, TimeWindowForgetsOldRowsAndStaysBounded) {
  const Built b = MakeReference(3000, 31);
  const MonitorOptions options{
      .count_rows = 500, .time_span = absl::Minutes(5), .time_buckets = 30, .time_max_rows = 30000};
  DriftMonitor monitor(b.reference, options);
  // 20,000 rows within 8 s: one bucket's reservoir keeps 30,000 / 30 of them.
  Feed(monitor, b.schema, Synth(b.schema, 20000, 32), kStart, absl::Microseconds(400));
  MonitorReport r = monitor.Compute(kStart + absl::Seconds(9));
  EXPECT_EQ(r.windows[0].rows, 500U);
  EXPECT_EQ(r.windows[1].rows, 1000U);
  EXPECT_TRUE(r.windows[1].computed);
  // A sample of the bucket, not its first rows: no drift against the reference.
  EXPECT_FALSE(r.windows[1].dataset.drifted);
  // Spread over 5 minutes (200 a second) the window holds one reservoir per 10 s bucket: at most
  // 30,000 rows whatever the rate.
  Feed(monitor, b.schema, Synth(b.schema, 60000, 33), kStart + absl::Seconds(10),
       absl::Milliseconds(5));
  r = monitor.Compute(kStart + absl::Seconds(310));
  EXPECT_LE(r.windows[1].rows, 30000U);
  EXPECT_GE(r.windows[1].rows, 28000U);
  // Ten minutes of silence: the time window is empty, the count window is not.
  r = monitor.Compute(kStart + absl::Minutes(16));
  EXPECT_EQ(r.windows[1].rows, 0U);
  EXPECT_FALSE(r.windows[1].computed);
  EXPECT_EQ(r.windows[0].rows, 500U);
  // 19 features and the score, 4 bytes each: 500 + 30,000 rows, plus 100,000 remembered ids.
  EXPECT_LT(monitor.CapacityBytes(), 8u << 20);
}

TEST(DriftMonitorTest, LabelsFindTheirPredictionsOnce) {
  const Built b = MakeReference(2000, 41);
  DriftMonitor monitor(b.reference, {.min_rows = 2, .labeled_rows = 3, .label_lookup = 4});
  const std::vector<float> row(19, 1.0f);
  monitor.Observe(row, 0.9, "r1", "c1", kStart);
  monitor.Observe(row, 0.2, "r2", "c2", kStart);
  monitor.Observe(row, 0.7, "", "c1", kStart);  // c1's latest prediction
  EXPECT_TRUE(monitor.Label("r1", "", 1));
  EXPECT_FALSE(monitor.Label("r1", "", 1)) << "labeled twice";
  EXPECT_TRUE(monitor.Label("", "c1", 0));  // the 0.7 one
  EXPECT_TRUE(monitor.Label("nope", "c2", 0)) << "an unknown request id falls back to the customer";
  EXPECT_FALSE(monitor.Label("nope", "", 1));
  MonitorReport r = monitor.Compute(kStart);
  EXPECT_EQ(r.labels_matched, 3U);
  EXPECT_EQ(r.labels_unmatched, 2U);
  ASSERT_EQ(r.labeled.rows, 3U);
  EXPECT_EQ(r.labeled.positives, 1U);
  ASSERT_TRUE(r.labeled.computed);
  // Labels (1, 0, 0) for probabilities (0.9, 0.7, 0.2) at threshold 0.5.
  EXPECT_DOUBLE_EQ(r.labeled.realized.roc_auc, 1.0);
  EXPECT_DOUBLE_EQ(r.labeled.realized.precision, 0.5);
  EXPECT_DOUBLE_EQ(r.labeled.realized.recall, 1.0);
  // Four remembered at most: r1's slot is reused after four more predictions.
  for (int i = 0; i < 4; ++i) {
    monitor.Observe(row, 0.5, absl::StrCat("n", i), "", kStart);
  }
  EXPECT_FALSE(monitor.Label("r2", "", 1));
  EXPECT_TRUE(monitor.Label("n0", "", 1));
}

TEST(DriftMonitorTest, TargetDriftWhenTheLabeledRateMoves) {
  const Built b = MakeReference(3000, 51);
  DriftMonitor monitor(b.reference, {.min_rows = 100, .labeled_rows = 500});
  const std::vector<float> row(19, 1.0f);
  const double rate = static_cast<double>(b.reference->positives) / 3000.0;
  std::mt19937_64 rng(5);
  std::bernoulli_distribution same(rate);
  for (int i = 0; i < 500; ++i) {
    monitor.Observe(row, 0.3, absl::StrCat("a", i), "", kStart);
    monitor.Label(absl::StrCat("a", i), "", same(rng) ? 1 : 0);
  }
  MonitorReport r = monitor.Compute(kStart);
  ASSERT_TRUE(r.labeled.computed);
  EXPECT_EQ(r.labeled.target.test_name, "z");
  EXPECT_FALSE(r.labeled.target.drifted) << r.labeled.target.score;
  std::bernoulli_distribution high(std::min(0.9, rate * 3));
  for (int i = 0; i < 500; ++i) {
    monitor.Observe(row, 0.3, absl::StrCat("b", i), "", kStart);
    monitor.Label(absl::StrCat("b", i), "", high(rng) ? 1 : 0);
  }
  r = monitor.Compute(kStart);
  EXPECT_TRUE(r.labeled.target.drifted) << r.labeled.target.score;
}

TEST(DriftMonitorTest, ObserveAndComputeFromManyThreads) {
  const Built b = MakeReference(2000, 61);
  DriftMonitor monitor(b.reference, {.count_rows = 1000});
  const data::Table rows = Synth(b.schema, 2000, 62);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] { Feed(monitor, b.schema, rows, kStart + absl::Seconds(t)); });
  }
  for (int i = 0; i < 5; ++i) {
    (void)monitor.Compute(kStart + absl::Seconds(3));
  }
  for (std::thread& t : threads) {
    t.join();
  }
  const MonitorReport r = monitor.Compute(kStart + absl::Seconds(5));
  EXPECT_EQ(r.observed, 8000U);
  EXPECT_EQ(r.windows[0].rows, 1000U);
  EXPECT_FALSE(r.windows[0].dataset.drifted);
}

TEST(DriftMonitorTest, OptionsAreValidated) {
  EXPECT_THAT(MonitorOptions{}.Validate(), IsOk());
  EXPECT_THAT((MonitorOptions{.count_rows = 0}.Validate()),
              StatusIs(absl::StatusCode::kInvalidArgument, "count_rows"));
  EXPECT_THAT((MonitorOptions{.time_buckets = 0}.Validate()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT((MonitorOptions{.share_threshold = 2}.Validate()),
              StatusIs(absl::StatusCode::kInvalidArgument, "share"));
}

// Monitoring's two properties, on the synthetic generator: a halved transaction count is flagged
// in the first window of 1,000 predictions (count and time windows alike), with both reference
// sizes (Evidently's tests differ below and above 1,000 rows); and windows drawn from the
// reference's own distribution raise the dataset-drift alarm in at most 5% of them, and a
// per-column alarm at about the tests' nominal rate.
struct AlarmCase {
  int64_t reference_rows;
};

class FalseAlarmTest : public ::testing::TestWithParam<AlarmCase> {};

TEST_P(FalseAlarmTest, DriftFlaggedInOneWindowAndFewFalseAlarms) {
  const Built b = MakeReference(GetParam().reference_rows, 1000);
  {
    DriftMonitor monitor(b.reference, {.count_rows = 1000});
    Feed(monitor, b.schema, Synth(b.schema, 1000, 999, {"scale:Total_Trans_Ct=0.5"}), kStart);
    const MonitorReport r = monitor.Compute(kStart + absl::Seconds(1));
    for (const WindowReport& w : r.windows) {
      const ColumnDrift* ct = Column(w, "Total_Trans_Ct");
      ASSERT_NE(ct, nullptr) << WindowName(w.kind);
      EXPECT_TRUE(ct->result.drifted) << WindowName(w.kind) << " " << ct->result.score;
    }
  }
  constexpr int kWindows = 100;
  int dataset_alarms = 0;
  std::map<std::string, int> by_column;
  for (int seed = 0; seed < kWindows; ++seed) {
    DriftMonitor monitor(b.reference, {.count_rows = 1000});
    Feed(monitor, b.schema, Synth(b.schema, 1000, 2000 + seed), kStart);
    const WindowReport w = monitor.Compute(kStart + absl::Seconds(1)).windows[0];
    ASSERT_TRUE(w.computed);
    dataset_alarms += w.dataset.drifted ? 1 : 0;
    for (const ColumnDrift& c : w.columns) {
      by_column[c.feature] += c.result.drifted ? 1 : 0;
    }
  }
  RecordProperty("dataset_alarms", dataset_alarms);
  EXPECT_LE(dataset_alarms, kWindows * 5 / 100);
  int calibrated_alarms = 0;
  int calibrated_tests = 0;
  for (const ReferenceColumn& c : b.reference->columns) {
    const int alarms = by_column[c.feature.name];
    RecordProperty(c.feature.name + "." + std::string(DriftTestName(c.test)), alarms);
    if (c.test == DriftTest::kChiSquare) {
      // Evidently's chisquare takes the reference's proportions as exact (a goodness-of-fit
      // test), so with a small reference it alarms far more often than its 5% (docs/drift.md).
      continue;
    }
    calibrated_alarms += alarms;
    calibrated_tests += kWindows;
    EXPECT_LE(alarms, 12) << c.feature.name << " (" << DriftTestName(c.test) << ") alarmed in "
                          << alarms << " of " << kWindows << " undrifted windows";
  }
  // ks and z are exact or conservative at 5%; the distances at 0.1 almost never alarm here.
  EXPECT_LE(static_cast<double>(calibrated_alarms) / calibrated_tests, 0.06);
}

INSTANTIATE_TEST_SUITE_P(ReferenceSizes, FalseAlarmTest,
                         ::testing::Values(AlarmCase{800}, AlarmCase{5000}),
                         [](const ::testing::TestParamInfo<AlarmCase>& p) {
                           return absl::StrCat("Reference", p.param.reference_rows);
                         });

// CBPE is unbiased when the probabilities are calibrated: labels drawn as Bernoulli(p) give, on
// average over many draws, the quality CBPE estimated from p alone (metrics computed by the
// metrics module, itself checked against scikit-learn).
TEST(QualityTest, EstimateMatchesTheAverageOverLabelsDrawnFromTheProbabilities) {
  std::mt19937_64 rng(77);
  std::normal_distribution<double> z(-1.2, 1.6);
  std::vector<float> p(2000);
  for (float& v : p) {
    v = static_cast<float>(1.0 / (1.0 + std::exp(-z(rng))));
  }
  CHURN_ASSERT_OK_AND_ASSIGN(const Quality estimated, EstimateQuality(p, 0.5));
  constexpr int kDraws = 300;
  Quality mean;
  std::vector<float> labels(p.size());
  for (int d = 0; d < kDraws; ++d) {
    for (size_t i = 0; i < p.size(); ++i) {
      labels[i] = std::bernoulli_distribution(p[i])(rng) ? 1.0f : 0.0f;
    }
    CHURN_ASSERT_OK_AND_ASSIGN(const double auc, metrics::RocAuc(labels, p));
    CHURN_ASSERT_OK_AND_ASSIGN(const metrics::Confusion c, metrics::ConfusionAt(labels, p, 0.5));
    mean.roc_auc += auc / kDraws;
    mean.precision += c.Precision() / kDraws;
    mean.recall += c.Recall() / kDraws;
    mean.f1 += c.F1() / kDraws;
    mean.accuracy += static_cast<double>(c.tp + c.tn) / static_cast<double>(p.size()) / kDraws;
  }
  EXPECT_NEAR(estimated.roc_auc, mean.roc_auc, 0.01);
  EXPECT_NEAR(estimated.precision, mean.precision, 0.01);
  EXPECT_NEAR(estimated.recall, mean.recall, 0.01);
  EXPECT_NEAR(estimated.f1, mean.f1, 0.01);
  EXPECT_NEAR(estimated.accuracy, mean.accuracy, 0.01);
}

TEST(QualityTest, SmallCasesByHandAndBadInput) {
  // p = (0.8, 0.4) at 0.5: expected TP 0.8, FP 0.2, FN 0.4, TN 0.6; the expected ROC curve
  // encloses 0.2 * 0.4 + 0.6 * (0.8 + 0.2) = 0.68 of 1.2 * 0.8.
  CHURN_ASSERT_OK_AND_ASSIGN(const Quality q, EstimateQuality(std::vector<float>{0.8f, 0.4f}, 0.5));
  EXPECT_NEAR(q.precision, 0.8, 1e-6);
  EXPECT_NEAR(q.recall, 0.8 / 1.2, 1e-6);
  EXPECT_NEAR(q.accuracy, 0.7, 1e-6);
  EXPECT_NEAR(q.f1, 1.6 / (1.6 + 0.2 + 0.4), 1e-6);
  EXPECT_NEAR(q.roc_auc, 0.68 / 0.96, 1e-6);
  CHURN_ASSERT_OK_AND_ASSIGN(const Quality sure,
                             EstimateQuality(std::vector<float>{1, 1, 0, 0}, 0.5));
  EXPECT_DOUBLE_EQ(sure.roc_auc, 1.0);
  EXPECT_DOUBLE_EQ(sure.f1, 1.0);
  EXPECT_THAT(EstimateQuality({}, 0.5), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(EstimateQuality(std::vector<float>{1.5f}, 0.5),
              StatusIs(absl::StatusCode::kInvalidArgument, "1.5"));
  EXPECT_THAT(RealizedQuality(std::vector<float>{1, 1}, std::vector<float>{0.2f, 0.3f}, 0.5),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace churn::drift
