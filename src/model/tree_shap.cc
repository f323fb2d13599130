#include "model/tree_shap.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numbers>
#include <utility>
#include <vector>

#include "churn/model/scorer.h"

namespace churn::model::internal {
namespace {

constexpr uint32_t kNoShapParent = std::numeric_limits<uint32_t>::max();
// Tabulated leaves add into kShapLanes interleaved sums per feature, leaf after leaf in turn:
// consecutive leaves mostly share features (every leaf of a tree has its root's), and with one
// sum each addition would wait for the previous one through memory.
constexpr size_t kShapLanes = 4;

// The n-point Gauss-Legendre rule mapped to [0, 1], appended to `points` and `weights`: exact
// for polynomials of degree <= 2n - 1. Newton's iteration on the Legendre polynomial P_n from
// Tricomi's first guesses, to double precision.
void AppendGaussLegendre(size_t n, std::vector<double>& points, std::vector<double>& weights) {
  const size_t first = points.size();
  points.resize(first + n);
  weights.resize(first + n);
  const auto order = static_cast<double>(n);
  for (size_t i = 0; i < (n + 1) / 2; ++i) {
    double x = std::cos(std::numbers::pi * (static_cast<double>(i) + 0.75) / (order + 0.5));
    double derivative = 0.0;  // P_n'(x)
    for (int iteration = 0; iteration < 100; ++iteration) {
      double p = 1.0;  // P_j(x) for j = 0 .. n, by the three-term recurrence
      double previous = 0.0;
      for (size_t j = 1; j <= n; ++j) {
        const auto degree = static_cast<double>(j);
        const double next = ((2.0 * degree - 1.0) * x * p - (degree - 1.0) * previous) / degree;
        previous = p;
        p = next;
      }
      derivative = order * (x * p - previous) / (x * x - 1.0);
      const double step = p / derivative;
      x -= step;
      if (std::abs(step) <= 1e-15) {
        break;
      }
    }
    const double weight = 1.0 / ((1.0 - x * x) * derivative * derivative);  // half of [-1, 1]'s
    // The roots come in pairs +-x (x = 0 for the middle one of an odd rule).
    points[first + i] = 0.5 * (1.0 - x);
    points[first + n - 1 - i] = 0.5 * (1.0 + x);
    weights[first + i] = weight;
    weights[first + n - 1 - i] = weight;
  }
}

// The Gauss-Legendre rule of ceil(k / 2) points: exact for a path of k slots, whose integrands
// have degree k - 1.
struct ShapRule {
  const double* points = nullptr;
  const double* weights = nullptr;
  size_t size = 0;
};

ShapRule RuleForSlots(size_t k, const std::vector<double>& points,
                      const std::vector<double>& weights) {
  const size_t n = std::max<size_t>(1, (k + 1) / 2);
  const size_t first = n * (n - 1) / 2;
  assert(first + n <= points.size());
  return {.points = points.data() + first, .weights = weights.data() + first, .size = n};
}

// A leaf as PathShapValues sees it: its value and its k slots' zero fractions and one fractions
// (each 0 or 1).
struct ShapLeafPath {
  double value = 0.0;
  size_t k = 0;
  const double* zero = nullptr;
  const double* one = nullptr;
};

// The path-dependent SHAP values of the k slots of `leaf` into `out`: v (o_j - z_j) times the
// integral over [0, 1] of prod_{i != j} (o_i t + z_i (1 - t)) (see tree_shap.h), each integral by
// `rule`, the products without slot j from prefix and suffix products. `scratch` holds 2k
// doubles.
void PathShapValues(const ShapRule& rule, const ShapLeafPath& leaf, double* scratch, double* out) {
  const size_t k = leaf.k;
  double* factor = scratch;
  double* prefix = scratch + k;
  std::fill(out, out + k, 0.0);
  for (size_t q = 0; q < rule.size; ++q) {
    const double t = rule.points[q];
    double product = 1.0;
    for (size_t j = 0; j < k; ++j) {
      prefix[j] = product;
      factor[j] = leaf.one[j] * t + leaf.zero[j] * (1.0 - t);
      product *= factor[j];
    }
    double suffix = rule.weights[q];
    for (size_t j = k; j-- > 0;) {
      out[j] += prefix[j] * suffix;
      suffix *= factor[j];
    }
  }
  for (size_t j = 0; j < k; ++j) {
    out[j] *= leaf.value * (leaf.one[j] - leaf.zero[j]);
  }
}

// The floats the table of a leaf of k slots takes: 2^k masks of k values.
size_t TableFloats(size_t k) {
  return k << k;
}

}  // namespace

// ------------------------------------------------------------------------------------------
// Building

class PathShapBuilder {
 public:
  PathShapBuilder(absl::Span<const CompiledNode> nodes, absl::Span<const float> covers)
      : nodes_(nodes), covers_(covers), parents_(nodes.size(), kNoShapParent) {}

