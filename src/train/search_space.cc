#include "churn/train/search_space.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "yaml-cpp/yaml.h"

#include "churn/base/status_macros.h"

namespace churn::train {
namespace {

constexpr std::array<std::pair<ParamKind, absl::string_view>, 5> kKindNames = {
    {{ParamKind::kUniform, "uniform"},
     {ParamKind::kLogUniform, "loguniform"},
     {ParamKind::kQUniform, "quniform"},
     {ParamKind::kInt, "int"},
     {ParamKind::kChoice, "choice"}}};

bool IsNumeric(ParamKind kind) {
  return kind != ParamKind::kChoice;
}

std::string FormatDouble(double value) {
  std::array<char, 64> buf{};
  const auto result = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  return {buf.data(), result.ptr};
}

std::string Where(absl::string_view name) {
  return absl::StrCat("parameter '", name, "'");
}

absl::Status Invalid(absl::string_view name, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(Where(name), ": ", what));
}

// yaml-cpp throws on malformed input; FromYaml wraps everything below in one try block. The
// field readers avoid conversions that throw so that their errors name the field.
absl::StatusOr<double> ReadDouble(const YAML::Node& node, absl::string_view name,
                                  absl::string_view field) {
  double value = 0.0;
  if (!node.IsScalar() || !absl::SimpleAtod(node.Scalar(), &value) || !std::isfinite(value)) {
    return Invalid(name, absl::StrCat("field '", field, "' must be a finite number"));
  }
  return value;
}

// Names are identifiers (XGBoost's parameters are [a-z_]); values and choices printable ASCII
// (XGBoost's are), so every space survives ToYaml -> FromYaml.
bool IsName(absl::string_view s) {
  return !s.empty() && s.size() <= 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isalnum(c) || c == '_'; });
}

bool IsPrintable(absl::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isprint(c); });
}

absl::StatusOr<std::vector<std::string>> ReadStrings(const YAML::Node& node, absl::string_view name,
                                                     absl::string_view field) {
  std::vector<std::string> out;
  if (node.IsScalar()) {
    out.push_back(node.Scalar());
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        return Invalid(name, absl::StrCat("field '", field, "' must be a list of strings"));
      }
      out.push_back(item.Scalar());
    }
  } else {
    return Invalid(name, absl::StrCat("field '", field, "' must be a list of strings"));
  }
  for (const std::string& v : out) {
    if (!IsPrintable(v)) {
      return Invalid(
          name, absl::StrCat("field '", field, "' holds a character that is not printable ASCII"));
    }
  }
  return out;
}

absl::StatusOr<ParamKind> ReadKind(const YAML::Node& node, absl::string_view name) {
  if (!node) {
    return Invalid(name, "missing field 'type'");
  }
  std::vector<absl::string_view> names;
  for (const auto& [kind, kind_name] : kKindNames) {
    if (node.IsScalar() && node.Scalar() == kind_name) {
      return kind;
    }
    names.push_back(kind_name);
  }
  return Invalid(name,
                 absl::StrCat("field 'type': unknown type '", node.IsScalar() ? node.Scalar() : "?",
                              "' (one of: ", absl::StrJoin(names, ", "), ")"));
}

