#include "churn/model/xgboost.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "testing/test_env.h"

#include "churn/base/file.h"

namespace churn::model {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Pointwise;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr size_t kCols = 5;

// A synthetic binary problem: x0 is strongly informative, x1 weakly, x2 and x3 are noise, x4 is
// constant (never split on). About 10% of x0..x3 are missing; labels follow a logistic model.
struct Data {
  std::vector<float> x{};
  std::vector<float> y{};
  size_t rows = 0;
};

Data MakeData(size_t rows, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform(0.0F, 1.0F);
  Data d;
  d.rows = rows;
  d.x.resize(rows * kCols);
  d.y.resize(rows);
  for (size_t r = 0; r < rows; ++r) {
    float* row = &d.x[r * kCols];
    row[0] = normal(rng);
    row[1] = normal(rng);
    row[2] = normal(rng);
    row[3] = uniform(rng);
    row[4] = 1.0F;
    const double logit = 2.0 * row[0] + 0.5 * row[1] - 0.2;
    d.y[r] = uniform(rng) < 1.0 / (1.0 + std::exp(-logit)) ? 1.0F : 0.0F;
    for (size_t c = 0; c < 4; ++c) {
      if (uniform(rng) < 0.1F) {
        row[c] = kNaN;
      }
    }
  }
  return d;
}

absl::StatusOr<DMatrix> ToMatrix(const Data& d) {
  return DMatrix::FromDense(d.x, d.rows, kCols, d.y);
}

// The exact ROC AUC (Mann-Whitney U, ties counting one half), as XGBoost computes it.
double ExactAuc(const std::vector<float>& scores, const std::vector<float>& labels) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double positive_rank_sum = 0;
  double positives = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) {
      ++j;
    }
    const double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (size_t k = i; k < j; ++k) {
      if (labels[order[k]] > 0.5F) {
        positive_rank_sum += mean_rank;
        positives += 1;
      }
    }
    i = j;
  }
  const double negatives = static_cast<double>(scores.size()) - positives;
  return (positive_rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives);
}

TrainOptions Options(int max_rounds, int early_stopping_rounds) {
  TrainOptions o;
  o.params = {{"max_depth", "3"}, {"eta", "0.3"}};
  o.max_rounds = max_rounds;
  o.early_stopping_rounds = early_stopping_rounds;
  return o;
}

class XgboostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto train = ToMatrix(train_data_);
    auto valid = ToMatrix(valid_data_);
    ASSERT_THAT(train, IsOk());
    ASSERT_THAT(valid, IsOk());
    train_ = std::make_unique<DMatrix>(*std::move(train));
    valid_ = std::make_unique<DMatrix>(*std::move(valid));
  }

  absl::StatusOr<TrainResult> Run(const TrainOptions& options) const {
    return Train(options, *train_, *valid_);
  }

  const Data train_data_ = MakeData(1500, 1);
  const Data valid_data_ = MakeData(500, 2);
  std::unique_ptr<DMatrix> train_;
  std::unique_ptr<DMatrix> valid_;
};

TEST(Xgboost, VersionIsTheDebianOne) {
  EXPECT_EQ(XgboostVersion(), "1.7.4");
}

