#include "churn/features/pipeline.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"

namespace churn::features {
namespace {

using data::Column;
using data::ColumnType;
using nlohmann::json;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr int kFormatVersion = 1;

absl::string_view KindName(EncodedFeature::Kind kind) {
  switch (kind) {
    case EncodedFeature::Kind::kNumeric:
      return "numeric";
    case EncodedFeature::Kind::kCategorical:
      return "categorical";
    case EncodedFeature::Kind::kRatio:
      return "ratio";
  }
  return "?";
}

absl::StatusOr<EncodedFeature::Kind> KindFromName(absl::string_view name) {
  for (auto kind : {EncodedFeature::Kind::kNumeric, EncodedFeature::Kind::kCategorical,
                    EncodedFeature::Kind::kRatio}) {
    if (KindName(kind) == name) {
      return kind;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("pipeline: unknown feature kind '", name, "'"));
}

float Ratio(double num, double den) {
  if (std::isnan(num) || std::isnan(den) || den == 0) {
    return kNaN;
  }
  return static_cast<float>(num / den);
}

absl::StatusOr<double> ParseNumber(absl::string_view name, absl::string_view text) {
  double v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || !std::isfinite(v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("field '", name, "': '", text, "' is not a finite number"));
  }
  return v;
}

}  // namespace

absl::StatusOr<FeaturePipeline> FeaturePipeline::Fit(const data::Table& train,
                                                     const data::Schema& schema) {
  FeaturePipeline p;
  p.schema_hash_ = schema.Hash();
  for (const data::ColumnSpec* spec : schema.Features()) {
    const Column* column = train.Find(spec->name);
    if (column == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("training table lacks feature column '", spec->name, "'"));
    }
    EncodedFeature f;
    f.name = spec->name;
    f.allow_missing = spec->allow_missing;
    if (spec->type == ColumnType::kCategorical) {
      f.kind = EncodedFeature::Kind::kCategorical;
      std::vector<bool> seen(spec->levels.size(), false);
      for (size_t r = 0; r < column->size(); ++r) {
        if (!column->IsMissing(r)) {
          seen[static_cast<size_t>(column->codes[r])] = true;
        }
      }
      for (size_t i = 0; i < spec->levels.size(); ++i) {
        if (seen[i]) {
          f.levels.push_back(spec->levels[i]);
        }
      }
      p.declared_levels_[spec->name] = spec->levels;
    } else if (spec->type == ColumnType::kInteger || spec->type == ColumnType::kFloat) {
      f.kind = EncodedFeature::Kind::kNumeric;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("feature column '", spec->name, "' is a string; declare it categorical"));
    }
    p.features_.push_back(std::move(f));
  }
  for (const auto& d : schema.derived) {
    EncodedFeature f;
    f.kind = EncodedFeature::Kind::kRatio;
    f.name = d.name;
    f.numerator = d.numerator;
    f.denominator = d.denominator;
    f.allow_missing = true;
    p.features_.push_back(std::move(f));
  }
  CHURN_RETURN_IF_ERROR(p.Link());
  return p;
}

std::vector<std::string> FeaturePipeline::FeatureNames() const {
  std::vector<std::string> names;
  names.reserve(features_.size());
  for (const auto& f : features_) {
    names.push_back(f.name);
  }
  return names;
}

