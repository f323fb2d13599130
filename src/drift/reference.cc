#include "churn/drift/reference.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"

namespace churn::drift {
namespace {

using Json = nlohmann::json;

constexpr absl::string_view kFormat = "churn-drift-reference/1";

absl::string_view KindName(ColumnKind kind) {
  return kind == ColumnKind::kNumeric ? "numeric" : "categorical";
}

// Distinct non-missing values ascending with their counts; the missing ones counted apart.
void Tally(std::vector<double> values, ReferenceColumn* out) {
  std::sort(values.begin(), values.end());
  for (const double v : values) {
    if (out->values.empty() || out->values.back() != v) {
      out->values.push_back(v);
      out->counts.push_back(0);
    }
    ++out->counts.back();
  }
}

bool AppliesTo(DriftTest test, ColumnKind kind) {
  return kind == ColumnKind::kNumeric ||
         (test != DriftTest::kKs && test != DriftTest::kWasserstein);
}

absl::Status ChooseColumnTest(const ColumnOptions* given, uint64_t reference_rows,
                              ReferenceColumn* column) {
  const ColumnKind kind = column->feature.kind;
  column->test = given != nullptr && given->test.has_value()
                     ? *given->test
                     : ChooseTest(kind, reference_rows, column->values.size());
  if (!AppliesTo(column->test, kind)) {
    return absl::InvalidArgumentError(absl::StrCat("feature ", column->feature.name, ": test ",
                                                   DriftTestName(column->test),
                                                   " does not apply to a categorical feature"));
  }
  column->threshold = given != nullptr && given->threshold.has_value()
                          ? *given->threshold
                          : DefaultThreshold(column->test);
  if (!std::isfinite(column->threshold)) {
    return absl::InvalidArgumentError(
        absl::StrCat("feature ", column->feature.name, ": threshold is not finite"));
  }
  return absl::OkStatus();
}

// The rows kept: all of them, or `max_rows` evenly spaced ones.
std::vector<size_t> KeptRows(size_t rows, size_t max_rows) {
  std::vector<size_t> kept;
  const size_t n = std::min(rows, std::max<size_t>(max_rows, 1));
  kept.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    kept.push_back(i * rows / n);
  }
  return kept;
}

absl::Status CheckInput(const ReferenceInput& in) {
  if (in.width == 0 || in.matrix.size() % in.width != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("BuildReference: ", in.matrix.size(), " values are not rows of ", in.width));
  }
  const size_t rows = in.matrix.size() / in.width;
  if (rows == 0) {
    return absl::InvalidArgumentError("BuildReference: no rows");
  }
  if (in.scores.size() != rows || (!in.labels.empty() && in.labels.size() != rows)) {
    return absl::InvalidArgumentError(absl::StrCat("BuildReference: ", rows, " rows but ",
                                                   in.scores.size(), " scores and ",
                                                   in.labels.size(), " labels"));
  }
  for (const MonitoredFeature& f : in.features) {
    if (f.index >= in.width) {
      return absl::InvalidArgumentError(absl::StrCat("BuildReference: feature ", f.name, " index ",
                                                     f.index, " is outside rows of ", in.width));
    }
  }
  for (const auto& entry : in.per_column) {
    const std::string& name = entry.first;
    if (std::none_of(in.features.begin(), in.features.end(),
                     [&name](const MonitoredFeature& f) { return f.name == name; })) {
      return absl::InvalidArgumentError(
          absl::StrCat("BuildReference: an override names '", name, "', which is not monitored"));
    }
  }
  return absl::OkStatus();
}

Json ColumnJson(const ReferenceColumn& c) {
  return Json{{"name", c.feature.name},   {"kind", KindName(c.feature.kind)},
              {"index", c.feature.index}, {"levels", c.feature.levels},
              {"values", c.values},       {"counts", c.counts},
              {"missing", c.missing},     {"test", DriftTestName(c.test)},
              {"threshold", c.threshold}};
}

