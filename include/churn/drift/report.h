// File: churn/drift/report.h
//
// Drift between two tables of one dataset, column by column, as Evidently's DataDriftPreset
// computes it: every feature column of the schema (role feature; never the target, the entity
// key or dropped columns), missing values dropped per column, numeric columns (integer, float)
// tested as doubles and categorical ones as their level strings with RunTest (stats.h), then the
// dataset verdict by share of drifted columns (DatasetDrift).
//
//   CHURN_ASSIGN_OR_RETURN(DatasetReport r, CompareTables(schema, reference, current, {}));
//   if (r.dataset.drifted) ...  // r.columns[i].result.score, .threshold, .drifted
#ifndef CHURN_DRIFT_REPORT_H_
#define CHURN_DRIFT_REPORT_H_

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "churn/data/schema.h"
#include "churn/data/table.h"
#include "churn/drift/stats.h"

namespace churn::drift {

struct CompareOptions {
  // The feature columns to test, in this order; empty: every feature column in schema order.
  std::vector<std::string> columns{};
  // Per-column test and threshold overrides, keyed by column name.
  std::map<std::string, ColumnOptions, std::less<>> per_column{};
  // Share of drifted columns at which the dataset drifted (Evidently's drift_share).
  double share_threshold = 0.5;
};

struct ColumnReport {
  std::string column{};
  ColumnKind kind = ColumnKind::kNumeric;
  // Non-missing values of each side that were tested.
  size_t reference_values = 0;
  size_t current_values = 0;
  DriftResult result{};
};

struct DatasetReport {
  std::vector<ColumnReport> columns{};
  DatasetDriftResult dataset{};
};

// "numeric" or "categorical".
absl::string_view ColumnKindName(ColumnKind kind);

// The feature column of `schema` named `name`: exactly, else ignoring case ("total_trans_ct"
// finds Total_Trans_Ct). InvalidArgument naming `name` and listing the feature columns when none
// (or a column that is not a feature) matches.
absl::StatusOr<const data::ColumnSpec*> FindFeatureColumn(const data::Schema& schema,
                                                          absl::string_view name);

// The column's non-missing values as doubles (integer and float columns) or as strings
// (categorical: the level; string columns: the text), in row order.
std::vector<double> NumericValues(const data::Column& column);
std::vector<std::string> CategoricalValues(const data::Column& column);

// Tests every selected feature column of `reference` against `current` (both read under
// `schema`) and gives the dataset verdict. Names in options.columns and options.per_column are
// matched as FindFeatureColumn does. InvalidArgument naming the column when a name is not a
// feature column, a table lacks the column, one side has no non-missing value, or the test does
// not apply (ks or wasserstein on a categorical column); for a share threshold outside [0, 1].
absl::StatusOr<DatasetReport> CompareTables(const data::Schema& schema,
                                            const data::Table& reference,
                                            const data::Table& current,
                                            const CompareOptions& options);

}  // namespace churn::drift

#endif  // CHURN_DRIFT_REPORT_H_
