#include "churn/model/scorer.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/tree_shap.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"

namespace churn::model {

// Numbers are parsed straight to float32 (nlohmann uses strtof for this type), as XGBoost's own
// JSON reader parses them: going through double could round a threshold twice.
using Json = nlohmann::basic_json<std::map, std::vector, std::string, bool, std::int64_t,
                                  std::uint64_t, float>;

namespace {

using internal::NextNode;

constexpr size_t kBlockRows = 64;
// Cursors walked in lockstep: independent chains of loads that the CPU overlaps, where one
// tree walk at a time would wait for each node before loading the next.
constexpr size_t kLanes = 8;
constexpr uint32_t kNoParent = std::numeric_limits<uint32_t>::max();
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// XGBoost 1.7.4's common::Sigmoid (float), clamped so that expf cannot overflow; the epsilon
// does not change a float sum >= 1 but is kept to mirror its arithmetic exactly.
float Sigmoid(float margin) {
  constexpr float kEps = 1e-16F;
  const float x = std::min(-margin, 88.7F);
  return 1.0F / (std::exp(x) + 1.0F + kEps);
}

inline float LeafValue(const CompiledNode* nodes, uint32_t root, const float* row) {
  uint32_t index = root;
  while (!nodes[index].IsLeaf()) {
    const CompiledNode& node = nodes[index];
    index = NextNode(node, row[node.Feature()]);
  }
  return nodes[index].value;
}

// Moves each of kLanes cursors `steps` levels down its tree, without a branch on the tree's
// shape: a cursor on a leaf stays there (a leaf's feature is 0, so reading it is harmless).
// `row_of(k)` is the row of lane k.
template <typename RowOf>
inline void Descend(const CompiledNode* nodes, size_t steps, const RowOf& row_of,
                    std::array<uint32_t, kLanes>& index) {
  for (size_t s = 0; s < steps; ++s) {
    for (size_t k = 0; k < kLanes; ++k) {
      const CompiledNode& node = nodes[index[k]];
      const uint32_t next = NextNode(node, row_of(k)[node.Feature()]);
      index[k] = node.IsLeaf() ? index[k] : next;
    }
  }
}

// ------------------------------------------------------------------------------------------
// Reading the JSON document. Every access checks the type first: the document may be hostile.

const Json* Member(const Json& object, const char* key) {
  if (!object.is_object()) {
    return nullptr;
  }
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

absl::StatusOr<const Json*> Field(const Json& object, const char* key, absl::string_view where) {
  const Json* value = Member(object, key);
  if (value == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(where, " has no \"", key, "\""));
  }
  return value;
}

absl::StatusOr<const Json*> ArrayField(const Json& object, const char* key,
                                       absl::string_view where) {
  CHURN_ASSIGN_OR_RETURN(const Json* value, Field(object, key, where));
  if (!value->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".", key, " is not an array"));
  }
  return value;
}

absl::StatusOr<std::string> StringField(const Json& object, const char* key,
                                        absl::string_view where) {
  CHURN_ASSIGN_OR_RETURN(const Json* value, Field(object, key, where));
  if (!value->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".", key, " is not a string"));
  }
  return value->get<std::string>();
}

// An integer XGBoost keeps as a decimal string in its *_param objects ("num_feature": "19").
absl::StatusOr<int64_t> IntParam(const Json& object, const char* key, absl::string_view where) {
  CHURN_ASSIGN_OR_RETURN(const std::string text, StringField(object, key, where));
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".", key, " is not an integer: \"", text, "\""));
  }
  return value;
}

// An optional integer parameter that must equal `expected` when present.
absl::Status CheckOptionalParam(const Json& object, const char* key, int64_t expected,
                                absl::string_view where) {
  if (Member(object, key) == nullptr) {
    return absl::OkStatus();
  }
  CHURN_ASSIGN_OR_RETURN(const int64_t value, IntParam(object, key, where));
  if (value != expected) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".", key, " is ", value, ", only ", expected, " is supported"));
  }
  return absl::OkStatus();
}

