#include "churn/serving/request_decoder.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
// Every simdjson call here checks its error code: the serving module compiles with
// SIMDJSON_EXCEPTIONS=0, so a conversion that would throw on bad input does not compile.
#include "nlohmann/json.hpp"
#include "simdjson.h"

#include "churn/base/json_text.h"
#include "churn/base/status_macros.h"

namespace churn::serving {
namespace {

namespace od = simdjson::ondemand;
using features::FeatureInput;

constexpr size_t kMaxKeyBytes = 128;

// simdjson reads SIMDJSON_PADDING bytes past the end: parse from a padded per-thread copy.
od::parser& Parser() {
  thread_local od::parser parser;
  return parser;
}

simdjson::padded_string_view Padded(absl::string_view json) {
  thread_local std::string buffer;
  buffer.assign(json.data(), json.size());
  buffer.resize(json.size() + simdjson::SIMDJSON_PADDING);
  return simdjson::padded_string_view(buffer.data(), json.size(), buffer.size());
}

absl::Status JsonError(absl::string_view where, simdjson::error_code error) {
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": malformed JSON (", simdjson::error_message(error), ")"));
}

// Whether the first non-blank byte opens an object (then a parse error means malformed JSON).
bool StartsObject(absl::string_view json) {
  const size_t at = json.find_first_not_of(" \t\r\n");
  return at != absl::string_view::npos && json[at] == '{';
}

absl::string_view TypeName(od::json_type type) {
  switch (type) {
    case od::json_type::array:
      return "an array";
    case od::json_type::object:
      return "an object";
    case od::json_type::number:
      return "a number";
    case od::json_type::string:
      return "a string";
    case od::json_type::boolean:
      return "a boolean";
    case od::json_type::null:
      return "null";
  }
  return "a value";
}

}  // namespace

// What one record has accepted so far.
class RequestDecoder::Builder {
 public:
  explicit Builder(size_t num_features, size_t num_fields)
      : inputs(num_features), seen(num_fields, false) {}

  std::vector<FeatureInput> inputs;
  std::vector<bool> seen;
  std::string inputs_json = "{";
  std::string customer_id{};
  std::vector<int> unknown_fields{};
};

absl::StatusOr<UnknownCategoryPolicy> UnknownCategoryPolicyFromString(absl::string_view name) {
  if (name == "reject") {
    return UnknownCategoryPolicy::kReject;
  }
  if (name == "unknown_bucket") {
    return UnknownCategoryPolicy::kUnknownBucket;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown category policy '", name, "': expected reject or unknown_bucket"));
}

absl::StatusOr<RequestDecoder> RequestDecoder::Create(const data::Schema& schema,
                                                      const features::FeaturePipeline& pipeline,
                                                      UnknownCategoryPolicy policy) {
  RequestDecoder d;
  d.pipeline_ = pipeline;
  d.policy_ = policy;
  d.entity_key_ = absl::AsciiStrToLower(schema.entity_key);
  const auto& features = pipeline.Features();
  for (size_t j = 0; j < features.size(); ++j) {
    if (features[j].kind == features::EncodedFeature::Kind::kRatio) {
      continue;
    }
    const data::ColumnSpec* spec = schema.Find(features[j].name);
    if (spec == nullptr || spec->role != data::ColumnRole::kFeature) {
      return absl::InvalidArgumentError(absl::StrCat("the pipeline reads '", features[j].name,
                                                     "', which the schema has no feature for"));
    }
    const std::string field = absl::AsciiStrToLower(spec->name);
    if (!d.index_.emplace(field, d.fields_.size()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("two schema columns are both '", field, "' in lowercase"));
    }
    d.fields_.push_back(field);
    d.specs_.push_back(*spec);
    d.feature_of_.push_back(j);
  }
  return d;
}

std::string RequestDecoder::FieldDatatype(size_t field) const {
  switch (specs_[field].type) {
    case data::ColumnType::kInteger:
      return "INT64";
    case data::ColumnType::kFloat:
      return "FP64";
    default:
      return "BYTES";
  }
}

int RequestDecoder::FieldIndex(absl::string_view key) const {
  if (key.size() > kMaxKeyBytes) {
    return -1;
  }
  char lower[kMaxKeyBytes];
  for (size_t i = 0; i < key.size(); ++i) {
    lower[i] = absl::ascii_tolower(static_cast<unsigned char>(key[i]));
  }
  const auto it = index_.find(absl::string_view(lower, key.size()));
  return it == index_.end() ? -1 : static_cast<int>(it->second);
}

absl::Status RequestDecoder::Accept(size_t field, const RawValue& value, Builder* b) const {
  const std::string& name = fields_[field];
  if (b->seen[field]) {
    return absl::InvalidArgumentError(absl::StrCat("field '", name, "' is given twice"));
  }
  b->seen[field] = true;
  if (value.kind == RawValue::Kind::kNull) {
    return absl::OkStatus();  // missing; Finish checks whether that is allowed
  }
  if (specs_[field].type == data::ColumnType::kCategorical) {
    return AcceptCategory(field, value, b);
  }
  return AcceptNumber(field, value, b);
}

void RequestDecoder::AppendInputKey(size_t field, Builder* b) const {
  if (b->inputs_json.size() > 1) {
    b->inputs_json.push_back(',');
  }
  base::AppendJsonString(fields_[field], &b->inputs_json);
  b->inputs_json.push_back(':');
}

absl::Status RequestDecoder::AcceptCategory(size_t field, const RawValue& value, Builder* b) const {
  const data::ColumnSpec& spec = specs_[field];
  const std::string& name = fields_[field];
  if (value.kind != RawValue::Kind::kString) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field '", name, "': expected one of ", absl::StrJoin(spec.levels, ", "), ", got ",
        value.kind == RawValue::Kind::kNumber ? "a number" : "another JSON type"));
  }
  FeatureInput& input = b->inputs[feature_of_[field]];
  if (spec.LevelIndex(value.text) >= 0) {
    input = FeatureInput::Text(value.text);
  } else if (policy_ == UnknownCategoryPolicy::kReject) {
    return absl::InvalidArgumentError(absl::StrCat("field '", name, "': unknown category '",
                                                   value.text, "' (expected one of ",
                                                   absl::StrJoin(spec.levels, ", "), ")"));
  } else {
    input = FeatureInput::UnknownCategory();
    b->unknown_fields.push_back(static_cast<int>(field));
  }
  AppendInputKey(field, b);
  base::AppendJsonString(value.text, &b->inputs_json);
  return absl::OkStatus();
}