// Rejects keys that are unknown or that do not apply to the parameter's kind.
absl::Status CheckKeys(const YAML::Node& node, absl::string_view name, ParamKind kind) {
  for (const auto& entry : node) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "?";
    bool applies = false;
    if (key == "type" || key == "when") {
      applies = true;
    } else if (key == "low" || key == "high") {
      applies = IsNumeric(kind);
    } else if (key == "q") {
      applies = kind == ParamKind::kQUniform;
    } else if (key == "choices") {
      applies = kind == ParamKind::kChoice;
    } else {
      return Invalid(
          name, absl::StrCat("unknown key '", key, "' (known: type, low, high, q, choices, when)"));
    }
    if (!applies) {
      return Invalid(name,
                     absl::StrCat("key '", key, "' does not apply to type ", ParamKindName(kind)));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadRange(const YAML::Node& node, ParamSpec* spec) {
  for (const char* field : {"low", "high"}) {
    if (!node[field]) {
      return Invalid(spec->name, absl::StrCat("missing field '", field, "'"));
    }
  }
  CHURN_ASSIGN_OR_RETURN(spec->low, ReadDouble(node["low"], spec->name, "low"));
  CHURN_ASSIGN_OR_RETURN(spec->high, ReadDouble(node["high"], spec->name, "high"));
  if (spec->low > spec->high) {
    return Invalid(spec->name,
                   absl::StrCat("field 'low' (", FormatDouble(spec->low),
                                ") is greater than field 'high' (", FormatDouble(spec->high), ")"));
  }
  if (spec->kind == ParamKind::kLogUniform && spec->low <= 0.0) {
    return Invalid(spec->name, absl::StrCat("field 'low' (", FormatDouble(spec->low),
                                            ") must be > 0 for type loguniform"));
  }
  if (spec->kind == ParamKind::kInt) {
    const std::array<std::pair<const char*, double>, 2> bounds = {
        {{"low", spec->low}, {"high", spec->high}}};
    for (const auto& [field, value] : bounds) {
      if (value != std::round(value) || std::fabs(value) > 9.0e15) {
        return Invalid(spec->name,
                       absl::StrCat("field '", field, "' must be an integer for type int"));
      }
    }
  }
  if (spec->kind == ParamKind::kQUniform && node["q"]) {
    CHURN_ASSIGN_OR_RETURN(spec->q, ReadDouble(node["q"], spec->name, "q"));
    if (spec->q <= 0.0) {
      return Invalid(spec->name,
                     absl::StrCat("field 'q' (", FormatDouble(spec->q), ") must be > 0"));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadChoices(const YAML::Node& node, ParamSpec* spec) {
  if (!node["choices"]) {
    return Invalid(spec->name, "missing field 'choices'");
  }
  CHURN_ASSIGN_OR_RETURN(spec->choices, ReadStrings(node["choices"], spec->name, "choices"));
  if (spec->choices.empty()) {
    return Invalid(spec->name, "field 'choices' is empty");
  }
  std::set<std::string> seen;
  for (const auto& choice : spec->choices) {
    if (!seen.insert(choice).second) {
      return Invalid(spec->name, absl::StrCat("field 'choices' lists '", choice, "' twice"));
    }
  }
  return absl::OkStatus();
}

// `when`: parent -> allowed values; each parent an earlier choice parameter of `earlier`.
absl::Status ReadWhen(const YAML::Node& node, const std::vector<ParamSpec>& earlier,
                      ParamSpec* spec) {
  if (!node.IsMap() || node.size() == 0) {
    return Invalid(spec->name, "field 'when' must be a non-empty mapping parent -> values");
  }
  for (const auto& entry : node) {
    const std::string parent = entry.first.IsScalar() ? entry.first.Scalar() : "?";
    const ParamSpec* found = nullptr;
    for (const auto& p : earlier) {
      found = p.name == parent ? &p : found;
    }
    if (found == nullptr || found->kind != ParamKind::kChoice) {
      return Invalid(spec->name, absl::StrCat("field 'when' names '", parent,
                                              "', not a choice parameter declared before it"));
    }
    CHURN_ASSIGN_OR_RETURN(std::vector<std::string> values,
                           ReadStrings(entry.second, spec->name, "when"));
    if (values.empty()) {
      return Invalid(spec->name, absl::StrCat("field 'when' lists no value for '", parent, "'"));
    }
    for (const auto& value : values) {
      if (std::find(found->choices.begin(), found->choices.end(), value) == found->choices.end()) {
        return Invalid(spec->name,
                       absl::StrCat("field 'when': '", parent, "' cannot take '", value, "'"));
      }
    }
    spec->when.emplace_back(parent, std::move(values));
  }
  return absl::OkStatus();
}

absl::StatusOr<ParamSpec> ParseParam(const std::string& name, const YAML::Node& node,
                                     const std::vector<ParamSpec>& earlier) {
  if (!IsName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("parameter name '", absl::CHexEscape(name),
                                                   "' must be 1-64 letters, digits or '_'"));
  }
  if (!node.IsMap()) {
    return Invalid(name, "must be a mapping such as {type: uniform, low: 0, high: 1}");
  }
  ParamSpec spec;
  spec.name = name;
  CHURN_ASSIGN_OR_RETURN(spec.kind, ReadKind(node["type"], name));
  CHURN_RETURN_IF_ERROR(CheckKeys(node, name, spec.kind));
  if (IsNumeric(spec.kind)) {
    CHURN_RETURN_IF_ERROR(ReadRange(node, &spec));
  } else {
    CHURN_RETURN_IF_ERROR(ReadChoices(node, &spec));
  }
  if (node["when"]) {
    CHURN_RETURN_IF_ERROR(ReadWhen(node["when"], earlier, &spec));
  }
  return spec;
}

// `fixed`: name -> scalar, no name repeating a parameter's (`names`) or another fixed one's.
absl::Status ParseFixed(const YAML::Node& node, std::set<std::string>* names,
                        std::vector<std::pair<std::string, std::string>>* fixed) {
  if (!node.IsMap()) {
    return absl::InvalidArgumentError("search space: 'fixed' must be a mapping name -> value");
  }
  for (const auto& entry : node) {
    const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "";
    if (!IsName(name) || !entry.second.IsScalar() || !IsPrintable(entry.second.Scalar())) {
      return absl::InvalidArgumentError(
          absl::StrCat("fixed '", absl::CHexEscape(name),
                       "' must be a name of letters, digits or '_' with a printable scalar value"));
    }
    if (!names->insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("fixed '", name, "' is also a searched (or another fixed) parameter"));
    }
    fixed->emplace_back(name, entry.second.Scalar());
  }
  return absl::OkStatus();
}

absl::Status ParseRoot(const YAML::Node& root, std::vector<ParamSpec>* params,
                       std::vector<std::pair<std::string, std::string>>* fixed) {
  if (!root.IsMap()) {
    return absl::InvalidArgumentError("search space must be a mapping with 'params'");
  }
  for (const auto& entry : root) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "?";
    if (key != "params" && key != "fixed" && key != "start") {
      return absl::InvalidArgumentError(
          absl::StrCat("search space: unknown key '", key, "' (known: params, fixed, start)"));
    }
  }
  const YAML::Node node = root["params"];
  if (!node || !node.IsMap() || node.size() == 0) {
    return absl::InvalidArgumentError(
        "search space has no parameters ('params' must be a non-empty mapping)");
  }
  std::set<std::string> names;
  for (const auto& entry : node) {
    const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "";
    if (!names.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(Where(name), " is declared twice"));
    }
    CHURN_ASSIGN_OR_RETURN(ParamSpec spec, ParseParam(name, entry.second, *params));
    params->push_back(std::move(spec));
  }
  if (const YAML::Node f = root["fixed"]; f && !f.IsNull()) {
    CHURN_RETURN_IF_ERROR(ParseFixed(f, &names, fixed));
  }
  return absl::OkStatus();
}

// A quniform value is a multiple of q or one of the (clamped) bounds.
bool IsQuantised(const ParamSpec& spec, double v) {
  if (v == spec.low || v == spec.high) {
    return true;
  }
  const double k = v / spec.q;
  return std::fabs(k - std::round(k)) <= 1e-9 * std::max(1.0, std::fabs(k));
}

absl::Status CheckValue(const ParamSpec& spec, const ParamValue& value) {
  if (spec.kind == ParamKind::kChoice) {
    const auto* s = std::get_if<std::string>(&value);
    if (s == nullptr) {
      return Invalid(spec.name, "must be a string (type choice)");
    }
    if (std::find(spec.choices.begin(), spec.choices.end(), *s) == spec.choices.end()) {
      return Invalid(spec.name, absl::StrCat("'", *s, "' is not one of its choices"));
    }
    return absl::OkStatus();
  }
  double v = 0.0;
  if (spec.kind == ParamKind::kInt) {
    const auto* i = std::get_if<int64_t>(&value);
    if (i == nullptr) {
      return Invalid(spec.name, "must be an integer (type int)");
    }
    v = static_cast<double>(*i);
  } else {
    const auto* d = std::get_if<double>(&value);
    if (d == nullptr) {
      return Invalid(spec.name,
                     absl::StrCat("must be a double (type ", ParamKindName(spec.kind), ")"));
    }
    v = *d;
  }
  if (!(v >= spec.low && v <= spec.high)) {
    return Invalid(spec.name,
                   absl::StrCat(FormatParamValue(value), " is outside [", FormatDouble(spec.low),
                                ", ", FormatDouble(spec.high), "]"));
  }
  if (spec.kind == ParamKind::kQUniform && !IsQuantised(spec, v)) {
    return Invalid(spec.name,
                   absl::StrCat(FormatDouble(v), " is not a multiple of q ", FormatDouble(spec.q)));
  }
  return absl::OkStatus();
}

// Choice strings that other YAML readers would take for a bool, null or number are quoted
// (FromYaml reads every scalar as a string either way).
void EmitStrings(const std::vector<std::string>& values, YAML::Emitter& out) {
  static const std::set<std::string> kAmbiguous = {"y",  "n",   "yes",  "no", "true", "false",
                                                   "on", "off", "null", "~",  ""};
  out << YAML::Flow << YAML::BeginSeq;
  for (const auto& v : values) {
    double unused = 0.0;
    if (kAmbiguous.contains(absl::AsciiStrToLower(v)) || absl::SimpleAtod(v, &unused)) {
      out << YAML::DoubleQuoted << v;
    } else {
      out << v;
    }
  }
  out << YAML::EndSeq;
}

void EmitParam(const ParamSpec& p, YAML::Emitter& out) {
  out << YAML::Key << p.name << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "type" << YAML::Value << std::string(ParamKindName(p.kind));
  if (IsNumeric(p.kind)) {
    out << YAML::Key << "low" << YAML::Value << FormatDouble(p.low);
    out << YAML::Key << "high" << YAML::Value << FormatDouble(p.high);
    if (p.kind == ParamKind::kQUniform) {
      out << YAML::Key << "q" << YAML::Value << FormatDouble(p.q);
    }
  } else {
    out << YAML::Key << "choices" << YAML::Value;
    EmitStrings(p.choices, out);
  }
  if (!p.when.empty()) {
    out << YAML::Key << "when" << YAML::Value << YAML::Flow << YAML::BeginMap;
    for (const auto& [parent, values] : p.when) {
      out << YAML::Key << parent << YAML::Value;
      EmitStrings(values, out);
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

ParamSpec Numeric(std::string name, ParamKind kind, double low, double high, double q = 1.0) {
  ParamSpec spec;
  spec.name = std::move(name);
  spec.kind = kind;
  spec.low = low;
  spec.high = high;
  spec.q = q;
  return spec;
}

}  // namespace

absl::string_view ParamKindName(ParamKind kind) {
  for (const auto& [k, name] : kKindNames) {
    if (k == kind) {
      return name;
    }
  }
  return "?";
}

std::string FormatParamValue(const ParamValue& value) {
  if (const auto* d = std::get_if<double>(&value)) {
    return FormatDouble(*d);
  }
  if (const auto* i = std::get_if<int64_t>(&value)) {
    return absl::StrCat(*i);
  }
  return std::get<std::string>(value);
}

absl::StatusOr<ParamValue> ParseParamValue(const ParamSpec& spec, absl::string_view text) {
  switch (spec.kind) {
    case ParamKind::kChoice:
      if (std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end()) {
        return Invalid(spec.name, absl::StrCat("'", text, "' is not one of its choices"));
      }
      return ParamValue(std::string(text));
    case ParamKind::kInt: {
      int64_t i = 0;
      if (!absl::SimpleAtoi(text, &i)) {
        return Invalid(spec.name, absl::StrCat("'", text, "' is not an integer"));
      }
      return ParamValue(i);
    }
    default: {
      double d = 0.0;
      if (!absl::SimpleAtod(text, &d) || !std::isfinite(d)) {
        return Invalid(spec.name, absl::StrCat("'", text, "' is not a finite number"));
      }
      return ParamValue(d);
    }
  }
}

namespace {

// `start`: a list of complete assignments (name -> value), each checked against the space.
absl::Status ParseStart(const YAML::Node& node, const SearchSpace& space,
                        std::vector<Assignment>* start) {
  if (!node.IsSequence()) {
    return absl::InvalidArgumentError("search space: 'start' must be a list of mappings");
  }
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node point = node[i];
    if (!point.IsMap()) {
      return absl::InvalidArgumentError(absl::StrCat("start point ", i, " must be a mapping"));
    }
    Assignment a;
    for (const auto& entry : point) {
      const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "";
      const ParamSpec* spec = space.Find(name);
      if (spec == nullptr || !entry.second.IsScalar()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "start point ", i, ": '", name, "' is not a searched parameter with a scalar value"));
      }
      absl::StatusOr<ParamValue> value = ParseParamValue(*spec, entry.second.Scalar());
      if (!value.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("start point ", i, ": ", value.status().message()));
      }
      a[name] = *std::move(value);
    }
    if (absl::Status s = space.Check(a); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("start point ", i, ": ", s.message()));
    }
    start->push_back(std::move(a));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SearchSpace> SearchSpace::FromYaml(absl::string_view text) {
  SearchSpace space;
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    CHURN_RETURN_IF_ERROR(ParseRoot(root, &space.params_, &space.fixed_));
    if (const YAML::Node start = root["start"]; start && !start.IsNull()) {
      CHURN_RETURN_IF_ERROR(ParseStart(start, space, &space.start_));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("search space YAML: ", e.what()));
  }
  return space;
}

