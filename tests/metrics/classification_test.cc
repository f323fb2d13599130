#include "churn/metrics/classification.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "testing/test_env.h"

#include "churn/base/file.h"

namespace churn::metrics {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;
using ::nlohmann::json;

// Every expected number comes from scikit-learn 1.2.1 (tests/fixtures/metrics/make_fixtures.py
// wrote classification.json); the tolerance the module promises.
constexpr double kTol = 1e-9;

// NOLINTNEXTLINE(bugprone-exception-escape): json's noexcept move calls its invariant check
struct Case {
  std::string name;
  std::vector<float> labels;
  std::vector<float> scores;
  json expected;
};

std::filesystem::path FixturePath() {
  return std::filesystem::path(testing::SourceDir()) / "tests/fixtures/metrics/classification.json";
}

// The fixture's cases; an empty list (and a test failure) when the file is missing or broken.
std::vector<Case> LoadCases() {
  const absl::StatusOr<std::string> text = base::ReadFile(FixturePath());
  EXPECT_THAT(text, IsOk());
  if (!text.ok()) {
    return {};
  }
  const json doc = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(doc.is_object() && doc.contains("cases")) << FixturePath();
  if (!doc.is_object() || !doc.contains("cases")) {
    return {};
  }
  std::vector<Case> cases;
  for (const json& c : doc["cases"]) {
    Case out;
    out.name = c.at("name").get<std::string>();
    for (const json& v : c.at("labels")) {
      out.labels.push_back(v.get<float>());
    }
    for (const json& v : c.at("scores")) {
      out.scores.push_back(v.get<float>());
    }
    out.expected = c.at("expected");
    cases.push_back(std::move(out));
  }
  return cases;
}

double Num(const json& j, const char* key) {
  return j.at(key).get<double>();
}

std::vector<double> Doubles(const json& j) {
  return j.get<std::vector<double>>();
}

void ExpectNear(const std::vector<double>& actual, const std::vector<double>& expected,
                const char* what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], kTol) << what << "[" << i << "]";
  }
}

void ExpectChoice(const ThresholdChoice& actual, const json& expected) {
  EXPECT_NEAR(actual.threshold, Num(expected, "threshold"), kTol);
  EXPECT_NEAR(actual.precision, Num(expected, "precision"), kTol);
  EXPECT_NEAR(actual.recall, Num(expected, "recall"), kTol);
  EXPECT_NEAR(actual.f1, Num(expected, "f1"), kTol);
}

void ExpectCalibration(const CalibrationCurve& actual, const json& expected) {
  ExpectNear(actual.bin_lower, Doubles(expected.at("bin_lower")), "bin_lower");
  ExpectNear(actual.bin_upper, Doubles(expected.at("bin_upper")), "bin_upper");
  ExpectNear(actual.mean_predicted, Doubles(expected.at("mean_predicted")), "mean_predicted");
  ExpectNear(actual.fraction_positive, Doubles(expected.at("fraction_positive")),
             "fraction_positive");
  EXPECT_EQ(actual.counts, expected.at("counts").get<std::vector<uint64_t>>());
  EXPECT_NEAR(actual.ece, Num(expected, "ece"), kTol);
}

void ExpectConfusion(const Confusion& actual, const json& expected) {
  EXPECT_EQ(actual.tp, expected.at("tp").get<uint64_t>());
  EXPECT_EQ(actual.fp, expected.at("fp").get<uint64_t>());
  EXPECT_EQ(actual.tn, expected.at("tn").get<uint64_t>());
  EXPECT_EQ(actual.fn, expected.at("fn").get<uint64_t>());
}

