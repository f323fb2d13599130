// File: churn/model/scorer.h
//
// The compiled tree scorer: an XGBoost gbtree model (binary:logistic or reg:logistic) turned
// into one flat array of nodes that serving walks instead of calling XGBoost's predictor, with
// its own TreeSHAP explanations. It reproduces XGBoost 1.7.4's arithmetic: the same float32
// comparisons, the same missing-value directions, the margin summed in float32 in tree order
// from the same base margin, and the same sigmoid, so its probabilities are bit-identical to
// Booster::PredictDense's (the tests check it on every row, beside the 1e-6 contract;
// VerifyAgainstXgboost checks a model when it is loaded). Its contributions are the values
// XGBoost's TreeSHAP computes, by another exact algorithm and in double: within 1e-5 of
// Booster::Contributions' (see Contributions).
//
//   CHURN_ASSIGN_OR_RETURN(std::string json, booster.SaveJson());
//   CHURN_ASSIGN_OR_RETURN(CompiledModel model, CompiledModel::FromXgboostJson(json));
//   const std::vector<float> check = ReferenceRows(model, 4096, /*seed=*/1);
//   CHURN_RETURN_IF_ERROR(VerifyAgainstXgboost(model, booster, check, 4096));
//   float p = model.Predict(row);  // row: NumFeatures() floats, NaN for missing
//   std::vector<float> phi = model.Contributions(row);  // NumFeatures() + 1, the bias last
//   std::vector<Reason> why = TopReasons(phi, 3);
//
// Layout. Every tree's nodes lie in one contiguous array of 12-byte CompiledNode, tree after
// tree, each tree in breadth-first order from its root (TreeRoots() gives the root indices), so
// the top levels that every row visits share cache lines. A split node holds its threshold,
// its feature with the default-left bit, and the index of its left child; the right child is
// always the next node (XGBoost allocates the two children of a node together and its own
// predictor relies on it; a model that breaks this is refused). A leaf holds its value and a
// child index of 0 (node 0, the first tree's root, is never anybody's child). What only
// explanations need (their tables, see Contributions) is kept apart so that prediction touches
// nothing else.
//
// Semantics of a split (XGBoost's): a present value v goes left when v < threshold, compared as
// float32 (so a value equal to the threshold goes right, and so do +inf and values above); a
// missing value (NaN) goes to the node's default child.
#ifndef CHURN_MODEL_SCORER_H_
#define CHURN_MODEL_SCORER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

#include "churn/model/xgboost.h"

namespace churn::model {

namespace internal {
class PathShap;  // src/model/tree_shap.h
}  // namespace internal

// One node of the flat layout (12 bytes, see the top of this file).
struct CompiledNode {
  static constexpr uint32_t kDefaultLeftBit = uint32_t{1} << 31;
  static constexpr uint32_t kFeatureMask = kDefaultLeftBit - 1;

  // A split's threshold (a value goes left when it is below it), or a leaf's value (a margin).
  float value = 0.0F;
  // A split's feature index (bits 0..30) and whether missing values go left (bit 31); 0 for a
  // leaf.
  uint32_t feature_and_default = 0;
  // A split's left child, an index into CompiledModel::Nodes(); the right child is left + 1.
  // 0 for a leaf.
  uint32_t left = 0;

  bool IsLeaf() const { return left == 0; }

  uint32_t Feature() const { return feature_and_default & kFeatureMask; }

  bool DefaultLeft() const { return (feature_and_default & kDefaultLeftBit) != 0; }
};

static_assert(sizeof(CompiledNode) == 12);

// A feature and its SHAP contribution to one prediction (a margin: positive pushes towards
// churn).
struct Reason {
  size_t feature = 0;
  float contribution = 0.0F;
};

// An immutable compiled model. Thread-safe: every method is const and touches no shared
// mutable state, so any number of threads may score with one instance. Movable, not copyable
// (share it through a std::shared_ptr<const CompiledModel>).
class CompiledModel {
 public:
  // Trees deeper than this are refused: a leaf whose path has more distinct features than the
  // explanation tables hold costs O(depth^2) per row (see Contributions), and compiling traces
  // every leaf's path (O(leaves x depth)). XGBoost's default max_depth is 6;
  // configs/search_space.yaml stops at 10.
  static constexpr size_t kMaxDepth = 256;
  // Models with more features (or nodes) than this are refused.
  static constexpr size_t kMaxFeatures = size_t{1} << 24;
  static constexpr size_t kMaxNodes = size_t{1} << 30;

