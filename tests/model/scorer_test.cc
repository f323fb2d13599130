#include "churn/model/scorer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/tree_shap.h"
#include "nlohmann/json.hpp"
#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/base/status_macros.h"
#include "churn/model/xgboost.h"

namespace churn::model {
namespace {
// Its own namespace: the unity build compiles this file with xgboost_test.cc.
namespace scorer_test {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Pointwise;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
constexpr char kTree[] = "/learner/gradient_booster/model/trees/";

std::filesystem::path FixtureDir() {
  return std::filesystem::path(::churn::testing::SourceDir()) / "tests/fixtures/model";
}

// A synthetic churn-like problem with `cols` features: continuous ones, a discrete one (so
// that values land exactly on thresholds), about 15% missing values, and a last feature that
// is constant (XGBoost never splits on it).
struct Data {
  std::vector<float> x{};
  std::vector<float> y{};
  size_t rows = 0;
  size_t cols = 0;
};

Data MakeData(size_t rows, size_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform(0.0F, 1.0F);
  Data d{.x = std::vector<float>(rows * cols),
         .y = std::vector<float>(rows),
         .rows = rows,
         .cols = cols};
  for (size_t r = 0; r < rows; ++r) {
    float* row = &d.x[r * cols];
    for (size_t c = 0; c + 1 < cols; ++c) {
      row[c] = normal(rng);
    }
    row[1] = std::round(row[1] * 3.0F);  // discrete
    row[cols - 1] = 1.0F;
    const double logit = 1.5 * row[0] - 0.4 * row[1] + (cols > 3 ? 0.8 * row[2] * row[3] : 0.0);
    d.y[r] = uniform(rng) < 1.0 / (1.0 + std::exp(-logit)) ? 1.0F : 0.0F;
    for (size_t c = 0; c + 1 < cols; ++c) {
      if (uniform(rng) < 0.15F) {
        row[c] = kNaN;
      }
    }
  }
  return d;
}

absl::StatusOr<Booster> TrainBooster(const Data& data, int rounds,
                                     std::vector<std::pair<std::string, std::string>> params) {
  CHURN_ASSIGN_OR_RETURN(DMatrix train, DMatrix::FromDense(data.x, data.rows, data.cols, data.y));
  CHURN_ASSIGN_OR_RETURN(DMatrix valid, DMatrix::FromDense(data.x, data.rows, data.cols, data.y));
  TrainOptions options{
      .params = std::move(params), .max_rounds = rounds, .early_stopping_rounds = 0};
  CHURN_ASSIGN_OR_RETURN(TrainResult result, Train(options, train, valid));
  return std::move(result.booster);
}

absl::StatusOr<CompiledModel> Compile(const Booster& booster) {
  CHURN_ASSIGN_OR_RETURN(const std::string json, booster.SaveJson());
  return CompiledModel::FromXgboostJson(json);
}

size_t SplitCount(const CompiledModel& model) {
  return static_cast<size_t>(std::count_if(model.Nodes().begin(), model.Nodes().end(),
                                           [](const CompiledNode& n) { return !n.IsLeaf(); }));
}

std::vector<float> PredictAll(const CompiledModel& model, absl::Span<const float> rows) {
  const size_t n = rows.size() / model.NumFeatures();
  std::vector<float> out(n);
  model.PredictBatch(rows, n, absl::MakeSpan(out));
  return out;
}

// The largest |a - b| and how many entries differ at all.
struct Difference {
  double max = 0.0;
  size_t unequal = 0;
};

Difference Compare(const std::vector<float>& a, const std::vector<float>& b) {
  Difference d;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double diff = std::abs(static_cast<double>(a[i]) - b[i]);
    if (std::isnan(diff)) {
      d.max = std::numeric_limits<double>::infinity();
    } else {
      d.max = std::max(d.max, diff);
    }
    d.unequal += a[i] == b[i] ? 0 : 1;
  }
  return d;
}

// Our contributions of `rows` (row-major), concatenated as Booster::Contributions returns them.
std::vector<float> AllContributions(const CompiledModel& model, absl::Span<const float> rows) {
  const size_t cols = model.NumFeatures();
  std::vector<float> out;
  for (size_t r = 0; r * cols < rows.size(); ++r) {
    const std::vector<float> c = model.Contributions(rows.subspan(r * cols, cols));
    out.insert(out.end(), c.begin(), c.end());
  }
  return out;
}

absl::StatusOr<std::vector<float>> XgboostContributions(const Booster& booster,
                                                        absl::Span<const float> rows, size_t cols) {
  CHURN_ASSIGN_OR_RETURN(const DMatrix m, DMatrix::FromDense(rows, rows.size() / cols, cols, {}));
  return booster.Contributions(m);
}

// Our contribution `std::get<0>(arg)` against XGBoost's `std::get<1>(arg)`: within `tolerance`,
// relative beyond magnitude 1. XGBoost computes in float32, whose spacing grows with the value
// (1.5e-5 at 128, which leaves of +-100 reach), so there its own rounding alone exceeds 1e-5.
MATCHER_P(ContributionNear, tolerance,
          absl::StrCat("is within ", tolerance, " x max(1, |XGBoost's|) of XGBoost's")) {
  const auto ours = static_cast<double>(std::get<0>(arg));
  const auto theirs = static_cast<double>(std::get<1>(arg));
  return std::abs(ours - theirs) <= tolerance * std::max(1.0, std::abs(theirs));
}

// ---------------------------------------------------------------------------------------------
// The committed fixture (Python XGBoost 1.7.4, tests/fixtures/model/make_fixture.py).

class FixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CHURN_ASSERT_OK_AND_ASSIGN(model_json_, base::ReadFile(FixtureDir() / "small_model.json"));
    CHURN_ASSERT_OK_AND_ASSIGN(const std::string bytes,
                               base::ReadFile(FixtureDir() / "small_expected.json"));
    const nlohmann::json expected = nlohmann::json::parse(bytes);
    rows_ = expected.at("rows").get<size_t>();
    cols_ = expected.at("cols").get<size_t>();
    for (const auto& v : expected.at("inputs")) {
      x_.push_back(v.is_null() ? kNaN : v.get<float>());
    }
    predictions_ = expected.at("predictions").get<std::vector<double>>();
    contributions_ = expected.at("contributions").get<std::vector<double>>();
    document_ = nlohmann::json::parse(model_json_);
  }

  // The fixture's model with `pointer` set to `value`, as JSON text.
  std::string With(const std::string& pointer, const nlohmann::json& value) const {
    nlohmann::json copy = document_;
    copy[nlohmann::json::json_pointer(pointer)] = value;
    return copy.dump();
  }

  std::string model_json_;
  nlohmann::json document_;
  size_t rows_ = 0;
  size_t cols_ = 0;
  std::vector<float> x_;
  std::vector<double> predictions_;
  std::vector<double> contributions_;
};

TEST_F(FixtureTest, MatchesPythonXgboost) {
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model,
                             CompiledModel::FromXgboostJson(model_json_));
  ASSERT_EQ(model.NumFeatures(), cols_);
  EXPECT_EQ(model.NumTrees(), 8U);
  EXPECT_EQ(model.BaseScore(), 0.5F);
  EXPECT_LE(model.MaxDepth(), 3U);
  std::vector<float> single;
  for (size_t r = 0; r < rows_; ++r) {
    single.push_back(model.Predict(absl::MakeConstSpan(x_).subspan(r * cols_, cols_)));
  }
  EXPECT_THAT(single, Pointwise(::testing::DoubleNear(1e-6), predictions_));
  EXPECT_THAT(PredictAll(model, x_), Pointwise(::testing::Eq(), single));
  EXPECT_THAT(AllContributions(model, x_), Pointwise(::testing::DoubleNear(1e-5), contributions_));
}