// The fixture is what the tests below think it is: every case the generator writes, its scores
// exactly float32 values, each case with both classes.
TEST(Fixture, HoldsTheGeneratedCases) {
  const std::vector<Case> cases = LoadCases();
  std::vector<std::string> names;
  for (const Case& c : cases) {
    names.push_back(c.name);
    ASSERT_EQ(c.labels.size(), c.scores.size()) << c.name;
    const auto positives = std::count(c.labels.begin(), c.labels.end(), 1.0F);
    EXPECT_GT(positives, 0) << c.name;
    EXPECT_LT(positives, static_cast<ptrdiff_t>(c.labels.size())) << c.name;
  }
  EXPECT_THAT(names, ::testing::UnorderedElementsAre(
                         "random", "ties_1dp", "ties_2dp", "all_equal", "separated", "inverted",
                         "imbalanced", "tiny_n2", "tiny_n2_tied", "tiny_n3", "tiny_n4_doc",
                         "tiny_n5_ties", "f1_tie", "extremes"));
  // Written as the double value of a float32: parsing as double and as float agree.
  const json doc = json::parse(*base::ReadFile(FixturePath()));
  for (const json& c : doc["cases"]) {
    for (const json& v : c["scores"]) {
      ASSERT_EQ(static_cast<double>(v.get<float>()), v.get<double>()) << c["name"];
    }
  }
}

TEST(RocAuc, MatchesSklearn) {
  for (const Case& c : LoadCases()) {
    SCOPED_TRACE(c.name);
    CHURN_ASSERT_OK_AND_ASSIGN(const double auc, RocAuc(c.labels, c.scores));
    EXPECT_NEAR(auc, Num(c.expected, "roc_auc"), kTol);
  }
}

// Scores are rankings here, not probabilities: negating them (exact in float, and outside
// [0, 1]) reverses the order, so the AUC becomes 1 - AUC; ties stay ties.
TEST(RocAuc, AcceptsAnyFiniteScoresAndReversesWithThem) {
  for (const Case& c : LoadCases()) {
    SCOPED_TRACE(c.name);
    std::vector<float> negated;
    for (const float s : c.scores) {
      negated.push_back(-s);
    }
    CHURN_ASSERT_OK_AND_ASSIGN(const double auc, RocAuc(c.labels, negated));
    EXPECT_NEAR(auc, 1.0 - Num(c.expected, "roc_auc"), kTol);
  }
}

TEST(AveragePrecision, MatchesSklearn) {
  for (const Case& c : LoadCases()) {
    SCOPED_TRACE(c.name);
    CHURN_ASSERT_OK_AND_ASSIGN(const double ap, AveragePrecision(c.labels, c.scores));
    EXPECT_NEAR(ap, Num(c.expected, "average_precision"), kTol);
  }
}

TEST(LogLoss, MatchesSklearn) {
  for (const Case& c : LoadCases()) {
    SCOPED_TRACE(c.name);
    CHURN_ASSERT_OK_AND_ASSIGN(const double loss, LogLoss(c.labels, c.scores));
    EXPECT_NEAR(loss, Num(c.expected, "log_loss"), kTol);
  }
}

// A confident wrong prediction costs -log(eps), not infinity.
TEST(LogLoss, ClipsScoresToEps) {
  const std::vector<float> labels = {1, 0};
  const std::vector<float> scores = {0, 1};
  CHURN_ASSERT_OK_AND_ASSIGN(const double loss, LogLoss(labels, scores, 1e-7));
  // Both rows cost about -log(1e-7); the second is 1 - (1 - 1e-7) in double arithmetic.
  EXPECT_NEAR(loss, -(std::log(1e-7) + std::log(1.0 - (1.0 - 1e-7))) / 2, 1e-12);
  EXPECT_NEAR(loss, 16.118095650958319, 1e-6);
}

TEST(BrierScore, MatchesSklearn) {
  for (const Case& c : LoadCases()) {
    SCOPED_TRACE(c.name);
    CHURN_ASSERT_OK_AND_ASSIGN(const double brier, BrierScore(c.labels, c.scores));
    EXPECT_NEAR(brier, Num(c.expected, "brier"), kTol);
  }
}

// confusion_matrix and precision/recall/f1_score(zero_division=0) of (score >= 0.5).
TEST(ConfusionAt, MatchesSklearnAtOneHalf) {
  for (const Case& c : LoadCases()) {
    SCOPED_TRACE(c.name);
    const double threshold = Num(c.expected, "threshold");
    ASSERT_EQ(threshold, 0.5);
    CHURN_ASSERT_OK_AND_ASSIGN(const Confusion m, ConfusionAt(c.labels, c.scores, threshold));
    ExpectConfusion(m, c.expected.at("confusion"));
    EXPECT_NEAR(m.Precision(), Num(c.expected, "precision"), kTol);
    EXPECT_NEAR(m.Recall(), Num(c.expected, "recall"), kTol);
    EXPECT_NEAR(m.F1(), Num(c.expected, "f1"), kTol);
  }
}