TEST(DMatrix, FromDenseChecksSizes) {
  const std::vector<float> x(6, 1.0F);
  CHURN_ASSERT_OK_AND_ASSIGN(DMatrix m, DMatrix::FromDense(x, 3, 2, {}));
  EXPECT_EQ(m.Rows(), 3U);
  EXPECT_EQ(m.Cols(), 2U);
  EXPECT_NE(m.Handle(), nullptr);
  DMatrix moved = std::move(m);
  EXPECT_EQ(m.Handle(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(moved.Rows(), 3U);

  EXPECT_THAT(DMatrix::FromDense(x, 4, 2, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DMatrix::FromDense(x, 2, 2, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  const std::vector<float> two_labels = {0.0F, 1.0F};
  EXPECT_THAT(DMatrix::FromDense(x, 3, 2, two_labels),
              StatusIs(absl::StatusCode::kInvalidArgument, "labels"));
  EXPECT_THAT(DMatrix::FromDense({}, 0, 0, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DMatrix::FromDense(x, std::numeric_limits<size_t>::max(), 2, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, "overflow"));
  const std::vector<float> nan_labels = {0.0F, kNaN, 1.0F};
  EXPECT_THAT(DMatrix::FromDense(x, 3, 2, nan_labels),
              StatusIs(absl::StatusCode::kInvalidArgument, "XGDMatrixSetFloatInfo"));
}

TEST_F(XgboostTest, EarlyStoppingKeepsTheBestIteration) {
  const auto start = std::chrono::steady_clock::now();
  CHURN_ASSERT_OK_AND_ASSIGN(TrainResult r, Run(Options(500, 10)));
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::printf("trained %d rounds on %zu x %zu in %.3f s\n", r.rounds_trained, train_data_.rows,
              kCols, took.count());

  EXPECT_LT(r.rounds_trained, 500);
  EXPECT_FALSE(r.stopped_by_callback);
  ASSERT_EQ(r.history.size(), static_cast<size_t>(r.rounds_trained));
  // XGBoost's rule: the first round reaching the maximum; stop 10 rounds without improvement.
  const auto best = std::max_element(r.history.begin(), r.history.end());
  EXPECT_EQ(r.best_iteration, best - r.history.begin());
  EXPECT_EQ(r.best_score, *best);
  EXPECT_EQ(r.rounds_trained - 1 - r.best_iteration, 10);
  EXPECT_GT(r.best_score, 0.8);
  EXPECT_LE(r.best_score, 1.0);

  // The returned model is sliced to the best prefix: its validation AUC is best_score.
  EXPECT_THAT(r.booster.NumRounds(), ::churn::testing::IsOkAndHolds(r.best_iteration + 1));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> p, r.booster.Predict(*valid_));
  ASSERT_EQ(p.size(), valid_data_.rows);
  EXPECT_NEAR(ExactAuc(p, valid_data_.y), r.best_score, 1e-9);
}

TEST_F(XgboostTest, MinimizesALossMetricThatReplacesTheDefault) {
  TrainOptions o = Options(500, 5);
  o.params.emplace_back("eval_metric", "logloss");  // replaces the default auc (not added)
  o.params.emplace_back("eta", "0.5");              // a later pair wins
  o.maximize = false;
  CHURN_ASSERT_OK_AND_ASSIGN(TrainResult r, Run(o));
  ASSERT_GE(r.history.size(), 2U);
  EXPECT_LT(r.history[1], r.history[0]);  // a loss falls; an AUC would rise
  const auto best = std::min_element(r.history.begin(), r.history.end());
  EXPECT_EQ(r.best_iteration, best - r.history.begin());
  EXPECT_EQ(r.best_score, *best);
  EXPECT_EQ(r.rounds_trained - 1 - r.best_iteration, 5);
  EXPECT_THAT(r.booster.NumRounds(), ::churn::testing::IsOkAndHolds(r.best_iteration + 1));
}

TEST_F(XgboostTest, ParsesMetricsWithUnusualNames) {
  for (const char* metric : {"error@0.6", "aucpr", "pre@10"}) {
    SCOPED_TRACE(metric);
    TrainOptions o = Options(3, 0);
    o.params.emplace_back("eval_metric", metric);
    CHURN_ASSERT_OK_AND_ASSIGN(const TrainResult r, Run(o));
    ASSERT_EQ(r.history.size(), 3U);
    for (double v : r.history) {
      EXPECT_GE(v, 0.0);
      EXPECT_LE(v, 1.0);
    }
  }
}

TEST_F(XgboostTest, WithoutEarlyStoppingTrainsEveryRoundAndKeepsThem) {
  CHURN_ASSERT_OK_AND_ASSIGN(TrainResult r, Run(Options(15, 0)));
  EXPECT_EQ(r.rounds_trained, 15);
  EXPECT_EQ(r.history.size(), 15U);
  EXPECT_THAT(r.booster.NumRounds(), ::churn::testing::IsOkAndHolds(15));
  const auto best = std::max_element(r.history.begin(), r.history.end());
  EXPECT_EQ(r.best_iteration, best - r.history.begin());
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> p, r.booster.Predict(*valid_));
  EXPECT_NEAR(ExactAuc(p, valid_data_.y), r.history.back(), 1e-9);
}

TEST_F(XgboostTest, TrainingIsDeterministic) {
  CHURN_ASSERT_OK_AND_ASSIGN(const TrainResult a, Run(Options(10, 0)));
  CHURN_ASSERT_OK_AND_ASSIGN(const TrainResult b, Run(Options(10, 0)));
  EXPECT_EQ(a.history, b.history);
  EXPECT_EQ(a.booster.SaveJson().value(), b.booster.SaveJson().value());
}

TEST_F(XgboostTest, CallbackSeesEveryRoundAndStopsTraining) {
  for (const int early_stopping : {0, 50}) {
    SCOPED_TRACE(absl::StrCat("early_stopping_rounds=", early_stopping));
    std::vector<std::pair<int, double>> seen;
    TrainOptions o = Options(100, early_stopping);
    o.on_round = [&seen](int round, double value) {
      seen.emplace_back(round, value);
      return round < 4;  // prune after the fifth round
    };
    CHURN_ASSERT_OK_AND_ASSIGN(TrainResult r, Run(o));
    EXPECT_TRUE(r.stopped_by_callback);
    EXPECT_EQ(r.rounds_trained, 5);
    ASSERT_EQ(seen.size(), 5U);
    ASSERT_EQ(r.history.size(), 5U);
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(seen[i].first, i);
      EXPECT_EQ(seen[i].second, r.history[i]);
    }
    // With early stopping the best prefix is kept, as when it stops by itself.
    const int expected_rounds = early_stopping > 0 ? r.best_iteration + 1 : 5;
    EXPECT_THAT(r.booster.NumRounds(), ::churn::testing::IsOkAndHolds(expected_rounds));
    CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> p, r.booster.Predict(*valid_));
    EXPECT_NEAR(ExactAuc(p, valid_data_.y), r.history[expected_rounds - 1], 1e-9);
  }
}

TEST_F(XgboostTest, JsonAndUbjRoundTripsPredictTheSame) {
  CHURN_ASSERT_OK_AND_ASSIGN(const TrainResult r, Run(Options(30, 0)));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> expected, r.booster.Predict(*valid_));
  CHURN_ASSERT_OK_AND_ASSIGN(const ModelSize size, r.booster.Size());
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string json, r.booster.SaveJson());
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string ubj, r.booster.SaveUbj());
  EXPECT_EQ(json.front(), '{');
  EXPECT_NE(json, ubj);
  for (const std::string* bytes : {&json, &ubj}) {
    CHURN_ASSERT_OK_AND_ASSIGN(const Booster loaded, Booster::Load(*bytes));
    EXPECT_THAT(loaded.NumRounds(), ::churn::testing::IsOkAndHolds(30));
    EXPECT_THAT(loaded.Predict(*valid_), ::churn::testing::IsOkAndHolds(expected));
    CHURN_ASSERT_OK_AND_ASSIGN(const ModelSize loaded_size, loaded.Size());
    EXPECT_EQ(loaded_size.nodes, size.nodes);
    EXPECT_THAT(loaded.SaveJson(), ::churn::testing::IsOkAndHolds(json));
  }
}

