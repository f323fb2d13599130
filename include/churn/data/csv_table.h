// File: churn/data/csv_table.h
//
// Reads CSV bytes into a typed Table under a Schema, validating every cell. Each violation is
// reported with its line, row, column and value (the first `max_reported` in full, then counts per
// kind and column) and handled by the schema's policy for its kind: reject the file, drop the
// row, or treat the cell as missing. Nothing is coerced silently: every dropped row and every cell
// set missing is counted in the report.
#ifndef CHURN_DATA_CSV_TABLE_H_
#define CHURN_DATA_CSV_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "churn/data/csv.h"
#include "churn/data/schema.h"
#include "churn/data/table.h"

namespace churn::data {

struct Violation {
  ViolationKind kind = ViolationKind::kWrongType;
  size_t line = 0;  // 1-based physical line of the record; the header is line 1
  size_t row = 0;   // 1-based data row (record after the header)
  std::string column;
  std::string value;  // the offending field, cut to 80 bytes
  std::string message;
};

struct ValidationReport {
  size_t rows_read = 0;
  size_t rows_accepted = 0;
  size_t rows_dropped = 0;
  size_t cells_set_missing = 0;
  size_t violations_total = 0;
  // The first max_reported violations, in file order.
  std::vector<Violation> first;
  // Count of every violation by (kind name, column).
  std::map<std::pair<std::string, std::string>, size_t> counts;
  // Byte ranges of dropped records in the input, in order.
  std::vector<std::pair<size_t, size_t>> dropped_ranges;

  // A human-readable summary: totals, the first violations, then the counts.
  std::string ToString() const;
};

struct ReadTableOptions {
  CsvOptions csv;
  // How many violations are reported in full. Default 20.
  size_t max_reported = 20;
  // Inputs at least this large are split at record boundaries and read on every core; smaller
  // ones on one thread. Default 4 MiB (threads cost more than they save below that).
  size_t parallel_bytes = size_t{4} << 20;
};

struct ReadTableResult {
  Table table;
  ValidationReport report;
};

// Parses and validates `input` under `schema`. The header must name every schema column (in any
// order) and, unless schema.allow_extra_columns, nothing else. InvalidArgument when the input is
// empty, has no data row, a header problem, malformed CSV, or any violation whose policy is
// kReject; the message names line, row, column and value and includes the report.
absl::StatusOr<ReadTableResult> ReadCsvTable(absl::string_view input, const Schema& schema,
                                             const ReadTableOptions& options);

}  // namespace churn::data

#endif  // CHURN_DATA_CSV_TABLE_H_