TEST(ConfusionAt, ScoreEqualToTheThresholdIsPositive) {
  const std::vector<float> labels = {1, 0, 1, 0};
  const std::vector<float> scores = {0.25F, 0.25F, 0.75F, 0.125F};
  CHURN_ASSERT_OK_AND_ASSIGN(const Confusion m, ConfusionAt(labels, scores, 0.25));
  EXPECT_EQ(m.tp, 2U);
  EXPECT_EQ(m.fp, 1U);
  EXPECT_EQ(m.tn, 1U);
  EXPECT_EQ(m.fn, 0U);
}

TEST(Confusion, UndefinedRatiosAreZero) {
  const Confusion none{};
  EXPECT_EQ(none.Precision(), 0.0);
  EXPECT_EQ(none.Recall(), 0.0);
  EXPECT_EQ(none.F1(), 0.0);
  const Confusion no_predicted_positive{.tp = 0, .fp = 0, .tn = 5, .fn = 3};
  EXPECT_EQ(no_predicted_positive.Precision(), 0.0);
  EXPECT_EQ(no_predicted_positive.Recall(), 0.0);
  EXPECT_EQ(no_predicted_positive.F1(), 0.0);
  const Confusion some{.tp = 3, .fp = 1, .tn = 4, .fn = 2};
  EXPECT_DOUBLE_EQ(some.Precision(), 0.75);
  EXPECT_DOUBLE_EQ(some.Recall(), 0.6);
  EXPECT_DOUBLE_EQ(some.F1(), 2.0 * 3 / (2 * 3 + 1 + 2));
}

TEST(ThresholdForMaxF1, MatchesArgmaxOverPrecisionRecallCurve) {
  for (const Case& c : LoadCases()) {
    SCOPED_TRACE(c.name);
    CHURN_ASSERT_OK_AND_ASSIGN(const ThresholdChoice t, ThresholdForMaxF1(c.labels, c.scores));
    ExpectChoice(t, c.expected.at("max_f1"));
  }
}

// The chosen threshold is one of the scores, and classifying at it gives its precision/recall.
TEST(ThresholdForMaxF1, AgreesWithTheConfusionAtItsThreshold) {
  for (const Case& c : LoadCases()) {
    SCOPED_TRACE(c.name);
    CHURN_ASSERT_OK_AND_ASSIGN(const ThresholdChoice t, ThresholdForMaxF1(c.labels, c.scores));
    EXPECT_NE(std::find(c.scores.begin(), c.scores.end(), static_cast<float>(t.threshold)),
              c.scores.end());
    CHURN_ASSERT_OK_AND_ASSIGN(const Confusion m, ConfusionAt(c.labels, c.scores, t.threshold));
    EXPECT_NEAR(m.Precision(), t.precision, kTol);
    EXPECT_NEAR(m.Recall(), t.recall, kTol);
    EXPECT_NEAR(m.F1(), t.f1, kTol);
  }
}

TEST(ThresholdForRecall, MatchesHighestThresholdReachingTheTarget) {
  for (const Case& c : LoadCases()) {
    SCOPED_TRACE(c.name);
    CHURN_ASSERT_OK_AND_ASSIGN(
        const ThresholdChoice t,
        ThresholdForRecall(c.labels, c.scores, Num(c.expected, "recall_target")));
    ExpectChoice(t, c.expected.at("at_recall"));
  }
}

TEST(ThresholdForRecall, FullRecallIsTheLowestScore) {
  const std::vector<float> labels = {0, 1, 1, 0, 1};
  const std::vector<float> scores = {0.1F, 0.2F, 0.9F, 0.8F, 0.7F};
  CHURN_ASSERT_OK_AND_ASSIGN(const ThresholdChoice t, ThresholdForRecall(labels, scores, 1.0));
  EXPECT_EQ(t.threshold, static_cast<double>(0.2F));
  EXPECT_DOUBLE_EQ(t.recall, 1.0);
  EXPECT_DOUBLE_EQ(t.precision, 0.75);
  CHURN_ASSERT_OK_AND_ASSIGN(const ThresholdChoice high, ThresholdForRecall(labels, scores, 0.5));
  EXPECT_EQ(high.threshold, static_cast<double>(0.7F));  // 2 of 3 positives at >= 0.7
  EXPECT_DOUBLE_EQ(high.recall, 2.0 / 3);
}

