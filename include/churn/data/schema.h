// File: churn/data/schema.h
//
// A dataset schema: the columns of a churn CSV with their types, roles, categorical levels and
// numeric ranges, the target and its positive value, the entity key, the dropped columns and why,
// and what validation does with each kind of bad value. Loaded from YAML (see
// configs/bank_churners.yaml); nothing downstream knows any particular dataset.
//
//   CHURN_ASSIGN_OR_RETURN(Schema schema, LoadSchemaFile("configs/bank_churners.yaml"));
//   const ColumnSpec* age = schema.Find("Customer_Age");
//
// A Schema is a plain value: copyable, thread-compatible.
#ifndef CHURN_DATA_SCHEMA_H_
#define CHURN_DATA_SCHEMA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace churn::data {

enum class ColumnType {
  kInteger,      // 64-bit signed integer
  kFloat,        // finite double
  kCategorical,  // one of the declared levels
  kString,       // free text (entity keys)
};

enum class ColumnRole {
  kFeature,    // an input of the model
  kTarget,     // the label
  kEntityKey,  // identifies the customer; kept, never a feature
  kDropped,    // must be present in the file, is not read (see ColumnSpec::drop_reason)
};

// The kinds of bad value validation can find in a row.
enum class ViolationKind {
  kMissingValue,     // empty (or a declared missing token) where the column forbids it
  kWrongType,        // not parseable as the column's type
  kOutOfRange,       // numeric value outside [min, max]
  kUnknownCategory,  // not one of the declared levels
  kRaggedRow,        // a row with more or fewer fields than the header
};

inline constexpr int kNumViolationKinds = 5;

// What validation does with a violation of one kind.
enum class ViolationPolicy {
  kReject,          // the whole file is refused (the default for every kind)
  kDropRow,         // the row is left out of the snapshot and counted
  kTreatAsMissing,  // the cell becomes missing and is counted (not allowed for kRaggedRow)
};

absl::string_view ToString(ColumnType type);
absl::StatusOr<ColumnType> ColumnTypeFromString(absl::string_view name);
absl::string_view ToString(ColumnRole role);
absl::StatusOr<ColumnRole> ColumnRoleFromString(absl::string_view name);
absl::string_view ToString(ViolationKind kind);
absl::StatusOr<ViolationKind> ViolationKindFromString(absl::string_view name);
absl::string_view ToString(ViolationPolicy policy);
absl::StatusOr<ViolationPolicy> ViolationPolicyFromString(absl::string_view name);

struct ColumnSpec {
  std::string name;
  ColumnType type = ColumnType::kFloat;
  ColumnRole role = ColumnRole::kFeature;
  // Categorical levels in declared order; a level's index is its code in a Table.
  std::vector<std::string> levels;
  // Inclusive numeric bounds, when set.
  std::optional<double> min;
  std::optional<double> max;
  // Whether a missing value is acceptable in this column.
  bool allow_missing = false;
  // Why a kDropped column is dropped (required for dropped columns).
  std::string drop_reason;
  std::string description;

  // Index of `level` in `levels`, or -1.
  int LevelIndex(absl::string_view level) const;
};

// A feature computed from other columns at fit/transform time: numerator / denominator
// (missing when the denominator is 0 or either input is missing).
struct DerivedFeature {
  std::string name;
  std::string numerator;
  std::string denominator;
};

struct Schema {
  std::string name;
  std::string description;
  std::vector<ColumnSpec> columns;
  // The target column and the value of it that means "churned" (label 1).
  std::string target;
  std::string positive_value;
  // The column that identifies an entity (customer).
  std::string entity_key;
  // Field values that mean "missing" (default: the empty field).
  std::vector<std::string> missing_values = {""};
  // Whether the file may hold columns the schema does not declare (they are ignored).
  bool allow_extra_columns = false;
  // Policy per ViolationKind, indexed by the enum's value; default reject.
  ViolationPolicy policy[kNumViolationKinds] = {};
  std::vector<DerivedFeature> derived;

  // The column named `name`, or nullptr.
  const ColumnSpec* Find(absl::string_view column) const;
  // Index of the column named `name` in `columns`, or -1.
  int IndexOf(absl::string_view column) const;
  // The columns with role kFeature, in declared order.
  std::vector<const ColumnSpec*> Features() const;

  ViolationPolicy PolicyFor(ViolationKind kind) const { return policy[static_cast<int>(kind)]; }

  // The schema as canonical YAML (every field written out, fixed order); parsing it gives an
  // equal schema.
  std::string ToYaml() const;
  // SHA-256 of ToYaml(): equal schemas hash equal whatever the formatting of their source.
  std::string Hash() const;
};

// Parses a schema from YAML text and checks it is consistent: unique non-empty column names, a
// target that is a declared categorical or integer column whose levels hold positive_value, an
// entity key column that exists and is not dropped, levels unique and non-empty for categorical
// columns, min <= max, a drop reason for each dropped column, no policy that cannot apply, derived
// features over numeric feature columns with fresh names. InvalidArgument naming the field
// otherwise.
absl::StatusOr<Schema> ParseSchemaYaml(absl::string_view yaml);

// Reads and parses a schema file. NotFound when missing; InvalidArgument naming the file and
// field when it is wrong.
absl::StatusOr<Schema> LoadSchemaFile(const std::string& path);

}  // namespace churn::data

#endif  // CHURN_DATA_SCHEMA_H_