absl::StatusOr<float> BaseScore(const Json& params) {
  constexpr absl::string_view kWhere = "learner.learner_model_param";
  CHURN_ASSIGN_OR_RETURN(const std::string text, StringField(params, "base_score", kWhere));
  float value = 0.0F;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(kWhere, ".base_score is not a number: \"", text, "\""));
  }
  if (!(value > 0.0F && value < 1.0F)) {
    return absl::InvalidArgumentError(absl::StrCat(
        kWhere, ".base_score must lie in (0, 1) for a logistic objective, not ", text));
  }
  return value;
}

absl::Status CheckObjective(const Json& learner) {
  CHURN_ASSIGN_OR_RETURN(const Json* objective, Field(learner, "objective", "learner"));
  CHURN_ASSIGN_OR_RETURN(const std::string name,
                         StringField(*objective, "name", "learner.objective"));
  if (name != "binary:logistic" && name != "reg:logistic") {
    return absl::InvalidArgumentError(absl::StrCat(
        "objective ", name, " is not supported (only binary:logistic and reg:logistic)"));
  }
  return absl::OkStatus();
}

// A finite number (the JSON holds float32 values), or InvalidArgument naming `what`.
absl::StatusOr<float> FiniteNumber(const Json& value, absl::string_view what) {
  if (!value.is_number()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a number"));
  }
  const auto number = value.get<float>();
  if (!std::isfinite(number)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not finite"));
  }
  return number;
}

// `value` when it is an integer in [lo, hi), else InvalidArgument naming `what`.
absl::StatusOr<int64_t> IntIn(const Json& value, int64_t lo, int64_t hi, absl::string_view what) {
  if (!value.is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not an integer"));
  }
  if (value.is_number_unsigned() &&
      value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is out of range"));
  }
  const auto number = value.get<int64_t>();
  if (number < lo || number >= hi) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", number, ", outside [", lo, ", ", hi, ")"));
  }
  return number;
}

struct ModelParams {
  size_t num_features = 0;
  float base_score = 0.5F;
};

// learner.learner_model_param: one output, num_feature in [1, kMaxFeatures], base_score.
absl::StatusOr<ModelParams> ReadModelParams(const Json& learner) {
  constexpr absl::string_view kParams = "learner.learner_model_param";
  CHURN_ASSIGN_OR_RETURN(const Json* params, Field(learner, "learner_model_param", "learner"));
  CHURN_ASSIGN_OR_RETURN(const int64_t num_feature, IntParam(*params, "num_feature", kParams));
  if (num_feature < 1 || static_cast<uint64_t>(num_feature) > CompiledModel::kMaxFeatures) {
    return absl::InvalidArgumentError(absl::StrCat(kParams, ".num_feature is ", num_feature,
                                                   ", outside [1, ", CompiledModel::kMaxFeatures,
                                                   "]"));
  }
  if (Member(*params, "num_class") != nullptr) {
    CHURN_ASSIGN_OR_RETURN(const int64_t num_class, IntParam(*params, "num_class", kParams));
    if (num_class > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(kParams, ".num_class is ", num_class, ": only binary models are supported"));
    }
  }
  CHURN_RETURN_IF_ERROR(CheckOptionalParam(*params, "num_target", 1, kParams));
  CHURN_ASSIGN_OR_RETURN(const float base_score, BaseScore(*params));
  return ModelParams{.num_features = static_cast<size_t>(num_feature), .base_score = base_score};
}

// The trees of a gbtree booster and their output groups, as many of each as num_trees says.
struct TreeList {
  const Json* trees = nullptr;
  const Json* tree_info = nullptr;
};