absl::Status RequestDecoder::AcceptNumber(size_t field, const RawValue& value, Builder* b) const {
  const data::ColumnSpec& spec = specs_[field];
  const std::string& name = fields_[field];
  if (value.kind != RawValue::Kind::kNumber) {
    return absl::InvalidArgumentError(
        absl::StrCat("field '", name, "': expected a number, got ",
                     value.kind == RawValue::Kind::kString ? "a string" : "another JSON type"));
  }
  const double v = value.number;
  if (!std::isfinite(v)) {
    return absl::InvalidArgumentError(absl::StrCat("field '", name, "': not a finite number"));
  }
  if (spec.type == data::ColumnType::kInteger && v != std::floor(v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("field '", name, "': expected an integer, got ", v));
  }
  if ((spec.min && v < *spec.min) || (spec.max && v > *spec.max)) {
    return absl::InvalidArgumentError(absl::StrCat("field '", name, "': ", v, " is out of range [",
                                                   spec.min ? absl::StrCat(*spec.min) : "-inf",
                                                   ", ", spec.max ? absl::StrCat(*spec.max) : "inf",
                                                   "]"));
  }
  b->inputs[feature_of_[field]] = FeatureInput::Number(v);
  AppendInputKey(field, b);
  base::AppendJsonNumber(v, &b->inputs_json);
  return absl::OkStatus();
}

absl::Status RequestDecoder::Finish(Builder* b, DecodedRecord* out) const {
  for (size_t f = 0; f < fields_.size(); ++f) {
    if (b->inputs[feature_of_[f]].kind == FeatureInput::Kind::kMissing &&
        !specs_[f].allow_missing) {
      return absl::InvalidArgumentError(absl::StrCat("field '", fields_[f], "' is required"));
    }
  }
  out->features.assign(pipeline_.NumFeatures(), std::numeric_limits<float>::quiet_NaN());
  CHURN_RETURN_IF_ERROR(pipeline_.Encode(b->inputs, absl::MakeSpan(out->features)));
  b->inputs_json.push_back('}');
  out->inputs_json = std::move(b->inputs_json);
  out->customer_id = std::move(b->customer_id);
  out->unknown_fields = std::move(b->unknown_fields);
  return absl::OkStatus();
}