namespace {

// Fills column j of the row-major matrix `out` (width columns) for one encoded feature.
absl::Status FillColumn(const EncodedFeature& f, const data::Table& table, size_t j, size_t width,
                        std::vector<float>* out) {
  const size_t rows = table.NumRows();
  if (f.kind == EncodedFeature::Kind::kRatio) {
    const Column* num = table.Find(f.numerator);
    const Column* den = table.Find(f.denominator);
    if (num == nullptr || den == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("table lacks an input of derived feature '", f.name, "'"));
    }
    for (size_t r = 0; r < rows; ++r) {
      (*out)[r * width + j] = Ratio(num->AsDouble(r), den->AsDouble(r));
    }
    return absl::OkStatus();
  }
  const Column* column = table.Find(f.name);
  if (column == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("table lacks feature column '", f.name, "'"));
  }
  if (f.kind == EncodedFeature::Kind::kNumeric) {
    for (size_t r = 0; r < rows; ++r) {
      (*out)[r * width + j] = static_cast<float>(column->AsDouble(r));
    }
    return absl::OkStatus();
  }
  // Table codes index the schema's levels; map them onto the fitted ones once per level.
  std::vector<float> remap(column->spec.levels.size(), static_cast<float>(f.levels.size()));
  for (size_t i = 0; i < f.levels.size(); ++i) {
    const int code = column->spec.LevelIndex(f.levels[i]);
    if (code >= 0) {
      remap[static_cast<size_t>(code)] = static_cast<float>(i);
    }
  }
  for (size_t r = 0; r < rows; ++r) {
    if (!column->IsMissing(r)) {
      (*out)[r * width + j] = remap[static_cast<size_t>(column->codes[r])];
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<float>> FeaturePipeline::Transform(const data::Table& table) const {
  const size_t width = features_.size();
  std::vector<float> out(table.NumRows() * width, kNaN);
  for (size_t j = 0; j < width; ++j) {
    CHURN_RETURN_IF_ERROR(FillColumn(features_[j], table, j, width, &out));
  }
  return out;
}

absl::StatusOr<float> FeaturePipeline::EncodeCategory(const EncodedFeature& f,
                                                      absl::string_view value) const {
  for (size_t code = 0; code < f.levels.size(); ++code) {
    if (f.levels[code] == value) {
      return static_cast<float>(code);
    }
  }
  const auto declared = declared_levels_.find(f.name);
  if (declared != declared_levels_.end() &&
      std::find(declared->second.begin(), declared->second.end(), value) !=
          declared->second.end()) {
    return static_cast<float>(f.levels.size());  // declared but unseen in training
  }
  return absl::InvalidArgumentError(
      absl::StrCat("field '", f.name, "': unknown category '", value, "'"));
}

absl::StatusOr<std::vector<float>> FeaturePipeline::TransformRecord(const RawRecord& record) const {
  std::vector<FeatureInput> inputs(features_.size());
  for (size_t j = 0; j < features_.size(); ++j) {
    const EncodedFeature& f = features_[j];
    const auto it = record.find(f.name);
    if (f.kind == EncodedFeature::Kind::kRatio || it == record.end() || it->second.empty()) {
      continue;
    }
    if (f.kind == EncodedFeature::Kind::kNumeric) {
      CHURN_ASSIGN_OR_RETURN(const double v, ParseNumber(f.name, it->second));
      inputs[j] = FeatureInput::Number(v);
    } else {
      inputs[j] = FeatureInput::Text(it->second);
    }
  }
  std::vector<float> out(features_.size(), kNaN);
  CHURN_RETURN_IF_ERROR(Encode(inputs, absl::MakeSpan(out)));
  return out;
}

absl::Status FeaturePipeline::Encode(absl::Span<const FeatureInput> inputs,
                                     absl::Span<float> out) const {
  if (inputs.size() != features_.size() || out.size() != features_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("pipeline: ", features_.size(),
                                                   " inputs and outputs expected, got ",
                                                   inputs.size(), " and ", out.size()));
  }
  using Kind = FeatureInput::Kind;
  for (size_t j = 0; j < features_.size(); ++j) {
    const EncodedFeature& f = features_[j];
    const FeatureInput& in = inputs[j];
    out[j] = kNaN;
    if (f.kind == EncodedFeature::Kind::kRatio) {
      const auto [num, den] = ratio_inputs_[j];
      const auto value = [&inputs](int i) {
        return inputs[static_cast<size_t>(i)].kind == Kind::kNumber
                   ? inputs[static_cast<size_t>(i)].number
                   : NAN;
      };
      out[j] = Ratio(value(num), value(den));
    } else if (in.kind == Kind::kMissing) {
      if (!f.allow_missing) {
        return absl::InvalidArgumentError(absl::StrCat("field '", f.name, "' is required"));
      }
    } else if (f.kind == EncodedFeature::Kind::kNumeric) {
      if (in.kind != Kind::kNumber || !std::isfinite(in.number)) {
        return absl::InvalidArgumentError(
            absl::StrCat("field '", f.name, "': expected a finite number"));
      }
      out[j] = static_cast<float>(in.number);
    } else if (in.kind == Kind::kText) {
      CHURN_ASSIGN_OR_RETURN(out[j], EncodeCategory(f, in.text));
    } else if (in.kind == Kind::kUnknownCategory) {
      out[j] = static_cast<float>(f.levels.size());
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("field '", f.name, "': expected one of its categories, got a number"));
    }
  }
  return absl::OkStatus();
}