absl::StatusOr<TreeList> ReadTreeList(const Json& learner) {
  CHURN_ASSIGN_OR_RETURN(const Json* booster, Field(learner, "gradient_booster", "learner"));
  CHURN_ASSIGN_OR_RETURN(const std::string name,
                         StringField(*booster, "name", "learner.gradient_booster"));
  if (name != "gbtree") {
    return absl::InvalidArgumentError(
        absl::StrCat("booster ", name, " is not supported (only gbtree)"));
  }
  CHURN_ASSIGN_OR_RETURN(const Json* model, Field(*booster, "model", "learner.gradient_booster"));
  constexpr absl::string_view kModel = "learner.gradient_booster.model";
  CHURN_ASSIGN_OR_RETURN(const Json* trees, ArrayField(*model, "trees", kModel));
  CHURN_ASSIGN_OR_RETURN(const Json* tree_info, ArrayField(*model, "tree_info", kModel));
  CHURN_ASSIGN_OR_RETURN(const Json* model_param, Field(*model, "gbtree_model_param", kModel));
  CHURN_ASSIGN_OR_RETURN(const int64_t num_trees,
                         IntParam(*model_param, "num_trees", "gbtree_model_param"));
  if (num_trees < 0 || static_cast<uint64_t>(num_trees) != trees->size() ||
      tree_info->size() != trees->size()) {
    return absl::InvalidArgumentError(absl::StrCat("gbtree_model_param.num_trees (", num_trees,
                                                   "), tree_info (", tree_info->size(),
                                                   ") and trees (", trees->size(), ") disagree"));
  }
  return TreeList{.trees = trees, .tree_info = tree_info};
}

// The node arrays of one tree that the scorer reads, each checked to hold num_nodes entries.
struct TreeArrays {
  const Json* left = nullptr;
  const Json* right = nullptr;
  const Json* split_indices = nullptr;
  const Json* split_conditions = nullptr;
  const Json* default_left = nullptr;
  const Json* sum_hessian = nullptr;
  const Json* split_type = nullptr;  // absent in some writers: all numerical
  size_t num_nodes = 0;
};

constexpr const char* kRequiredArrays[] = {"left_children",    "right_children", "split_indices",
                                           "split_conditions", "default_left",   "sum_hessian"};
// Arrays the scorer does not read; when present they must have num_nodes entries too.
constexpr const char* kOptionalArrays[] = {"split_type", "parents", "base_weights", "loss_changes"};

absl::StatusOr<TreeArrays> ReadTreeArrays(const Json& tree, size_t index, size_t max_nodes) {
  if (!tree.is_object()) {
    return absl::InvalidArgumentError("not an object");
  }
  CHURN_ASSIGN_OR_RETURN(const Json* param, Field(tree, "tree_param", "the tree"));
  CHURN_ASSIGN_OR_RETURN(const int64_t num_nodes, IntParam(*param, "num_nodes", "tree_param"));
  CHURN_RETURN_IF_ERROR(CheckOptionalParam(*param, "size_leaf_vector", 0, "tree_param"));
  if (num_nodes < 1 || static_cast<uint64_t>(num_nodes) > max_nodes) {
    return absl::InvalidArgumentError(
        absl::StrCat("tree_param.num_nodes is ", num_nodes, ", outside [1, ", max_nodes, "]"));
  }
  CHURN_ASSIGN_OR_RETURN(const Json* id, Field(tree, "id", "the tree"));
  const auto i = static_cast<int64_t>(index);
  CHURN_RETURN_IF_ERROR(IntIn(*id, i, i + 1, "id (it must be the tree's position)").status());
  const auto n = static_cast<size_t>(num_nodes);
  for (const char* key : kRequiredArrays) {
    CHURN_ASSIGN_OR_RETURN(const Json* array, ArrayField(tree, key, "the tree"));
    if (array->size() != n) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, " has ", array->size(), " entries, tree_param.num_nodes ", n));
    }
  }
  for (const char* key : kOptionalArrays) {
    const Json* array = Member(tree, key);
    if (array != nullptr && (!array->is_array() || array->size() != n)) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, " is not an array of tree_param.num_nodes (", n, ") entries"));
    }
  }
  return TreeArrays{.left = Member(tree, "left_children"),
                    .right = Member(tree, "right_children"),
                    .split_indices = Member(tree, "split_indices"),
                    .split_conditions = Member(tree, "split_conditions"),
                    .default_left = Member(tree, "default_left"),
                    .sum_hessian = Member(tree, "sum_hessian"),
                    .split_type = Member(tree, "split_type"),
                    .num_nodes = n};
}

absl::StatusOr<bool> DefaultLeft(const Json& value) {
  if (value.is_boolean()) {
    return value.get<bool>();
  }
  CHURN_ASSIGN_OR_RETURN(const int64_t flag, IntIn(value, 0, 2, "default_left"));
  return flag == 1;
}