TEST_F(XgboostTest, PredictDenseEqualsPredict) {
  CHURN_ASSERT_OK_AND_ASSIGN(const TrainResult r, Run(Options(20, 0)));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> p, r.booster.Predict(*valid_));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> dense,
                             r.booster.PredictDense(valid_data_.x, valid_data_.rows, kCols));
  EXPECT_EQ(dense, p);
  for (float v : p) {
    EXPECT_GT(v, 0.0F);
    EXPECT_LT(v, 1.0F);
  }
  // One row alone predicts as within the block.
  const std::vector<float> row(valid_data_.x.begin() + 3 * kCols,
                               valid_data_.x.begin() + 4 * kCols);
  EXPECT_THAT(r.booster.PredictDense(row, 1, kCols),
              ::churn::testing::IsOkAndHolds(std::vector<float>{p[3]}));
  EXPECT_THAT(r.booster.PredictDense({}, 0, kCols),
              ::churn::testing::IsOkAndHolds(std::vector<float>{}));
  EXPECT_THAT(r.booster.PredictDense(row, 2, kCols), StatusIs(absl::StatusCode::kInvalidArgument));
  // The model's feature count is checked (XGBoost would accept fewer columns silently).
  EXPECT_THAT(r.booster.PredictDense(row, 1, kCols - 1).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  const std::vector<float> four(8, 0.0F);
  CHURN_ASSERT_OK_AND_ASSIGN(const DMatrix narrow, DMatrix::FromDense(four, 2, 4, {}));
  EXPECT_THAT(r.booster.Predict(narrow),
              StatusIs(absl::StatusCode::kInvalidArgument, "5 features"));
  CHURN_ASSERT_OK_AND_ASSIGN(const DMatrix empty, DMatrix::FromDense({}, 0, kCols, {}));
  EXPECT_THAT(r.booster.Predict(empty), ::churn::testing::IsOkAndHolds(std::vector<float>{}));
}