namespace {

// The RawValue of a simdjson value (consumes it).
template <typename Value, typename Raw>
simdjson::error_code ReadValue(Value& value, Raw* raw) {
  od::json_type type{};
  if (auto error = value.type().get(type)) {
    return error;
  }
  switch (type) {
    case od::json_type::null: {
      raw->kind = Raw::Kind::kNull;
      bool is_null = false;
      if (auto error = value.is_null().get(is_null)) {
        return error;
      }
      return is_null ? simdjson::SUCCESS : simdjson::INCORRECT_TYPE;
    }
    case od::json_type::number:
      raw->kind = Raw::Kind::kNumber;
      return value.get_double().get(raw->number);
    case od::json_type::string: {
      raw->kind = Raw::Kind::kString;
      std::string_view text;
      auto error = value.get_string().get(text);
      raw->text = absl::string_view(text.data(), text.size());
      return error;
    }
    default:  // left unread: On-Demand skips it when the iteration moves on
      raw->kind = Raw::Kind::kOther;
      raw->text = TypeName(type);
      return simdjson::SUCCESS;
  }
}

// The text of an entity-key value (a string or an integer).
template <typename Raw>
std::string EntityText(const Raw& raw) {
  if (raw.kind == Raw::Kind::kString) {
    return std::string(raw.text);
  }
  if (raw.kind == Raw::Kind::kNumber) {
    std::string out;
    base::AppendJsonNumber(raw.number, &out);
    return out;
  }
  return "";
}

}  // namespace

absl::Status RequestDecoder::DecodeOne(absl::string_view json, DecodedRecord* out) const {
  od::document doc;
  if (auto error = Parser().iterate(Padded(json)).get(doc)) {
    return JsonError("request", error);
  }
  od::object object;
  if (auto error = doc.get_object().get(object)) {
    return error == simdjson::INCORRECT_TYPE && !StartsObject(json)
               ? absl::InvalidArgumentError("request: expected a JSON object of fields")
               : JsonError("request", error);
  }
  return DecodeRecordObject(object, out);
}

template <typename Object>
absl::Status RequestDecoder::DecodeRecordObject(Object& object, DecodedRecord* out) const {
  Builder builder(pipeline_.NumFeatures(), fields_.size());
  for (auto member : object) {
    std::string_view key;
    if (auto error = member.unescaped_key().get(key)) {
      return JsonError("request", error);
    }
    const absl::string_view k(key.data(), key.size());
    const int field = FieldIndex(k);
    const bool is_entity =
        field < 0 && !entity_key_.empty() && absl::EqualsIgnoreCase(k, entity_key_);
    if (field < 0 && !is_entity) {
      continue;  // not part of the contract: skipped unread
    }
    auto value = member.value();
    RawValue raw;
    if (auto error = ReadValue(value, &raw)) {
      return JsonError(absl::StrCat("field '", k, "'"), error);
    }
    if (is_entity) {
      builder.customer_id = EntityText(raw);
      continue;
    }
    CHURN_RETURN_IF_ERROR(Accept(static_cast<size_t>(field), raw, &builder));
  }
  return Finish(&builder, out);
}

absl::Status RequestDecoder::DecodeBatch(absl::string_view json, size_t max_records,
                                         std::vector<DecodedRecord>* out) const {
  od::document doc;
  if (auto error = Parser().iterate(Padded(json)).get(doc)) {
    return JsonError("batch", error);
  }
  od::array records;
  od::json_type type{};
  if (auto error = doc.type().get(type)) {
    return JsonError("batch", error);
  }
  if (type == od::json_type::object) {
    if (doc["records"].get_array().get(records) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(R"(batch: expected {"records": [...]} or an array)");
    }
  } else if (doc.get_array().get(records) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(R"(batch: expected {"records": [...]} or an array)");
  }
  out->clear();
  for (auto element : records) {
    if (out->size() == max_records) {
      return absl::InvalidArgumentError(
          absl::StrCat("batch: more than ", max_records, " records (the limit)"));
    }
    od::object object;
    if (element.get_object().get(object) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("batch: record ", out->size(), " is not a JSON object"));
    }
    DecodedRecord record;
    if (absl::Status status = DecodeRecordObject(object, &record); !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("batch: record ", out->size(), ": ", status.message()));
    }
    out->push_back(std::move(record));
  }
  return absl::OkStatus();
}