// A node of the JSON tree waiting in the breadth-first queue, and where it goes in the layout.
struct Pending {
  size_t source = 0;
  uint32_t target = 0;
  size_t depth = 0;
};

// ------------------------------------------------------------------------------------------
// Reference rows.

// SplitMix64 (Steele, Lea and Flood 2014): a fixed, platform-independent sequence per seed.
class SplitMix {
 public:
  explicit SplitMix(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform enough in [0, n) for test rows; REQUIRES: n > 0.
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }

 private:
  uint64_t state_;
};

// The value just below `threshold` (0), the threshold (1), just above it (2), or NaN (3).
float Variant(float threshold, size_t variant) {
  switch (variant) {
    case 0:
      return std::nextafter(threshold, -kInf);
    case 1:
      return threshold;
    case 2:
      return std::nextafter(threshold, kInf);
    default:
      return kNaN;
  }
}

// What the path from a root to a node demands of one feature: lo <= value < hi, or missing
// when missing_ok.
struct Constraint {
  uint32_t feature = 0;
  float lo = -kInf;
  float hi = kInf;
  bool missing_ok = true;
};

class ReferenceRowMaker {
 public:
  ReferenceRowMaker(const CompiledModel& model, uint64_t seed)
      : nodes_(model.Nodes()),
        num_features_(model.NumFeatures()),
        parents_(model.NumNodes(), kNoParent),
        thresholds_(model.NumFeatures()),
        rng_(seed) {
    for (uint32_t i = 0; i < nodes_.size(); ++i) {
      const CompiledNode& node = nodes_[i];
      if (!node.IsLeaf()) {
        parents_[node.left] = i;
        parents_[node.left + 1] = i;
        splits_.push_back(i);
        thresholds_[node.Feature()].push_back(node.value);
      }
    }
    for (std::vector<float>& values : thresholds_) {
      std::sort(values.begin(), values.end());
      values.erase(std::unique(values.begin(), values.end()), values.end());
    }
    for (size_t i = splits_.size(); i > 1; --i) {  // Fisher-Yates
      std::swap(splits_[i - 1], splits_[rng_.Below(i)]);
    }
  }

  void Fill(size_t index, absl::Span<float> row) {
    for (size_t f = 0; f < num_features_; ++f) {
      row[f] = Background(f);
    }
    if (splits_.empty()) {
      return;
    }
    const uint32_t target = splits_[(index / 4) % splits_.size()];
    FollowPathTo(target, row);
    row[nodes_[target].Feature()] = Variant(nodes_[target].value, index % 4);
  }

 private:
  // A value near one of the feature's thresholds, or NaN one time in eight; 0 or NaN for a
  // feature no tree splits on.
  float Background(size_t feature) {
    const std::vector<float>& values = thresholds_[feature];
    if (values.empty()) {
      return rng_.Below(2) == 0 ? 0.0F : kNaN;
    }
    const size_t choice = rng_.Below(8 * values.size());
    return choice < values.size() ? kNaN : Variant(values[choice % values.size()], choice % 3);
  }

  // Changes the features of `target`'s ancestors that would not lead to it.
  void FollowPathTo(uint32_t target, absl::Span<float> row) {
    constraints_.clear();
    for (uint32_t child = target; parents_[child] != kNoParent;) {
      const uint32_t parent = parents_[child];
      const CompiledNode& node = nodes_[parent];
      Constraint& c = ConstraintOf(node.Feature());
      if (child == node.left) {
        c.hi = std::min(c.hi, node.value);
        c.missing_ok = c.missing_ok && node.DefaultLeft();
      } else {
        c.lo = std::max(c.lo, node.value);
        c.missing_ok = c.missing_ok && !node.DefaultLeft();
      }
      child = parent;
    }
    for (const Constraint& c : constraints_) {
      float& value = row[c.feature];
      const bool ok = std::isnan(value) ? c.missing_ok : value >= c.lo && value < c.hi;
      if (ok) {
        continue;
      }
      if (c.lo < c.hi) {
        value = c.lo > -kInf ? c.lo : std::nextafter(c.hi, -kInf);
      } else if (c.missing_ok) {
        value = kNaN;
      }  // else: no value reaches the target; leave the row as it is
    }
  }