TEST_F(FixtureTest, CountsWhatXgboostCounts) {
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model,
                             CompiledModel::FromXgboostJson(model_json_));
  CHURN_ASSERT_OK_AND_ASSIGN(const Booster booster, Booster::Load(model_json_));
  CHURN_ASSERT_OK_AND_ASSIGN(const ModelSize size, booster.Size());
  EXPECT_EQ(model.NumTrees(), static_cast<size_t>(size.trees));
  EXPECT_EQ(model.NumNodes(), static_cast<size_t>(size.nodes));
  EXPECT_EQ(model.MaxDepth(), static_cast<size_t>(size.max_depth));
  EXPECT_EQ(SplitCount(model), static_cast<size_t>(size.nodes - size.leaves));
  // Layout: every tree's root is where the previous tree ended; children are adjacent and after
  // their parent.
  ASSERT_EQ(model.TreeRoots().size(), model.NumTrees());
  EXPECT_EQ(model.TreeRoots()[0], 0U);
  for (size_t i = 0; i < model.NumNodes(); ++i) {
    const CompiledNode& node = model.Nodes()[i];
    if (!node.IsLeaf()) {
      EXPECT_GT(node.left, i);
      EXPECT_LT(node.left + 1, model.NumNodes());
      EXPECT_LT(node.Feature(), model.NumFeatures());
    }
  }
}

TEST_F(FixtureTest, MissingValuesFollowTheDefaultDirection) {
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model,
                             CompiledModel::FromXgboostJson(model_json_));
  // Row 0 of the fixture is all missing: only default directions decide it.
  const std::vector<float> missing(cols_, kNaN);
  EXPECT_NEAR(model.Predict(missing), predictions_[0], 1e-6);
  // By hand: the default child of every node from each root down.
  float margin = model.BaseMargin();
  for (const uint32_t root : model.TreeRoots()) {
    uint32_t i = root;
    while (!model.Nodes()[i].IsLeaf()) {
      i = model.Nodes()[i].left + (model.Nodes()[i].DefaultLeft() ? 0 : 1);
    }
    margin += model.Nodes()[i].value;
  }
  EXPECT_EQ(model.PredictMargin(missing), margin);
}

TEST_F(FixtureTest, AValueEqualToTheThresholdGoesRight) {
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model,
                             CompiledModel::FromXgboostJson(model_json_));
  CHURN_ASSERT_OK_AND_ASSIGN(const Booster booster, Booster::Load(model_json_));
  const CompiledNode& root = model.Nodes()[0];
  ASSERT_FALSE(root.IsLeaf());
  std::vector<float> rows;
  for (const float v :
       {std::nextafter(root.value, -1e30F), root.value, std::nextafter(root.value, 1e30F)}) {
    std::vector<float> row(cols_, 0.0F);
    row[root.Feature()] = v;
    rows.insert(rows.end(), row.begin(), row.end());
  }
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> expected,
                             booster.PredictDense(rows, 3, cols_));
  const std::vector<float> got = PredictAll(model, rows);
  EXPECT_THAT(got, Pointwise(::testing::Eq(), expected));
  EXPECT_NE(got[0], got[1]);  // the first tree turns between the value below and the threshold
}

TEST_F(FixtureTest, CheckRowWantsNumFeaturesValues) {
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model,
                             CompiledModel::FromXgboostJson(model_json_));
  EXPECT_THAT(model.CheckRow(std::vector<float>(cols_)), IsOk());
  EXPECT_THAT(model.CheckRow(std::vector<float>(cols_ - 1)),
              StatusIs(kInvalid, "a row of 3 values for a model of 4 features"));
  EXPECT_THAT(model.CheckRow(std::vector<float>(cols_ + 1)), StatusIs(kInvalid));
}

TEST_F(FixtureTest, MovedModelStillScores) {
  CHURN_ASSERT_OK_AND_ASSIGN(CompiledModel model, CompiledModel::FromXgboostJson(model_json_));
  const CompiledModel moved = std::move(model);
  EXPECT_NEAR(moved.Predict(absl::MakeConstSpan(x_).subspan(cols_, cols_)), predictions_[1], 1e-6);
}

TEST_F(FixtureTest, ScoresConcurrently) {
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model,
                             CompiledModel::FromXgboostJson(model_json_));
  const std::vector<float> rows = ReferenceRows(model, 2000, 3);
  const std::vector<float> expected = PredictAll(model, rows);
  std::vector<std::vector<float>> results(4);
  std::vector<std::thread> threads;
  threads.reserve(results.size());
  for (auto& result : results) {
    threads.emplace_back([&model, &rows, &result] {
      for (size_t r = 0; r * model.NumFeatures() < rows.size(); ++r) {
        const auto row =
            absl::MakeConstSpan(rows).subspan(r * model.NumFeatures(), model.NumFeatures());
        result.push_back(model.Predict(row));
        static_cast<void>(model.Contributions(row));
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (const auto& result : results) {
    EXPECT_THAT(result, Pointwise(::testing::Eq(), expected));
  }
}

// ---------------------------------------------------------------------------------------------
// Hand-edited models, checked against XGBoost loading the same JSON.

// Our probabilities and XGBoost's for the same JSON text on reference rows: bit-identical.
void ExpectSameAsXgboost(const std::string& json, size_t rows) {
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model, CompiledModel::FromXgboostJson(json));
  CHURN_ASSERT_OK_AND_ASSIGN(const Booster booster, Booster::Load(json));
  const std::vector<float> x = ReferenceRows(model, rows, 11);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> expected,
                             booster.PredictDense(x, rows, model.NumFeatures()));
  EXPECT_THAT(PredictAll(model, x), Pointwise(::testing::Eq(), expected));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> contributions,
                             XgboostContributions(booster, x, model.NumFeatures()));
  EXPECT_THAT(AllContributions(model, x), Pointwise(ContributionNear(1e-5), contributions));
}

TEST_F(FixtureTest, ASingleLeafTreeAmongOthers) {
  nlohmann::json doc = document_;
  nlohmann::json& tree = doc[nlohmann::json::json_pointer(std::string(kTree) + "3")];
  const size_t n = tree["left_children"].size();
  for (nlohmann::json& value : tree) {  // an object's values
    if (value.is_array() && value.size() == n) {
      value.erase(value.begin() + 1, value.end());
    }
  }
  tree["left_children"][0] = -1;
  tree["right_children"][0] = -1;
  tree["split_conditions"][0] = 0.25;
  tree["tree_param"]["num_nodes"] = "1";
  const std::string json = doc.dump();
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model, CompiledModel::FromXgboostJson(json));
  EXPECT_TRUE(model.Nodes()[model.TreeRoots()[3]].IsLeaf());
  ExpectSameAsXgboost(json, 200);
}

TEST_F(FixtureTest, NoTreesPredictsTheBaseScore) {
  nlohmann::json doc = document_;
  doc[nlohmann::json::json_pointer("/learner/gradient_booster/model/trees")] =
      nlohmann::json::array();
  doc[nlohmann::json::json_pointer("/learner/gradient_booster/model/tree_info")] =
      nlohmann::json::array();
  doc[nlohmann::json::json_pointer(
      "/learner/gradient_booster/model/gbtree_model_param/"
      "num_trees")] = "0";
  doc[nlohmann::json::json_pointer("/learner/learner_model_param/base_score")] = "3E-1";
  const std::string json = doc.dump();
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model, CompiledModel::FromXgboostJson(json));
  EXPECT_EQ(model.NumTrees(), 0U);
  EXPECT_EQ(model.NumNodes(), 0U);
  EXPECT_NEAR(model.Predict(std::vector<float>(cols_, 1.0F)), 0.3, 1e-7);
  ExpectSameAsXgboost(json, 8);
}

TEST_F(FixtureTest, UnreachableNodesAreDropped) {
  nlohmann::json doc = document_;
  nlohmann::json& tree = doc[nlohmann::json::json_pointer(std::string(kTree) + "2")];
  for (nlohmann::json& value : tree) {             // an object's values
    if (value.is_array() && value.size() == 15) {  // tree 2 has 15 nodes, node 14 a leaf
      value.push_back(value[14]);                  // a leaf's entries: parent 6, no children
    }
  }
  tree["tree_param"]["num_nodes"] = "16";
  const std::string json = doc.dump();
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model, CompiledModel::FromXgboostJson(json));
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel original,
                             CompiledModel::FromXgboostJson(model_json_));
  EXPECT_EQ(model.NumNodes(), original.NumNodes());
  ExpectSameAsXgboost(json, 200);
}