TEST(Calibration, MatchesSklearnCalibrationCurve) {
  for (const Case& c : LoadCases()) {
    SCOPED_TRACE(c.name);
    const json& expected = c.expected.at("calibration");
    CHURN_ASSERT_OK_AND_ASSIGN(const CalibrationCurve curve,
                               Calibration(c.labels, c.scores, expected.at("bins").get<int>()));
    ExpectCalibration(curve, expected);
  }
}

// sklearn's binning: (lower, upper], the first bin closed at 0, 1 in the last bin.
TEST(Calibration, EdgesBelongToTheLowerBin) {
  const std::vector<float> labels = {0, 1, 1, 0, 1};
  const std::vector<float> scores = {0.0F, 0.25F, 0.5F, 0.75F, 1.0F};
  CHURN_ASSERT_OK_AND_ASSIGN(const CalibrationCurve curve, Calibration(labels, scores, 4));
  EXPECT_EQ(curve.counts, (std::vector<uint64_t>{2, 1, 1, 1}));
  EXPECT_EQ(curve.bin_lower, (std::vector<double>{0.0, 0.25, 0.5, 0.75}));
  EXPECT_EQ(curve.bin_upper, (std::vector<double>{0.25, 0.5, 0.75, 1.0}));
  EXPECT_EQ(curve.mean_predicted, (std::vector<double>{0.125, 0.5, 0.75, 1.0}));
  EXPECT_EQ(curve.fraction_positive, (std::vector<double>{0.5, 1.0, 0.0, 1.0}));
  // 2/5 * 0.375 + 1/5 * 0.5 + 1/5 * 0.75 + 0.
  EXPECT_NEAR(curve.ece, 0.4 * 0.375 + 0.2 * 0.5 + 0.2 * 0.75, 1e-15);
}

TEST(Evaluate, MatchesEveryMetric) {
  for (const Case& c : LoadCases()) {
    SCOPED_TRACE(c.name);
    const json& x = c.expected;
    const json& cal = x.at("calibration");
    CHURN_ASSERT_OK_AND_ASSIGN(const Evaluation e, Evaluate(c.labels, c.scores, Num(x, "threshold"),
                                                            cal.at("bins").get<int>()));
    EXPECT_EQ(e.rows, c.labels.size());
    EXPECT_EQ(e.positives,
              static_cast<uint64_t>(std::count(c.labels.begin(), c.labels.end(), 1.0F)));
    EXPECT_NEAR(e.roc_auc, Num(x, "roc_auc"), kTol);
    EXPECT_NEAR(e.pr_auc, Num(x, "average_precision"), kTol);
    EXPECT_NEAR(e.log_loss, Num(x, "log_loss"), kTol);
    EXPECT_NEAR(e.brier, Num(x, "brier"), kTol);
    EXPECT_EQ(e.threshold, Num(x, "threshold"));
    ExpectConfusion(e.confusion, x.at("confusion"));
    EXPECT_NEAR(e.precision, Num(x, "precision"), kTol);
    EXPECT_NEAR(e.recall, Num(x, "recall"), kTol);
    EXPECT_NEAR(e.f1, Num(x, "f1"), kTol);
    ExpectCalibration(e.calibration, cal);
    EXPECT_NEAR(e.ece, Num(cal, "ece"), kTol);
  }
}

// Row order does not matter: a shuffled copy of each case gives sklearn's numbers too.
TEST(Evaluate, IgnoresRowOrder) {
  std::mt19937 rng(7);
  for (Case c : LoadCases()) {
    SCOPED_TRACE(c.name);
    std::vector<size_t> order(c.labels.size());
    for (size_t i = 0; i < order.size(); ++i) {
      order[i] = i;
    }
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<float> labels;
    std::vector<float> scores;
    for (const size_t i : order) {
      labels.push_back(c.labels[i]);
      scores.push_back(c.scores[i]);
    }
    CHURN_ASSERT_OK_AND_ASSIGN(const Evaluation e, Evaluate(labels, scores, 0.5));
    EXPECT_NEAR(e.roc_auc, Num(c.expected, "roc_auc"), kTol);
    EXPECT_NEAR(e.pr_auc, Num(c.expected, "average_precision"), kTol);
    EXPECT_NEAR(e.log_loss, Num(c.expected, "log_loss"), kTol);
    EXPECT_NEAR(e.ece, Num(c.expected.at("calibration"), "ece"), kTol);
    CHURN_ASSERT_OK_AND_ASSIGN(const ThresholdChoice t, ThresholdForMaxF1(labels, scores));
    ExpectChoice(t, c.expected.at("max_f1"));
  }
}