  Constraint& ConstraintOf(uint32_t feature) {
    for (Constraint& c : constraints_) {
      if (c.feature == feature) {
        return c;
      }
    }
    constraints_.push_back({.feature = feature});
    return constraints_.back();
  }

  absl::Span<const CompiledNode> nodes_;
  size_t num_features_;
  std::vector<uint32_t> parents_;
  std::vector<std::vector<float>> thresholds_;
  std::vector<uint32_t> splits_;
  std::vector<Constraint> constraints_;
  SplitMix rng_;
};

}  // namespace

// --------------------------------------------------------------------------------------------
// Compiling

class CompiledModelBuilder {
 public:
  static absl::StatusOr<CompiledModel> Build(const Json& document,
                                             const internal::ShapTableLimits& limits);

  static const internal::PathShap& ShapOf(const CompiledModel& model) { return *model.shap_; }

 private:
  absl::Status AddTree(const Json& tree, size_t index);
  absl::Status AddNode(const TreeArrays& arrays, const Pending& pending, std::vector<bool>& seen,
                       std::vector<Pending>& queue);
  absl::Status AddSplit(const TreeArrays& arrays, const Pending& pending, float threshold,
                        std::vector<bool>& seen, std::vector<Pending>& queue);
  // Adds the expected value of the tree whose nodes start at `begin` to the bias.
  void FinishTree(uint32_t begin);

  CompiledModel model_;
  // Per node of model_: the cover (sum of hessians) XGBoost saved as sum_hessian.
  std::vector<float> covers_;
};

absl::StatusOr<CompiledModel> CompiledModelBuilder::Build(const Json& document,
                                                          const internal::ShapTableLimits& limits) {
  CHURN_ASSIGN_OR_RETURN(const Json* learner, Field(document, "learner", "the model"));
  CHURN_RETURN_IF_ERROR(CheckObjective(*learner));
  CHURN_ASSIGN_OR_RETURN(const ModelParams params, ReadModelParams(*learner));
  CHURN_ASSIGN_OR_RETURN(const TreeList list, ReadTreeList(*learner));
  CompiledModelBuilder builder;
  builder.model_.num_features_ = params.num_features;
  builder.model_.base_score_ = params.base_score;
  // LogisticRegression::ProbToMargin, in float as XGBoost computes it.
  builder.model_.base_margin_ = -std::log(1.0F / params.base_score - 1.0F);
  for (size_t t = 0; t < list.trees->size(); ++t) {
    CHURN_RETURN_IF_ERROR(
        IntIn((*list.tree_info)[t], 0, 1, absl::StrCat("tree_info[", t, "] (the output group)"))
            .status());
    CHURN_RETURN_IF_ERROR(
        base::WithContext(builder.AddTree((*list.trees)[t], t), absl::StrCat("tree ", t)));
  }
  builder.model_.contribution_bias_ += builder.model_.base_margin_;
  builder.model_.shap_ = std::make_unique<const internal::PathShap>(internal::PathShap::Build(
      builder.model_.nodes_, builder.covers_, builder.model_.roots_, limits));
  return std::move(builder.model_);
}

absl::Status CompiledModelBuilder::AddTree(const Json& tree, size_t index) {
  const size_t used = model_.nodes_.size();
  CHURN_ASSIGN_OR_RETURN(const TreeArrays arrays,
                         ReadTreeArrays(tree, index, CompiledModel::kMaxNodes - used));
  const auto begin = static_cast<uint32_t>(used);
  model_.roots_.push_back(begin);
  model_.nodes_.emplace_back();
  covers_.push_back(0.0F);
  // Breadth first from the root; a node seen twice means a cycle or a shared child.
  std::vector<bool> seen(arrays.num_nodes, false);
  seen[0] = true;
  std::vector<Pending> queue = {{.source = 0, .target = begin, .depth = 0}};
  for (size_t head = 0; head < queue.size(); ++head) {
    const Pending pending = queue[head];
    CHURN_RETURN_IF_ERROR(base::WithContext(AddNode(arrays, pending, seen, queue),
                                            absl::StrCat("node ", pending.source)));
  }
  // Breadth first, the last node queued is the deepest.
  model_.tree_depths_.push_back(static_cast<uint32_t>(queue.back().depth));
  FinishTree(begin);
  return absl::OkStatus();
}