// Leaves of +-100: margins where XGBoost's sigmoid clamps its exponent (at 88.7) and the
// probabilities are denormal or 1.
TEST_F(FixtureTest, ExtremeMarginsSaturateAsInXgboost) {
  nlohmann::json doc = document_;
  nlohmann::json& tree = doc[nlohmann::json::json_pointer(std::string(kTree) + "0")];
  for (size_t i = 0; i < tree["left_children"].size(); ++i) {
    if (tree["left_children"][i] == -1) {
      tree["split_conditions"][i] = i % 2 == 0 ? 100.0 : -100.0;
    }
  }
  const std::string json = doc.dump();
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model, CompiledModel::FromXgboostJson(json));
  const std::vector<float> x = ReferenceRows(model, 400, 5);
  const std::vector<float> p = PredictAll(model, x);
  EXPECT_TRUE(std::any_of(p.begin(), p.end(), [](float v) { return v < 1e-38F; }));
  EXPECT_TRUE(std::any_of(p.begin(), p.end(), [](float v) { return v == 1.0F; }));
  ExpectSameAsXgboost(json, 400);
}

// ---------------------------------------------------------------------------------------------
// Malformed models: InvalidArgument naming what is wrong, never a crash.

TEST_F(FixtureTest, RejectsMalformedModels) {
  const std::string t = std::string(kTree) + "1/";
  const std::string params = "/learner/learner_model_param/";

  struct Case {
    std::string pointer;
    nlohmann::json value;
    std::string message;
  };

  const Case cases[] = {
      {"/learner/objective/name", "multi:softprob", "objective multi:softprob is not supported"},
      {"/learner/objective/name", "reg:squarederror", "reg:squarederror"},
      {"/learner/gradient_booster/name", "dart", "booster dart is not supported"},
      {params + "num_feature", "0", "num_feature is 0"},
      {params + "num_feature", "four", "num_feature is not an integer"},
      {params + "num_class", "3", "num_class is 3"},
      {params + "num_target", "2", "num_target is 2"},
      {params + "base_score", "1E0", "base_score must lie in (0, 1)"},
      {params + "base_score", "0.5x", "base_score is not a number"},
      {params + "base_score", 0.5, "base_score is not a string"},
      {"/learner/gradient_booster/model/gbtree_model_param/num_trees", "9", "disagree"},
      {"/learner/gradient_booster/model/tree_info/2", 1, "tree_info[2]"},
      {"/learner/gradient_booster/model/trees/3", 7, "tree 3: not an object"},
      {t + "id", 4, "tree 1: id (it must be the tree's position) is 4"},
      {t + "tree_param/num_nodes", "16", "tree 1: left_children has 15 entries"},
      {t + "tree_param/num_nodes", "-1", "num_nodes is -1"},
      {t + "tree_param/size_leaf_vector", "2", "size_leaf_vector is 2"},
      {t + "left_children/0", 99, "tree 1: node 0: left_children is 99, outside [1, 15)"},
      {t + "right_children/0", 3, "right child 3 is not left child 1 + 1"},
      {t + "right_children/2", -1, "node 2: one child is -1"},
      {t + "left_children/4", "7", "left_children is not an integer"},
      {t + "split_indices/0", 4, "node 0: split_indices (the feature, below num_feature) is 4"},
      {t + "split_indices/0", -1, "split_indices (the feature, below num_feature) is -1"},
      {t + "split_conditions/0", 1e39, "number overflow parsing '1e+39'"},  // not a float32
      {t + "split_conditions/7", "x", "node 7: split_conditions is not a number"},
      {t + "sum_hessian/5", -1.0, "node 5: sum_hessian is negative"},
      {t + "default_left/0", 2, "default_left is 2"},
      {t + "split_type/0", 1, "categorical splits are not supported"},
      {t + "parents", nlohmann::json::array({0}), "parents is not an array"},
      {t + "sum_hessian", 3, "sum_hessian is not an array"},
  };
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel good,
                             CompiledModel::FromXgboostJson(document_.dump()));
  for (const Case& c : cases) {
    SCOPED_TRACE(c.pointer);
    EXPECT_THAT(CompiledModel::FromXgboostJson(With(c.pointer, c.value)),
                StatusIs(kInvalid, c.message));
  }
  nlohmann::json cycle = document_;  // node 3 of tree 1 points back at its parent and uncle
  cycle[nlohmann::json::json_pointer(t + "left_children/3")] = 1;
  cycle[nlohmann::json::json_pointer(t + "right_children/3")] = 2;
  EXPECT_THAT(CompiledModel::FromXgboostJson(cycle.dump()),
              StatusIs(kInvalid, "tree 1: node 3: child 1 is reached twice"));
  nlohmann::json no_trees = document_;
  no_trees["learner"]["gradient_booster"]["model"].erase("trees");
  EXPECT_THAT(CompiledModel::FromXgboostJson(no_trees.dump()),
              StatusIs(kInvalid, "learner.gradient_booster.model has no \"trees\""));
  nlohmann::json shorter = document_;
  shorter[nlohmann::json::json_pointer(t + "split_conditions")].erase(0);
  EXPECT_THAT(CompiledModel::FromXgboostJson(shorter.dump()),
              StatusIs(kInvalid, "tree 1: split_conditions has 14 entries"));
}

TEST_F(FixtureTest, RejectsTextThatIsNotAModel) {
  std::string nan_threshold = model_json_;
  const size_t at = nan_threshold.find("\"split_conditions\":[") + 20;
  nan_threshold.insert(at, "NaN,");
  const std::string texts[] = {"",
                               "{",
                               "[]",
                               "null",
                               "{}",
                               R"({"learner": 1})",
                               "\x01",
                               "{\"",
                               nan_threshold,
                               model_json_.substr(0, 999)};
  for (const std::string& text : texts) {
    SCOPED_TRACE(text.substr(0, 30));
    EXPECT_THAT(CompiledModel::FromXgboostJson(text), StatusIs(kInvalid));
  }
  // Deep nesting: no recursion to overflow the stack, open or closed.
  EXPECT_THAT(CompiledModel::FromXgboostJson(std::string(200000, '[')),
              StatusIs(kInvalid, "not JSON"));
  EXPECT_THAT(CompiledModel::FromXgboostJson(std::string(200000, '[') + std::string(200000, ']')),
              StatusIs(kInvalid, "has no \"learner\""));
  EXPECT_THAT(CompiledModel::FromXgboostJson("{"), StatusIs(kInvalid, "not JSON"));
  EXPECT_THAT(CompiledModel::FromXgboostJson(nan_threshold), StatusIs(kInvalid, "not JSON"));
  EXPECT_THAT(CompiledModel::FromXgboostJson("{}"), StatusIs(kInvalid, "has no \"learner\""));
}

TEST_F(FixtureTest, RejectsTreesDeeperThanTheLimit) {
  // A chain: node 2k splits into a leaf (2k + 1) and the next split (2k + 2).
  constexpr size_t kDepth = CompiledModel::kMaxDepth + 1;
  nlohmann::json& tree = document_[nlohmann::json::json_pointer(std::string(kTree) + "0")];
  const size_t n = 2 * kDepth + 1;
  for (const char* key :
       {"left_children", "right_children", "split_indices", "split_conditions", "default_left",
        "sum_hessian", "split_type", "parents", "base_weights", "loss_changes"}) {
    tree[key] = nlohmann::json::array();
  }
  for (size_t i = 0; i < n; ++i) {
    const bool split = i % 2 == 0 && i + 1 < n;
    tree["left_children"].push_back(split ? static_cast<int64_t>(i + 1) : -1);
    tree["right_children"].push_back(split ? static_cast<int64_t>(i + 2) : -1);
    tree["parents"].push_back(i == 0 ? 2147483647 : static_cast<int64_t>((i - 1) / 2 * 2));
    tree["split_indices"].push_back(0);
    tree["split_conditions"].push_back(static_cast<double>(i));
    for (const char* key : {"default_left", "split_type", "base_weights", "loss_changes"}) {
      tree[key].push_back(0);
    }
    tree["sum_hessian"].push_back(1.0);
  }
  tree["tree_param"]["num_nodes"] = std::to_string(n);
  EXPECT_THAT(CompiledModel::FromXgboostJson(document_.dump()),
              StatusIs(kInvalid, "deeper than 256 levels"));
  // One level less is fine.
  const std::string max_depth = absl::StrCat(kTree, "0/");
  document_[nlohmann::json::json_pointer(max_depth + "left_children/" + std::to_string(n - 3))] =
      -1;
  document_[nlohmann::json::json_pointer(max_depth + "right_children/" + std::to_string(n - 3))] =
      -1;
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model,
                             CompiledModel::FromXgboostJson(document_.dump()));
  EXPECT_EQ(model.MaxDepth(), CompiledModel::kMaxDepth);
  std::vector<float> row(cols_, 1000.0F);
  EXPECT_EQ(model.Contributions(row).size(), cols_ + 1);
}