SearchSpace SearchSpace::Default() {
  SearchSpace space;
  space.params_ = {
      Numeric("max_depth", ParamKind::kInt, 2, 10),
      Numeric("eta", ParamKind::kLogUniform, 0.01, 0.3),
      Numeric("min_child_weight", ParamKind::kLogUniform, 0.1, 20),
      Numeric("subsample", ParamKind::kUniform, 0.5, 1.0),
      Numeric("colsample_bytree", ParamKind::kUniform, 0.5, 1.0),
      Numeric("lambda", ParamKind::kLogUniform, 1e-3, 10),
      Numeric("alpha", ParamKind::kLogUniform, 1e-3, 10),
      Numeric("gamma", ParamKind::kLogUniform, 1e-4, 1),
      Numeric("max_bin", ParamKind::kQUniform, 32, 256, 32),
  };
  // XGBoost's defaults, clamped into the space (alpha and gamma at their floor, near XGBoost's
  // 0): the first trial is the model a user would get without a search.
  space.start_ = {{{"max_depth", int64_t{6}},
                   {"eta", 0.3},
                   {"min_child_weight", 1.0},
                   {"subsample", 1.0},
                   {"colsample_bytree", 1.0},
                   {"lambda", 1.0},
                   {"alpha", 1e-3},
                   {"gamma", 1e-4},
                   {"max_bin", 256.0}}};
  return space;
}

