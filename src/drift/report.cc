#include "churn/drift/report.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "churn/base/status_macros.h"

namespace churn::drift {
namespace {

bool IsNumeric(const data::ColumnSpec& spec) {
  return spec.type == data::ColumnType::kInteger || spec.type == data::ColumnType::kFloat;
}

std::string FeatureNames(const data::Schema& schema) {
  return absl::StrJoin(schema.Features(), ", ", [](std::string* out, const data::ColumnSpec* c) {
    absl::StrAppend(out, c->name);
  });
}

// The overrides keyed by the schema's spelling of each column name.
absl::StatusOr<std::map<std::string, ColumnOptions, std::less<>>> ResolveOverrides(
    const data::Schema& schema, const CompareOptions& options) {
  std::map<std::string, ColumnOptions, std::less<>> out;
  for (const auto& [name, column_options] : options.per_column) {
    CHURN_ASSIGN_OR_RETURN(const data::ColumnSpec* spec, FindFeatureColumn(schema, name));
    ColumnOptions& merged = out[spec->name];
    if (column_options.test) {
      merged.test = column_options.test;
    }
    if (column_options.threshold) {
      merged.threshold = column_options.threshold;
    }
  }
  return out;
}

absl::StatusOr<std::vector<const data::ColumnSpec*>> SelectColumns(const data::Schema& schema,
                                                                   const CompareOptions& options) {
  if (options.columns.empty()) {
    return schema.Features();
  }
  std::vector<const data::ColumnSpec*> out;
  for (const std::string& name : options.columns) {
    CHURN_ASSIGN_OR_RETURN(const data::ColumnSpec* spec, FindFeatureColumn(schema, name));
    bool seen = false;
    for (const data::ColumnSpec* s : out) {
      seen = seen || s == spec;
    }
    if (!seen) {
      out.push_back(spec);
    }
  }
  return out;
}

absl::StatusOr<const data::Column*> TableColumn(const data::Table& table, const std::string& name,
                                                absl::string_view side) {
  const data::Column* column = table.Find(name);
  if (column == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("CompareTables: the ", side, " table has no column '", name, "'"));
  }
  return column;
}

absl::StatusOr<ColumnReport> CompareColumn(const data::ColumnSpec& spec,
                                           const data::Column& reference,
                                           const data::Column& current,
                                           const ColumnOptions& options) {
  ColumnReport report{.column = spec.name,
                      .kind = IsNumeric(spec) ? ColumnKind::kNumeric : ColumnKind::kCategorical};
  absl::StatusOr<DriftResult> result;
  if (report.kind == ColumnKind::kNumeric) {
    const std::vector<double> ref = NumericValues(reference);
    const std::vector<double> cur = NumericValues(current);
    report.reference_values = ref.size();
    report.current_values = cur.size();
    if (!ref.empty() && !cur.empty()) {
      result = RunTest(ref, cur, options);
    }
  } else {
    const std::vector<std::string> ref = CategoricalValues(reference);
    const std::vector<std::string> cur = CategoricalValues(current);
    report.reference_values = ref.size();
    report.current_values = cur.size();
    if (!ref.empty() && !cur.empty()) {
      result = RunTest(ref, cur, options);
    }
  }
  if (report.reference_values == 0 || report.current_values == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CompareTables: column '", spec.name, "': the ",
        report.reference_values == 0 ? "reference" : "current", " table has no non-missing value"));
  }
  if (!result.ok()) {
    return base::WithContext(result.status(),
                             absl::StrCat("CompareTables: column '", spec.name, "'"));
  }
  report.result = *std::move(result);
  return report;
}

}  // namespace

absl::string_view ColumnKindName(ColumnKind kind) {
  return kind == ColumnKind::kNumeric ? "numeric" : "categorical";
}

absl::StatusOr<const data::ColumnSpec*> FindFeatureColumn(const data::Schema& schema,
                                                          absl::string_view name) {
  const data::ColumnSpec* found = schema.Find(name);
  if (found == nullptr) {
    for (const data::ColumnSpec& spec : schema.columns) {
      if (absl::EqualsIgnoreCase(spec.name, name)) {
        found = &spec;
        break;
      }
    }
  }
  if (found == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no column '", name, "' in schema '", schema.name,
                     "' (feature columns: ", FeatureNames(schema), ")"));
  }
  if (found->role != data::ColumnRole::kFeature) {
    return absl::InvalidArgumentError(
        absl::StrCat("column '", found->name, "' is the ", data::ToString(found->role),
                     ", not a feature (feature columns: ", FeatureNames(schema), ")"));
  }
  return found;
}

std::vector<double> NumericValues(const data::Column& column) {
  std::vector<double> out;
  out.reserve(column.size());
  for (size_t row = 0; row < column.size(); ++row) {
    if (!column.IsMissing(row)) {
      out.push_back(column.AsDouble(row));
    }
  }
  return out;
}

std::vector<std::string> CategoricalValues(const data::Column& column) {
  std::vector<std::string> out;
  out.reserve(column.size());
  for (size_t row = 0; row < column.size(); ++row) {
    if (!column.IsMissing(row)) {
      out.push_back(column.AsText(row));
    }
  }
  return out;
}

absl::StatusOr<DatasetReport> CompareTables(const data::Schema& schema,
                                            const data::Table& reference,
                                            const data::Table& current,
                                            const CompareOptions& options) {
  if (!(options.share_threshold >= 0.0 && options.share_threshold <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("CompareTables: share threshold ",
                                                   options.share_threshold, " is not in [0, 1]"));
  }
  CHURN_ASSIGN_OR_RETURN(const auto overrides, ResolveOverrides(schema, options));
  CHURN_ASSIGN_OR_RETURN(const std::vector<const data::ColumnSpec*> columns,
                         SelectColumns(schema, options));
  if (columns.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("CompareTables: schema '", schema.name, "' has no feature column"));
  }
  DatasetReport report;
  std::vector<DriftResult> results;
  for (const data::ColumnSpec* spec : columns) {
    CHURN_ASSIGN_OR_RETURN(const data::Column* ref,
                           TableColumn(reference, spec->name, "reference"));
    CHURN_ASSIGN_OR_RETURN(const data::Column* cur, TableColumn(current, spec->name, "current"));
    const auto found = overrides.find(spec->name);
    CHURN_ASSIGN_OR_RETURN(
        ColumnReport column,
        CompareColumn(*spec, *ref, *cur,
                      found == overrides.end() ? ColumnOptions{} : found->second));
    results.push_back(column.result);
    report.columns.push_back(std::move(column));
  }
  CHURN_ASSIGN_OR_RETURN(report.dataset, DatasetDrift(results, options.share_threshold));
  return report;
}

}  // namespace churn::drift