absl::Status CompiledModelBuilder::AddNode(const TreeArrays& arrays, const Pending& pending,
                                           std::vector<bool>& seen, std::vector<Pending>& queue) {
  const size_t i = pending.source;
  CHURN_ASSIGN_OR_RETURN(const float cover, FiniteNumber((*arrays.sum_hessian)[i], "sum_hessian"));
  if (cover < 0.0F) {
    return absl::InvalidArgumentError(absl::StrCat("sum_hessian is negative (", cover, ")"));
  }
  covers_[pending.target] = cover;
  CHURN_ASSIGN_OR_RETURN(const float value,
                         FiniteNumber((*arrays.split_conditions)[i], "split_conditions"));
  const Json& left = (*arrays.left)[i];
  const Json& right = (*arrays.right)[i];
  if (left == -1 || right == -1) {
    if (left != right) {
      return absl::InvalidArgumentError("one child is -1 (a leaf) and the other is not");
    }
    model_.nodes_[pending.target].value = value;  // a leaf: split_conditions holds its value
    return absl::OkStatus();
  }
  return AddSplit(arrays, pending, value, seen, queue);
}

absl::Status CompiledModelBuilder::AddSplit(const TreeArrays& arrays, const Pending& pending,
                                            float threshold, std::vector<bool>& seen,
                                            std::vector<Pending>& queue) {
  const size_t i = pending.source;
  const auto n = static_cast<int64_t>(arrays.num_nodes);
  CHURN_ASSIGN_OR_RETURN(const int64_t left, IntIn((*arrays.left)[i], 1, n, "left_children"));
  CHURN_ASSIGN_OR_RETURN(const int64_t right, IntIn((*arrays.right)[i], 1, n, "right_children"));
  if (right != left + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("right child ", right, " is not left child ", left,
                     " + 1 (XGBoost allocates children in pairs and its predictor relies on it)"));
  }
  const auto l = static_cast<size_t>(left);
  if (seen[l] || seen[l + 1]) {
    return absl::InvalidArgumentError(
        absl::StrCat("child ", seen[l] ? l : l + 1, " is reached twice (a cycle or shared node)"));
  }
  if (pending.depth + 1 > CompiledModel::kMaxDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("the tree is deeper than ", CompiledModel::kMaxDepth, " levels"));
  }
  CHURN_ASSIGN_OR_RETURN(
      const int64_t feature,
      IntIn((*arrays.split_indices)[i], 0, static_cast<int64_t>(model_.num_features_),
            "split_indices (the feature, below num_feature)"));
  CHURN_ASSIGN_OR_RETURN(const bool default_left, DefaultLeft((*arrays.default_left)[i]));
  if (arrays.split_type != nullptr && !IntIn((*arrays.split_type)[i], 0, 1, "split_type").ok()) {
    return absl::InvalidArgumentError(
        "split_type is not 0 (numerical): categorical splits are not supported");
  }
  const auto child = static_cast<uint32_t>(model_.nodes_.size());
  model_.nodes_[pending.target] = {
      .value = threshold,
      .feature_and_default =
          static_cast<uint32_t>(feature) | (default_left ? CompiledNode::kDefaultLeftBit : 0U),
      .left = child};
  model_.nodes_.resize(model_.nodes_.size() + 2);
  covers_.resize(covers_.size() + 2, 0.0F);
  seen[l] = true;
  seen[l + 1] = true;
  queue.push_back({.source = l, .target = child, .depth = pending.depth + 1});
  queue.push_back({.source = l + 1, .target = child + 1, .depth = pending.depth + 1});
  model_.max_depth_ = std::max(model_.max_depth_, pending.depth + 1);
  return absl::OkStatus();
}

