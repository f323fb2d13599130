// Private to the model module: the path-dependent TreeSHAP behind CompiledModel::Contributions,
// computed per root-to-leaf path, mostly from tables made when the model is compiled.
//
// The formula. Take a leaf of value v and its root-to-leaf path; merge the splits on one feature
// into one of the path's k distinct features j (its "slot": slots are numbered in the order the
// features first appear from the root), with a zero fraction z_j (the product, over that
// feature's splits on the path, of cover(child on the path) / cover(parent): XGBoost's
// sum_hessian) and, for a row, a one fraction o_j: 1 when the row follows the path at every split
// on j (missing values following the default direction, comparisons as PredictMargin's), else 0.
// The leaf's path-dependent SHAP value for j (Lundberg et al. 2018: the Shapley value of the game
// S -> v * prod over i in S of o_i * prod over i not in S of z_i, over the path's features) is
//
//   phi_j = v (o_j - z_j) sum over S subset of the others of w(|S|, k) prod_{i in S} o_i
//                                                          prod_{i not in S, i != j} z_i,
//   w(s, k) = s! (k - s - 1)! / k!,
//
// and since w(s, k) is the Beta integral of t^s (1 - t)^(k - 1 - s) over [0, 1], the sum is
//
//   integral over [0, 1] of prod_{i != j} (o_i t + z_i (1 - t)) dt,
//
// a polynomial of degree k - 1 in t, which Gauss-Legendre quadrature with ceil(k / 2) points
// integrates exactly (up to rounding). Every factor is >= 0 on [0, 1] and every weight > 0, so
// nothing cancels; prefix and suffix products give all k integrals in O(k^2) without a division.
// Summed over a tree's leaves this is what XGBoost's recursive TreeSHAP (and so pred_contribs)
// computes, in float32 there and in double here.
//
// Tables. phi_j depends on the row only through the k-bit mask of the path's hot slots (o_j = 1),
// so for each leaf with k <= the table cap, compiling stores its 2^k x k values (computed in
// double, stored as float) contiguously, [mask][slot]. Explaining a row then takes one pass over
// each tree's split nodes, which derives every node's mask of cold slots (those whose split the
// row does not follow on the way to the node) from its parent's, and for each leaf one table row
// of k floats added to its features' sums. Leaves with more slots than the cap are computed from
// the formula at explanation time, O(k^2) each; the cap is lowered from ShapTableLimits's until
// the model's tables fit its byte budget.
#ifndef CHURN_MODEL_TREE_SHAP_H_
#define CHURN_MODEL_TREE_SHAP_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

#include "churn/model/scorer.h"

namespace churn::model::internal {

// The child a value leads to, without a branch (the one definition of a split, shared by
// prediction and explanations): right unless the value is below the threshold, or missing at a
// node whose missing values go left. NaN compares false, so a missing value goes right unless
// the default-left bit is set.
inline uint32_t NextNode(const CompiledNode& node, float value) {
  const uint32_t below = value < node.value ? 1U : 0U;
  const uint32_t missing = std::isnan(value) ? 1U : 0U;
  const uint32_t default_left = node.feature_and_default >> 31;
  return node.left + ((1U - below) & (1U - (missing & default_left)));
}

// How much the tables may hold; the defaults are FromXgboostJson's.
struct ShapTableLimits {
  // The most slots a tabulated leaf may have: its table takes 4 k 2^k bytes (640 for k = 5,
  // 8 KiB for k = 8, 40 KiB for k = 10). At most PathShap::kMaxTableFeatures.
  size_t max_features = 10;
  // The most bytes all tables of a model may take: the cap is lowered until they fit.
  size_t max_bytes = size_t{64} << 20;
};

// The compiled explanations of a model. Immutable once built, so any number of threads may use
// one.
class PathShap {
 public:
  // ShapTableLimits::max_features's upper bound (the masks are 32-bit; a table of 16 slots
  // already takes 4 MiB).
  static constexpr size_t kMaxTableFeatures = 16;

  // Precomputes the explanations of the trees whose roots are `roots` in the flat layout
  // `nodes`, from every node's cover in `covers`. REQUIRES: a layout CompiledModelBuilder made
  // (each tree's nodes contiguous from its root, roots in increasing order, children after their
  // parent, at most CompiledModel::kMaxDepth levels), covers.size() == nodes.size(),
  // limits.max_features <= kMaxTableFeatures.
  static PathShap Build(absl::Span<const CompiledNode> nodes, absl::Span<const float> covers,
                        absl::Span<const uint32_t> roots, const ShapTableLimits& limits);

