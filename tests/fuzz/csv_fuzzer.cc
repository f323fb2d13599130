// Fuzzes the CSV reader end to end: byte checks, the RFC 4180 parser and schema validation into a
// typed table. Any input must give a table or an error status, never a crash, a leak, undefined
// behaviour or a parser that stops making progress.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "churn/data/csv.h"
#include "churn/data/csv_table.h"
#include "churn/data/schema.h"

namespace {

constexpr char kSchemaYaml[] = R"yaml(
name: fuzz
target: y
positive_value: "yes"
entity_key: id
policy: {wrong_type: drop_row, unknown_category: treat_as_missing}
columns:
  - {name: id, type: string, role: entity_key}
  - {name: y, type: categorical, role: target, levels: ["no", "yes"]}
  - {name: n, type: integer, min: 0, max: 100}
  - {name: x, type: float, allow_missing: true}
  - {name: c, type: categorical, levels: [a, b]}
)yaml";

const churn::data::Schema& FuzzSchema() {
  static const auto* const kFuzzSchema =
      new churn::data::Schema(*churn::data::ParseSchemaYaml(kSchemaYaml));
  return *kFuzzSchema;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  churn::data::ReadTableOptions options;
  options.csv.max_record_bytes = 4096;
  // Split even tiny inputs, so the chunked path (split points, line offsets, merge) is fuzzed too.
  if (size > 0 && data[0] % 2 == 0) {
    options.parallel_bytes = 0;
  }
  // The raw parser on its own, without the byte checks in front of it.
  churn::data::CsvParser parser(input, options.csv);
  std::vector<absl::string_view> fields;
  size_t last_end = 0;
  for (int records = 0; records < 100000; ++records) {
    auto more = parser.Next(&fields);
    if (!more.ok() || !*more) {
      break;
    }
    if (parser.RecordEnd() <= last_end && records > 0) {
      std::abort();  // no progress
    }
    last_end = parser.RecordEnd();
  }
  // The whole reader.
  auto result = churn::data::ReadCsvTable(input, FuzzSchema(), options);
  if (result.ok()) {
    const churn::data::Table& table = result->table;
    for (const auto& column : table.Columns()) {
      if (column.size() != table.NumRows()) {
        std::abort();  // every column must have one cell per row
      }
    }
  }
  return 0;
}