// Random digit changes and truncations of the fixture: each must be compiled or refused with
// InvalidArgument; when XGBoost loads it too, both must predict the same.
TEST_F(FixtureTest, SurvivesMutatedModels) {
  std::mt19937 rng(20240229);
  size_t compiled = 0;
  for (int i = 0; i < 250; ++i) {
    std::string text = model_json_;
    for (int k = 0; k < 3; ++k) {
      const size_t at = std::uniform_int_distribution<size_t>(0, text.size() - 1)(rng);
      if (text[at] >= '0' && text[at] <= '9') {
        text[at] = static_cast<char>('0' + std::uniform_int_distribution<int>(0, 9)(rng));
      } else if (k == 0 && i % 10 == 0) {
        text.resize(at);
      }
    }
    const absl::StatusOr<CompiledModel> model = CompiledModel::FromXgboostJson(text);
    if (!model.ok()) {
      EXPECT_THAT(model, StatusIs(kInvalid));
      continue;
    }
    ++compiled;
    const absl::StatusOr<Booster> booster = Booster::Load(text);
    if (booster.ok()) {
      const std::vector<float> rows = ReferenceRows(*model, 64, 1);
      EXPECT_THAT(VerifyAgainstXgboost(*model, *booster, rows, 64), IsOk()) << text;
    }
  }
  EXPECT_GT(compiled, 25U);  // the mutations are not all fatal
}

// ---------------------------------------------------------------------------------------------
// Models trained here, compared with XGBoost's own predictor and TreeSHAP.

struct TrainConfig {
  std::string name;
  int rounds = 1;
  std::vector<std::pair<std::string, std::string>> params{};
  size_t contribution_rows = 100;  // rows whose contributions are compared (TreeSHAP is slow)
};

void PrintTo(const TrainConfig& config, std::ostream* out) {
  *out << config.name;
}

class TrainedModelTest : public ::testing::TestWithParam<TrainConfig> {};

TEST_P(TrainedModelTest, MatchesXgboost) {
  const TrainConfig& config = GetParam();
  const Data data = MakeData(2000, 8, 17);
  CHURN_ASSERT_OK_AND_ASSIGN(const Booster booster,
                             TrainBooster(data, config.rounds, config.params));
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model, Compile(booster));
  ASSERT_EQ(model.NumFeatures(), data.cols);
  CHURN_ASSERT_OK_AND_ASSIGN(const ModelSize size, booster.Size());
  EXPECT_EQ(model.NumTrees(), static_cast<size_t>(size.trees));
  // Size counts every node saved, the deleted ones pruning leaves behind (ExactWithPruning)
  // included; the compiled model keeps the reachable ones: 2 * leaves - 1 per tree.
  EXPECT_EQ(model.NumNodes(), static_cast<size_t>(2 * size.leaves - size.trees));
  EXPECT_LE(model.NumNodes(), static_cast<size_t>(size.nodes));
  EXPECT_EQ(model.MaxDepth(), static_cast<size_t>(size.max_depth));

  // Fresh rows, an all-missing row, and reference rows around every threshold.
  Data test = MakeData(500, data.cols, 99);
  test.x.insert(test.x.begin(), data.cols, kNaN);
  const size_t reference = std::min<size_t>(4 * SplitCount(model) + 4, 40000);
  const std::vector<float> around = ReferenceRows(model, reference, 7);
  std::vector<float> rows = test.x;
  rows.insert(rows.end(), around.begin(), around.end());
  const size_t n = rows.size() / data.cols;
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> expected,
                             booster.PredictDense(rows, n, data.cols));
  const std::vector<float> got = PredictAll(model, rows);
  const Difference d = Compare(got, expected);
  EXPECT_LE(d.max, 1e-6);
  EXPECT_EQ(d.unequal, 0U) << "of " << n << " rows; largest difference " << d.max;
  EXPECT_THAT(VerifyAgainstXgboost(model, booster, rows, n), IsOk());
  for (size_t r = 0; r < n; r += 97) {
    EXPECT_EQ(model.Predict(absl::MakeConstSpan(rows).subspan(r * data.cols, data.cols)), got[r]);
  }

  // Contributions: test rows and reference rows.
  const size_t k = std::min(config.contribution_rows, test.rows + 1);
  std::vector<float> some(test.x.begin(), test.x.begin() + static_cast<ptrdiff_t>(k * data.cols));
  some.insert(some.end(), around.begin(),
              around.begin() + static_cast<ptrdiff_t>(std::min(k, reference) * data.cols));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> phi_xgb,
                             XgboostContributions(booster, some, data.cols));
  const std::vector<float> phi = AllContributions(model, some);
  // Not bit-identical: XGBoost computes in float32 with another algorithm (observed with
  // XGBoost 1.7.4: at most 3.1e-6 apart over these configurations).
  const Difference dc = Compare(phi, phi_xgb);
  EXPECT_LE(dc.max, 1e-5) << dc.unequal << " of " << phi.size() << " differ";
  // The same with every leaf computed at explanation time instead of read from a table.
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string json, booster.SaveJson());
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel computed,
                             internal::CompileWithShapLimits(json, {.max_features = 0}));
  EXPECT_EQ(internal::ShapOf(computed).TabulatedLeaves(), 0U);
  EXPECT_LE(Compare(AllContributions(computed, some), phi_xgb).max, 1e-5);
  // The never-used constant feature gets exactly 0; each row sums to its margin.
  for (size_t r = 0; r * (data.cols + 1) < phi.size(); ++r) {
    const auto row_phi = absl::MakeConstSpan(phi).subspan(r * (data.cols + 1), data.cols + 1);
    EXPECT_EQ(row_phi[data.cols - 1], 0.0F);
    double sum = 0.0;
    for (const float c : row_phi) {
      sum += c;
    }
    const float margin =
        model.PredictMargin(absl::MakeConstSpan(some).subspan(r * data.cols, data.cols));
    EXPECT_NEAR(sum, margin, 1e-4 * std::max(1.0F, std::abs(margin)));
  }
}

std::vector<TrainConfig> TrainConfigs() {
  return {
      {.name = "Depth1Round1", .rounds = 1, .params = {{"max_depth", "1"}}},
      {.name = "Depth2Rounds10BaseScore027",
       .rounds = 10,
       .params = {{"max_depth", "2"}, {"base_score", "0.27"}}},
      {.name = "Depth3Rounds50", .rounds = 50, .params = {{"max_depth", "3"}, {"eta", "0.1"}}},
      {.name = "Depth5Rounds100BaseScore08",
       .rounds = 100,
       .params = {{"max_depth", "5"}, {"base_score", "0.8"}, {"eta", "0.2"}}},
      {.name = "Depth6Rounds300",
       .rounds = 300,
       .params = {{"max_depth", "6"}, {"eta", "0.1"}},
       .contribution_rows = 40},
      {.name = "Depth8Rounds120Subsampled",
       .rounds = 120,
       .params = {{"max_depth", "8"},
                  {"subsample", "0.7"},
                  {"colsample_bytree", "0.7"},
                  {"min_child_weight", "0.2"}},
       .contribution_rows = 20},
      {.name = "Depth8Eta1LargeMargins",
       .rounds = 40,
       .params = {{"max_depth", "8"}, {"eta", "1"}, {"min_child_weight", "0"}},
       .contribution_rows = 30},
      {.name = "LossguideUnlimitedDepth",
       .rounds = 20,
       .params = {{"grow_policy", "lossguide"}, {"max_depth", "0"}, {"max_leaves", "40"}},
       .contribution_rows = 40},
      {.name = "ExactWithPruning",
       .rounds = 20,
       .params = {{"tree_method", "exact"}, {"max_depth", "5"}, {"gamma", "2"}}},
      {.name = "Approx", .rounds = 20, .params = {{"tree_method", "approx"}, {"max_depth", "4"}}},
      {.name = "RegLogistic",
       .rounds = 30,
       .params = {{"objective", "reg:logistic"}, {"max_depth", "4"}, {"base_score", "0.6"}}},
      {.name = "SingleLeafTrees", .rounds = 5, .params = {{"gamma", "1e9"}}},
      {.name = "ParallelTrees",
       .rounds = 5,
       .params = {{"num_parallel_tree", "3"}, {"max_depth", "4"}, {"subsample", "0.8"}}},
  };
}

