// File: churn/flows/train_flow.h
//
// The training flow, the use case behind `churn train` and the scheduler's training flow:
//
//   snapshot (feature store) -> stratified 60/20/20 split (seeded) -> feature pipeline fitted on
//   train -> study (TPE + pruning, every trial a child run) -> the most efficient trial ->
//   threshold on valid -> test split, once -> artifacts -> next version of the model, alias
//   `candidate`.
//
// The study run (tag churn.kind=study) holds the settings as params, `space.yaml`,
// `pipeline.json`, `pareto.json` and the winner's metrics; the winner's trial run holds the
// deployable package under `model/`: model.json and model.ubj (XGBoost), pipeline.json,
// schema.yaml, profile.json (the training split's column profile: the drift reference),
// importance.json (gain and mean |SHAP| per feature), evaluation.json (valid and test metrics,
// confusion matrix, calibration curve) and churn_model.json (the manifest). The version is
// registered from runs:/<winner run>/model.
//
// Resuming (`resume_study`) reads every setting back from the study run and refuses a study
// whose split no longer matches (the snapshot changed) or that has finished.
#ifndef CHURN_FLOWS_TRAIN_FLOW_H_
#define CHURN_FLOWS_TRAIN_FLOW_H_

#include <string>

#include "absl/status/statusor.h"

#include "churn/base/config.h"
#include "churn/features/feature_store.h"
#include "churn/metrics/classification.h"
#include "churn/registry/registry.h"
#include "churn/train/study.h"

namespace churn::flows {

struct TrainRequest {
  std::string dataset{};
  std::string snapshot{};  // empty or "latest": the newest
  std::string
      resume_study{};  // a study run id: continue it (dataset, snapshot, settings as stored)
  base::TrainSettings settings{};
  train::ProgressCallback progress{};
  // Who registers the version (alias history), e.g. "churn train".
  std::string actor = "churn train";
};

struct TrainOutcome {
  std::string experiment_id{};
  std::string study_run_id{};
  std::string winner_run_id{};
  std::string dataset_snapshot{};  // "dataset@snapshot"
  size_t train_rows = 0;
  size_t valid_rows = 0;
  size_t test_rows = 0;
  train::StudyResult study{};
  metrics::ThresholdChoice threshold{};
  metrics::Evaluation valid{};
  metrics::Evaluation test{};
  registry::ModelVersion version{};
};

// InvalidArgument for bad settings or a bad search space, NotFound for an unknown dataset,
// snapshot or study, FailedPrecondition for a finished study or one whose data changed.
absl::StatusOr<TrainOutcome> RunTrainFlow(features::FeatureStore* store,
                                          registry::Registry* registry,
                                          const TrainRequest& request);

// The study options the settings describe (InvalidArgument for a bad threshold rule or
// pruner name is left to the study and the flow).
train::StudyOptions StudyOptionsFrom(const base::TrainSettings& settings);

}  // namespace churn::flows

#endif  // CHURN_FLOWS_TRAIN_FLOW_H_
