// File: churn/train/search_space.h
//
// A hyperparameter search space, read from YAML:
//
//   params:
//     max_depth:        {type: int, low: 2, high: 10}
//     eta:              {type: loguniform, low: 0.01, high: 0.3}
//     subsample:        {type: uniform, low: 0.5, high: 1.0}
//     max_bin:          {type: quniform, low: 32, high: 256, q: 32}
//     grow_policy:      {type: choice, choices: [depthwise, lossguide]}
//     max_leaves:       {type: int, low: 8, high: 128, when: {grow_policy: [lossguide]}}
//   fixed:              # optional: set on every trial, not searched
//     max_delta_step: 0
//   start:              # optional: the first trials' assignments, each a complete point
//     - {max_depth: 6, eta: 0.3, subsample: 1.0, max_bin: 256, grow_policy: depthwise}
//
// Kinds: uniform [low, high]; loguniform (log-uniform on [low, high], low > 0); quniform
// (round(uniform / q) * q, clamped to [low, high]); int (uniform integers in [low, high]);
// choice (one of the listed strings). `when` makes a parameter conditional: it is active only
// when each named parent (a choice parameter declared before it) takes one of the listed
// values; an inactive parameter is absent from the assignment.
#ifndef CHURN_TRAIN_SEARCH_SPACE_H_
#define CHURN_TRAIN_SEARCH_SPACE_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace churn::train {

enum class ParamKind { kUniform, kLogUniform, kQUniform, kInt, kChoice };

// "uniform", "loguniform", "quniform", "int", "choice".
absl::string_view ParamKindName(ParamKind kind);

struct ParamSpec {
  std::string name{};
  ParamKind kind = ParamKind::kUniform;
  double low = 0.0;
  double high = 1.0;
  double q = 1.0;                      // kQUniform
  std::vector<std::string> choices{};  // kChoice
  // Parent choice parameter -> the values that activate this one (all must hold).
  std::vector<std::pair<std::string, std::vector<std::string>>> when{};

  bool operator==(const ParamSpec&) const = default;
};

// A sampled value: double for uniform/loguniform/quniform, int64_t for int, string for choice.
using ParamValue = std::variant<double, int64_t, std::string>;
using Assignment = std::map<std::string, ParamValue, std::less<>>;

// The value as XGBoost and the registry take it: shortest round-trip for doubles, so an
// integral double prints without a fraction ("64", never "64.0": XGBoost rejects "64.0" for an
// integer parameter such as max_bin); int64_t in decimal; strings as they are.
std::string FormatParamValue(const ParamValue& value);

// The inverse of FormatParamValue for `spec` (e.g. a value read back from a stored trial): a
// double for uniform/loguniform/quniform, an integer for int, one of the choices for choice.
// InvalidArgument naming the parameter when `text` is not of that form (the range is Check's).
absl::StatusOr<ParamValue> ParseParamValue(const ParamSpec& spec, absl::string_view text);

class SearchSpace {
 public:
  // InvalidArgument naming the parameter and the field for: no parameters, an unknown type or
  // key, low > high, low <= 0 for loguniform, q <= 0, an empty choice list, a `when` naming a
  // parameter that is not an earlier choice parameter or a value it cannot take.
  static absl::StatusOr<SearchSpace> FromYaml(absl::string_view text);
  // The default XGBoost space: max_depth, eta, min_child_weight, subsample, colsample_bytree,
  // lambda, alpha, gamma, max_bin.
  static SearchSpace Default();

  // YAML that FromYaml reads back to an equal space (stored with every study).
  std::string ToYaml() const;

  const std::vector<ParamSpec>& Params() const { return params_; }

  const std::vector<std::pair<std::string, std::string>>& Fixed() const { return fixed_; }

  // Assignments the first trials take instead of a sampled one (trial i takes start[i]), e.g.
  // XGBoost's own defaults: a known-good, cheap point the search reaches quality from at once
  // (FLAML's "low-cost initial point", Optuna's enqueue_trial).
  const std::vector<Assignment>& Start() const { return start_; }

  const ParamSpec* Find(absl::string_view name) const;

  // Whether `spec` is active under the (partial) assignment of the parameters before it.
  static bool IsActive(const ParamSpec& spec, const Assignment& assignment);

  // Checks an assignment (e.g. one read back from a stored trial): every active parameter
  // present and in range, nothing else. InvalidArgument naming the parameter otherwise.
  absl::Status Check(const Assignment& assignment) const;

  bool operator==(const SearchSpace&) const = default;

 private:
  std::vector<ParamSpec> params_;
  std::vector<std::pair<std::string, std::string>> fixed_;
  std::vector<Assignment> start_;
};

}  // namespace churn::train

#endif  // CHURN_TRAIN_SEARCH_SPACE_H_