  // Compiles the JSON text XGBoost 1.7 saves (Booster::SaveJson, Python's save_model("x.json")).
  // Accepted: booster gbtree with objective binary:logistic or reg:logistic, one output group,
  // numerical splits only; base_score in (0, 1). Every tree is checked (node arrays as long as
  // tree_param.num_nodes says, child indices in range and each node reachable once from the
  // root, right child = left child + 1, split features below num_feature, finite thresholds,
  // leaf values and covers, covers >= 0, depth <= kMaxDepth); nodes unreachable from a root
  // (XGBoost's deleted nodes) are dropped. InvalidArgument naming what is wrong (the tree and
  // node) for anything else, including text that is not JSON. Never crashes or throws on any
  // input. `model_json` need not outlive the call.
  static absl::StatusOr<CompiledModel> FromXgboostJson(absl::string_view model_json);

  CompiledModel(CompiledModel&& other) noexcept;
  CompiledModel& operator=(CompiledModel&& other) noexcept;
  CompiledModel(const CompiledModel&) = delete;
  CompiledModel& operator=(const CompiledModel&) = delete;
  ~CompiledModel();

  // InvalidArgument unless `row` has NumFeatures() values: the check the scoring calls leave to
  // their callers (they only assert it).
  absl::Status CheckRow(absl::Span<const float> row) const;

  // The margin (log-odds) of `row`: the base margin plus every tree's leaf, summed in float32
  // in tree order as XGBoost does. NaN marks a missing value. REQUIRES: row.size() ==
  // NumFeatures() (asserted in debug builds only; see CheckRow).
  float PredictMargin(absl::Span<const float> row) const;

  // The probability of the positive class: XGBoost's float32 sigmoid of PredictMargin(row).
  // REQUIRES: as PredictMargin.
  float Predict(absl::Span<const float> row) const;

  // Probabilities of `rows` rows stored row-major in `rows_row_major` (NumFeatures() values
  // each) into `out`; identical to Predict on each row. Rows are scored in blocks, every tree
  // over a block before the next tree, so that a tree stays in cache. REQUIRES:
  // rows_row_major.size() == rows * NumFeatures(), out.size() == rows.
  void PredictBatch(absl::Span<const float> rows_row_major, size_t rows,
                    absl::Span<float> out) const;

  // Path-dependent TreeSHAP (Lundberg et al., "Consistent individualized feature attribution
  // for tree ensembles", 2018) with XGBoost's node covers (sum_hessian): NumFeatures() + 1
  // margins, the last being the bias (base margin plus each tree's expected value, summed in
  // float32 as XGBoost does); they sum to PredictMargin(row) up to float rounding. Exact: the
  // values of XGBoost's pred_contribs (Booster::Contributions), computed in double instead of
  // float32, so within 1e-5 of them rather than bit-identical. A feature no tree splits on gets
  // exactly 0.
  //
  // Computed per root-to-leaf path (src/model/tree_shap.h has the formula): a leaf's values
  // depend on the row only through which of its path's k distinct features the row follows, so
  // compiling tabulates, for every leaf with k <= 10, its k values for each of the 2^k cases:
  // 4 k 2^k bytes per leaf (640 for k = 5, 40 KiB for k = 10), at most 64 MiB per model (the
  // cap of 10 is lowered until the tables fit). A row then costs one pass over each tree's split
  // nodes and k additions per tabulated leaf, and O(k^2) per other leaf (~7x a table's cost).
  // For the 300 trees of depth 5 of bench/scorer_bench.cc: 2.6 MiB of tables (3.0 MiB with the
  // rest), ~50 us per row where the recursive algorithm took ~550. Allocates its scratch once
  // per call (4 doubles per feature, a mask per node and leaf of the largest tree), nothing per
  // tree or node. REQUIRES: as PredictMargin.
  std::vector<float> Contributions(absl::Span<const float> row) const;
  // The same into `out`, without allocating the result. REQUIRES: out.size() ==
  // NumFeatures() + 1.
  void Contributions(absl::Span<const float> row, absl::Span<float> out) const;