void CompiledModelBuilder::FinishTree(uint32_t begin) {
  const std::vector<CompiledNode>& nodes = model_.nodes_;
  // XGBoost's node mean values (FillNodeMeanValues), children first: in breadth-first order
  // every child comes after its parent. Only the root's is used.
  std::vector<float> mean(nodes.size() - begin);
  for (size_t i = nodes.size(); i-- > begin;) {
    const CompiledNode& node = nodes[i];
    if (node.IsLeaf()) {
      mean[i - begin] = node.value;
      continue;
    }
    float value = mean[node.left - begin] * covers_[node.left];
    value += mean[node.left + 1 - begin] * covers_[node.left + 1];
    value /= covers_[i];
    mean[i - begin] = value;
  }
  // In float, tree after tree, as XGBoost adds each tree's expected value to the bias.
  model_.contribution_bias_ += mean[0];
}

namespace internal {

absl::StatusOr<CompiledModel> CompileWithShapLimits(absl::string_view model_json,
                                                    const ShapTableLimits& limits) {
  Json document;
  try {
    document = Json::parse(model_json.begin(), model_json.end());
  } catch (const std::exception& e) {  // nlohmann reports a syntax error by throwing
    return absl::InvalidArgumentError(absl::StrCat("the model is not JSON: ", e.what()));
  }
  absl::StatusOr<CompiledModel> model = CompiledModelBuilder::Build(document, limits);
  if (!model.ok()) {
    return base::WithContext(model.status(), "not a supported XGBoost model");
  }
  return model;
}

const PathShap& ShapOf(const CompiledModel& model) {
  return CompiledModelBuilder::ShapOf(model);
}

}  // namespace internal

absl::StatusOr<CompiledModel> CompiledModel::FromXgboostJson(absl::string_view model_json) {
  return internal::CompileWithShapLimits(model_json, internal::ShapTableLimits{});
}

CompiledModel::CompiledModel(CompiledModel&& other) noexcept = default;
CompiledModel& CompiledModel::operator=(CompiledModel&& other) noexcept = default;
CompiledModel::~CompiledModel() = default;

// --------------------------------------------------------------------------------------------
// Scoring

absl::Status CompiledModel::CheckRow(absl::Span<const float> row) const {
  if (row.size() != num_features_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a row of ", row.size(), " values for a model of ", num_features_, " features"));
  }
  return absl::OkStatus();
}

float CompiledModel::PredictMargin(absl::Span<const float> row) const {
  assert(row.size() == num_features_);
  const CompiledNode* nodes = nodes_.data();
  const float* values = row.data();
  const auto same_row = [values](size_t /*lane*/) { return values; };
  float margin = base_margin_;
  const size_t trees = roots_.size();
  size_t t = 0;
  for (; t + kLanes <= trees; t += kLanes) {  // kLanes trees at once, summed in tree order
    std::array<uint32_t, kLanes> index{};
    uint32_t steps = 0;
    for (size_t k = 0; k < kLanes; ++k) {
      index[k] = roots_[t + k];
      steps = std::max(steps, tree_depths_[t + k]);
    }
    Descend(nodes, steps, same_row, index);
    for (size_t k = 0; k < kLanes; ++k) {
      margin += nodes[index[k]].value;
    }
  }
  for (; t < trees; ++t) {
    margin += LeafValue(nodes, roots_[t], values);
  }
  return margin;
}

float CompiledModel::Predict(absl::Span<const float> row) const {
  return Sigmoid(PredictMargin(row));
}

void CompiledModel::PredictBatch(absl::Span<const float> rows_row_major, size_t rows,
                                 absl::Span<float> out) const {
  assert(rows_row_major.size() == rows * num_features_);
  assert(out.size() == rows);
  const CompiledNode* nodes = nodes_.data();
  std::array<float, kBlockRows> margins{};
  std::array<const float*, kBlockRows> block{};
  for (size_t start = 0; start < rows; start += kBlockRows) {
    const size_t count = std::min(kBlockRows, rows - start);
    for (size_t r = 0; r < count; ++r) {
      block[r] = rows_row_major.data() + (start + r) * num_features_;
    }
    std::fill(margins.begin(), margins.end(), base_margin_);
    // Tree by tree over the block (the tree stays in cache), kLanes rows at once.
    for (size_t t = 0; t < roots_.size(); ++t) {
      const uint32_t root = roots_[t];
      size_t r = 0;
      for (; r + kLanes <= count; r += kLanes) {
        std::array<uint32_t, kLanes> index{};
        index.fill(root);
        Descend(
            nodes, tree_depths_[t], [&block, r](size_t k) { return block[r + k]; }, index);
        for (size_t k = 0; k < kLanes; ++k) {
          margins[r + k] += nodes[index[k]].value;
        }
      }
      for (; r < count; ++r) {
        margins[r] += LeafValue(nodes, root, block[r]);
      }
    }
    for (size_t r = 0; r < count; ++r) {
      out[start + r] = Sigmoid(margins[r]);
    }
  }
}

