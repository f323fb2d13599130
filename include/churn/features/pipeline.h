// File: churn/features/pipeline.h
//
// The feature pipeline: turns typed rows (a Table, or one raw record at serving time) into the
// float vectors a model takes, by the same code in training and in serving. Fitted on the
// training split only:
//   - numeric feature columns pass through (missing -> NaN);
//   - categorical columns become integer codes over the levels seen in training (schema order),
//     with an explicit unknown bucket (code = number of seen levels) for a declared level never
//     seen in training; missing -> NaN (XGBoost's default direction);
//   - derived features (schema `derived`) are numerator / denominator, NaN when the denominator is
//     0 or an input is missing.
// Saved as JSON beside the model. A fitted pipeline is immutable and thread-safe.
#ifndef CHURN_FEATURES_PIPELINE_H_
#define CHURN_FEATURES_PIPELINE_H_

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

#include "churn/data/schema.h"
#include "churn/data/table.h"

namespace churn::features {

struct EncodedFeature {
  enum class Kind { kNumeric, kCategorical, kRatio };
  Kind kind = Kind::kNumeric;
  std::string name;
  // kCategorical: the levels seen in training, code = index; unknown bucket = levels.size().
  std::vector<std::string> levels;
  // kRatio: input columns.
  std::string numerator;
  std::string denominator;
  // Whether the source column may be missing in a request (from the schema).
  bool allow_missing = false;
};

// A raw record as a request carries it: column name -> text value ("" or absent = missing).
using RawRecord = std::map<std::string, std::string, std::less<>>;

// One typed input value of a record (the serving hot path parses JSON straight into these).
struct FeatureInput {
  // kUnknownCategory: a categorical value outside every declared level that the caller's policy
  // maps to the unknown bucket (as a declared level unseen in training is).
  enum class Kind { kMissing, kNumber, kText, kUnknownCategory };
  Kind kind = Kind::kMissing;
  double number = 0;
  // kText: the category value; must outlive the Encode call.
  absl::string_view text{};

  static FeatureInput Missing() { return {}; }

  static FeatureInput Number(double v) { return {.kind = Kind::kNumber, .number = v}; }

  static FeatureInput Text(absl::string_view t) { return {.kind = Kind::kText, .text = t}; }

  static FeatureInput UnknownCategory() { return {.kind = Kind::kUnknownCategory}; }
};

class FeaturePipeline {
 public:
  // Fits on `train`, which must hold every feature column of `schema`. InvalidArgument otherwise.
  static absl::StatusOr<FeaturePipeline> Fit(const data::Table& train, const data::Schema& schema);
  // Parses the JSON written by ToJson. InvalidArgument naming the field when it is malformed.
  static absl::StatusOr<FeaturePipeline> FromJson(absl::string_view text);

  std::string ToJson() const;

  const std::vector<EncodedFeature>& Features() const { return features_; }

  size_t NumFeatures() const { return features_.size(); }

  std::vector<std::string> FeatureNames() const;

  // The schema hash the pipeline was fitted under.
  const std::string& SchemaHash() const { return schema_hash_; }

  // Row-major matrix of num_rows x num_features floats. InvalidArgument when `table` lacks a
  // column the pipeline needs.
  absl::StatusOr<std::vector<float>> Transform(const data::Table& table) const;

  // One record. InvalidArgument naming the field when a required value is absent or a value does
  // not parse; a categorical value outside the fitted levels but declared in the schema maps to
  // the unknown bucket, one never declared is an error.
  absl::StatusOr<std::vector<float>> TransformRecord(const RawRecord& record) const;

  // The same from typed inputs, one per feature (index j of Features(); the entries of ratio
  // features are ignored: they are computed from their inputs), into `out` (NumFeatures()
  // floats). InvalidArgument naming the field for a required input that is missing, a number
  // that is not finite, a number given for a categorical feature or text for a numeric one, or a
  // category never declared. TransformRecord is this after parsing the text values.
  absl::Status Encode(absl::Span<const FeatureInput> inputs, absl::Span<float> out) const;

 private:
  // The code of a categorical value: its fitted index, the unknown bucket for a declared level
  // unseen in training, InvalidArgument for anything else.
  absl::StatusOr<float> EncodeCategory(const EncodedFeature& f, absl::string_view value) const;

  // Resolves each ratio feature's inputs to feature indices (after Fit and FromJson).
  absl::Status Link();

  std::vector<EncodedFeature> features_;
  // Per feature: for a ratio, the indices of its numerator and denominator features; else -1.
  std::vector<std::pair<int, int>> ratio_inputs_;
  // Every level the schema declares per categorical column (to tell "unseen" from "invalid").
  std::map<std::string, std::vector<std::string>, std::less<>> declared_levels_;
  std::string schema_hash_;
};

// 0/1 labels of `table` under the schema's target and positive value. InvalidArgument when the
// target column is absent or has a missing value.
absl::StatusOr<std::vector<float>> Labels(const data::Table& table, const data::Schema& schema);

}  // namespace churn::features

#endif  // CHURN_FEATURES_PIPELINE_H_