  PathShap Build(absl::Span<const uint32_t> roots, const ShapTableLimits& limits);

 private:
  // One split on the path to a leaf: the split node and the child the path takes (absolute).
  struct PathSplit {
    uint32_t node = 0;
    uint32_t child = 0;
  };

  // A tree's nodes [root, end) in the layout.
  struct TreeNodes {
    uint32_t root = 0;
    uint32_t end = 0;
  };

  // Sets path_ to the splits from the root to `leaf`, path_features_ and zeros_ to its distinct
  // features (in slot order) and their zero fractions, slots_ to each split's slot, and each
  // split node's slot bit in slot_bits_.
  void TracePath(uint32_t leaf);
  // The cap: the most slots of a tabulated leaf, within the limits. Sets max_slots_.
  size_t ChooseCap(const ShapTableLimits& limits);
  void AddSplits(const TreeNodes& tree);
  void AddTabulated(uint32_t root, uint32_t leaf);
  void AddComputed(uint32_t leaf);

  absl::Span<const CompiledNode> nodes_;
  absl::Span<const float> covers_;
  std::vector<TreeNodes> trees_;
  // Per node: its parent (absolute; kNoShapParent for a root), and its slot bit (see
  // PathShap::Split).
  std::vector<uint32_t> parents_;
  std::vector<uint32_t> slot_bits_;
  // The path TracePath traced last.
  std::vector<PathSplit> path_;
  std::vector<uint16_t> slots_;
  std::vector<uint32_t> path_features_;
  std::vector<double> zeros_;
  size_t max_slots_ = 0;
  PathShap shap_;
};

void PathShapBuilder::TracePath(uint32_t leaf) {
  path_.clear();
  for (uint32_t child = leaf; parents_[child] != kNoShapParent; child = parents_[child]) {
    path_.push_back({.node = parents_[child], .child = child});
  }
  std::reverse(path_.begin(), path_.end());
  slots_.clear();
  path_features_.clear();
  zeros_.clear();
  for (const PathSplit& split : path_) {
    const uint32_t feature = nodes_[split.node].Feature();
    const auto found = std::find(path_features_.begin(), path_features_.end(), feature);
    const auto slot = static_cast<size_t>(found - path_features_.begin());
    if (found == path_features_.end()) {
      path_features_.push_back(feature);
      zeros_.push_back(1.0);
    }
    // XGBoost's zero fraction of a split: the share of the parent's cover that goes this way.
    zeros_[slot] *= static_cast<double>(covers_[split.child]) / covers_[split.node];
    slots_.push_back(static_cast<uint16_t>(slot));
    slot_bits_[split.node] = slot < 32 ? uint32_t{1} << slot : 0U;
  }
}

size_t PathShapBuilder::ChooseCap(const ShapTableLimits& limits) {
  assert(limits.max_features <= PathShap::kMaxTableFeatures);
  // How many leaves have k slots, for k up to limits.max_features.
  std::vector<size_t> leaves(limits.max_features + 1, 0);
  for (const TreeNodes& tree : trees_) {
    for (uint32_t i = tree.root; i < tree.end; ++i) {
      if (!nodes_[i].IsLeaf()) {
        continue;
      }
      TracePath(i);
      const size_t k = path_features_.size();
      max_slots_ = std::max(max_slots_, k);
      if (k <= limits.max_features) {
        ++leaves[k];
      }
    }
  }
  size_t cap = 0;
  size_t floats = 0;
  for (size_t k = 1; k <= limits.max_features; ++k) {
    floats += leaves[k] * TableFloats(k);
    // Table offsets are 32-bit.
    if (floats > limits.max_bytes / sizeof(float) ||
        floats > std::numeric_limits<uint32_t>::max()) {
      break;
    }
    cap = k;
  }
  return cap;
}

void PathShapBuilder::AddSplits(const TreeNodes& tree) {
  for (uint32_t i = tree.root; i < tree.end; ++i) {
    CompiledNode node = nodes_[i];
    if (!node.IsLeaf()) {
      node.left -= tree.root;
      shap_.splits_.push_back({.node = node, .index = i - tree.root, .slot_bit = slot_bits_[i]});
    }
  }
}

void PathShapBuilder::AddTabulated(uint32_t root, uint32_t leaf) {
  const size_t k = path_features_.size();
  shap_.leaves_.push_back({.node = leaf - root,
                           .num_slots = static_cast<uint32_t>(k),
                           .slots = static_cast<uint32_t>(shap_.slot_features_.size()),
                           .table = static_cast<uint32_t>(shap_.tables_.size())});
  shap_.slot_features_.insert(shap_.slot_features_.end(), path_features_.begin(),
                              path_features_.end());
  const ShapRule rule = RuleForSlots(k, shap_.quadrature_points_, shap_.quadrature_weights_);
  const double value = nodes_[leaf].value;
  std::array<double, PathShap::kMaxTableFeatures> one{};
  std::array<double, PathShap::kMaxTableFeatures> out{};
  std::array<double, 2 * PathShap::kMaxTableFeatures> scratch{};
  for (uint32_t mask = 0; mask < (uint32_t{1} << k); ++mask) {
    for (size_t j = 0; j < k; ++j) {
      one[j] = static_cast<double>((mask >> j) & 1U);
    }
    PathShapValues(rule, {.value = value, .k = k, .zero = zeros_.data(), .one = one.data()},
                   scratch.data(), out.data());
    for (size_t j = 0; j < k; ++j) {
      shap_.tables_.push_back(static_cast<float>(out[j]));
    }
  }
}

void PathShapBuilder::AddComputed(uint32_t leaf) {
  shap_.computed_.push_back({.node = leaf,
                             .num_slots = static_cast<uint32_t>(path_features_.size()),
                             .slots = static_cast<uint32_t>(shap_.computed_features_.size()),
                             .steps = static_cast<uint32_t>(shap_.steps_.size()),
                             .num_steps = static_cast<uint32_t>(path_.size())});
  shap_.computed_features_.insert(shap_.computed_features_.end(), path_features_.begin(),
                                  path_features_.end());
  shap_.zero_fractions_.insert(shap_.zero_fractions_.end(), zeros_.begin(), zeros_.end());
  for (size_t s = 0; s < path_.size(); ++s) {
    const PathSplit& split = path_[s];
    shap_.steps_.push_back({.node = split.node,
                            .right = static_cast<uint16_t>(split.child - nodes_[split.node].left),
                            .slot = slots_[s]});
  }
}

PathShap PathShapBuilder::Build(absl::Span<const uint32_t> roots, const ShapTableLimits& limits) {
  slot_bits_.assign(nodes_.size(), 0U);
  for (size_t t = 0; t < roots.size(); ++t) {
    const uint32_t end = t + 1 < roots.size() ? roots[t + 1] : static_cast<uint32_t>(nodes_.size());
    trees_.push_back({.root = roots[t], .end = end});
    shap_.max_tree_nodes_ = std::max<size_t>(shap_.max_tree_nodes_, end - roots[t]);
    for (uint32_t i = roots[t]; i < end; ++i) {
      if (!nodes_[i].IsLeaf()) {
        parents_[nodes_[i].left] = i;
        parents_[nodes_[i].left + 1] = i;
      }
    }
  }
  shap_.table_features_ = ChooseCap(limits);  // traces every path: slot_bits_ complete
  shap_.max_slots_ = max_slots_;
  for (size_t n = 1; n <= std::max<size_t>(1, (max_slots_ + 1) / 2); ++n) {
    AppendGaussLegendre(n, shap_.quadrature_points_, shap_.quadrature_weights_);
  }
  for (const TreeNodes& tree : trees_) {
    AddSplits(tree);
    const size_t first_leaf = shap_.leaves_.size();
    for (uint32_t i = tree.root; i < tree.end; ++i) {
      if (!nodes_[i].IsLeaf()) {
        continue;
      }
      TracePath(i);
      if (path_features_.empty()) {  // a tree of one leaf: only the bias
        continue;
      }
      if (path_features_.size() <= shap_.table_features_) {
        AddTabulated(tree.root, i);
      } else {
        AddComputed(i);
      }
    }
    shap_.max_tree_leaves_ = std::max(shap_.max_tree_leaves_, shap_.leaves_.size() - first_leaf);
    shap_.trees_.push_back({.splits_end = static_cast<uint32_t>(shap_.splits_.size()),
                            .leaves_end = static_cast<uint32_t>(shap_.leaves_.size()),
                            .computed_end = static_cast<uint32_t>(shap_.computed_.size())});
  }
  return std::move(shap_);
}

PathShap PathShap::Build(absl::Span<const CompiledNode> nodes, absl::Span<const float> covers,
                         absl::Span<const uint32_t> roots, const ShapTableLimits& limits) {
  assert(covers.size() == nodes.size());
  return PathShapBuilder(nodes, covers).Build(roots, limits);
}

// ------------------------------------------------------------------------------------------
// Explaining

struct PathShap::Scratch {
  Scratch(const PathShap& shap, size_t num_features)
      : masks(shap.max_tree_nodes_ + shap.max_tree_leaves_),
        sums(kShapLanes * num_features + 4 * shap.max_slots_),
        cold(masks.data()),
        rows(masks.data() + shap.max_tree_nodes_),
        computed(sums.data() + kShapLanes * num_features) {}