// ToJson holds every field of the Evaluation (doubles round-trip exactly) under the documented
// keys, and so sklearn's numbers.
TEST(Evaluate, ToJsonHoldsEveryField) {
  for (const Case& c : LoadCases()) {
    SCOPED_TRACE(c.name);
    CHURN_ASSERT_OK_AND_ASSIGN(const Evaluation e, Evaluate(c.labels, c.scores, 0.5));
    const json j = json::parse(e.ToJson(), nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(j.is_object());
    std::vector<std::string> keys;
    for (const auto& item : j.items()) {
      keys.push_back(item.key());
    }
    EXPECT_THAT(
        keys, ::testing::UnorderedElementsAre("rows", "positives", "roc_auc", "pr_auc", "log_loss",
                                              "brier", "threshold", "precision", "recall", "f1",
                                              "ece", "confusion", "calibration"));
    EXPECT_EQ(j.at("rows").get<uint64_t>(), e.rows);
    EXPECT_EQ(j.at("positives").get<uint64_t>(), e.positives);
    EXPECT_EQ(Num(j, "roc_auc"), e.roc_auc);
    EXPECT_EQ(Num(j, "pr_auc"), e.pr_auc);
    EXPECT_EQ(Num(j, "log_loss"), e.log_loss);
    EXPECT_EQ(Num(j, "brier"), e.brier);
    EXPECT_EQ(Num(j, "threshold"), 0.5);
    EXPECT_EQ(Num(j, "precision"), e.precision);
    EXPECT_EQ(Num(j, "recall"), e.recall);
    EXPECT_EQ(Num(j, "f1"), e.f1);
    EXPECT_EQ(Num(j, "ece"), e.ece);
    ExpectConfusion(e.confusion, j.at("confusion"));
    const json& cal = j.at("calibration");
    EXPECT_EQ(Doubles(cal.at("bin_lower")), e.calibration.bin_lower);
    EXPECT_EQ(Doubles(cal.at("bin_upper")), e.calibration.bin_upper);
    EXPECT_EQ(Doubles(cal.at("mean_predicted")), e.calibration.mean_predicted);
    EXPECT_EQ(Doubles(cal.at("fraction_positive")), e.calibration.fraction_positive);
    EXPECT_EQ(cal.at("counts").get<std::vector<uint64_t>>(), e.calibration.counts);
    EXPECT_EQ(Num(cal, "ece"), e.ece);
    // And the numbers are sklearn's.
    EXPECT_NEAR(Num(j, "roc_auc"), Num(c.expected, "roc_auc"), kTol);
    EXPECT_NEAR(Num(j, "pr_auc"), Num(c.expected, "average_precision"), kTol);
    EXPECT_NEAR(Num(j, "log_loss"), Num(c.expected, "log_loss"), kTol);
    ExpectConfusion(Confusion{.tp = j["confusion"]["tp"].get<uint64_t>(),
                              .fp = j["confusion"]["fp"].get<uint64_t>(),
                              .tn = j["confusion"]["tn"].get<uint64_t>(),
                              .fn = j["confusion"]["fn"].get<uint64_t>()},
                    c.expected.at("confusion"));
    ExpectCalibration(e.calibration, c.expected.at("calibration"));
  }
}

// --- Invalid input: InvalidArgument naming the function and what is wrong. ---

const std::vector<float> kLabels = {0, 1, 0, 1};
const std::vector<float> kScores = {0.1F, 0.9F, 0.4F, 0.6F};

// Runs every metric on (labels, scores) and expects InvalidArgument with `message`.
void ExpectAllReject(const std::vector<float>& labels, const std::vector<float>& scores,
                     const std::string& message) {
  EXPECT_THAT(RocAuc(labels, scores), StatusIs(absl::StatusCode::kInvalidArgument, message));
  EXPECT_THAT(AveragePrecision(labels, scores),
              StatusIs(absl::StatusCode::kInvalidArgument, message));
  EXPECT_THAT(LogLoss(labels, scores), StatusIs(absl::StatusCode::kInvalidArgument, message));
  EXPECT_THAT(BrierScore(labels, scores), StatusIs(absl::StatusCode::kInvalidArgument, message));
  EXPECT_THAT(ConfusionAt(labels, scores, 0.5),
              StatusIs(absl::StatusCode::kInvalidArgument, message));
  EXPECT_THAT(ThresholdForMaxF1(labels, scores),
              StatusIs(absl::StatusCode::kInvalidArgument, message));
  EXPECT_THAT(ThresholdForRecall(labels, scores, 0.9),
              StatusIs(absl::StatusCode::kInvalidArgument, message));
  EXPECT_THAT(Calibration(labels, scores), StatusIs(absl::StatusCode::kInvalidArgument, message));
  EXPECT_THAT(Evaluate(labels, scores, 0.5), StatusIs(absl::StatusCode::kInvalidArgument, message));
}

TEST(Validation, TheSampleInputIsValid) {
  EXPECT_THAT(Evaluate(kLabels, kScores, 0.5), IsOk());
}

TEST(Validation, RejectsDifferentLengths) {
  const std::vector<float> short_scores = {0.1F, 0.9F, 0.4F};
  ExpectAllReject(kLabels, short_scores, "labels (4) and scores (3) differ in length");
}

TEST(Validation, RejectsEmptyInput) {
  ExpectAllReject({}, {}, "empty");
}

TEST(Validation, RejectsALabelOtherThanZeroOrOne) {
  ExpectAllReject({0, 2, 0, 1}, kScores, "label 2 at row 1 is not 0 or 1");
  ExpectAllReject({0, 1, 0.5F, 1}, kScores, "label 0.5 at row 2 is not 0 or 1");
  ExpectAllReject({0, 1, 0, std::numeric_limits<float>::quiet_NaN()}, kScores,
                  "label nan at row 3 is not 0 or 1");
}

TEST(Validation, RejectsNonFiniteScores) {
  ExpectAllReject(kLabels, {0.1F, std::numeric_limits<float>::quiet_NaN(), 0.4F, 0.6F},
                  "score nan at row 1 is not finite");
  ExpectAllReject(kLabels, {0.1F, 0.9F, std::numeric_limits<float>::infinity(), 0.6F},
                  "score inf at row 2 is not finite");
}

TEST(Validation, MessagesNameTheFunction) {
  EXPECT_THAT(RocAuc({}, {}), StatusIs(absl::StatusCode::kInvalidArgument, "RocAuc: "));
  EXPECT_THAT(LogLoss({}, {}), StatusIs(absl::StatusCode::kInvalidArgument, "LogLoss: "));
  EXPECT_THAT(Evaluate({}, {}, 0.5), StatusIs(absl::StatusCode::kInvalidArgument, "Evaluate: "));
}

TEST(Validation, ProbabilityMetricsRejectScoresOutsideUnitInterval) {
  for (const float bad : {-0.25F, 1.5F}) {
    SCOPED_TRACE(bad);
    const std::vector<float> scores = {0.1F, bad, 0.4F, 0.6F};
    const std::string message = "at row 1 is outside [0, 1]";
    EXPECT_THAT(LogLoss(kLabels, scores), StatusIs(absl::StatusCode::kInvalidArgument, message));
    EXPECT_THAT(BrierScore(kLabels, scores), StatusIs(absl::StatusCode::kInvalidArgument, message));
    EXPECT_THAT(Calibration(kLabels, scores),
                StatusIs(absl::StatusCode::kInvalidArgument, message));
    EXPECT_THAT(Evaluate(kLabels, scores, 0.5),
                StatusIs(absl::StatusCode::kInvalidArgument, message));
    // Ranking metrics take any finite score.
    EXPECT_THAT(RocAuc(kLabels, scores), IsOk());
    EXPECT_THAT(AveragePrecision(kLabels, scores), IsOk());
    EXPECT_THAT(ConfusionAt(kLabels, scores, 0.5), IsOk());
    EXPECT_THAT(ThresholdForMaxF1(kLabels, scores), IsOk());
    EXPECT_THAT(ThresholdForRecall(kLabels, scores, 0.9), IsOk());
  }
  EXPECT_THAT(LogLoss(kLabels, {0.1F, 1.5F, 0.4F, 0.6F}),
              StatusIs(absl::StatusCode::kInvalidArgument, "score 1.5 at row 1"));
}

TEST(Validation, RocAucNeedsBothClasses) {
  EXPECT_THAT(RocAuc({0, 0, 0}, {0.1F, 0.2F, 0.3F}),
              StatusIs(absl::StatusCode::kInvalidArgument, "one class only (0 positives of 3"));
  EXPECT_THAT(RocAuc({1, 1}, {0.1F, 0.2F}),
              StatusIs(absl::StatusCode::kInvalidArgument, "one class only (2 positives of 2"));
  EXPECT_THAT(Evaluate({1, 1}, {0.1F, 0.2F}, 0.5),
              StatusIs(absl::StatusCode::kInvalidArgument, "one class only"));
}

TEST(Validation, PrecisionRecallMetricsNeedAPositive) {
  const std::vector<float> negatives = {0, 0, 0};
  const std::vector<float> scores = {0.1F, 0.2F, 0.3F};
  const std::string message = "undefined without positive labels";
  EXPECT_THAT(AveragePrecision(negatives, scores),
              StatusIs(absl::StatusCode::kInvalidArgument, message));
  EXPECT_THAT(ThresholdForMaxF1(negatives, scores),
              StatusIs(absl::StatusCode::kInvalidArgument, message));
  EXPECT_THAT(ThresholdForRecall(negatives, scores, 0.9),
              StatusIs(absl::StatusCode::kInvalidArgument, message));
  // Defined with one class: the calibration metrics, and AP / thresholds with positives only.
  EXPECT_THAT(LogLoss(negatives, scores), IsOk());
  EXPECT_THAT(BrierScore(negatives, scores), IsOk());
  EXPECT_THAT(Calibration(negatives, scores), IsOk());
  EXPECT_THAT(ConfusionAt(negatives, scores, 0.5), IsOk());
  EXPECT_THAT(AveragePrecision({1, 1, 1}, scores), ::churn::testing::IsOkAndHolds(1.0));
}

TEST(Validation, RejectsARecallTargetOutsideZeroToOne) {
  for (const double bad : {0.0, -0.1, 1.0000001, std::numeric_limits<double>::quiet_NaN()}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ThresholdForRecall(kLabels, kScores, bad),
                StatusIs(absl::StatusCode::kInvalidArgument, "target recall"));
  }
  EXPECT_THAT(ThresholdForRecall(kLabels, kScores, 1.5),
              StatusIs(absl::StatusCode::kInvalidArgument, "target recall 1.5 is outside (0, 1]"));
}

