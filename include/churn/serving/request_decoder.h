// File: churn/serving/request_decoder.h
//
// The serving contract of a model, enforced on every request: JSON records with the lowercase
// names of the schema's feature columns ("customer_age") and raw category values ("M",
// "Graduate"), the shape of the reference system's request. A decoder checks each field against
// the schema (type, finite, range, declared category) and encodes the record with the model's
// feature pipeline, in one pass over the JSON (simdjson On-Demand). Every error names the field:
//   field 'customer_age': expected a number, got a string
//   field 'gender': unknown category 'X' (expected one of F, M)
//   field 'total_trans_ct' is required
// Fields the contract does not know are ignored, except the schema's entity key
// ("clientnum"), which is kept as the customer id. Immutable and thread-safe.
#ifndef CHURN_SERVING_REQUEST_DECODER_H_
#define CHURN_SERVING_REQUEST_DECODER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "churn/data/schema.h"
#include "churn/data/table.h"
#include "churn/features/pipeline.h"

namespace churn::serving {

// What a categorical value outside the declared levels becomes.
enum class UnknownCategoryPolicy {
  kReject,         // 400 naming the field and the levels
  kUnknownBucket,  // the pipeline's unknown bucket, counted per field
};

absl::StatusOr<UnknownCategoryPolicy> UnknownCategoryPolicyFromString(absl::string_view name);

// One accepted record.
struct DecodedRecord {
  // The model's input: pipeline.NumFeatures() floats (NaN = missing).
  std::vector<float> features{};
  // The accepted fields as a JSON object, for the prediction log.
  std::string inputs_json{};
  // The entity key's value when the request carried it, else empty.
  std::string customer_id{};
  // Contract fields (indices into RequestDecoder::Fields()) mapped to the unknown bucket.
  std::vector<int> unknown_fields{};
};

class RequestDecoder {
 public:
  // InvalidArgument when the pipeline reads a column the schema does not declare as a feature.
  static absl::StatusOr<RequestDecoder> Create(const data::Schema& schema,
                                               const features::FeaturePipeline& pipeline,
                                               UnknownCategoryPolicy policy);

  // One JSON object: {"customer_age": 45, "gender": "M", ...}.
  absl::Status DecodeOne(absl::string_view json, DecodedRecord* out) const;

  // {"records": [{...}, ...]} or a bare array of objects; at most `max_records` (more is
  // InvalidArgument saying so). An error names the record's index and the field.
  absl::Status DecodeBatch(absl::string_view json, size_t max_records,
                           std::vector<DecodedRecord>* out) const;

  // An Open Inference Protocol v2 request, columnar: {"id": "...", "inputs": [{"name":
  // "customer_age", "datatype": "INT64", "shape": [N], "data": [...]}, ...]}: one input per
  // contract field, N records each (data may also be nested per record: shape [N, 1]).
  absl::Status DecodeInferRequest(absl::string_view json, size_t max_records, std::string* id,
                                  std::vector<DecodedRecord>* out) const;

  // The contract's lowercase field names, one per feature column the pipeline reads.
  const std::vector<std::string>& Fields() const { return fields_; }

  // "FP64", "INT64" or "BYTES" per field (the OIP v2 datatypes of the metadata endpoint).
  std::string FieldDatatype(size_t field) const;

  // Whether a field may be absent or null.
  bool FieldAllowsMissing(size_t field) const { return specs_[field].allow_missing; }

 private:
  // One JSON value, as the decoder sees it (text points into the parsed document).
  struct RawValue {
    enum class Kind { kNull, kNumber, kString, kOther };
    Kind kind = Kind::kNull;
    double number = 0;
    absl::string_view text{};
  };
  class Builder;

  RequestDecoder() = default;

  // The contract field a JSON key names, or -1.
  int FieldIndex(absl::string_view key) const;
  // Checks one value of contract field `field` and stores it in `builder`.
  absl::Status Accept(size_t field, const RawValue& value, Builder* builder) const;
  absl::Status AcceptCategory(size_t field, const RawValue& value, Builder* builder) const;
  absl::Status AcceptNumber(size_t field, const RawValue& value, Builder* builder) const;
  // Appends "<field>": to the builder's inputs JSON.
  void AppendInputKey(size_t field, Builder* builder) const;
  // Encodes what `builder` holds (missing fields included) into `out`.
  absl::Status Finish(Builder* builder, DecodedRecord* out) const;
  // One record from a simdjson object (only instantiated in request_decoder.cc).
  template <typename Object>
  absl::Status DecodeRecordObject(Object& object, DecodedRecord* out) const;
  // Records from OIP v2 input columns (only instantiated in request_decoder.cc).
  template <typename Columns>
  absl::Status DecodeColumns(const Columns& columns, size_t max_records,
                             std::vector<DecodedRecord>* out) const;

  std::vector<std::string> fields_{};
  std::vector<data::ColumnSpec> specs_{};
  // Per field: the pipeline feature it feeds.
  std::vector<size_t> feature_of_{};
  absl::flat_hash_map<std::string, size_t> index_{};
  std::string entity_key_{};  // lowercase
  features::FeaturePipeline pipeline_{};
  UnknownCategoryPolicy policy_ = UnknownCategoryPolicy::kReject;
};

// Row `row` of `table` as the JSON record a client sends under this contract: the schema's
// feature columns with lowercase names, categories as their text, missing values null; the
// entity key too when `with_entity` (its value as a string); never the target. (The deploy
// gates' canary requests and the HTTP simulator's traffic.)
std::string RecordJson(const data::Schema& schema, const data::Table& table, size_t row,
                       bool with_entity = false);

// The inverse: appends the JSON record (as RecordJson writes it and the prediction log keeps it:
// lowercase names, categories as text, null or absent for missing) as a row of `table`, which
// has a column per non-dropped column of `schema` (data::Table(schema)). Columns the record
// lacks (the target, the entity key) are missing. InvalidArgument naming the field when the text
// is not an object, a number is not a number, or a category is not one of the column's levels;
// the table is unchanged then.
absl::Status AppendRecordJson(absl::string_view json, data::Table* table);

}  // namespace churn::serving

#endif  // CHURN_SERVING_REQUEST_DECODER_H_
