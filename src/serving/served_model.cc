#include "churn/serving/served_model.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"
#include "churn/model/xgboost.h"

namespace churn::serving {
namespace {

// Four rows per split node (each side of its threshold, at it, and missing), within bounds.
constexpr size_t kMinReferenceRows = 512;
constexpr size_t kMaxReferenceRows = 200000;
constexpr uint64_t kReferenceSeed = 20261202;
constexpr double kVerifyTolerance = 1e-6;
constexpr char kDriftReferenceFile[] = "drift_reference.json";

bool IsName(absl::string_view s) {
  return !s.empty() && s.find_first_of("@/ \t\r\n") == absl::string_view::npos;
}

absl::StatusOr<std::string> File(const PackageFiles& files, absl::string_view name) {
  const auto it = files.find(name);
  if (it == files.end()) {
    return absl::InvalidArgumentError(absl::StrCat("model package lacks ", name));
  }
  return it->second;
}

// The artifact path prefix of a version's source "runs:/<run_id>/<path>".
absl::StatusOr<std::string> SourcePath(const registry::ModelVersion& v) {
  const std::string prefix = absl::StrCat("runs:/", v.run_id, "/");
  if (v.run_id.empty() || !absl::StartsWith(v.source, prefix)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model ", v.name, " version ", v.version, " has no source run (source '", v.source,
        "'): only versions registered from a run's artifacts can be served"));
  }
  std::string path = v.source.substr(prefix.size());
  while (!path.empty() && path.back() == '/') {
    path.pop_back();
  }
  return path;
}

}  // namespace

std::string ModelRef::ToString() const {
  return alias.empty() ? absl::StrCat(name, "@", version) : absl::StrCat(name, "@", alias);
}

absl::StatusOr<ModelRef> ParseModelRef(absl::string_view text) {
  const size_t at = text.find_first_of("@/");
  const auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "model reference '", text, "': expected NAME@ALIAS, NAME@VERSION or NAME/VERSION"));
  };
  if (at == absl::string_view::npos) {
    return bad();
  }
  const absl::string_view name = text.substr(0, at);
  const absl::string_view rest = text.substr(at + 1);
  if (!IsName(name) || !IsName(rest)) {
    return bad();
  }
  ModelRef ref{.name = std::string(name)};
  int64_t version = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), version);
  if (ec == std::errc() && end == rest.data() + rest.size()) {
    if (version <= 0) {
      return bad();
    }
    ref.version = version;
  } else if (text[at] == '/') {
    return bad();
  } else {
    ref.alias = std::string(rest);
  }
  return ref;
}

absl::StatusOr<std::shared_ptr<const ServedModel>> ServedModel::FromPackage(
    const PackageFiles& files, registry::ModelVersion version) {
  std::shared_ptr<ServedModel> m(new ServedModel());
  m->version_ = std::move(version);
  CHURN_ASSIGN_OR_RETURN(m->manifest_, File(files, "churn_model.json"));
  const nlohmann::json manifest = nlohmann::json::parse(m->manifest_, nullptr, false);
  if (!manifest.is_object() || !manifest.contains("threshold") ||
      !manifest["threshold"].is_number()) {
    return absl::InvalidArgumentError("churn_model.json: not a manifest with a numeric threshold");
  }
  m->threshold_ = manifest["threshold"].get<double>();
  CHURN_ASSIGN_OR_RETURN(const std::string pipeline_json, File(files, "pipeline.json"));
  CHURN_ASSIGN_OR_RETURN(m->pipeline_, features::FeaturePipeline::FromJson(pipeline_json));
  CHURN_ASSIGN_OR_RETURN(const std::string schema_yaml, File(files, "schema.yaml"));
  CHURN_ASSIGN_OR_RETURN(m->schema_, data::ParseSchemaYaml(schema_yaml));
  CHURN_ASSIGN_OR_RETURN(const std::string model_json, File(files, "model.json"));
  CHURN_ASSIGN_OR_RETURN(model::CompiledModel trees,
                         model::CompiledModel::FromXgboostJson(model_json));
  if (trees.NumFeatures() == 0 || trees.NumFeatures() != m->pipeline_.NumFeatures()) {
    return absl::InvalidArgumentError(absl::StrCat("model.json takes ", trees.NumFeatures(),
                                                   " features, pipeline.json makes ",
                                                   m->pipeline_.NumFeatures()));
  }
  // XGBoost, from the same file, is the reference the compiled trees must equal.
  CHURN_ASSIGN_OR_RETURN(const model::Booster booster, model::Booster::Load(model_json));
  const size_t reference_rows =
      std::clamp<size_t>(4 * trees.NumNodes(), kMinReferenceRows, kMaxReferenceRows);
  m->reference_rows_ = model::ReferenceRows(trees, reference_rows, kReferenceSeed);
  CHURN_RETURN_IF_ERROR(model::VerifyAgainstXgboost(trees, booster, m->reference_rows_,
                                                    m->reference_rows_.size() / trees.NumFeatures(),
                                                    kVerifyTolerance));
  m->trees_.emplace(std::move(trees));
  CHURN_RETURN_IF_ERROR(m->LoadDriftReference(files));
  return std::shared_ptr<const ServedModel>(std::move(m));
}

