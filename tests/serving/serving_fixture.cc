#include "serving/serving_fixture.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"
#include "churn/data/csv_table.h"
#include "churn/data/synth.h"
#include "churn/features/feature_store.h"
#include "churn/features/pipeline.h"
#include "churn/model/xgboost.h"
#include "churn/serving/request_decoder.h"
#include "churn/serving/served_model.h"

namespace churn::testing {

constexpr int64_t kRows = 3000;

absl::StatusOr<std::unique_ptr<ServingFixture>> ServingFixture::Create(const std::string& csv) {
  std::unique_ptr<ServingFixture> f(new ServingFixture());
  f->data_dir_ = f->dir_.Path().string();
  CHURN_ASSIGN_OR_RETURN(f->registry_,
                         registry::OpenRegistry({.url = "sqlite:" + f->data_dir_ + "/registry.db",
                                                 .artifact_store_uri = f->data_dir_ + "/objects"}));
  CHURN_ASSIGN_OR_RETURN(f->schema_, features::BuiltinSchema("bank_churners"));
  if (csv.empty()) {
    CHURN_ASSIGN_OR_RETURN(f->csv_, data::GenerateSynthCsv({.rows = kRows, .seed = 7}));
  } else {
    CHURN_ASSIGN_OR_RETURN(f->csv_, base::ReadFile(csv));
  }
  CHURN_ASSIGN_OR_RETURN(data::ReadTableResult read,
                         data::ReadCsvTable(f->csv_, f->schema_, data::ReadTableOptions{}));
  f->table_ = std::move(read.table);
  CHURN_ASSIGN_OR_RETURN(f->experiment_id_, f->registry_->CreateExperiment("serving-test", "", {}));
  return f;
}

absl::StatusOr<TrainedPackage> ServingFixture::Train(int rounds, int depth) const {
  CHURN_ASSIGN_OR_RETURN(const features::FeaturePipeline pipeline,
                         features::FeaturePipeline::Fit(table_, schema_));
  CHURN_ASSIGN_OR_RETURN(const std::vector<float> x, pipeline.Transform(table_));
  CHURN_ASSIGN_OR_RETURN(const std::vector<float> y, features::Labels(table_, schema_));
  const size_t cols = pipeline.NumFeatures();
  const size_t train_rows = y.size() * 4 / 5;
  CHURN_ASSIGN_OR_RETURN(
      const model::DMatrix train,
      model::DMatrix::FromDense(absl::MakeConstSpan(x).first(train_rows * cols), train_rows, cols,
                                absl::MakeConstSpan(y).first(train_rows)));
  CHURN_ASSIGN_OR_RETURN(
      const model::DMatrix valid,
      model::DMatrix::FromDense(absl::MakeConstSpan(x).subspan(train_rows * cols),
                                y.size() - train_rows, cols,
                                absl::MakeConstSpan(y).subspan(train_rows)));
  CHURN_ASSIGN_OR_RETURN(
      model::TrainResult trained,
      model::Train({.params = {{"max_depth", absl::StrCat(depth)}, {"eta", "0.3"}},
                    .max_rounds = rounds,
                    .early_stopping_rounds = 0},
                   train, valid));
  TrainedPackage p;
  CHURN_ASSIGN_OR_RETURN(p.model_json, trained.booster.SaveJson());
  p.pipeline_json = pipeline.ToJson();
  p.schema_yaml = schema_.ToYaml();
  p.manifest_json = nlohmann::json{{"format", "churn-model/1"},
                                   {"threshold", 0.5},
                                   {"feature_names", pipeline.FeatureNames()}}
                        .dump();
  // The held-out rows are the drift reference, as the training flow makes it.
  const auto held_x = absl::MakeConstSpan(x).subspan(train_rows * cols);
  CHURN_ASSIGN_OR_RETURN(const std::vector<float> held_scores,
                         trained.booster.PredictDense(held_x, y.size() - train_rows, cols));
  CHURN_ASSIGN_OR_RETURN(
      const drift::ReferenceProfile reference,
      serving::BuildDriftReference(pipeline, held_x, held_scores,
                                   absl::MakeConstSpan(y).subspan(train_rows), 0.5));
  p.drift_reference_json = reference.ToJson();
  return p;
}

absl::StatusOr<int64_t> ServingFixture::Register(const TrainedPackage& package,
                                                 const std::string& alias) {
  CHURN_ASSIGN_OR_RETURN(const registry::Run run,
                         registry_->CreateRun({.experiment_id = experiment_id_}));
  const std::string& id = run.info.run_id;
  CHURN_RETURN_IF_ERROR(
      registry_->LogArtifact(id, "model/model.json", package.model_json).status());
  CHURN_RETURN_IF_ERROR(
      registry_->LogArtifact(id, "model/pipeline.json", package.pipeline_json).status());
  CHURN_RETURN_IF_ERROR(
      registry_->LogArtifact(id, "model/schema.yaml", package.schema_yaml).status());
  CHURN_RETURN_IF_ERROR(
      registry_->LogArtifact(id, "model/churn_model.json", package.manifest_json).status());
  if (!package.drift_reference_json.empty()) {
    CHURN_RETURN_IF_ERROR(
        registry_->LogArtifact(id, "model/drift_reference.json", package.drift_reference_json)
            .status());
  }
  if (!registry_->GetRegisteredModel("churn").ok()) {
    CHURN_RETURN_IF_ERROR(registry_->CreateRegisteredModel("churn", "", {}).status());
  }
  CHURN_ASSIGN_OR_RETURN(
      const registry::ModelVersion v,
      registry_->CreateModelVersion({.name = "churn", .source = "runs:/" + id + "/model"}));
  if (!alias.empty()) {
    CHURN_RETURN_IF_ERROR(registry_->SetAlias("churn", alias, v.version, "test", "test"));
  }
  return v.version;
}

std::string RowJson(const data::Table& table, const data::Schema& schema, size_t r,
                    bool with_entity) {
  return serving::RecordJson(schema, table, r, with_entity);
}

}  // namespace churn::testing
