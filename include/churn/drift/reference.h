// File: churn/drift/reference.h
//
// The reference a served model's live drift is measured against, stored with each model version
// (model/drift_reference.json): for every monitored input of the model (a numeric or categorical
// feature column as the model sees it, after the feature pipeline), the reference rows' values
// with their counts and missing count, the test Evidently would choose for it and its threshold;
// the model's probabilities on those rows (prediction drift, CBPE's baseline); the positive rate
// (target drift). Values are kept exactly (distinct value and count), so the tests on a live
// window give what they give on the raw reference rows.
//
//   CHURN_ASSIGN_OR_RETURN(ReferenceProfile ref, BuildReference(input));
//   std::string json = ref.ToJson();                 // with the model's artifacts
//   CHURN_ASSIGN_OR_RETURN(ref, ReferenceProfile::FromJson(json));
#ifndef CHURN_DRIFT_REFERENCE_H_
#define CHURN_DRIFT_REFERENCE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

#include "churn/drift/stats.h"

namespace churn::drift {

// One monitored input: the feature vector's entry `index`. A categorical input holds codes
// (0, 1, ...: the index into `levels`; levels.size(): the unknown bucket).
struct MonitoredFeature {
  std::string name{};
  ColumnKind kind = ColumnKind::kNumeric;
  size_t index = 0;
  std::vector<std::string> levels{};
};

struct ReferenceColumn {
  MonitoredFeature feature{};
  // The reference rows' non-missing values: distinct, ascending, with how often each occurs.
  std::vector<double> values{};
  std::vector<uint64_t> counts{};
  uint64_t missing = 0;
  DriftTest test = DriftTest::kKs;
  double threshold = 0.0;

  // The values with their repetitions, ascending (what RunTest takes).
  std::vector<double> Expanded() const;
  uint64_t NonMissing() const;
};

struct ReferenceProfile {
  uint64_t rows = 0;
  std::vector<ReferenceColumn> columns{};
  // The model's churn probability on each reference row (feature "churn_probability").
  ReferenceColumn scores{};
  // Reference rows with a label, and the positive ones among them.
  uint64_t labeled = 0;
  uint64_t positives = 0;
  // The model's decision threshold (label 1 at probability >= threshold).
  double decision_threshold = 0.5;

  // {"format":"churn-drift-reference/1","rows":...,"columns":[{"name","kind","index","levels",
  //  "values","counts","missing","test","threshold"},...],"scores":{...},...}
  std::string ToJson() const;
  // InvalidArgument naming the field when `text` is not such a document.
  static absl::StatusOr<ReferenceProfile> FromJson(absl::string_view text);
};

struct ReferenceInput {
  std::vector<MonitoredFeature> features{};
  // Row-major, `width` floats per row (NaN = missing); width > every feature's index.
  absl::Span<const float> matrix{};
  size_t width = 0;
  // One probability per row.
  absl::Span<const float> scores{};
  // One 0/1 label per row (NaN: none), or empty.
  absl::Span<const float> labels{};
  double decision_threshold = 0.5;
  // Rows kept at most (an evenly spaced subset beyond; Evidently takes the whole reference).
  size_t max_rows = 100000;
  // Per-feature test and threshold, keyed by feature name; otherwise Evidently's choice by kind,
  // reference size and distinct values (ChooseTest) and the test's default threshold.
  std::map<std::string, ColumnOptions, std::less<>> per_column{};
};

// Per-column overrides from text: "COL=TEST" or "COL=TEST:THRESHOLD", comma-separated (spaces
// around items allowed), e.g. "Education_Level=jensenshannon, Total_Trans_Ct=ks:0.01".
// InvalidArgument naming the item when one does not parse or names an unknown test.
absl::StatusOr<std::map<std::string, ColumnOptions, std::less<>>> ParseColumnOverrides(
    absl::string_view text);

// A copy of `reference` with the overrides applied to the columns they name (names matched
// ignoring case). Overrides that name no column, or set a test that does not apply to the
// column's kind (ks or wasserstein on a categorical input), are left out and described in
// `ignored` (when not null).
ReferenceProfile WithOverrides(const ReferenceProfile& reference,
                               const std::map<std::string, ColumnOptions, std::less<>>& overrides,
                               std::vector<std::string>* ignored);

// InvalidArgument when the matrix is not rows x width, a feature's index is out of range, a
// feature has no non-missing value, the scores do not match the rows, or an override names no
// feature or sets a test that does not apply to the feature's kind.
absl::StatusOr<ReferenceProfile> BuildReference(const ReferenceInput& input);

}  // namespace churn::drift

#endif  // CHURN_DRIFT_REFERENCE_H_