  // Sets phi[f] to the sum over all trees of feature f's SHAP value for `row` (the bias left
  // out): exactly 0 for a feature no tree splits on. REQUIRES: `nodes` the layout Build saw,
  // row.size() == phi.size() == the model's number of features.
  void Explain(absl::Span<const CompiledNode> nodes, absl::Span<const float> row,
               absl::Span<float> phi) const;

  // The cap in force (leaves with at most this many slots have a table), the tables' bytes, and
  // how many leaves (with at least one split above them) have a table or are computed.
  size_t TableFeatures() const { return table_features_; }

  size_t TableBytes() const { return tables_.size() * sizeof(float); }

  size_t TabulatedLeaves() const { return leaves_.size(); }

  size_t ComputedLeaves() const { return computed_.size(); }

  // Every byte the explanations hold, the tables included.
  size_t Bytes() const;

 private:
  friend class PathShapBuilder;

  // A tree: its split nodes [previous tree's splits_end, splits_end) in splits_, likewise its
  // tabulated leaves in leaves_ and its computed ones in computed_.
  struct Tree {
    uint32_t splits_end = 0;
    uint32_t leaves_end = 0;
    uint32_t computed_end = 0;
  };

  // A split node as the mask pass reads it, in its tree's breadth-first order (parents first):
  // the node with `left` relative to the tree's root, its own index likewise, and
  // 1 << the slot of its feature on the path to it (0 for a slot >= 32: only computed leaves lie
  // below it).
  struct Split {
    CompiledNode node;
    uint32_t index = 0;
    uint32_t slot_bit = 0;
  };

  // A leaf with a table: its node (relative to its tree's root), its k slots' features at
  // slot_features_[slots ..], its table (2^k rows of k floats, the leaf value included) at
  // tables_[table ..].
  struct TabulatedLeaf {
    uint32_t node = 0;
    uint32_t num_slots = 0;
    uint32_t slots = 0;
    uint32_t table = 0;
  };

  // A leaf without: its node (absolute), its k slots' features and zero fractions at
  // computed_features_[slots ..] and zero_fractions_[slots ..], and the splits from the root to
  // it at steps_[steps .. steps + num_steps).
  struct ComputedLeaf {
    uint32_t node = 0;
    uint32_t num_slots = 0;
    uint32_t slots = 0;
    uint32_t steps = 0;
    uint32_t num_steps = 0;
  };

  // A split on a computed leaf's path: the node (absolute), the child the path takes (0 left,
  // 1 right), and the slot of the node's feature.
  struct Step {
    uint32_t node = 0;
    uint16_t right = 0;
    uint16_t slot = 0;
  };

  // The per-call scratch of Explain.
  struct Scratch;

  // Sets scratch.cold[i] for every node i of the tree whose splits are
  // splits_[first_split .. tree.splits_end).
  void MarkColdSlots(const Tree& tree, uint32_t first_split, const float* row,
                     Scratch& scratch) const;
  // Adds the tree's tabulated leaves leaves_[first_leaf .. tree.leaves_end) to scratch.sums.
  void AddTabulated(const Tree& tree, uint32_t first_leaf, Scratch& scratch) const;
  // Adds one computed leaf to scratch.sums.
  void AddComputed(const ComputedLeaf& leaf, absl::Span<const CompiledNode> nodes, const float* row,
                   Scratch& scratch) const;

  size_t table_features_ = 0;
  // The most nodes and tabulated leaves a tree has, and the most slots a leaf has.
  size_t max_tree_nodes_ = 0;
  size_t max_tree_leaves_ = 0;
  size_t max_slots_ = 0;
  std::vector<Tree> trees_;
  std::vector<Split> splits_;
  std::vector<TabulatedLeaf> leaves_;
  std::vector<uint32_t> slot_features_;
  std::vector<float> tables_;
  std::vector<ComputedLeaf> computed_;
  std::vector<uint32_t> computed_features_;
  std::vector<double> zero_fractions_;
  std::vector<Step> steps_;
  // Gauss-Legendre rules on [0, 1] of 1, 2, .. points: rule n's points and weights start at
  // n(n-1)/2.
  std::vector<double> quadrature_points_;
  std::vector<double> quadrature_weights_;
};

// FromXgboostJson with other table limits (the tests force computed leaves with them).
absl::StatusOr<CompiledModel> CompileWithShapLimits(absl::string_view model_json,
                                                    const ShapTableLimits& limits);

// The explanations of `model`, for tests and benchmarks. REQUIRES: `model` not moved from.
const PathShap& ShapOf(const CompiledModel& model);

}  // namespace churn::model::internal

#endif  // CHURN_MODEL_TREE_SHAP_H_