INSTANTIATE_TEST_SUITE_P(Configs, TrainedModelTest, ::testing::ValuesIn(TrainConfigs()),
                         [](const ::testing::TestParamInfo<TrainConfig>& param) {
                           return param.param.name;
                         });

TEST(CompiledModel, SingleLeafTreesPredictTheirSum) {
  const Data data = MakeData(500, 4, 5);
  CHURN_ASSERT_OK_AND_ASSIGN(const Booster booster,
                             TrainBooster(data, 3, {{"gamma", "1e9"}, {"base_score", "0.3"}}));
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model, Compile(booster));
  EXPECT_EQ(model.NumNodes(), 3U);
  EXPECT_EQ(model.MaxDepth(), 0U);
  float margin = model.BaseMargin();
  for (const CompiledNode& leaf : model.Nodes()) {
    margin += leaf.value;
  }
  EXPECT_EQ(model.PredictMargin(std::vector<float>(4, 0.0F)), margin);
  const std::vector<float> phi = model.Contributions(std::vector<float>(4, kNaN));
  EXPECT_THAT(phi, ElementsAre(0.0F, 0.0F, 0.0F, 0.0F, ::testing::FloatNear(margin, 1e-6F)));
}

TEST(CompiledModel, BatchEqualsSingleRowsAcrossBlocks) {
  const Data data = MakeData(1000, 6, 8);
  CHURN_ASSERT_OK_AND_ASSIGN(const Booster booster, TrainBooster(data, 20, {{"max_depth", "4"}}));
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model, Compile(booster));
  for (const size_t n : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{130}}) {
    SCOPED_TRACE(n);
    const auto rows = absl::MakeConstSpan(data.x).subspan(0, n * data.cols);
    std::vector<float> single;
    for (size_t r = 0; r < n; ++r) {
      single.push_back(model.Predict(rows.subspan(r * data.cols, data.cols)));
    }
    EXPECT_THAT(PredictAll(model, rows), Pointwise(::testing::Eq(), single));
  }
}

// ---------------------------------------------------------------------------------------------
// Explanations (src/model/tree_shap.h): tabulated leaves, computed ones, and XGBoost's
// pred_contribs on the same JSON.

// The largest magnitude a margin of `model` can have: the base margin and every tree's largest
// |leaf|.
double MarginScale(const CompiledModel& model) {
  double scale = std::abs(model.BaseMargin());
  const auto nodes = model.Nodes();
  const auto roots = model.TreeRoots();
  for (size_t t = 0; t < roots.size(); ++t) {
    const size_t end = t + 1 < roots.size() ? roots[t + 1] : nodes.size();
    double largest = 0.0;
    for (size_t i = roots[t]; i < end; ++i) {
      if (nodes[i].IsLeaf()) {
        largest = std::max(largest, std::abs(static_cast<double>(nodes[i].value)));
      }
    }
    scale += largest;
  }
  return scale;
}

// Each row's contributions (in `phi`, as AllContributions returns them) sum to PredictMargin
// within float rounding: the margin's float sum over the trees, the bias's, each contribution
// rounded to float, each table entry too; 2^-20 of the largest margin covers 16 roundings of it.
void ExpectSumsToMargins(const CompiledModel& model, absl::Span<const float> rows,
                         absl::Span<const float> phi) {
  const size_t cols = model.NumFeatures();
  const double tolerance = std::ldexp(MarginScale(model), -20);
  for (size_t r = 0; r * cols < rows.size(); ++r) {
    double sum = 0.0;
    for (const float c : phi.subspan(r * (cols + 1), cols + 1)) {
      sum += c;
    }
    EXPECT_NEAR(sum, model.PredictMargin(rows.subspan(r * cols, cols)), tolerance) << "row " << r;
  }
}

// A feature on a path, as SubsetShap merges its splits: its zero and one fractions.
struct OracleSlot {
  int64_t feature = 0;
  long double zero = 1.0L;
  bool one = true;
};

// One leaf's values by the definition: for each slot j, v (o_j - z_j) times the sum over subset
// sizes s of w(s, k) = s! (k - s - 1)! / k! times the coefficient of x^s in
// prod_{i != j} (z_i + o_i x), into phi.
void AddSubsetShap(const std::vector<OracleSlot>& path, long double value,
                   std::vector<long double>& phi) {
  const size_t k = path.size();
  for (size_t j = 0; j < k; ++j) {
    std::vector<long double> poly = {1.0L};
    for (size_t i = 0; i < k; ++i) {
      if (i == j) {
        continue;
      }
      poly.push_back(0.0L);
      for (size_t s = poly.size() - 1; s > 0; --s) {
        poly[s] = poly[s] * path[i].zero + (path[i].one ? poly[s - 1] : 0.0L);
      }
      poly[0] *= path[i].zero;
    }
    long double sum = 0.0L;
    long double weight = 1.0L / static_cast<long double>(k);  // w(0, k) = 1 / k
    for (size_t s = 0; s < k; ++s) {
      sum += weight * poly[s];
      // w(s + 1, k) = w(s, k) (s + 1) / (k - s - 1)
      weight *= static_cast<long double>(s + 1) / static_cast<long double>(k - s - 1);
    }
    const long double one = path[j].one ? 1.0L : 0.0L;
    phi[static_cast<size_t>(path[j].feature)] += value * (one - path[j].zero) * sum;
  }
}

// The path-dependent SHAP values of `row` (the bias left out) straight from XGBoost's JSON, by
// the definition in long double: an independent reference where XGBoost's float32 loses digits
// on paths of tens of distinct features. O(k^3) per leaf: for a few rows only.
std::vector<double> SubsetShap(const nlohmann::json& doc, absl::Span<const float> row) {
  std::vector<long double> phi(row.size(), 0.0L);

  struct Visit {
    size_t node = 0;
    std::vector<OracleSlot> path;
  };

  for (const auto& tree : doc["learner"]["gradient_booster"]["model"]["trees"]) {
    std::vector<Visit> stack = {{.node = 0, .path = {}}};
    while (!stack.empty()) {
      const Visit visit = std::move(stack.back());
      stack.pop_back();
      const auto left = tree["left_children"][visit.node].get<int64_t>();
      if (left == -1) {
        AddSubsetShap(visit.path, tree["split_conditions"][visit.node].get<float>(), phi);
        continue;
      }
      const auto feature = tree["split_indices"][visit.node].get<int64_t>();
      const float v = row[static_cast<size_t>(feature)];
      const bool goes_left = std::isnan(v) ? tree["default_left"][visit.node].get<int>() == 1
                                           : v < tree["split_conditions"][visit.node].get<float>();
      // Covers parsed as float32, as XGBoost and the compiler parse them.
      const long double cover = tree["sum_hessian"][visit.node].get<float>();
      for (const int64_t child : {left, left + 1}) {
        Visit next = {.node = static_cast<size_t>(child), .path = visit.path};
        const long double fraction =
            tree["sum_hessian"][static_cast<size_t>(child)].get<float>() / cover;
        const bool hot = (child == left) == goes_left;
        const auto same =
            std::find_if(next.path.begin(), next.path.end(),
                         [feature](const OracleSlot& s) { return s.feature == feature; });
        if (same == next.path.end()) {
          next.path.push_back({.feature = feature, .zero = fraction, .one = hot});
        } else {
          same->zero *= fraction;
          same->one = same->one && hot;
        }
        stack.push_back(std::move(next));
      }
    }
  }
  return {phi.begin(), phi.end()};
}

// `json` explains `rows` (row-major) as XGBoost does (within `xgboost_tolerance`, see
// ContributionNear) and, on its first kOracleRows rows, as SubsetShap does within 1e-6: compiled
// with the default tables, with every leaf computed, and with a table budget of half the
// default tables' bytes. The three agree within the tables' float rounding, and sum to the
// margins.
constexpr size_t kOracleRows = 30;