TEST_F(XgboostTest, ContributionsSumToTheMargin) {
  CHURN_ASSERT_OK_AND_ASSIGN(const TrainResult r, Run(Options(20, 0)));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> p, r.booster.Predict(*valid_));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> c, r.booster.Contributions(*valid_));
  ASSERT_EQ(c.size(), valid_data_.rows * (kCols + 1));
  for (size_t row = 0; row < valid_data_.rows; ++row) {
    double sum = 0;
    for (size_t col = 0; col <= kCols; ++col) {
      sum += c[row * (kCols + 1) + col];
    }
    const double logit = std::log(static_cast<double>(p[row]) / (1.0 - p[row]));
    EXPECT_NEAR(sum, logit, 1e-4) << "row " << row;
    EXPECT_EQ(c[row * (kCols + 1) + 4], 0.0F) << "the constant feature contributes nothing";
    EXPECT_EQ(c[row * (kCols + 1) + kCols], c[kCols]) << "the bias is the same in every row";
  }
}

TEST_F(XgboostTest, SizeCountsTreesNodesAndDepth) {
  CHURN_ASSERT_OK_AND_ASSIGN(const TrainResult r, Run(Options(12, 0)));
  CHURN_ASSERT_OK_AND_ASSIGN(const ModelSize size, r.booster.Size());
  CHURN_ASSERT_OK_AND_ASSIGN(const int rounds, r.booster.NumRounds());
  EXPECT_EQ(size.trees, rounds);
  EXPECT_EQ(size.trees, 12);
  EXPECT_EQ(size.nodes, 2 * size.leaves - size.trees);  // full binary trees
  EXPECT_GT(size.leaves, size.trees);
  EXPECT_LE(size.leaves, size.trees * 8);  // max_depth 3
  EXPECT_EQ(size.max_depth, 3);

  // A stump ensemble: depth 1, three nodes a tree.
  TrainOptions stumps = Options(4, 0);
  stumps.params.emplace_back("max_depth", "1");
  CHURN_ASSERT_OK_AND_ASSIGN(const TrainResult s, Run(stumps));
  EXPECT_THAT(
      s.booster.Size(),
      ::churn::testing::IsOkAndHolds(::testing::AllOf(
          ::testing::Field(&ModelSize::trees, 4), ::testing::Field(&ModelSize::nodes, 12),
          ::testing::Field(&ModelSize::leaves, 8), ::testing::Field(&ModelSize::max_depth, 1))));
}

