#include "churn/data/schema.h"

#include <array>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "yaml-cpp/yaml.h"

#include "churn/base/file.h"
#include "churn/base/sha256.h"
#include "churn/base/status_macros.h"

namespace churn::data {
namespace {

// One ToString/FromString table per enum (treelite's enum/ pattern, kept in one place).
template <typename E, size_t N>
using NameTable = std::array<std::pair<E, absl::string_view>, N>;

constexpr NameTable<ColumnType, 4> kTypeNames = {{{ColumnType::kInteger, "integer"},
                                                  {ColumnType::kFloat, "float"},
                                                  {ColumnType::kCategorical, "categorical"},
                                                  {ColumnType::kString, "string"}}};
constexpr NameTable<ColumnRole, 4> kRoleNames = {{{ColumnRole::kFeature, "feature"},
                                                  {ColumnRole::kTarget, "target"},
                                                  {ColumnRole::kEntityKey, "entity_key"},
                                                  {ColumnRole::kDropped, "dropped"}}};
constexpr NameTable<ViolationKind, kNumViolationKinds> kKindNames = {
    {{ViolationKind::kMissingValue, "missing_value"},
     {ViolationKind::kWrongType, "wrong_type"},
     {ViolationKind::kOutOfRange, "out_of_range"},
     {ViolationKind::kUnknownCategory, "unknown_category"},
     {ViolationKind::kRaggedRow, "ragged_row"}}};
constexpr NameTable<ViolationPolicy, 3> kPolicyNames = {
    {{ViolationPolicy::kReject, "reject"},
     {ViolationPolicy::kDropRow, "drop_row"},
     {ViolationPolicy::kTreatAsMissing, "treat_as_missing"}}};

template <typename E, size_t N>
absl::string_view NameOf(const NameTable<E, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) {
      return name;
    }
  }
  return "?";
}

template <typename E, size_t N>
absl::StatusOr<E> ValueOf(const NameTable<E, N>& table, absl::string_view name,
                          absl::string_view what) {
  std::vector<absl::string_view> names;
  for (const auto& [v, n] : table) {
    if (n == name) {
      return v;
    }
    names.push_back(n);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown ", what, " '", name, "' (one of: ", absl::StrJoin(names, ", "), ")"));
}

// yaml-cpp reports errors by exception; everything below runs inside one try block in
// ParseSchemaYaml and turns them into InvalidArgument.
std::string Str(const YAML::Node& node) {
  return node.as<std::string>();
}

absl::StatusOr<ColumnSpec> ParseColumn(const YAML::Node& node, size_t index) {
  const std::string where = absl::StrCat("columns[", index, "]");
  if (!node.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " must be a mapping"));
  }
  static const std::set<std::string> kKnown = {"name",          "type",        "role",
                                               "levels",        "min",         "max",
                                               "allow_missing", "drop_reason", "description"};
  for (const auto& entry : node) {
    if (!kKnown.contains(Str(entry.first))) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": unknown key '", Str(entry.first), "'"));
    }
  }
  ColumnSpec spec;
  if (!node["name"]) {
    return absl::InvalidArgumentError(absl::StrCat(where, " has no name"));
  }
  spec.name = Str(node["name"]);
  const std::string col = absl::StrCat("column '", spec.name, "'");
  if (!node["type"]) {
    return absl::InvalidArgumentError(absl::StrCat(col, " has no type"));
  }
  CHURN_ASSIGN_OR_RETURN(spec.type, ValueOf(kTypeNames, Str(node["type"]), col + " type"));
  if (node["role"]) {
    CHURN_ASSIGN_OR_RETURN(spec.role, ValueOf(kRoleNames, Str(node["role"]), col + " role"));
  }
  if (node["levels"]) {
    spec.levels = node["levels"].as<std::vector<std::string>>();
  }
  if (node["min"]) {
    spec.min = node["min"].as<double>();
  }
  if (node["max"]) {
    spec.max = node["max"].as<double>();
  }
  if (node["allow_missing"]) {
    spec.allow_missing = node["allow_missing"].as<bool>();
  }
  if (node["drop_reason"]) {
    spec.drop_reason = Str(node["drop_reason"]);
  }
  if (node["description"]) {
    spec.description = Str(node["description"]);
  }
  return spec;
}