void ExpectExplainsAsXgboost(const std::string& json, absl::Span<const float> rows,
                             double xgboost_tolerance = 1e-5) {
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model, CompiledModel::FromXgboostJson(json));
  CHURN_ASSERT_OK_AND_ASSIGN(const Booster booster, Booster::Load(json));
  const size_t cols = model.NumFeatures();
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> expected,
                             XgboostContributions(booster, rows, cols));
  const std::vector<float> tabulated = AllContributions(model, rows);
  EXPECT_THAT(tabulated, Pointwise(ContributionNear(xgboost_tolerance), expected));
  ExpectSumsToMargins(model, rows, tabulated);
  const nlohmann::json doc = nlohmann::json::parse(json);
  for (size_t r = 0; r < kOracleRows && r * cols < rows.size(); ++r) {
    SCOPED_TRACE(absl::StrCat("row ", r));
    const std::vector<double> exact = SubsetShap(doc, rows.subspan(r * cols, cols));
    const auto ours = absl::MakeConstSpan(tabulated).subspan(r * (cols + 1), cols);
    EXPECT_THAT(ours, Pointwise(ContributionNear(1e-6), exact));
  }
  const internal::ShapTableLimits defaults;
  for (const internal::ShapTableLimits& limits :
       {internal::ShapTableLimits{.max_features = 0},
        internal::ShapTableLimits{.max_features = defaults.max_features,
        .max_bytes = internal::ShapOf(model).TableBytes() / 2}}) {
    SCOPED_TRACE(absl::StrCat("tables of at most ", limits.max_features, " slots, ",
                              limits.max_bytes, " bytes"));
    CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel other,
                               internal::CompileWithShapLimits(json, limits));
    const std::vector<float> phi = AllContributions(other, rows);
    EXPECT_THAT(phi, Pointwise(::testing::FloatNear(1e-6F), tabulated));
    ExpectSumsToMargins(other, rows, phi);
  }
}

// Rows for `model`: `reference` ReferenceRows around thresholds (with 4 per split node, each
// split sees a value below, at and above its threshold, and a missing one), a row of missing
// values only, and `n` normal rows with 20% missing.
std::vector<float> ExplanationRows(const CompiledModel& model, size_t reference, size_t n,
                                   uint32_t seed) {
  std::vector<float> rows = ReferenceRows(model, reference, seed);
  rows.insert(rows.end(), model.NumFeatures(), kNaN);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform(0.0F, 1.0F);
  for (size_t i = 0; i < n * model.NumFeatures(); ++i) {
    rows.push_back(uniform(rng) < 0.2F ? kNaN : normal(rng));
  }
  return rows;
}

// Random trees in XGBoost's JSON: a spine from the root down to `depth` levels, other nodes
// splitting with `split_probability` above that depth, on features drawn from `features`;
// covers shared between the children at random, a child empty (cover 0, a leaf) with
// `empty_probability`; normal thresholds, random default directions, leaves in [-1, 1).
struct RandomTrees {
  size_t features = 8;
  size_t trees = 3;
  size_t depth = 8;
  double split_probability = 0.5;
  double empty_probability = 0.0;
  uint32_t seed = 1;
};

struct RandomNode {
  int64_t left = -1;
  int64_t parent = 2147483647;  // XGBoost's "no parent"
  int64_t feature = 0;
  double value = 0.0;  // a split's threshold, a leaf's value
  bool default_left = false;
  double cover = 0.0;
};

struct PendingRandomNode {
  size_t index = 0;
  size_t depth = 0;
  bool spine = false;
  bool leaf = false;
};

std::vector<RandomNode> RandomTreeNodes(const RandomTrees& config, std::mt19937& rng) {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::normal_distribution<double> normal;
  std::vector<RandomNode> nodes(1);
  nodes[0].cover = static_cast<float>(20.0 + 80.0 * uniform(rng));
  std::vector<PendingRandomNode> queue = {{.index = 0, .depth = 0, .spine = true}};
  for (size_t head = 0; head < queue.size(); ++head) {
    const PendingRandomNode p = queue[head];
    const bool split =
        !p.leaf && p.depth < config.depth && (p.spine || uniform(rng) < config.split_probability);
    if (!split) {
      nodes[p.index].value = static_cast<float>(2.0 * uniform(rng) - 1.0);
      continue;
    }
    const auto left = static_cast<int64_t>(nodes.size());
    const double cover = nodes[p.index].cover;
    nodes[p.index].left = left;
    nodes[p.index].feature = static_cast<int64_t>(rng() % config.features);
    nodes[p.index].value = static_cast<float>(normal(rng));  // exact in the JSON
    nodes[p.index].default_left = rng() % 2 == 0;
    const bool empty = uniform(rng) < config.empty_probability;
    const auto share = static_cast<float>(empty ? 0.0 : 0.05 + 0.9 * uniform(rng));
    const bool empty_left = empty && rng() % 2 == 0;  // else the right child (when empty)
    nodes.push_back(
        {.parent = static_cast<int64_t>(p.index),
         .cover = empty_left ? 0.0 : (empty ? cover : static_cast<float>(cover * share))});
    nodes.push_back(
        {.parent = static_cast<int64_t>(p.index),
         .cover = empty && !empty_left ? 0.0 : static_cast<float>(cover - nodes.back().cover)});
    for (size_t c = 0; c < 2; ++c) {
      const size_t index = static_cast<size_t>(left) + c;
      const bool is_empty = empty && (c == 0) == empty_left;
      queue.push_back({.index = index,
                       .depth = p.depth + 1,
                       .spine = p.spine && !is_empty && (c == 0 || empty_left),
                       .leaf = is_empty});
    }
  }
  return nodes;
}

// The JSON of a random tree, on `templ` (a tree of the fixture) for the arrays XGBoost wants.
nlohmann::json RandomTreeJson(const RandomTrees& config, size_t id, nlohmann::json templ,
                              std::mt19937& rng) {
  const std::vector<RandomNode> nodes = RandomTreeNodes(config, rng);
  for (const char* key :
       {"left_children", "right_children", "parents", "split_indices", "split_conditions",
        "default_left", "sum_hessian", "split_type", "base_weights", "loss_changes"}) {
    templ[key] = nlohmann::json::array();
  }
  for (const RandomNode& node : nodes) {
    templ["left_children"].push_back(node.left);
    templ["right_children"].push_back(node.left == -1 ? -1 : node.left + 1);
    templ["parents"].push_back(node.parent);
    templ["split_indices"].push_back(node.feature);
    templ["split_conditions"].push_back(node.value);
    templ["default_left"].push_back(node.default_left ? 1 : 0);
    templ["sum_hessian"].push_back(node.cover);
    templ["split_type"].push_back(0);
    templ["base_weights"].push_back(0.0);
    templ["loss_changes"].push_back(0.0);
  }
  templ["id"] = id;
  templ["tree_param"]["num_nodes"] = std::to_string(nodes.size());
  templ["tree_param"]["num_feature"] = std::to_string(config.features);
  return templ;
}

absl::StatusOr<std::string> RandomModel(const RandomTrees& config) {
  CHURN_ASSIGN_OR_RETURN(const std::string bytes,
                         base::ReadFile(FixtureDir() / "small_model.json"));
  nlohmann::json doc = nlohmann::json::parse(bytes);
  nlohmann::json& learner = doc["learner"];
  nlohmann::json& model = learner["gradient_booster"]["model"];
  const nlohmann::json templ = model["trees"][0];
  std::mt19937 rng(config.seed);
  model["trees"] = nlohmann::json::array();
  model["tree_info"] = nlohmann::json::array();
  for (size_t t = 0; t < config.trees; ++t) {
    model["trees"].push_back(RandomTreeJson(config, t, templ, rng));
    model["tree_info"].push_back(0);
  }
  model["gbtree_model_param"]["num_trees"] = std::to_string(config.trees);
  learner["learner_model_param"]["num_feature"] = std::to_string(config.features);
  learner["attributes"] = nlohmann::json::object();  // no best_ntree_limit
  return doc.dump();
}

// The most times one feature is split on along a root-to-leaf path, and the most distinct
// features on one, over all paths of `model`.
struct PathCounts {
  size_t repeats = 0;
  size_t distinct = 0;
};

PathCounts CountPaths(const CompiledModel& model) {
  PathCounts counts;
  const auto nodes = model.Nodes();

  struct Visit {
    uint32_t node = 0;
    std::vector<uint32_t> features;
  };

  for (const uint32_t root : model.TreeRoots()) {
    std::vector<Visit> stack = {{.node = root, .features = {}}};
    while (!stack.empty()) {
      Visit visit = std::move(stack.back());
      stack.pop_back();
      const CompiledNode& node = nodes[visit.node];
      if (node.IsLeaf()) {
        std::vector<uint32_t> f = visit.features;
        std::sort(f.begin(), f.end());
        size_t distinct = 0;
        for (size_t i = 0; i < f.size();) {
          const size_t j =
              static_cast<size_t>(std::upper_bound(f.begin(), f.end(), f[i]) - f.begin());
          counts.repeats = std::max(counts.repeats, j - i);
          ++distinct;
          i = j;
        }
        counts.distinct = std::max(counts.distinct, distinct);
        continue;
      }
      visit.features.push_back(node.Feature());
      stack.push_back({.node = node.left, .features = visit.features});
      stack.push_back({.node = node.left + 1, .features = std::move(visit.features)});
    }
  }
  return counts;
}