std::string SearchSpace::ToYaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "params" << YAML::Value << YAML::BeginMap;
  for (const auto& p : params_) {
    EmitParam(p, out);
  }
  out << YAML::EndMap;
  if (!fixed_.empty()) {
    out << YAML::Key << "fixed" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, value] : fixed_) {
      out << YAML::Key << name << YAML::Value << value;
    }
    out << YAML::EndMap;
  }
  if (!start_.empty()) {
    out << YAML::Key << "start" << YAML::Value << YAML::BeginSeq;
    for (const Assignment& a : start_) {
      out << YAML::Flow << YAML::BeginMap;
      for (const auto& [name, value] : a) {
        out << YAML::Key << name << YAML::Value << FormatParamValue(value);
      }
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

const ParamSpec* SearchSpace::Find(absl::string_view name) const {
  for (const auto& p : params_) {
    if (p.name == name) {
      return &p;
    }
  }
  return nullptr;
}

bool SearchSpace::IsActive(const ParamSpec& spec, const Assignment& assignment) {
  return std::ranges::all_of(spec.when, [&assignment](const auto& condition) {
    const auto it = assignment.find(condition.first);
    const auto* value = it == assignment.end() ? nullptr : std::get_if<std::string>(&it->second);
    return value != nullptr &&
           std::ranges::find(condition.second, *value) != condition.second.end();
  });
}

absl::Status SearchSpace::Check(const Assignment& assignment) const {
  for (const auto& spec : params_) {
    const auto it = assignment.find(spec.name);
    if (!IsActive(spec, assignment)) {
      if (it != assignment.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(spec.name), " is set but inactive (its `when` does not hold)"));
      }
      continue;
    }
    if (it == assignment.end()) {
      return absl::InvalidArgumentError(absl::StrCat(Where(spec.name), " is active but missing"));
    }
    CHURN_RETURN_IF_ERROR(CheckValue(spec, it->second));
  }
  for (const auto& [name, value] : assignment) {
    if (Find(name) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameter '", name, "' is not in the search space"));
    }
  }
  return absl::OkStatus();
}

}  // namespace churn::train
