// File: churn/data/profile.h
//
// A column profile of a Table: counts, missing, mean/std, min/max, quantiles and histogram bins
// for numeric columns, frequencies per level for categorical ones. Written beside every snapshot
// in the feature store and reused by training and drift monitoring (the reference statistics are
// computed once). A profile is a plain value.
#ifndef CHURN_DATA_PROFILE_H_
#define CHURN_DATA_PROFILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "churn/data/table.h"

namespace churn::data {

struct ColumnProfile {
  std::string name;
  ColumnType type = ColumnType::kFloat;
  ColumnRole role = ColumnRole::kFeature;
  uint64_t count = 0;    // non-missing cells
  uint64_t missing = 0;  // missing cells
  // Numeric columns (kInteger, kFloat) only.
  double mean = 0.0;
  double std = 0.0;  // population standard deviation (ddof = 0)
  double min = 0.0;
  double max = 0.0;
  // Distinct non-missing values, exact up to kProfileDistinctCap; kProfileDistinctCap + 1 means
  // "more than the cap".
  uint64_t distinct = 0;
  // Quantiles at kProfileQuantiles, linear interpolation (numpy's default).
  std::vector<double> quantiles;
  // Equal-width histogram over [min, max]: `bin_edges` has bins + 1 entries.
  std::vector<double> bin_edges;
  std::vector<uint64_t> bin_counts;
  // Categorical columns: count per level, in the schema's level order.
  std::vector<std::string> levels;
  std::vector<uint64_t> level_counts;
};

inline constexpr double kProfileQuantiles[] = {0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99};
inline constexpr int kProfileHistogramBins = 20;
inline constexpr uint64_t kProfileDistinctCap = 100000;

struct DatasetProfile {
  uint64_t rows = 0;
  // Rows whose target is the positive value (0 when the schema has no target column in the table).
  uint64_t positives = 0;
  std::vector<ColumnProfile> columns;

  const ColumnProfile* Find(absl::string_view name) const;
};

// Profiles every column of `table` except kString ones (entity keys).
DatasetProfile ComputeProfile(const Table& table, const Schema& schema);

// JSON round trip. ProfileFromJson fails with InvalidArgument naming the field.
std::string ProfileToJson(const DatasetProfile& profile);
absl::StatusOr<DatasetProfile> ProfileFromJson(absl::string_view text);

}  // namespace churn::data

#endif  // CHURN_DATA_PROFILE_H_