  size_t NumFeatures() const { return num_features_; }

  size_t NumTrees() const { return roots_.size(); }

  // Nodes kept (split nodes and leaves reachable from a root), over all trees.
  size_t NumNodes() const { return nodes_.size(); }

  // The deepest tree's depth (0 when every tree is a single leaf, or there is none).
  size_t MaxDepth() const { return max_depth_; }

  // base_score as saved (a probability) and the margin it starts every prediction from.
  float BaseScore() const { return base_score_; }

  float BaseMargin() const { return base_margin_; }

  // The flat layout: NumNodes() nodes, and the index of each tree's root in them.
  absl::Span<const CompiledNode> Nodes() const { return nodes_; }

  absl::Span<const uint32_t> TreeRoots() const { return roots_; }

 private:
  friend class CompiledModelBuilder;

  CompiledModel() = default;

  std::vector<CompiledNode> nodes_;
  std::vector<uint32_t> roots_;
  // Per tree: its depth (the levels a walk from the root may descend).
  std::vector<uint32_t> tree_depths_;
  // The explanations' tables (never null in a model FromXgboostJson made).
  std::unique_ptr<const internal::PathShap> shap_;
  // The last contribution: the base margin plus every tree's cover-weighted mean leaf, as
  // XGBoost computes it.
  float contribution_bias_ = 0.0F;
  size_t num_features_ = 0;
  size_t max_depth_ = 0;
  float base_score_ = 0.5F;
  float base_margin_ = 0.0F;
};

// The `k` features with the largest |contribution| in `contributions` (as Contributions returns
// them: the last value, the bias, is not a feature and is ignored), largest first, ties by
// feature index. Features contributing exactly 0 are left out (so fewer than k may come back);
// a NaN contribution ranks below every number.
std::vector<Reason> TopReasons(absl::Span<const float> contributions, size_t k);

// Predicts `num_rows` row-major rows (compiled.NumFeatures() values each) with both `compiled`
// and `booster` (Booster::PredictDense) and compares the probabilities. FailedPrecondition
// naming the first row whose probabilities differ by more than `tolerance` (or where one is
// NaN), with both values and the difference. InvalidArgument when rows.size() != num_rows *
// NumFeatures(), tolerance is negative or NaN, or the booster has another number of features;
// other errors of the booster as it returns them.
absl::Status VerifyAgainstXgboost(const CompiledModel& compiled, const Booster& booster,
                                  absl::Span<const float> rows, size_t num_rows,
                                  double tolerance = 1e-6);

// `n` deterministic row-major rows (n * model.NumFeatures() values) for checking `model`
// without any data: the same (model, n, seed) gives the same rows on every platform. Row i
// targets split node (i / 4) in a seeded order of all split nodes (cycling when n is larger):
// it follows the path to that node (an ancestor's feature is changed where its background
// value would turn away from the node), then gives the node's feature the value just below its
// threshold (next float down), the threshold itself, the value just above it, or NaN (i % 4).
// So with n >= 4 * split nodes every reachable split sees a value on each side of its
// threshold and a missing value, and a threshold off by one float is caught. Other features
// get seeded values near thresholds of theirs, or NaN. Empty when n is 0.
std::vector<float> ReferenceRows(const CompiledModel& model, size_t n, uint64_t seed);

}  // namespace churn::model

#endif  // CHURN_MODEL_SCORER_H_