absl::Status FeaturePipeline::Link() {
  ratio_inputs_.assign(features_.size(), {-1, -1});
  const auto index_of = [this](const std::string& name) {
    for (size_t i = 0; i < features_.size(); ++i) {
      if (features_[i].name == name && features_[i].kind == EncodedFeature::Kind::kNumeric) {
        return static_cast<int>(i);
      }
    }
    return -1;
  };
  for (size_t j = 0; j < features_.size(); ++j) {
    const EncodedFeature& f = features_[j];
    if (f.kind != EncodedFeature::Kind::kRatio) {
      continue;
    }
    ratio_inputs_[j] = {index_of(f.numerator), index_of(f.denominator)};
    if (ratio_inputs_[j].first < 0 || ratio_inputs_[j].second < 0) {
      return absl::InvalidArgumentError(absl::StrCat("pipeline: ratio feature '", f.name,
                                                     "' needs numeric features '", f.numerator,
                                                     "' and '", f.denominator, "'"));
    }
  }
  return absl::OkStatus();
}

std::string FeaturePipeline::ToJson() const {
  json features = json::array();
  for (const auto& f : features_) {
    json j = {{"name", f.name},
              {"kind", std::string(KindName(f.kind))},
              {"allow_missing", f.allow_missing}};
    if (f.kind == EncodedFeature::Kind::kCategorical) {
      j["levels"] = f.levels;
      j["unknown_code"] = f.levels.size();
      j["declared_levels"] = declared_levels_.at(f.name);
    } else if (f.kind == EncodedFeature::Kind::kRatio) {
      j["numerator"] = f.numerator;
      j["denominator"] = f.denominator;
    }
    features.push_back(std::move(j));
  }
  const json out = {{"format", "churn.feature_pipeline"},
                    {"version", kFormatVersion},
                    {"schema_hash", schema_hash_},
                    {"features", std::move(features)}};
  return out.dump(1);
}

absl::StatusOr<FeaturePipeline> FeaturePipeline::FromJson(absl::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("pipeline: not a JSON object");
  }
  if (j.value("format", "") != "churn.feature_pipeline" ||
      j.value("version", 0) != kFormatVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("pipeline: unsupported format/version (want churn.feature_pipeline v",
                     kFormatVersion, ")"));
  }
  FeaturePipeline p;
  try {
    p.schema_hash_ = j.at("schema_hash").get<std::string>();
    for (const json& jf : j.at("features")) {
      EncodedFeature f;
      f.name = jf.at("name").get<std::string>();
      CHURN_ASSIGN_OR_RETURN(f.kind, KindFromName(jf.at("kind").get<std::string>()));
      f.allow_missing = jf.at("allow_missing").get<bool>();
      if (f.kind == EncodedFeature::Kind::kCategorical) {
        f.levels = jf.at("levels").get<std::vector<std::string>>();
        p.declared_levels_[f.name] = jf.at("declared_levels").get<std::vector<std::string>>();
      } else if (f.kind == EncodedFeature::Kind::kRatio) {
        f.numerator = jf.at("numerator").get<std::string>();
        f.denominator = jf.at("denominator").get<std::string>();
      }
      p.features_.push_back(std::move(f));
    }
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("pipeline: ", e.what()));
  }
  CHURN_RETURN_IF_ERROR(p.Link());
  return p;
}

absl::StatusOr<std::vector<float>> Labels(const data::Table& table, const data::Schema& schema) {
  const Column* target = table.Find(schema.target);
  if (target == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("table lacks target column '", schema.target, "'"));
  }
  std::vector<float> labels(table.NumRows());
  const int positive_code = target->spec.LevelIndex(schema.positive_value);
  for (size_t r = 0; r < labels.size(); ++r) {
    if (target->IsMissing(r)) {
      return absl::InvalidArgumentError(absl::StrCat("target is missing in row ", r + 1));
    }
    const bool positive = target->spec.type == ColumnType::kCategorical
                              ? target->codes[r] == positive_code
                              : target->ints[r] == 1;
    labels[r] = positive ? 1.0F : 0.0F;
  }
  return labels;
}

}  // namespace churn::features