absl::StatusOr<ReferenceColumn> ColumnFromJson(const Json& j, const std::string& where) {
  ReferenceColumn c;
  try {
    c.feature.name = j.at("name").get<std::string>();
    const auto kind = j.at("kind").get<std::string>();
    if (kind != "numeric" && kind != "categorical") {
      return absl::InvalidArgumentError(absl::StrCat(where, ".kind: '", kind, "'"));
    }
    c.feature.kind = kind == "numeric" ? ColumnKind::kNumeric : ColumnKind::kCategorical;
    c.feature.index = j.at("index").get<size_t>();
    c.feature.levels = j.at("levels").get<std::vector<std::string>>();
    c.values = j.at("values").get<std::vector<double>>();
    c.counts = j.at("counts").get<std::vector<uint64_t>>();
    c.missing = j.at("missing").get<uint64_t>();
    c.threshold = j.at("threshold").get<double>();
    absl::StatusOr<DriftTest> test = DriftTestFromName(j.at("test").get<std::string>());
    if (!test.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".test: ", test.status().message()));
    }
    c.test = *test;
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", e.what()));
  }
  if (c.values.size() != c.counts.size() || c.values.empty() ||
      !std::is_sorted(c.values.begin(), c.values.end())) {
    return absl::InvalidArgumentError(absl::StrCat(where, " (", c.feature.name,
                                                   "): values and counts must be as long, ",
                                                   "non-empty, and the values ascending"));
  }
  if (!std::all_of(c.values.begin(), c.values.end(), [](double v) { return std::isfinite(v); }) ||
      !std::all_of(c.counts.begin(), c.counts.end(),
                   [](uint64_t n) { return n > 0 && n <= (uint64_t{1} << 40); })) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, " (", c.feature.name, "): values must be finite and counts in 1..2^40"));
  }
  return c;
}

}  // namespace

std::vector<double> ReferenceColumn::Expanded() const {
  std::vector<double> out;
  out.reserve(NonMissing());
  for (size_t i = 0; i < values.size(); ++i) {
    out.insert(out.end(), counts[i], values[i]);
  }
  return out;
}

uint64_t ReferenceColumn::NonMissing() const {
  uint64_t n = 0;
  for (const uint64_t c : counts) {
    n += c;
  }
  return n;
}

absl::StatusOr<ReferenceProfile> BuildReference(const ReferenceInput& in) {
  CHURN_RETURN_IF_ERROR(CheckInput(in));
  const std::vector<size_t> kept = KeptRows(in.matrix.size() / in.width, in.max_rows);
  ReferenceProfile ref;
  ref.rows = kept.size();
  ref.decision_threshold = in.decision_threshold;
  std::vector<double> values;
  for (const MonitoredFeature& f : in.features) {
    ReferenceColumn column{.feature = f};
    values.clear();
    for (const size_t r : kept) {
      const float v = in.matrix[r * in.width + f.index];
      if (std::isnan(v)) {
        ++column.missing;
      } else {
        values.push_back(v);
      }
    }
    if (values.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("BuildReference: feature ", f.name, " has no non-missing value"));
    }
    Tally(values, &column);
    const auto given = in.per_column.find(f.name);
    CHURN_RETURN_IF_ERROR(ChooseColumnTest(given == in.per_column.end() ? nullptr : &given->second,
                                           ref.rows, &column));
    ref.columns.push_back(std::move(column));
  }
  ref.scores.feature = {.name = "churn_probability", .kind = ColumnKind::kNumeric};
  values.clear();
  for (const size_t r : kept) {
    values.push_back(in.scores[r]);
    if (!in.labels.empty() && !std::isnan(in.labels[r])) {
      ++ref.labeled;
      ref.positives += in.labels[r] >= 0.5f ? 1 : 0;
    }
  }
  Tally(values, &ref.scores);
  CHURN_RETURN_IF_ERROR(ChooseColumnTest(nullptr, ref.rows, &ref.scores));
  return ref;
}