TEST(Explanations, DeepTreesBeyondTheTablesMatchXgboost) {
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string json,
                             RandomModel({.features = 24, .trees = 4, .depth = 14, .seed = 3}));
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model, CompiledModel::FromXgboostJson(json));
  EXPECT_EQ(model.MaxDepth(), 14U);
  const internal::PathShap& shap = internal::ShapOf(model);
  EXPECT_EQ(shap.TableFeatures(), internal::ShapTableLimits{}.max_features);
  EXPECT_GT(shap.TabulatedLeaves(), 0U);
  EXPECT_GT(shap.ComputedLeaves(), 0U);  // paths of more distinct features than a table holds
  ExpectExplainsAsXgboost(json, ExplanationRows(model, 4 * SplitCount(model), 200, 1));
}

TEST(Explanations, FeaturesSplitOnSeveralTimesOnAPathMatchXgboost) {
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string json,
                             RandomModel({.features = 3, .trees = 6, .depth = 10, .seed = 4}));
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model, CompiledModel::FromXgboostJson(json));
  EXPECT_GE(CountPaths(model).repeats, 4U);
  ExpectExplainsAsXgboost(json, ExplanationRows(model, 4 * SplitCount(model), 200, 2));
}

// XGBoost itself never saves an empty child: training with a logistic loss gives every row a
// hessian of at least 1e-16, and a split leaving one side empty gains nothing. Hand-made models
// may have them: a zero fraction of 0.
TEST(Explanations, EmptyChildrenMatchXgboost) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const std::string json,
      RandomModel({.features = 8, .trees = 5, .depth = 8, .empty_probability = 0.3, .seed = 5}));
  const nlohmann::json doc = nlohmann::json::parse(json);
  size_t empty = 0;
  for (const auto& tree : doc["learner"]["gradient_booster"]["model"]["trees"]) {
    empty += static_cast<size_t>(
        std::count(tree["sum_hessian"].begin(), tree["sum_hessian"].end(), nlohmann::json(0.0)));
  }
  EXPECT_GT(empty, 5U);
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model, CompiledModel::FromXgboostJson(json));
  ExpectExplainsAsXgboost(json, ExplanationRows(model, 4 * SplitCount(model), 200, 3));
}

// Paths of up to 40 distinct features: quadrature rules of up to 20 points. XGBoost's float32
// TreeSHAP loses digits on paths this long (observed: 1.9e-5 from SubsetShap's long double
// values, ours 6e-8), hence 1e-4 against it here; the reference is SubsetShap.
TEST(Explanations, LongPathsOfDistinctFeaturesMatchTheDefinition) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const std::string json,
      RandomModel({.features = 64, .trees = 3, .depth = 40, .split_probability = 0.1, .seed = 6}));
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model, CompiledModel::FromXgboostJson(json));
  EXPECT_GE(CountPaths(model).distinct, 30U);
  EXPECT_GT(internal::ShapOf(model).ComputedLeaves(), 0U);
  ExpectExplainsAsXgboost(json, ExplanationRows(model, 4 * SplitCount(model), 100, 4),
                          /*xgboost_tolerance=*/1e-4);
}

// Trained trees of depth 10 and 12 on 16 features (15 informative): paths of up to 10 distinct
// features, all tabulated by default; with a cap of 8 the longer ones are computed. The rows
// hold 20% missing values (and one all missing), each following its default direction.
TEST(Explanations, TrainedDeepTreesMatchXgboost) {
  const Data data = MakeData(3000, 16, 21);
  for (const char* depth : {"10", "12"}) {
    SCOPED_TRACE(depth);
    CHURN_ASSERT_OK_AND_ASSIGN(
        const Booster booster,
        TrainBooster(data, 6, {{"max_depth", depth}, {"min_child_weight", "0.1"}, {"eta", "0.3"}}));
    CHURN_ASSERT_OK_AND_ASSIGN(const std::string json, booster.SaveJson());
    CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model, CompiledModel::FromXgboostJson(json));
    EXPECT_EQ(model.MaxDepth(), static_cast<size_t>(std::stoi(depth)));
    // Paths of 9 or more distinct features: with tables of at most 8 slots, some leaves are
    // computed, most are tabulated.
    EXPECT_GE(CountPaths(model).distinct, 9U);
    CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel mixed,
                               internal::CompileWithShapLimits(json, {.max_features = 8}));
    EXPECT_GT(internal::ShapOf(mixed).ComputedLeaves(), 0U);
    EXPECT_GT(internal::ShapOf(mixed).TabulatedLeaves(), internal::ShapOf(mixed).ComputedLeaves());
    std::vector<float> rows = ExplanationRows(model, 400, 50, 5);
    rows.insert(rows.end(), data.x.begin(),
                data.x.begin() + static_cast<std::ptrdiff_t>(50 * data.cols));
    ExpectExplainsAsXgboost(json, rows);
    CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> expected,
                               XgboostContributions(booster, rows, data.cols));
    EXPECT_THAT(AllContributions(mixed, rows), Pointwise(ContributionNear(1e-5), expected));
  }
}

TEST(Explanations, ATableBudgetLowersTheCap) {
  const Data data = MakeData(2000, 8, 22);
  CHURN_ASSERT_OK_AND_ASSIGN(const Booster booster, TrainBooster(data, 30, {{"max_depth", "6"}}));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string json, booster.SaveJson());
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model, CompiledModel::FromXgboostJson(json));
  const internal::PathShap& all = internal::ShapOf(model);
  EXPECT_EQ(all.ComputedLeaves(), 0U);
  // 30 trees of at most 64 leaves of at most 6 slots: at most 30 x 64 x 1536 bytes.
  EXPECT_LE(all.TableBytes(), size_t{30} * 64 * 1536);
  CHURN_ASSERT_OK_AND_ASSIGN(
      const CompiledModel small,
      internal::CompileWithShapLimits(json, {.max_features = 10, .max_bytes = size_t{64} << 10}));
  const internal::PathShap& some = internal::ShapOf(small);
  EXPECT_LT(some.TableFeatures(), all.TableFeatures());
  EXPECT_LE(some.TableBytes(), size_t{64} << 10);
  EXPECT_GT(some.ComputedLeaves(), 0U);
  EXPECT_EQ(some.TabulatedLeaves() + some.ComputedLeaves(), all.TabulatedLeaves());
  const std::vector<float> rows = ExplanationRows(model, 4 * SplitCount(model), 100, 6);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> expected,
                             XgboostContributions(booster, rows, data.cols));
  EXPECT_THAT(AllContributions(small, rows), Pointwise(ContributionNear(1e-5), expected));
}

// ---------------------------------------------------------------------------------------------
// ReferenceRows and VerifyAgainstXgboost.

// The nodes `row` visits in each tree, and whether each went left.
std::vector<std::pair<uint32_t, bool>> Visits(const CompiledModel& model,
                                              absl::Span<const float> row) {
  std::vector<std::pair<uint32_t, bool>> visits;
  for (const uint32_t root : model.TreeRoots()) {
    uint32_t i = root;
    while (!model.Nodes()[i].IsLeaf()) {
      const CompiledNode& node = model.Nodes()[i];
      const float v = row[node.Feature()];
      const bool left = std::isnan(v) ? node.DefaultLeft() : v < node.value;
      visits.emplace_back(i, left);
      i = node.left + (left ? 0 : 1);
    }
  }
  return visits;
}

// Whether a missing value of its feature can reach split node `target`: no ancestor splitting on
// the same feature sends missing values the other way.
bool MissingCanReach(const CompiledModel& model, uint32_t target) {
  std::vector<uint32_t> parent(model.NumNodes(), UINT32_MAX);
  for (uint32_t i = 0; i < model.NumNodes(); ++i) {
    if (!model.Nodes()[i].IsLeaf()) {
      parent[model.Nodes()[i].left] = i;
      parent[model.Nodes()[i].left + 1] = i;
    }
  }
  const uint32_t feature = model.Nodes()[target].Feature();
  for (uint32_t child = target; parent[child] != UINT32_MAX; child = parent[child]) {
    const CompiledNode& node = model.Nodes()[parent[child]];
    if (node.Feature() == feature && (child == node.left) != node.DefaultLeft()) {
      return false;
    }
  }
  return true;
}