TEST_F(XgboostTest, GainImportanceFavoursTheInformativeFeature) {
  CHURN_ASSERT_OK_AND_ASSIGN(const TrainResult r, Run(Options(20, 0)));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<double> gain, r.booster.GainImportance(kCols));
  ASSERT_EQ(gain.size(), kCols);
  const double total = std::accumulate(gain.begin(), gain.end(), 0.0);
  EXPECT_GT(gain[0], 0.5 * total);
  EXPECT_GT(gain[1], gain[2]);  // weakly informative beats noise
  EXPECT_EQ(gain[4], 0.0);      // constant: never split on
  // Asking for fewer features than the model uses is an error, not a silent drop.
  EXPECT_THAT(r.booster.GainImportance(1), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(XgboostTest, RejectedParametersAreInvalidArgumentWithXgboostsMessage) {
  const std::pair<std::string, std::string> bad[] = {
      {"max_depth", "-3"}, {"eta", "abc"}, {"objective", "nope"}, {"subsample", "2"}};
  const char* messages[] = {"max_depth should be greater equal to 0",
                            "Invalid Parameter format for learning_rate expect float",
                            "Unknown objective function: `nope`", "subsample exceed bound"};
  for (size_t i = 0; i < std::size(bad); ++i) {
    SCOPED_TRACE(bad[i].first);
    TrainOptions o = Options(5, 0);
    o.params.push_back(bad[i]);
    const auto r = Run(o);
    EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument, messages[i]));
    EXPECT_THAT(r.status().message(), ::testing::Not(HasSubstr("Stack trace")));
  }
  EXPECT_THAT(Run(Options(0, 0)), StatusIs(absl::StatusCode::kInvalidArgument, "max_rounds"));
  EXPECT_THAT(Run(Options(5, -1)), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(XgboostTest, RejectedDataIsInvalidArgument) {
  const std::vector<float> x(8, 0.5F);  // 2 x 4
  const std::vector<float> y = {0.0F, 1.0F};
  CHURN_ASSERT_OK_AND_ASSIGN(const DMatrix narrow, DMatrix::FromDense(x, 2, 4, y));
  EXPECT_THAT(Train(Options(5, 0), *train_, narrow),
              StatusIs(absl::StatusCode::kInvalidArgument, "columns"));
  Data bad_labels = MakeData(100, 3);
  bad_labels.y[7] = 2.0F;
  CHURN_ASSERT_OK_AND_ASSIGN(const DMatrix bad, ToMatrix(bad_labels));
  EXPECT_THAT(Train(Options(5, 0), bad, *valid_),
              StatusIs(absl::StatusCode::kInvalidArgument, "label must be in [0,1]"));
  const DMatrix moved = std::move(*train_);
  EXPECT_THAT(Run(Options(5, 0)), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(XgboostTest, LoadRejectsWhatIsNotAModel) {
  CHURN_ASSERT_OK_AND_ASSIGN(const TrainResult r, Run(Options(3, 0)));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string json, r.booster.SaveJson());
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string ubj, r.booster.SaveUbj());
  const std::string garbage[] = {
      "",   "garbage",           std::string(500, 'x'),           "{garbage",
      "{}", R"({"learner": 1})", json.substr(0, json.size() / 2), ubj.substr(0, ubj.size() / 2)};
  for (const std::string& bytes : garbage) {
    SCOPED_TRACE(bytes.substr(0, 20));
    EXPECT_THAT(Booster::Load(bytes), StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

std::filesystem::path FixtureDir() {
  return std::filesystem::path(::churn::testing::SourceDir()) / "tests/fixtures/model";
}

// XGBoost 1.7.4 indexes by these unchecked (a crash when loading or predicting); Load refuses
// them first.
TEST(Booster, LoadRejectsCorruptTrees) {
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string bytes,
                             base::ReadFile(FixtureDir() / "small_model.json"));
  const nlohmann::json good = nlohmann::json::parse(bytes);
  ASSERT_THAT(Booster::Load(good.dump()), IsOk());
  const std::string tree = "/learner/gradient_booster/model/trees/1/";
  const std::pair<std::string, nlohmann::json> corruptions[] = {
      {tree + "left_children/0", 999},
      {tree + "right_children/0", -5},
      {tree + "left_children/1", 1},  // a cycle
      {tree + "split_indices/0", 4},  // the model has 4 features
      {tree + "parents/4", 56321},
      {tree + "tree_param/num_nodes", "16"},
      {tree + "id", 5},
      {"/learner/gradient_booster/model/tree_info/2", 3},
      {"/learner/gradient_booster/model/gbtree_model_param/num_trees", "9"},
      {"/learner/learner_model_param/num_feature", "x"},
  };
  for (const auto& [pointer, value] : corruptions) {
    SCOPED_TRACE(pointer);
    nlohmann::json bad = good;
    bad[nlohmann::json::json_pointer(pointer)] = value;
    EXPECT_THAT(Booster::Load(bad.dump()),
                StatusIs(absl::StatusCode::kInvalidArgument, "not a valid XGBoost model"));
  }
  nlohmann::json shorter = good;
  shorter[nlohmann::json::json_pointer(tree + "split_conditions")].erase(0);
  EXPECT_THAT(Booster::Load(shorter.dump()),
              StatusIs(absl::StatusCode::kInvalidArgument, "split_conditions"));
}

TEST(Booster, EmptyBoosterFailsEveryCall) {
  const std::vector<float> x(kCols, 0.0F);
  CHURN_ASSERT_OK_AND_ASSIGN(const DMatrix m, DMatrix::FromDense(x, 1, kCols, {}));
  Booster source;
  const Booster b = std::move(source);
  const Booster* boosters[] = {&b, &source};  // NOLINT(bugprone-use-after-move)
  for (const Booster* booster : boosters) {
    constexpr auto kFailed = absl::StatusCode::kFailedPrecondition;
    EXPECT_THAT(booster->SaveJson(), StatusIs(kFailed));
    EXPECT_THAT(booster->SaveUbj(), StatusIs(kFailed));
    EXPECT_THAT(booster->NumRounds(), StatusIs(kFailed));
    EXPECT_THAT(booster->Size(), StatusIs(kFailed));
    EXPECT_THAT(booster->Predict(m), StatusIs(kFailed));
    EXPECT_THAT(booster->PredictDense(x, 1, kCols), StatusIs(kFailed));
    EXPECT_THAT(booster->Contributions(m), StatusIs(kFailed));
    EXPECT_THAT(booster->GainImportance(kCols), StatusIs(kFailed));
  }
}

// small_model.json and small_expected.json come from Python XGBoost 1.7.4
// (tests/fixtures/model/make_fixture.py): an independent check of loading and predicting.
TEST(Booster, MatchesPythonXgboost) {
  const std::filesystem::path dir = FixtureDir();
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string model_bytes,
                             base::ReadFile(dir / "small_model.json"));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string expected_bytes,
                             base::ReadFile(dir / "small_expected.json"));
  const nlohmann::json expected = nlohmann::json::parse(expected_bytes);
  ASSERT_EQ(expected.at("xgboost"), "1.7.4");
  const auto rows = expected.at("rows").get<size_t>();
  const auto cols = expected.at("cols").get<size_t>();
  std::vector<float> x;
  for (const auto& v : expected.at("inputs")) {
    x.push_back(v.is_null() ? kNaN : v.get<float>());
  }
  ASSERT_EQ(x.size(), rows * cols);
  const auto predictions = expected.at("predictions").get<std::vector<double>>();
  const auto contributions = expected.at("contributions").get<std::vector<double>>();

  CHURN_ASSERT_OK_AND_ASSIGN(const Booster b, Booster::Load(model_bytes));
  EXPECT_THAT(b.NumRounds(), ::churn::testing::IsOkAndHolds(expected.at("rounds").get<int>()));
  CHURN_ASSERT_OK_AND_ASSIGN(const DMatrix m, DMatrix::FromDense(x, rows, cols, {}));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> p, b.Predict(m));
  EXPECT_THAT(p, Pointwise(::testing::DoubleNear(1e-6), predictions));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> dense, b.PredictDense(x, rows, cols));
  EXPECT_THAT(dense, Pointwise(::testing::DoubleNear(1e-6), predictions));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> c, b.Contributions(m));
  EXPECT_THAT(c, Pointwise(::testing::DoubleNear(1e-5), contributions));
  CHURN_ASSERT_OK_AND_ASSIGN(const ModelSize size, b.Size());
  EXPECT_EQ(size.trees, 8);
  EXPECT_LE(size.max_depth, 3);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<double> gain, b.GainImportance(cols));
  EXPECT_EQ(std::max_element(gain.begin(), gain.end()) - gain.begin(), 0);
}

}  // namespace
}  // namespace churn::model