TEST(Validation, RejectsNonPositiveBins) {
  for (const int bad : {0, -3}) {
    SCOPED_TRACE(bad);
    const std::string message = "calibration bins must be positive, got " + std::to_string(bad);
    EXPECT_THAT(Calibration(kLabels, kScores, bad),
                StatusIs(absl::StatusCode::kInvalidArgument, message));
    EXPECT_THAT(Evaluate(kLabels, kScores, 0.5, bad),
                StatusIs(absl::StatusCode::kInvalidArgument, message));
  }
  EXPECT_THAT(Calibration(kLabels, kScores, 1), IsOk());
}

TEST(Validation, RejectsBadEpsAndThreshold) {
  EXPECT_THAT(LogLoss(kLabels, kScores, -1e-3),
              StatusIs(absl::StatusCode::kInvalidArgument, "eps -0.001 is outside [0, 0.5)"));
  EXPECT_THAT(LogLoss(kLabels, kScores, 0.5),
              StatusIs(absl::StatusCode::kInvalidArgument, "eps 0.5"));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(ConfusionAt(kLabels, kScores, nan),
              StatusIs(absl::StatusCode::kInvalidArgument, "threshold is NaN"));
  EXPECT_THAT(Evaluate(kLabels, kScores, nan),
              StatusIs(absl::StatusCode::kInvalidArgument, "threshold is NaN"));
}

}  // namespace
}  // namespace churn::metrics