namespace {

// One OIP v2 input tensor: its name and its values (a [N] or [N, 1] shape, flattened).
template <typename Raw>
struct Column {
  std::string name{};
  std::vector<Raw> values{};
};

// `nested`: inside a row's [1] array (shape [N, 1]); deeper nesting is refused.
template <typename Raw>
simdjson::error_code ReadData(od::value data, std::vector<Raw>* values, bool nested = false) {
  od::array array;
  if (auto error = data.get_array().get(array)) {
    return error;
  }
  for (auto element : array) {
    od::value v;
    if (auto error = element.get(v)) {
      return error;
    }
    od::json_type type{};
    if (auto error = v.type().get(type)) {
      return error;
    }
    if (type == od::json_type::array) {  // [N, 1]: one value per row
      if (nested) {
        return simdjson::INCORRECT_TYPE;
      }
      if (auto error = ReadData(v, values, true)) {
        return error;
      }
      continue;
    }
    Raw raw;
    if (auto error = ReadValue(v, &raw)) {
      return error;
    }
    values->push_back(raw);
  }
  return simdjson::SUCCESS;
}

template <typename Raw>
absl::Status ReadInput(od::object input, Column<Raw>* column) {
  for (auto member : input) {
    std::string_view key;
    if (auto error = member.unescaped_key().get(key)) {
      return JsonError("inputs", error);
    }
    if (key == "name") {
      std::string_view name;
      if (member.value().get_string().get(name) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError("inputs: 'name' must be a string");
      }
      column->name = std::string(name);
    } else if (key == "data") {
      od::value data;
      auto error = member.value().get(data);
      if (!error) {
        error = ReadData(data, &column->values);
      }
      if (error) {
        return JsonError(absl::StrCat("input '", column->name, "' data"), error);
      }
    }
  }
  if (column->name.empty()) {
    return absl::InvalidArgumentError("inputs: every input needs a 'name'");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RequestDecoder::DecodeInferRequest(absl::string_view json, size_t max_records,
                                                std::string* id,
                                                std::vector<DecodedRecord>* out) const {
  od::document doc;
  if (auto error = Parser().iterate(Padded(json)).get(doc)) {
    return JsonError("infer request", error);
  }
  od::object object;
  if (auto error = doc.get_object().get(object)) {
    return error == simdjson::INCORRECT_TYPE && !StartsObject(json)
               ? absl::InvalidArgumentError("infer request: expected a JSON object")
               : JsonError("infer request", error);
  }
  std::vector<Column<RawValue>> columns;
  for (auto member : object) {
    std::string_view key;
    if (auto error = member.unescaped_key().get(key)) {
      return JsonError("infer request", error);
    }
    if (key == "id") {
      std::string_view text;
      if (member.value().get_string().get(text) == simdjson::SUCCESS) {
        *id = std::string(text);
      }
    } else if (key == "inputs") {
      od::array inputs;
      if (member.value().get_array().get(inputs) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError("infer request: 'inputs' must be an array");
      }
      for (auto input : inputs) {
        od::object input_object;
        if (input.get_object().get(input_object) != simdjson::SUCCESS) {
          return absl::InvalidArgumentError("infer request: each input must be an object");
        }
        CHURN_RETURN_IF_ERROR(ReadInput(input_object, &columns.emplace_back()));
      }
    }
  }
  return DecodeColumns(columns, max_records, out);
}

template <typename Columns>
absl::Status RequestDecoder::DecodeColumns(const Columns& columns, size_t max_records,
                                           std::vector<DecodedRecord>* out) const {
  const size_t rows = columns.empty() ? 0 : columns.front().values.size();
  if (rows == 0) {
    return absl::InvalidArgumentError("infer request: no inputs with data");
  }
  if (rows > max_records) {
    return absl::InvalidArgumentError(
        absl::StrCat("infer request: more than ", max_records, " records (the limit)"));
  }
  std::vector<Builder> builders(rows, Builder(pipeline_.NumFeatures(), fields_.size()));
  for (const auto& column : columns) {
    if (column.values.size() != rows) {
      return absl::InvalidArgumentError(absl::StrCat("infer request: input '", column.name,
                                                     "' has ", column.values.size(),
                                                     " values, the first input ", rows));
    }
    const int field = FieldIndex(column.name);
    const bool is_entity =
        field < 0 && !entity_key_.empty() && absl::EqualsIgnoreCase(column.name, entity_key_);
    for (size_t r = 0; r < rows && (field >= 0 || is_entity); ++r) {
      if (is_entity) {
        builders[r].customer_id = EntityText(column.values[r]);
        continue;
      }
      if (absl::Status status = Accept(static_cast<size_t>(field), column.values[r], &builders[r]);
          !status.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("infer request: record ", r, ": ", status.message()));
      }
    }
  }
  out->assign(rows, DecodedRecord{});
  for (size_t r = 0; r < rows; ++r) {
    if (absl::Status status = Finish(&builders[r], &(*out)[r]); !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("infer request: record ", r, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

std::string RecordJson(const data::Schema& schema, const data::Table& table, size_t row,
                       bool with_entity) {
  std::string out = "{";
  for (const data::Column& c : table.Columns()) {
    const bool entity = with_entity && c.spec.name == schema.entity_key;
    if (c.spec.role != data::ColumnRole::kFeature && !entity) {
      continue;
    }
    if (out.size() > 1) {
      out.push_back(',');
    }
    base::AppendJsonString(absl::AsciiStrToLower(c.spec.name), &out);
    out.push_back(':');
    if (c.IsMissing(row)) {
      out.append("null");
    } else if (c.spec.type == data::ColumnType::kCategorical) {
      base::AppendJsonString(c.spec.levels[static_cast<size_t>(c.codes[row])], &out);
    } else if (c.spec.type == data::ColumnType::kInteger) {
      absl::StrAppend(&out, entity ? "\"" : "", c.ints[row], entity ? "\"" : "");
    } else if (c.spec.type == data::ColumnType::kFloat) {
      base::AppendJsonNumber(c.floats[row], &out);
    } else {
      base::AppendJsonString(c.strings[row], &out);
    }
  }
  out.push_back('}');
  return out;
}

namespace {

bool IsMissing(const nlohmann::json* v) {
  return v == nullptr || v->is_null();
}

// InvalidArgument naming the field when `v` does not fit column `c` (absent or null fits any).
absl::Status CheckCell(const nlohmann::json* v, const std::string& field, const data::Column& c) {
  if (IsMissing(v)) {
    return absl::OkStatus();
  }
  absl::string_view problem;
  switch (c.spec.type) {
    case data::ColumnType::kInteger:
      // Within +-2^63 (exactly representable bounds), so the cast to int64 is defined.
      if (!v->is_number() || std::trunc(v->get<double>()) != v->get<double>() ||
          !(std::fabs(v->get<double>()) < 9223372036854775808.0)) {
        problem = "expected an integer";
      }
      break;
    case data::ColumnType::kFloat:
      if (!v->is_number()) {
        problem = "expected a number";
      }
      break;
    case data::ColumnType::kCategorical:
      if (!v->is_string() || c.spec.LevelIndex(v->get<std::string>()) < 0) {
        problem = "not one of the declared levels";
      }
      break;
    default:
      break;
  }
  return problem.empty() ? absl::OkStatus()
                         : absl::InvalidArgumentError(absl::StrCat("field ", field, ": ", problem));
}

// Appends `v` (checked by CheckCell) to column `c`.
void AppendCell(const nlohmann::json* v, data::Column& c) {
  const bool missing = IsMissing(v);
  c.missing.push_back(missing ? 1 : 0);
  switch (c.spec.type) {
    case data::ColumnType::kInteger:
      c.ints.push_back(missing ? 0 : static_cast<int64_t>(v->get<double>()));
      break;
    case data::ColumnType::kFloat:
      c.floats.push_back(missing ? 0.0 : v->get<double>());
      break;
    case data::ColumnType::kCategorical:
      c.codes.push_back(missing ? -1 : c.spec.LevelIndex(v->get<std::string>()));
      break;
    default:
      c.strings.push_back(missing ? "" : (v->is_string() ? v->get<std::string>() : v->dump()));
      break;
  }
}

}  // namespace

absl::Status AppendRecordJson(absl::string_view json, data::Table* table) {
  const nlohmann::json record = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (!record.is_object()) {
    return absl::InvalidArgumentError("record: not a JSON object");
  }
  std::vector<data::Column>& columns = table->MutableColumns();
  for (auto it = record.begin(); it != record.end(); ++it) {
    const std::string& key = it.key();
    if (std::none_of(columns.begin(), columns.end(), [&key](const data::Column& c) {
          return absl::AsciiStrToLower(c.spec.name) == key;
        })) {
      return absl::InvalidArgumentError(
          absl::StrCat("field ", key, ": not a column of the schema"));
    }
  }
  // Every field is checked before any is appended, so a bad record leaves the table as it was.
  std::vector<const nlohmann::json*> values;
  for (const data::Column& c : columns) {
    const std::string field = absl::AsciiStrToLower(c.spec.name);
    const auto it = record.find(field);
    values.push_back(it == record.end() ? nullptr : &*it);
    CHURN_RETURN_IF_ERROR(CheckCell(values.back(), field, c));
  }
  for (size_t i = 0; i < columns.size(); ++i) {
    AppendCell(values[i], columns[i]);
  }
  table->CommitRow();
  return absl::OkStatus();
}

}  // namespace churn::serving