absl::StatusOr<std::map<std::string, ColumnOptions, std::less<>>> ParseColumnOverrides(
    absl::string_view text) {
  std::map<std::string, ColumnOptions, std::less<>> out;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    const auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("drift override '", item, "': ", why));
    };
    const size_t eq = item.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return bad("expected COLUMN=TEST or COLUMN=TEST:THRESHOLD");
    }
    const absl::string_view rest = item.substr(eq + 1);
    const size_t colon = rest.find(':');
    ColumnOptions options;
    absl::StatusOr<DriftTest> test = DriftTestFromName(rest.substr(0, colon));
    if (!test.ok()) {
      return bad("unknown test (expected ks, chisquare, z, wasserstein, jensenshannon or psi)");
    }
    options.test = *test;
    if (colon != absl::string_view::npos) {
      double x = 0;
      if (!absl::SimpleAtod(rest.substr(colon + 1), &x) || !std::isfinite(x) || x < 0) {
        return bad("the threshold is not a number >= 0");
      }
      options.threshold = x;
    }
    out[std::string(item.substr(0, eq))] = options;
  }
  return out;
}

ReferenceProfile WithOverrides(const ReferenceProfile& reference,
                               const std::map<std::string, ColumnOptions, std::less<>>& overrides,
                               std::vector<std::string>* ignored) {
  ReferenceProfile out = reference;
  for (const auto& entry : overrides) {
    const std::string& name = entry.first;
    const ColumnOptions& options = entry.second;
    const auto it = std::find_if(
        out.columns.begin(), out.columns.end(),
        [&name](const ReferenceColumn& c) { return absl::EqualsIgnoreCase(c.feature.name, name); });
    std::string why;
    if (it == out.columns.end()) {
      why = absl::StrCat("drift override for '", name, "': the model has no such input");
    } else if (absl::Status s = ChooseColumnTest(&options, out.rows, &*it); !s.ok()) {
      why = absl::StrCat("drift override for '", name, "': ", s.message());
      const auto original = std::find_if(
          reference.columns.begin(), reference.columns.end(),
          [&it](const ReferenceColumn& c) { return c.feature.name == it->feature.name; });
      *it = *original;
    }
    if (!why.empty() && ignored != nullptr) {
      ignored->push_back(std::move(why));
    }
  }
  return out;
}

std::string ReferenceProfile::ToJson() const {
  Json columns_json = Json::array();
  for (const ReferenceColumn& c : columns) {
    columns_json.push_back(ColumnJson(c));
  }
  const Json out{{"format", kFormat},
                 {"rows", rows},
                 {"labeled", labeled},
                 {"positives", positives},
                 {"decision_threshold", decision_threshold},
                 {"columns", columns_json},
                 {"scores", ColumnJson(scores)}};
  return out.dump();
}

absl::StatusOr<ReferenceProfile> ReferenceProfile::FromJson(absl::string_view text) {
  const Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return absl::InvalidArgumentError("drift reference: not a JSON object");
  }
  const auto format = j.find("format");
  if (format == j.end() || !format->is_string() || format->get<std::string>() != kFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat("drift reference: format is not '", kFormat, "'"));
  }
  ReferenceProfile ref;
  try {
    ref.rows = j.at("rows").get<uint64_t>();
    ref.labeled = j.at("labeled").get<uint64_t>();
    ref.positives = j.at("positives").get<uint64_t>();
    ref.decision_threshold = j.at("decision_threshold").get<double>();
    if (!j.at("columns").is_array()) {
      return absl::InvalidArgumentError("drift reference: columns is not an array");
    }
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("drift reference: ", e.what()));
  }
  const Json& columns = j.at("columns");
  for (size_t i = 0; i < columns.size(); ++i) {
    CHURN_ASSIGN_OR_RETURN(
        ReferenceColumn c,
        ColumnFromJson(columns[i], absl::StrCat("drift reference: columns[", i, "]")));
    ref.columns.push_back(std::move(c));
  }
  if (!j.contains("scores")) {
    return absl::InvalidArgumentError("drift reference: no scores");
  }
  CHURN_ASSIGN_OR_RETURN(ref.scores, ColumnFromJson(j.at("scores"), "drift reference: scores"));
  return ref;
}

}  // namespace churn::drift
