// Test-only: the bank_churners schema and synthetic tables (optionally drifted) for the drift
// tests, and a table as the matrix a served model's monitor sees (numbers as themselves,
// categories as their codes, NaN for missing), one column per schema feature.
#ifndef CHURN_TESTS_DRIFT_DRIFT_FIXTURE_H_
#define CHURN_TESTS_DRIFT_DRIFT_FIXTURE_H_

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "testing/test_env.h"

#include "churn/data/csv_table.h"
#include "churn/data/schema.h"
#include "churn/data/synth.h"
#include "churn/data/table.h"
#include "churn/drift/reference.h"

namespace churn::drift::testing {

inline data::Schema BankSchema() {
  absl::StatusOr<data::Schema> schema =
      data::LoadSchemaFile(churn::testing::SourceDir() + "/configs/bank_churners.yaml");
  EXPECT_TRUE(schema.ok()) << schema.status();
  return schema.ok() ? *schema : data::Schema{};
}

inline data::Table Synth(const data::Schema& schema, int64_t rows, uint64_t seed,
                         const std::vector<std::string>& drift = {}) {
  data::SynthOptions options{.rows = rows, .seed = seed};
  for (const std::string& spec : drift) {
    absl::StatusOr<data::SynthDrift> d = data::ParseSynthDrift(spec);
    EXPECT_TRUE(d.ok()) << d.status();
    if (d.ok()) {
      options.drift.push_back(*d);
    }
  }
  absl::StatusOr<std::string> csv = data::GenerateSynthCsv(options);
  EXPECT_TRUE(csv.ok()) << csv.status();
  absl::StatusOr<data::ReadTableResult> read =
      data::ReadCsvTable(csv.ok() ? *csv : "", schema, data::ReadTableOptions{});
  EXPECT_TRUE(read.ok()) << read.status();
  return read.ok() ? std::move(read->table) : data::Table{};
}

// The schema's feature columns as monitored features, index = position among them.
inline std::vector<MonitoredFeature> FeaturesOf(const data::Schema& schema) {
  std::vector<MonitoredFeature> out;
  for (const data::ColumnSpec* spec : schema.Features()) {
    const bool categorical = spec->type == data::ColumnType::kCategorical;
    out.push_back({.name = spec->name,
                   .kind = categorical ? ColumnKind::kCategorical : ColumnKind::kNumeric,
                   .index = out.size(),
                   .levels = categorical ? spec->levels : std::vector<std::string>{}});
  }
  return out;
}

// Row-major, one float per schema feature.
inline std::vector<float> MatrixOf(const data::Schema& schema, const data::Table& table) {
  const std::vector<const data::ColumnSpec*> features = schema.Features();
  std::vector<float> out(table.NumRows() * features.size());
  for (size_t c = 0; c < features.size(); ++c) {
    const data::Column* column = table.Find(features[c]->name);
    for (size_t r = 0; r < table.NumRows(); ++r) {
      out[r * features.size() + c] =
          column == nullptr ? std::nanf("") : static_cast<float>(column->AsDouble(r));
    }
  }
  return out;
}

}  // namespace churn::drift::testing

#endif  // CHURN_TESTS_DRIFT_DRIFT_FIXTURE_H_