absl::Status ServedModel::LoadDriftReference(const PackageFiles& files) {
  const auto it = files.find(kDriftReferenceFile);
  if (it == files.end()) {
    return absl::OkStatus();
  }
  absl::StatusOr<drift::ReferenceProfile> ref = drift::ReferenceProfile::FromJson(it->second);
  if (!ref.ok()) {
    return base::WithContext(ref.status(), kDriftReferenceFile);
  }
  const std::vector<features::EncodedFeature>& features = pipeline_.Features();
  for (const drift::ReferenceColumn& c : ref->columns) {
    if (c.feature.index >= features.size() || features[c.feature.index].name != c.feature.name) {
      return absl::InvalidArgumentError(absl::StrCat(kDriftReferenceFile, ": input ",
                                                     c.feature.name, " is not pipeline feature ",
                                                     c.feature.index));
    }
  }
  drift_reference_ = std::make_shared<const drift::ReferenceProfile>(*std::move(ref));
  return absl::OkStatus();
}

std::vector<drift::MonitoredFeature> MonitoredFeatures(const features::FeaturePipeline& pipeline) {
  std::vector<drift::MonitoredFeature> out;
  const std::vector<features::EncodedFeature>& features = pipeline.Features();
  for (size_t i = 0; i < features.size(); ++i) {
    const features::EncodedFeature& f = features[i];
    if (f.kind == features::EncodedFeature::Kind::kRatio) {
      continue;
    }
    const bool categorical = f.kind == features::EncodedFeature::Kind::kCategorical;
    out.push_back(
        {.name = f.name,
         .kind = categorical ? drift::ColumnKind::kCategorical : drift::ColumnKind::kNumeric,
         .index = i,
         .levels = categorical ? f.levels : std::vector<std::string>{}});
  }
  return out;
}

absl::StatusOr<drift::ReferenceProfile> BuildDriftReference(
    const features::FeaturePipeline& pipeline, absl::Span<const float> matrix,
    absl::Span<const float> scores, absl::Span<const float> labels, double threshold) {
  return drift::BuildReference({.features = MonitoredFeatures(pipeline),
                                .matrix = matrix,
                                .width = pipeline.NumFeatures(),
                                .scores = scores,
                                .labels = labels,
                                .decision_threshold = threshold});
}

absl::StatusOr<registry::ModelVersion> ResolveModelRef(registry::Registry& registry,
                                                       const ModelRef& ref) {
  if (!ref.alias.empty()) {
    return registry.GetModelVersionByAlias(ref.name, ref.alias);
  }
  return registry.GetModelVersion(ref.name, ref.version);
}

absl::StatusOr<std::shared_ptr<const ServedModel>> LoadServedModel(registry::Registry& registry,
                                                                   const ModelRef& ref) {
  CHURN_ASSIGN_OR_RETURN(registry::ModelVersion version, ResolveModelRef(registry, ref));
  CHURN_ASSIGN_OR_RETURN(const std::string path, SourcePath(version));
  PackageFiles files;
  for (const char* name :
       {"churn_model.json", "model.json", "pipeline.json", "schema.yaml", kDriftReferenceFile}) {
    const std::string artifact = path.empty() ? name : absl::StrCat(path, "/", name);
    absl::StatusOr<std::string> bytes = registry.ReadArtifact(version.run_id, artifact);
    if (absl::IsNotFound(bytes.status()) && absl::string_view(name) == kDriftReferenceFile) {
      continue;  // a version from before drift references: served unmonitored
    }
    if (!bytes.ok()) {
      return absl::Status(bytes.status().code(),
                          absl::StrCat("model ", version.name, " version ", version.version,
                                       ": cannot read ", artifact, ": ", bytes.status().message()));
    }
    files.emplace(name, *std::move(bytes));
  }
  absl::StatusOr<std::shared_ptr<const ServedModel>> model =
      ServedModel::FromPackage(files, version);
  if (!model.ok()) {
    return absl::Status(model.status().code(),
                        absl::StrCat("model ", version.name, " version ", version.version, ": ",
                                     model.status().message()));
  }
  return model;
}

}  // namespace churn::serving
