#include "churn/data/table.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace churn::data {

double Column::AsDouble(size_t row) const {
  if (IsMissing(row)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  switch (spec.type) {
    case ColumnType::kInteger:
      return static_cast<double>(ints[row]);
    case ColumnType::kFloat:
      return floats[row];
    case ColumnType::kCategorical:
      return codes[row];
    case ColumnType::kString:
      break;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

std::string Column::AsText(size_t row) const {
  std::string out;
  AppendText(row, &out);
  return out;
}

void Column::AppendText(size_t row, std::string* out) const {
  if (IsMissing(row)) {
    return;
  }
  char buf[32];
  switch (spec.type) {
    case ColumnType::kInteger:
      out->append(buf, std::to_chars(buf, buf + sizeof(buf), ints[row]).ptr);
      return;
    case ColumnType::kFloat:
      out->append(buf, std::to_chars(buf, buf + sizeof(buf), floats[row]).ptr);
      return;
    case ColumnType::kCategorical:
      out->append(spec.levels[static_cast<size_t>(codes[row])]);
      return;
    case ColumnType::kString:
      out->append(strings[row]);
      return;
  }
}

void Column::Reserve(size_t rows) {
  missing.reserve(rows);
  switch (spec.type) {
    case ColumnType::kInteger:
      ints.reserve(rows);
      break;
    case ColumnType::kFloat:
      floats.reserve(rows);
      break;
    case ColumnType::kCategorical:
      codes.reserve(rows);
      break;
    case ColumnType::kString:
      strings.reserve(rows);
      break;
  }
}

Table::Table(const Schema& schema) {
  for (const auto& spec : schema.columns) {
    if (spec.role != ColumnRole::kDropped) {
      Column column;
      column.spec = spec;
      columns_.push_back(std::move(column));
    }
  }
}

const Column* Table::Find(absl::string_view name) const {
  for (const auto& c : columns_) {
    if (c.spec.name == name) {
      return &c;
    }
  }
  return nullptr;
}

Column* Table::FindMutable(absl::string_view name) {
  for (auto& c : columns_) {
    if (c.spec.name == name) {
      return &c;
    }
  }
  return nullptr;
}

void Table::Reserve(size_t rows) {
  for (auto& c : columns_) {
    c.Reserve(rows);
  }
}

}  // namespace churn::data