std::vector<float> CompiledModel::Contributions(absl::Span<const float> row) const {
  std::vector<float> out(num_features_ + 1);
  Contributions(row, absl::MakeSpan(out));
  return out;
}

void CompiledModel::Contributions(absl::Span<const float> row, absl::Span<float> out) const {
  assert(row.size() == num_features_);
  assert(out.size() == num_features_ + 1);
  shap_->Explain(nodes_, row, out.first(num_features_));
  out[num_features_] = contribution_bias_;
}

// --------------------------------------------------------------------------------------------
// Explanations, verification

std::vector<Reason> TopReasons(absl::Span<const float> contributions, size_t k) {
  std::vector<Reason> reasons;
  for (size_t f = 0; f + 1 < contributions.size(); ++f) {
    if (contributions[f] != 0.0F) {  // NaN included
      reasons.push_back({.feature = f, .contribution = contributions[f]});
    }
  }
  const auto magnitude = [](float c) { return std::isnan(c) ? -1.0F : std::abs(c); };
  const auto before = [&magnitude](const Reason& a, const Reason& b) {
    const float ma = magnitude(a.contribution);
    const float mb = magnitude(b.contribution);
    return ma != mb ? ma > mb : a.feature < b.feature;
  };
  const size_t keep = std::min(k, reasons.size());
  std::partial_sort(reasons.begin(), reasons.begin() + static_cast<std::ptrdiff_t>(keep),
                    reasons.end(), before);
  reasons.resize(keep);
  return reasons;
}

absl::Status VerifyAgainstXgboost(const CompiledModel& compiled, const Booster& booster,
                                  absl::Span<const float> rows, size_t num_rows, double tolerance) {
  if (!(tolerance >= 0.0)) {
    return absl::InvalidArgumentError(absl::StrCat("tolerance ", tolerance, " is not >= 0"));
  }
  const size_t cols = compiled.NumFeatures();
  if (num_rows > rows.size() / cols || rows.size() != num_rows * cols) {
    return absl::InvalidArgumentError(absl::StrCat(num_rows, " rows of ", cols, " features need ",
                                                   num_rows, " x ", cols, " values, not ",
                                                   rows.size()));
  }
  CHURN_ASSIGN_OR_RETURN(const std::vector<float> expected,
                         booster.PredictDense(rows, num_rows, cols));
  if (expected.size() != num_rows) {
    return absl::InternalError(
        absl::StrCat("XGBoost returned ", expected.size(), " predictions for ", num_rows, " rows"));
  }
  std::vector<float> got(num_rows);
  compiled.PredictBatch(rows, num_rows, absl::MakeSpan(got));
  for (size_t r = 0; r < num_rows; ++r) {
    const double difference = std::abs(static_cast<double>(got[r]) - expected[r]);
    const bool both_nan = std::isnan(got[r]) && std::isnan(expected[r]);
    if (!both_nan && !(difference <= tolerance)) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "the compiled model disagrees with XGBoost on row %d: %.9g vs %.9g (difference %.3g "
          "> tolerance %.3g)",
          r, got[r], expected[r], difference, tolerance));
    }
  }
  return absl::OkStatus();
}

std::vector<float> ReferenceRows(const CompiledModel& model, size_t n, uint64_t seed) {
  const size_t cols = model.NumFeatures();
  if (n == 0 || cols == 0) {
    return {};
  }
  std::vector<float> rows(n * cols);
  ReferenceRowMaker maker(model, seed);
  for (size_t i = 0; i < n; ++i) {
    maker.Fill(i, absl::MakeSpan(rows).subspan(i * cols, cols));
  }
  return rows;
}

}  // namespace churn::model