absl::Status CheckColumn(const ColumnSpec& c) {
  const std::string col = absl::StrCat("column '", c.name, "'");
  if (c.name.empty()) {
    return absl::InvalidArgumentError("a column has an empty name");
  }
  if (c.type == ColumnType::kCategorical) {
    if (c.levels.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(col, " is categorical but has no levels"));
    }
    std::set<std::string> seen;
    for (const auto& level : c.levels) {
      if (level.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(col, " has an empty level"));
      }
      if (!seen.insert(level).second) {
        return absl::InvalidArgumentError(absl::StrCat(col, " lists level '", level, "' twice"));
      }
    }
  } else if (!c.levels.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(col, " has levels but is of type ", ToString(c.type)));
  }
  const bool numeric = c.type == ColumnType::kInteger || c.type == ColumnType::kFloat;
  if ((c.min || c.max) && !numeric) {
    return absl::InvalidArgumentError(absl::StrCat(col, " has min/max but is not numeric"));
  }
  if (c.min && c.max && *c.min > *c.max) {
    return absl::InvalidArgumentError(
        absl::StrCat(col, " has min ", *c.min, " greater than max ", *c.max));
  }
  if (c.role == ColumnRole::kDropped && c.drop_reason.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(col, " is dropped without a drop_reason"));
  }
  if (c.role != ColumnRole::kDropped && !c.drop_reason.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(col, " has a drop_reason but is not dropped"));
  }
  return absl::OkStatus();
}

absl::Status CheckRoles(const Schema& s) {
  const ColumnSpec* target = s.Find(s.target);
  if (s.target.empty() || target == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("target '", s.target, "' is not a declared column"));
  }
  if (target->role != ColumnRole::kTarget) {
    return absl::InvalidArgumentError(
        absl::StrCat("target column '", s.target, "' must have role: target"));
  }
  if (target->allow_missing) {
    return absl::InvalidArgumentError(
        absl::StrCat("target column '", s.target, "' cannot allow missing values"));
  }
  if (target->type == ColumnType::kCategorical) {
    if (target->levels.size() != 2 || target->LevelIndex(s.positive_value) < 0) {
      return absl::InvalidArgumentError(absl::StrCat("target column '", s.target,
                                                     "' must have exactly two levels, one of them ",
                                                     "positive_value '", s.positive_value, "'"));
    }
  } else if (target->type == ColumnType::kInteger) {
    if (s.positive_value != "1") {
      return absl::InvalidArgumentError(
          absl::StrCat("integer target '", s.target, "' needs positive_value: 1"));
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("target column '", s.target, "' must be categorical or integer"));
  }
  const ColumnSpec* key = s.Find(s.entity_key);
  if (s.entity_key.empty() || key == nullptr || key->role != ColumnRole::kEntityKey) {
    return absl::InvalidArgumentError(absl::StrCat(
        "entity_key '", s.entity_key, "' must be a declared column with role: entity_key"));
  }
  if (key->allow_missing) {
    return absl::InvalidArgumentError("the entity key column cannot allow missing values");
  }
  int targets = 0;
  int keys = 0;
  for (const auto& c : s.columns) {
    targets += c.role == ColumnRole::kTarget ? 1 : 0;
    keys += c.role == ColumnRole::kEntityKey ? 1 : 0;
  }
  if (targets != 1 || keys != 1) {
    return absl::InvalidArgumentError(
        "exactly one column must have role target and one entity_key");
  }
  if (s.Features().empty()) {
    return absl::InvalidArgumentError("the schema declares no feature column");
  }
  return absl::OkStatus();
}

