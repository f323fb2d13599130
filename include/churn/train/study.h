// File: churn/train/study.h
//
// A hyperparameter study: a TPE (or random) search over XGBoost settings, every trial tracked as
// a child run of the study's run in the registry, pruned from its per-round validation AUC,
// and the most efficient model chosen at the end.
//
// Reproducible: trial k is suggested, and pruned, from exactly the trials numbered up to
// k - workers (the coordinator waits for them when it must), so the same seed and data give
// the same trials and the same winner however the threads are scheduled. Crash-safe: a trial
// is kept once its run is FINISHED (the last write of a trial); RunStudy on a study run that
// already has trials keeps the finished ones, marks the others KILLED, and runs what is left.
//
// Per trial run: params (the assignment), metric history `valid_auc_by_round` (XGBoost's AUC
// after each round), metrics `valid_auc` (exact, from the best iteration's predictions),
// `best_iteration`, `rounds`, `trees`, `nodes`, `us_per_row`, `fit_seconds`; tags
// `churn.trial` (number), `churn.trial_state` (COMPLETE or PRUNED), `mlflow.parentRunId`; the
// artifact `model/model.json` for completed trials.
#ifndef CHURN_TRAIN_STUDY_H_
#define CHURN_TRAIN_STUDY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

#include "churn/model/xgboost.h"
#include "churn/registry/registry.h"
#include "churn/train/pruner.h"
#include "churn/train/search_space.h"
#include "churn/train/tpe.h"

namespace churn::train {

struct StudyOptions {
  int trials = 50;
  double timeout_seconds = 0;  // 0: no time budget
  int workers = 2;
  int max_rounds = 2000;
  int early_stopping_rounds = 50;
  int patience = 0;  // stop after this many finished trials without a better one; 0: never
  double tolerance = 0.001;
  uint64_t seed = 42;
  std::string sampler = "tpe";  // tpe | random
  TpeOptions tpe{};
  PrunerOptions pruner{};
};

// Row-major feature matrices and 0/1 labels of the train and validation splits.
struct StudyData {
  absl::Span<const float> train_x{};
  absl::Span<const float> train_y{};
  absl::Span<const float> valid_x{};
  absl::Span<const float> valid_y{};
  size_t cols = 0;
};

enum class TrialState { kComplete, kPruned };

absl::string_view TrialStateName(TrialState state);

struct TrialRecord {
  int64_t number = 0;
  std::string run_id{};
  Assignment params{};
  TrialState state = TrialState::kComplete;
  double valid_auc = 0.0;  // completed: exact AUC at the best iteration; pruned: XGBoost's best
  int best_iteration = 0;
  int rounds = 0;
  model::ModelSize size{};
  double us_per_row = 0.0;
  double fit_seconds = 0.0;
  double finished_at_seconds = 0.0;  // since the study (or its resumption) started
  bool resumed = false;              // kept from an earlier process
  std::vector<double> curve{};
};

struct StudyProgress {
  int finished = 0;  // completed + pruned
  int total = 0;
  int pruned = 0;
  double best_valid_auc = 0.0;
  int64_t best_trial = -1;
  double elapsed_seconds = 0.0;
  const TrialRecord* last = nullptr;
};

struct StudyResult {
  std::vector<TrialRecord> trials{};  // by number
  // Index into `trials` of the chosen model, and of the best validation AUC.
  size_t winner = 0;
  size_t best = 0;
  // Indices of the completed trials on the quality-versus-cost front (higher AUC, fewer nodes),
  // by nodes ascending.
  std::vector<size_t> pareto{};
  double wall_seconds = 0.0;
  bool timed_out = false;
  bool stopped_by_patience = false;

  // {"objective": ..., "trials": [...], "pareto": [...], "winner": n} as stored with the study.
  std::string ParetoJson() const;
};

// A completed trial on the quality-versus-cost plane.
struct FrontPoint {
  double valid_auc = 0.0;
  double nodes = 0.0;
};

// Indices of the points on the quality-versus-cost front, by nodes ascending (ties: higher AUC
// first): a point is on it when its AUC beats every cheaper point's.
std::vector<size_t> QualityCostFront(absl::Span<const FrontPoint> points);

// The most efficient trial: the best validation AUC, then among completed trials within
// `tolerance` of it the fewest nodes (ties: higher AUC, then lower number). Also fills `best`
// and `pareto`. FailedPrecondition when no trial completed.
absl::Status ChooseWinner(double tolerance, StudyResult* result);

using ProgressCallback = std::function<void(const StudyProgress&)>;

// Runs (or resumes) the study of run `study_run_id`; trials become runs of its experiment.
// InvalidArgument for bad options or a parameter XGBoost does not have; NotFound for an unknown
// run; FailedPrecondition when every trial was pruned.
absl::StatusOr<StudyResult> RunStudy(registry::Registry* registry, absl::string_view study_run_id,
                                     const SearchSpace& space, const StudyOptions& options,
                                     const StudyData& data, const ProgressCallback& progress);

}  // namespace churn::train

#endif  // CHURN_TRAIN_STUDY_H_
