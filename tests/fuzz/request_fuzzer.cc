// Fuzzes the serving request contract (RequestDecoder: one record, a batch, an OIP v2 infer
// request) for the bank_churners schema and a pipeline fitted on synthetic rows: any input must
// be decoded or refused with InvalidArgument, never crash, leak or hang; a decoded record has
// one value per feature and its logged inputs are JSON text. The same input read as a logged
// record (AppendRecordJson) appends one whole row or none.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

#include "churn/base/file.h"
#include "churn/data/csv_table.h"
#include "churn/data/schema.h"
#include "churn/data/synth.h"
#include "churn/data/table.h"
#include "churn/features/pipeline.h"
#include "churn/serving/request_decoder.h"

namespace {

const churn::data::Schema& Schema() {
  static const churn::data::Schema* const kSchema = [] {
    auto yaml = churn::base::ReadFile(CHURN_SCHEMA_PATH);
    return new churn::data::Schema(churn::data::ParseSchemaYaml(yaml.value()).value());
  }();
  return *kSchema;
}

const churn::serving::RequestDecoder& Decoder() {
  static const churn::serving::RequestDecoder* const kDecoder = [] {
    const churn::data::Schema* schema = &Schema();
    auto csv = churn::data::GenerateSynthCsv({.rows = 500, .seed = 3});
    auto table = churn::data::ReadCsvTable(csv.value(), *schema, {});
    auto pipeline = churn::features::FeaturePipeline::Fit(table.value().table, *schema);
    auto decoder = churn::serving::RequestDecoder::Create(
        *schema, pipeline.value(), churn::serving::UnknownCategoryPolicy::kUnknownBucket);
    return new churn::serving::RequestDecoder(std::move(decoder).value());
  }();
  return *kDecoder;
}

void Check(const absl::Status& status, const std::vector<churn::serving::DecodedRecord>& records,
           size_t features) {
  if (!status.ok()) {
    if (status.code() != absl::StatusCode::kInvalidArgument) {
      std::abort();
    }
    return;
  }
  for (const auto& r : records) {
    if (r.features.size() != features || !nlohmann::json::accept(r.inputs_json)) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const churn::serving::RequestDecoder& decoder = Decoder();
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t features = Decoder().Fields().size() + 1;  // + the derived ratio
  std::vector<churn::serving::DecodedRecord> records(1);
  Check(decoder.DecodeOne(text, &records[0]), records, features);
  Check(decoder.DecodeBatch(text, 50, &records), records, features);
  std::string id;
  Check(decoder.DecodeInferRequest(text, 50, &id, &records), records, features);
  // The prediction log's reader: a row appended, or InvalidArgument and the table as it was.
  churn::data::Table table(Schema());
  const absl::Status appended = churn::serving::AppendRecordJson(text, &table);
  const size_t rows = appended.ok() ? 1 : 0;
  if ((!appended.ok() && appended.code() != absl::StatusCode::kInvalidArgument) ||
      table.NumRows() != rows) {
    std::abort();
  }
  for (const churn::data::Column& c : table.Columns()) {
    if (c.size() != rows) {
      std::abort();
    }
  }
  return 0;
}