TEST_F(FixtureTest, ReferenceRowsAreDeterministicAndCoverEverySplit) {
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model,
                             CompiledModel::FromXgboostJson(model_json_));
  const size_t n = 4 * SplitCount(model);
  const std::vector<float> rows = ReferenceRows(model, n, 42);
  ASSERT_EQ(rows.size(), n * cols_);
  EXPECT_THAT(ReferenceRows(model, n, 42), Pointwise(::testing::NanSensitiveFloatEq(), rows));
  const std::vector<float> other = ReferenceRows(model, n, 43);
  EXPECT_FALSE(std::equal(rows.begin(), rows.end(), other.begin(), other.end(),
                          [](float a, float b) { return a == b || (a != a && b != b); }));
  EXPECT_TRUE(ReferenceRows(model, 0, 42).empty());
  // Every split is reached with a value just below its threshold, the threshold itself, and a
  // missing value.
  std::vector<int> below(model.NumNodes());
  std::vector<int> at(model.NumNodes());
  std::vector<int> missing(model.NumNodes());
  for (size_t r = 0; r < n; ++r) {
    const auto row = absl::MakeConstSpan(rows).subspan(r * cols_, cols_);
    for (const auto& [node, left] : Visits(model, row)) {
      const float v = row[model.Nodes()[node].Feature()];
      const float t = model.Nodes()[node].value;
      below[node] += v == std::nextafter(t, -1e30F) ? 1 : 0;
      at[node] += v == t ? 1 : 0;
      missing[node] += std::isnan(v) ? 1 : 0;
    }
  }
  for (size_t i = 0; i < model.NumNodes(); ++i) {
    if (!model.Nodes()[i].IsLeaf()) {
      SCOPED_TRACE(i);
      EXPECT_GT(below[i], 0);
      EXPECT_GT(at[i], 0);
      EXPECT_EQ(missing[i] > 0, MissingCanReach(model, static_cast<uint32_t>(i)));
    }
  }
}

TEST_F(FixtureTest, VerifyAcceptsTheSameModel) {
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model,
                             CompiledModel::FromXgboostJson(model_json_));
  CHURN_ASSERT_OK_AND_ASSIGN(const Booster booster, Booster::Load(model_json_));
  const std::vector<float> rows = ReferenceRows(model, 1000, 1);
  EXPECT_THAT(VerifyAgainstXgboost(model, booster, rows, 1000), IsOk());
  EXPECT_THAT(VerifyAgainstXgboost(model, booster, rows, 1000, 0.0), IsOk());
}

// A threshold one float off in the compiled model only: the rows at and just below every
// threshold catch it, for every split node of the model, nudged either way.
TEST_F(FixtureTest, VerifyRefusesAThresholdOneUlpOff) {
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel original,
                             CompiledModel::FromXgboostJson(model_json_));
  CHURN_ASSERT_OK_AND_ASSIGN(const Booster booster, Booster::Load(model_json_));
  const auto& trees = document_["learner"]["gradient_booster"]["model"]["trees"];
  size_t nudged = 0;
  for (size_t t = 0; t < trees.size(); ++t) {
    for (size_t i = 0; i < trees[t]["left_children"].size(); ++i) {
      if (trees[t]["left_children"][i] == -1) {
        continue;
      }
      const auto threshold = trees[t]["split_conditions"][i].get<float>();
      for (const float direction : {-1e30F, 1e30F}) {
        SCOPED_TRACE(absl::StrCat("tree ", t, " node ", i, " towards ", direction));
        const std::string pointer = absl::StrCat(kTree, t, "/split_conditions/", i);
        CHURN_ASSERT_OK_AND_ASSIGN(
            const CompiledModel bad,
            CompiledModel::FromXgboostJson(
                With(pointer, static_cast<double>(std::nextafter(threshold, direction)))));
        const size_t n = 4 * SplitCount(bad);
        EXPECT_THAT(
            VerifyAgainstXgboost(bad, booster, ReferenceRows(bad, n, 9), n),
            StatusIs(absl::StatusCode::kFailedPrecondition, "disagrees with XGBoost on row"));
        ++nudged;
      }
    }
  }
  EXPECT_EQ(nudged, 2 * SplitCount(original));
}

TEST_F(FixtureTest, VerifyChecksItsArguments) {
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model,
                             CompiledModel::FromXgboostJson(model_json_));
  CHURN_ASSERT_OK_AND_ASSIGN(const Booster booster, Booster::Load(model_json_));
  const std::vector<float> rows = ReferenceRows(model, 10, 1);
  EXPECT_THAT(VerifyAgainstXgboost(model, booster, rows, 11),
              StatusIs(kInvalid, "11 rows of 4 features need 11 x 4 values, not 40"));
  EXPECT_THAT(VerifyAgainstXgboost(model, booster, rows, 10, -1.0),
              StatusIs(kInvalid, "tolerance"));
  EXPECT_THAT(VerifyAgainstXgboost(model, booster, rows, 10, std::nan("")),
              StatusIs(kInvalid, "tolerance"));
  EXPECT_THAT(VerifyAgainstXgboost(model, Booster(), rows, 10),
              StatusIs(absl::StatusCode::kFailedPrecondition, "empty Booster"));
  // Another model of 4 features: refused, with the row and both values.
  const Data data = MakeData(300, 4, 1);
  CHURN_ASSERT_OK_AND_ASSIGN(const Booster other, TrainBooster(data, 3, {}));
  EXPECT_THAT(VerifyAgainstXgboost(model, other, rows, 10),
              StatusIs(absl::StatusCode::kFailedPrecondition, "disagrees with XGBoost on row"));
  // A model of another width.
  const Data wide = MakeData(300, 5, 1);
  CHURN_ASSERT_OK_AND_ASSIGN(const Booster five, TrainBooster(wide, 3, {}));
  EXPECT_THAT(VerifyAgainstXgboost(model, five, rows, 10), StatusIs(kInvalid, "features"));
}

// ---------------------------------------------------------------------------------------------
// TopReasons

TEST(TopReasons, LargestMagnitudesFirstTiesByIndexBiasIgnored) {
  const std::vector<float> phi = {0.1F, -0.5F, 0.0F, 0.5F, -0.05F, kNaN, 0.2F, /*bias=*/9.0F};
  const std::vector<Reason> top = TopReasons(phi, 3);
  ASSERT_EQ(top.size(), 3U);
  EXPECT_EQ(top[0].feature, 1U);
  EXPECT_EQ(top[0].contribution, -0.5F);
  EXPECT_EQ(top[1].feature, 3U);
  EXPECT_EQ(top[2].feature, 6U);
  // Zero contributions are left out; NaN comes last.
  const std::vector<Reason> all = TopReasons(phi, 100);
  std::vector<size_t> order;
  order.reserve(all.size());
  for (const Reason& r : all) {
    order.push_back(r.feature);
  }
  EXPECT_THAT(order, ElementsAre(1, 3, 6, 0, 4, 5));
  EXPECT_TRUE(TopReasons(phi, 0).empty());
  EXPECT_TRUE(TopReasons({}, 3).empty());
  EXPECT_TRUE(TopReasons(std::vector<float>{5.0F}, 3).empty());  // the bias only
}

TEST_F(FixtureTest, TopReasonsOfRealContributions) {
  CHURN_ASSERT_OK_AND_ASSIGN(const CompiledModel model,
                             CompiledModel::FromXgboostJson(model_json_));
  const std::vector<float> phi = model.Contributions(absl::MakeConstSpan(x_).subspan(cols_, cols_));
  const std::vector<Reason> top = TopReasons(phi, 2);
  ASSERT_EQ(top.size(), 2U);
  EXPECT_GE(std::abs(top[0].contribution), std::abs(top[1].contribution));
  for (size_t f = 0; f < cols_; ++f) {
    if (f != top[0].feature && f != top[1].feature) {
      EXPECT_LE(std::abs(phi[f]), std::abs(top[1].contribution));
    }
  }
}

}  // namespace scorer_test
}  // namespace
}  // namespace churn::model
