// File: churn/data/table.h
//
// A typed columnar table: one Column per schema column that is not dropped, each a vector of
// values of the column's type plus a missing mask. Built by ReadCsvTable (csv_table.h), read by
// the feature pipeline, profiles and training. A Table is a value: movable, copyable,
// thread-compatible.
#ifndef CHURN_DATA_TABLE_H_
#define CHURN_DATA_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

#include "churn/data/schema.h"

namespace churn::data {

struct Column {
  // The column's spec, copied from the schema.
  ColumnSpec spec;
  // Exactly one of these holds the values, by spec.type: kInteger -> ints, kFloat -> floats,
  // kCategorical -> codes (index into spec.levels), kString -> strings. A missing cell holds 0,
  // 0.0, -1 or "" and is marked in `missing`.
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<int32_t> codes;
  std::vector<std::string> strings;
  // 1 where the cell is missing.
  std::vector<uint8_t> missing;

  size_t size() const { return missing.size(); }

  bool IsMissing(size_t row) const { return missing[row] != 0; }

  // The cell as a double: ints and floats as themselves, codes as the code, NaN when missing or
  // for strings.
  double AsDouble(size_t row) const;
  // The cell as text, as it would appear in a CSV ("" when missing); numbers in their shortest
  // round-trip form.
  std::string AsText(size_t row) const;
  // Appends AsText(row) to `out` without a temporary string.
  void AppendText(size_t row, std::string* out) const;
  void Reserve(size_t rows);
};

class Table {
 public:
  Table() = default;
  // An empty table with one column per non-dropped column of `schema`, in schema order.
  explicit Table(const Schema& schema);

  size_t NumRows() const { return num_rows_; }

  size_t NumColumns() const { return columns_.size(); }

  const std::vector<Column>& Columns() const { return columns_; }

  std::vector<Column>& MutableColumns() { return columns_; }

  // The column named `name`, or nullptr.
  const Column* Find(absl::string_view name) const;
  Column* FindMutable(absl::string_view name);

  // Records that one more row has been appended to every column.
  void CommitRow() { ++num_rows_; }

  // For code that fills every column itself (TakeRows): the number of rows each column holds.
  void SetNumRows(size_t rows) { num_rows_ = rows; }

  void Reserve(size_t rows);

 private:
  std::vector<Column> columns_;
  size_t num_rows_ = 0;
};

}  // namespace churn::data

#endif  // CHURN_DATA_TABLE_H_
