// File: churn/serving/served_model.h
//
// A registered model version made ready to serve: its feature pipeline, its trees compiled into
// our own evaluator (verified against XGBoost on every load), its schema (the serving contract)
// and the threshold chosen on the validation split. Immutable once loaded; the model server holds
// it in a shared_ptr and swaps in a new one on reload, so in-flight requests finish on the old.
//
//   CHURN_ASSIGN_OR_RETURN(ModelRef ref, ParseModelRef("churn@production"));
//   CHURN_ASSIGN_OR_RETURN(std::shared_ptr<const ServedModel> m, LoadServedModel(registry, ref));
//   float p = m->Trees().Predict(features);
#ifndef CHURN_SERVING_SERVED_MODEL_H_
#define CHURN_SERVING_SERVED_MODEL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

#include "churn/data/schema.h"
#include "churn/drift/reference.h"
#include "churn/features/pipeline.h"
#include "churn/model/scorer.h"
#include "churn/registry/registry.h"

namespace churn::serving {

// "churn@production" (an alias), "churn@3" or "churn/3" (a version number).
struct ModelRef {
  std::string name{};
  std::string alias{};  // empty when `version` is set
  int64_t version = 0;  // 0 when `alias` is set

  std::string ToString() const;
};

// InvalidArgument naming the text when it is not NAME@ALIAS, NAME@N or NAME/N.
absl::StatusOr<ModelRef> ParseModelRef(absl::string_view text);

// The files of a model package (paths relative to the version's source: "model.json", ...).
using PackageFiles = std::map<std::string, std::string, std::less<>>;

class ServedModel {
 public:
  // Builds from a package's files: churn_model.json (manifest: threshold, feature names),
  // model.json (XGBoost JSON), pipeline.json, schema.yaml, and drift_reference.json when the
  // version has one (its inputs must be the pipeline's). Compiles the trees and checks them
  // against XGBoost (loaded from the same model.json) on reference rows that exercise every
  // split: FailedPrecondition when any probability differs by more than 1e-6, InvalidArgument
  // naming the file when one is missing or malformed or the files disagree (feature count).
  static absl::StatusOr<std::shared_ptr<const ServedModel>> FromPackage(
      const PackageFiles& files, registry::ModelVersion version);

  const std::string& Name() const { return version_.name; }

  int64_t Version() const { return version_.version; }

  const std::string& RunId() const { return version_.run_id; }

  const registry::ModelVersion& VersionInfo() const { return version_; }

  double Threshold() const { return threshold_; }

  const features::FeaturePipeline& Pipeline() const { return pipeline_; }

  const model::CompiledModel& Trees() const { return *trees_; }

  const data::Schema& Schema() const { return schema_; }

  // The manifest (churn_model.json) as parsed JSON text, for GET /model.
  const std::string& Manifest() const { return manifest_; }

  // The reference live drift is measured against (drift_reference.json); null for a package
  // without one (versions trained before it existed): such a version is served unmonitored.
  const std::shared_ptr<const drift::ReferenceProfile>& DriftReference() const {
    return drift_reference_;
  }

  // Rows that verified the trees (row-major, NumFeatures() floats each), kept for the deploy
  // gates' scorer check.
  const std::vector<float>& ReferenceRows() const { return reference_rows_; }

 private:
  ServedModel() = default;

  absl::Status LoadDriftReference(const PackageFiles& files);

  registry::ModelVersion version_{};
  double threshold_ = 0.5;
  features::FeaturePipeline pipeline_{};
  std::optional<model::CompiledModel> trees_{};  // always set once loaded
  data::Schema schema_{};
  std::string manifest_{};
  std::vector<float> reference_rows_{};
  std::shared_ptr<const drift::ReferenceProfile> drift_reference_{};
};

// The model inputs live drift watches: every feature the pipeline takes from a column as it is
// (numeric, categorical codes), not the derived ratios.
std::vector<drift::MonitoredFeature> MonitoredFeatures(const features::FeaturePipeline& pipeline);

// The drift reference of a model: `matrix` (rows of pipeline.NumFeatures() floats, as Transform
// gives them), the model's probability per row, the 0/1 label per row (or empty), and the
// decision threshold.
absl::StatusOr<drift::ReferenceProfile> BuildDriftReference(
    const features::FeaturePipeline& pipeline, absl::Span<const float> matrix,
    absl::Span<const float> scores, absl::Span<const float> labels, double threshold);

// Resolves `ref` in the registry (alias or version), reads the version's package from its
// source run's artifacts and builds it with ServedModel::FromPackage. NotFound when the model,
// version or alias does not exist; FailedPrecondition when the version has no source run.
absl::StatusOr<std::shared_ptr<const ServedModel>> LoadServedModel(registry::Registry& registry,
                                                                   const ModelRef& ref);

// The version `ref` names now (resolving an alias), without loading it.
absl::StatusOr<registry::ModelVersion> ResolveModelRef(registry::Registry& registry,
                                                       const ModelRef& ref);

}  // namespace churn::serving

#endif  // CHURN_SERVING_SERVED_MODEL_H_