absl::Status CheckDerived(const Schema& s) {
  std::set<std::string> names;
  for (const auto& d : s.derived) {
    if (d.name.empty() || s.Find(d.name) != nullptr || !names.insert(d.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("derived feature '", d.name, "' needs a fresh, unique name"));
    }
    for (const std::string& input : {d.numerator, d.denominator}) {
      const ColumnSpec* c = s.Find(input);
      if (c == nullptr || c->role != ColumnRole::kFeature ||
          (c->type != ColumnType::kInteger && c->type != ColumnType::kFloat)) {
        return absl::InvalidArgumentError(absl::StrCat("derived feature '", d.name, "' uses '",
                                                       input, "', not a numeric feature column"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSchema(const Schema& s) {
  if (s.name.empty()) {
    return absl::InvalidArgumentError("schema has no name");
  }
  if (s.columns.empty()) {
    return absl::InvalidArgumentError("schema declares no columns");
  }
  std::set<std::string> names;
  for (const auto& c : s.columns) {
    CHURN_RETURN_IF_ERROR(CheckColumn(c));
    if (!names.insert(c.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("column '", c.name, "' is declared twice"));
    }
  }
  CHURN_RETURN_IF_ERROR(CheckRoles(s));
  if (s.PolicyFor(ViolationKind::kRaggedRow) == ViolationPolicy::kTreatAsMissing) {
    return absl::InvalidArgumentError(
        "policy ragged_row cannot be treat_as_missing (use reject or drop_row)");
  }
  return CheckDerived(s);
}

absl::Status ParsePolicy(const YAML::Node& node, Schema* s) {
  for (const auto& entry : node) {
    CHURN_ASSIGN_OR_RETURN(ViolationKind kind,
                           ValueOf(kKindNames, Str(entry.first), "policy kind"));
    CHURN_ASSIGN_OR_RETURN(s->policy[static_cast<int>(kind)],
                           ValueOf(kPolicyNames, Str(entry.second), "policy"));
  }
  return absl::OkStatus();
}

void ParseDerived(const YAML::Node& node, Schema* s) {
  for (const auto& item : node) {
    DerivedFeature d;
    d.name = item["name"] ? Str(item["name"]) : "";
    d.numerator = item["numerator"] ? Str(item["numerator"]) : "";
    d.denominator = item["denominator"] ? Str(item["denominator"]) : "";
    s->derived.push_back(std::move(d));
  }
}

absl::Status ParseTopLevel(const YAML::Node& root, Schema* s) {
  static const std::set<std::string> kKnown = {
      "name",           "description",         "target", "positive_value", "entity_key",
      "missing_values", "allow_extra_columns", "policy", "columns",        "derived"};
  for (const auto& entry : root) {
    if (!kKnown.contains(Str(entry.first))) {
      return absl::InvalidArgumentError(absl::StrCat("unknown key '", Str(entry.first), "'"));
    }
  }
  s->name = root["name"] ? Str(root["name"]) : "";
  s->description = root["description"] ? Str(root["description"]) : "";
  s->target = root["target"] ? Str(root["target"]) : "";
  s->positive_value = root["positive_value"] ? Str(root["positive_value"]) : "";
  s->entity_key = root["entity_key"] ? Str(root["entity_key"]) : "";
  if (root["missing_values"]) {
    s->missing_values = root["missing_values"].as<std::vector<std::string>>();
  }
  if (root["allow_extra_columns"]) {
    s->allow_extra_columns = root["allow_extra_columns"].as<bool>();
  }
  if (root["policy"]) {
    CHURN_RETURN_IF_ERROR(ParsePolicy(root["policy"], s));
  }
  if (!root["columns"] || !root["columns"].IsSequence()) {
    return absl::InvalidArgumentError("'columns' must be a list");
  }
  size_t index = 0;
  for (const auto& node : root["columns"]) {
    CHURN_ASSIGN_OR_RETURN(ColumnSpec spec, ParseColumn(node, index++));
    s->columns.push_back(std::move(spec));
  }
  if (root["derived"]) {
    ParseDerived(root["derived"], s);
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view ToString(ColumnType type) {
  return NameOf(kTypeNames, type);
}

absl::StatusOr<ColumnType> ColumnTypeFromString(absl::string_view name) {
  return ValueOf(kTypeNames, name, "column type");
}

absl::string_view ToString(ColumnRole role) {
  return NameOf(kRoleNames, role);
}

absl::StatusOr<ColumnRole> ColumnRoleFromString(absl::string_view name) {
  return ValueOf(kRoleNames, name, "column role");
}

absl::string_view ToString(ViolationKind kind) {
  return NameOf(kKindNames, kind);
}

absl::StatusOr<ViolationKind> ViolationKindFromString(absl::string_view name) {
  return ValueOf(kKindNames, name, "violation kind");
}

absl::string_view ToString(ViolationPolicy policy) {
  return NameOf(kPolicyNames, policy);
}

absl::StatusOr<ViolationPolicy> ViolationPolicyFromString(absl::string_view name) {
  return ValueOf(kPolicyNames, name, "policy");
}

int ColumnSpec::LevelIndex(absl::string_view level) const {
  for (size_t i = 0; i < levels.size(); ++i) {
    if (levels[i] == level) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

const ColumnSpec* Schema::Find(absl::string_view column) const {
  const int i = IndexOf(column);
  return i < 0 ? nullptr : &columns[static_cast<size_t>(i)];
}

int Schema::IndexOf(absl::string_view column) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == column) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

std::vector<const ColumnSpec*> Schema::Features() const {
  std::vector<const ColumnSpec*> out;
  for (const auto& c : columns) {
    if (c.role == ColumnRole::kFeature) {
      out.push_back(&c);
    }
  }
  return out;
}

std::string Schema::ToYaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << name;
  out << YAML::Key << "description" << YAML::Value << description;
  out << YAML::Key << "target" << YAML::Value << target;
  out << YAML::Key << "positive_value" << YAML::Value << positive_value;
  out << YAML::Key << "entity_key" << YAML::Value << entity_key;
  out << YAML::Key << "missing_values" << YAML::Value << YAML::Flow << missing_values;
  out << YAML::Key << "allow_extra_columns" << YAML::Value << allow_extra_columns;
  out << YAML::Key << "policy" << YAML::Value << YAML::BeginMap;
  for (const auto& [kind, kind_name] : kKindNames) {
    out << YAML::Key << std::string(kind_name) << YAML::Value
        << std::string(ToString(PolicyFor(kind)));
  }
  out << YAML::EndMap;
  out << YAML::Key << "columns" << YAML::Value << YAML::BeginSeq;
  for (const auto& c : columns) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << c.name;
    out << YAML::Key << "type" << YAML::Value << std::string(ToString(c.type));
    out << YAML::Key << "role" << YAML::Value << std::string(ToString(c.role));
    if (!c.levels.empty()) {
      out << YAML::Key << "levels" << YAML::Value << YAML::Flow << c.levels;
    }
    if (c.min) {
      out << YAML::Key << "min" << YAML::Value << *c.min;
    }
    if (c.max) {
      out << YAML::Key << "max" << YAML::Value << *c.max;
    }
    out << YAML::Key << "allow_missing" << YAML::Value << c.allow_missing;
    if (!c.drop_reason.empty()) {
      out << YAML::Key << "drop_reason" << YAML::Value << c.drop_reason;
    }
    if (!c.description.empty()) {
      out << YAML::Key << "description" << YAML::Value << c.description;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  if (!derived.empty()) {
    out << YAML::Key << "derived" << YAML::Value << YAML::BeginSeq;
    for (const auto& d : derived) {
      out << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << d.name
          << YAML::Key << "numerator" << YAML::Value << d.numerator << YAML::Key << "denominator"
          << YAML::Value << d.denominator << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string Schema::Hash() const {
  return base::Sha256Hex(ToYaml());
}

absl::StatusOr<Schema> ParseSchemaYaml(absl::string_view yaml) {
  Schema schema;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsMap()) {
      return absl::InvalidArgumentError("schema must be a YAML mapping");
    }
    CHURN_RETURN_IF_ERROR(ParseTopLevel(root, &schema));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("schema YAML: ", e.what()));
  }
  CHURN_RETURN_IF_ERROR(CheckSchema(schema));
  return schema;
}

absl::StatusOr<Schema> LoadSchemaFile(const std::string& path) {
  CHURN_ASSIGN_OR_RETURN(const std::string text, base::ReadFile(path));
  auto schema = ParseSchemaYaml(text);
  if (!schema.ok()) {
    return base::WithContext(schema.status(), absl::StrCat("schema ", path));
  }
  return schema;
}

}  // namespace churn::data