  std::vector<uint32_t> masks;
  std::vector<double> sums;
  // Per node of the tree being explained (relative to its root): its cold slots. Per tabulated
  // leaf of the tree: the offset of its table row.
  uint32_t* cold;
  uint32_t* rows;
  // For a computed leaf: its one fractions, values and PathShapValues' scratch.
  double* computed;
};

void PathShap::MarkColdSlots(const Tree& tree, uint32_t first_split, const float* row,
                             Scratch& scratch) const {
  uint32_t* cold = scratch.cold;
  cold[0] = 0;
  for (uint32_t s = first_split; s < tree.splits_end; ++s) {
    const Split& split = splits_[s];
    const uint32_t left = split.node.left;
    const uint32_t right = NextNode(split.node, row[split.node.Feature()]) - left;
    const uint32_t cold_left = split.slot_bit & (0U - right);  // the row goes right
    cold[left] = cold[split.index] | cold_left;
    cold[left + 1] = cold[split.index] | (split.slot_bit ^ cold_left);
  }
}

void PathShap::AddTabulated(const Tree& tree, uint32_t first_leaf, Scratch& scratch) const {
  // Every leaf's table row first, fetched ahead of the additions.
  for (uint32_t l = first_leaf; l < tree.leaves_end; ++l) {
    const TabulatedLeaf& leaf = leaves_[l];
    const uint32_t hot = ~scratch.cold[leaf.node] & ((uint32_t{1} << leaf.num_slots) - 1U);
    const uint32_t row = leaf.table + hot * leaf.num_slots;
    __builtin_prefetch(tables_.data() + row);
    scratch.rows[l - first_leaf] = row;
  }
  for (uint32_t l = first_leaf; l < tree.leaves_end; ++l) {
    const TabulatedLeaf& leaf = leaves_[l];
    const float* values = tables_.data() + scratch.rows[l - first_leaf];
    const uint32_t* features = slot_features_.data() + leaf.slots;
    double* lane = scratch.sums.data() + l % kShapLanes;
    for (uint32_t j = 0; j < leaf.num_slots; ++j) {
      lane[features[j] * kShapLanes] += values[j];
    }
  }
}

void PathShap::AddComputed(const ComputedLeaf& leaf, absl::Span<const CompiledNode> nodes,
                           const float* row, Scratch& scratch) const {
  const size_t k = leaf.num_slots;
  double* one = scratch.computed;
  double* out = one + k;
  std::fill(one, one + k, 1.0);
  for (uint32_t s = leaf.steps; s < leaf.steps + leaf.num_steps; ++s) {
    const Step& step = steps_[s];
    const CompiledNode& node = nodes[step.node];
    if (NextNode(node, row[node.Feature()]) - node.left != step.right) {
      one[step.slot] = 0.0;
    }
  }
  PathShapValues(RuleForSlots(k, quadrature_points_, quadrature_weights_),
                 {.value = nodes[leaf.node].value,
                  .k = k,
                  .zero = zero_fractions_.data() + leaf.slots,
                  .one = one},
                 out + k, out);
  const uint32_t* features = computed_features_.data() + leaf.slots;
  for (size_t j = 0; j < k; ++j) {
    scratch.sums[features[j] * kShapLanes] += out[j];
  }
}

void PathShap::Explain(absl::Span<const CompiledNode> nodes, absl::Span<const float> row,
                       absl::Span<float> phi) const {
  assert(row.size() == phi.size());
  Scratch scratch(*this, phi.size());
  uint32_t first_split = 0;
  uint32_t first_leaf = 0;
  uint32_t first_computed = 0;
  for (const Tree& tree : trees_) {
    MarkColdSlots(tree, first_split, row.data(), scratch);
    AddTabulated(tree, first_leaf, scratch);
    for (uint32_t c = first_computed; c < tree.computed_end; ++c) {
      AddComputed(computed_[c], nodes, row.data(), scratch);
    }
    first_split = tree.splits_end;
    first_leaf = tree.leaves_end;
    first_computed = tree.computed_end;
  }
  for (size_t f = 0; f < phi.size(); ++f) {
    double sum = 0.0;
    for (size_t lane = 0; lane < kShapLanes; ++lane) {
      sum += scratch.sums[f * kShapLanes + lane];
    }
    phi[f] = static_cast<float>(sum);
  }
}

size_t PathShap::Bytes() const {
  return sizeof(PathShap) + trees_.size() * sizeof(Tree) + splits_.size() * sizeof(Split) +
         leaves_.size() * sizeof(TabulatedLeaf) + slot_features_.size() * sizeof(uint32_t) +
         tables_.size() * sizeof(float) + computed_.size() * sizeof(ComputedLeaf) +
         computed_features_.size() * sizeof(uint32_t) + zero_fractions_.size() * sizeof(double) +
         steps_.size() * sizeof(Step) +
         (quadrature_points_.size() + quadrature_weights_.size()) * sizeof(double);
}

}  // namespace churn::model::internal
