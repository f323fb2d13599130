#include "churn/flows/train_flow.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"

#include "churn/base/file.h"
#include "churn/base/status_macros.h"
#include "churn/base/time.h"
#include "churn/data/profile.h"
#include "churn/data/split.h"
#include "churn/features/pipeline.h"
#include "churn/model/xgboost.h"
#include "churn/serving/served_model.h"

namespace churn::flows {
namespace {

using registry::Param;
using registry::Registry;
using registry::RunStatus;
using registry::Tag;

constexpr char kStudyKind[] = "study";

int64_t NowMs() {
  return absl::ToUnixMillis(absl::Now());
}

// The settings as the study run's params, and back.
std::vector<Param> SettingsParams(const base::TrainSettings& s) {
  return {{"trials", absl::StrCat(s.trials)},
          {"timeout_seconds", absl::StrCat(s.timeout_seconds)},
          {"seed", absl::StrCat(s.seed)},
          {"split_seed", absl::StrCat(s.split_seed)},
          {"workers", absl::StrCat(s.workers)},
          {"max_rounds", absl::StrCat(s.max_rounds)},
          {"early_stopping_rounds", absl::StrCat(s.early_stopping_rounds)},
          {"patience", absl::StrCat(s.patience)},
          {"tolerance", absl::StrCat(s.tolerance)},
          {"sampler", s.sampler},
          {"startup_trials", absl::StrCat(s.startup_trials)},
          {"gamma", absl::StrCat(s.gamma)},
          {"ei_candidates", absl::StrCat(s.ei_candidates)},
          {"prior_weight", absl::StrCat(s.prior_weight)},
          {"pruner", s.pruner},
          {"threshold", s.threshold},
          {"model_name", s.model_name}};
}

absl::StatusOr<base::TrainSettings> SettingsFromParams(const std::vector<Param>& params,
                                                       base::TrainSettings s) {
  std::map<std::string, std::string, std::less<>> p;
  for (const Param& param : params) {
    p[param.key] = param.value;
  }
  bool ok = true;
  auto get_int = [&](const char* key, int* out) {
    const auto it = p.find(key);
    ok = ok && it != p.end() && absl::SimpleAtoi(it->second, out);
  };
  auto get_double = [&](const char* key, double* out) {
    const auto it = p.find(key);
    ok = ok && it != p.end() && absl::SimpleAtod(it->second, out);
  };
  auto get_string = [&](const char* key, std::string* out) {
    const auto it = p.find(key);
    ok = ok && it != p.end();
    if (it != p.end()) {
      *out = it->second;
    }
  };
  get_int("trials", &s.trials);
  get_double("timeout_seconds", &s.timeout_seconds);
  for (const auto& [key, out] :
       {std::pair{"seed", &s.seed}, std::pair{"split_seed", &s.split_seed}}) {
    const auto it = p.find(key);
    ok = ok && it != p.end() && absl::SimpleAtoi(it->second, out);
  }
  get_int("workers", &s.workers);
  get_int("max_rounds", &s.max_rounds);
  get_int("early_stopping_rounds", &s.early_stopping_rounds);
  get_int("patience", &s.patience);
  get_double("tolerance", &s.tolerance);
  get_string("sampler", &s.sampler);
  get_int("startup_trials", &s.startup_trials);
  get_double("gamma", &s.gamma);
  get_int("ei_candidates", &s.ei_candidates);
  get_double("prior_weight", &s.prior_weight);
  get_string("pruner", &s.pruner);
  get_string("threshold", &s.threshold);
  get_string("model_name", &s.model_name);
  if (!ok) {
    return absl::DataLossError("the study run's settings params are incomplete or malformed");
  }
  return s;
}

struct ThresholdRule {
  bool max_f1 = true;
  double recall = 0.0;
};

absl::StatusOr<ThresholdRule> ParseThresholdRule(absl::string_view text) {
  if (text == "max_f1") {
    return ThresholdRule{};
  }
  absl::string_view rest = text;
  double recall = 0;
  if (absl::ConsumePrefix(&rest, "recall:") && absl::SimpleAtod(rest, &recall) && recall > 0 &&
      recall <= 1) {
    return ThresholdRule{.max_f1 = false, .recall = recall};
  }
  return absl::InvalidArgumentError(
      absl::StrCat("threshold rule '", text, "': expected max_f1 or recall:R with 0 < R <= 1"));
}

absl::Status ValidateSettings(const base::TrainSettings& s) {
  if (s.trials <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("--trials must be positive, got ", s.trials));
  }
  if (s.timeout_seconds < 0) {
    return absl::InvalidArgumentError("--timeout must not be negative");
  }
  if (s.workers <= 0 || s.workers > 64) {
    return absl::InvalidArgumentError(absl::StrCat("workers must be in 1..64, got ", s.workers));
  }
  return ParseThresholdRule(s.threshold).status();
}

absl::StatusOr<train::SearchSpace> LoadSpace(const std::string& path) {
  if (path.empty()) {
    return train::SearchSpace::Default();
  }
  CHURN_ASSIGN_OR_RETURN(std::string text, base::ReadFile(path));
  absl::StatusOr<train::SearchSpace> space = train::SearchSpace::FromYaml(text);
  if (!space.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("search space ", path, ": ", space.status().message()));
  }
  return space;
}

absl::StatusOr<std::string> ExperimentId(Registry* registry, const std::string& name) {
  absl::StatusOr<registry::Experiment> existing = registry->GetExperimentByName(name);
  if (existing.ok()) {
    return existing->experiment_id;
  }
  if (!absl::IsNotFound(existing.status())) {
    return existing.status();
  }
  absl::StatusOr<std::string> created = registry->CreateExperiment(
      name, "", {{"mlflow.note.content", "churn training studies: one run per study"}});
  if (absl::IsAlreadyExists(created.status())) {  // another process won the race
    CHURN_ASSIGN_OR_RETURN(registry::Experiment e, registry->GetExperimentByName(name));
    return e.experiment_id;
  }
  return created;
}

std::string TagValue(const registry::Run& run, absl::string_view key) {
  for (const Tag& t : run.tags) {
    if (t.key == key) {
      return t.value;
    }
  }
  return "";
}

std::string ParamValue(const registry::Run& run, absl::string_view key) {
  for (const Param& p : run.params) {
    if (p.key == key) {
      return p.value;
    }
  }
  return "";
}

// The data of one snapshot, split and encoded.
struct Prepared {
  features::SnapshotInfo snapshot{};
  data::Schema schema{};
  data::Split split{};
  features::FeaturePipeline pipeline{};
  data::Table train_table{};
  size_t cols = 0;
  std::vector<float> train_x, valid_x, test_x;
  std::vector<float> train_y, valid_y, test_y;
};

absl::StatusOr<Prepared> Prepare(features::FeatureStore* store, const std::string& dataset,
                                 const std::string& snapshot, uint64_t seed) {
  Prepared p;
  CHURN_ASSIGN_OR_RETURN(p.snapshot, store->Offline().GetSnapshot(dataset, snapshot));
  CHURN_ASSIGN_OR_RETURN(p.schema, store->Offline().LoadSchema(p.snapshot));
  CHURN_ASSIGN_OR_RETURN(data::Table table, store->Offline().LoadTable(p.snapshot));
  CHURN_ASSIGN_OR_RETURN(std::vector<float> labels, features::Labels(table, p.schema));
  CHURN_ASSIGN_OR_RETURN(p.split, data::StratifiedSplit(labels, {.seed = seed}));
  p.train_table = data::TakeRows(table, p.split.train);
  CHURN_ASSIGN_OR_RETURN(p.pipeline, features::FeaturePipeline::Fit(p.train_table, p.schema));
  CHURN_ASSIGN_OR_RETURN(std::vector<float> x, p.pipeline.Transform(table));
  p.cols = p.pipeline.NumFeatures();
  p.train_x = data::TakeRows(x, p.cols, p.split.train);
  p.valid_x = data::TakeRows(x, p.cols, p.split.valid);
  p.test_x = data::TakeRows(x, p.cols, p.split.test);
  p.train_y = data::TakeRows(labels, 1, p.split.train);
  p.valid_y = data::TakeRows(labels, 1, p.split.valid);
  p.test_y = data::TakeRows(labels, 1, p.split.test);
  return p;
}

// {"inputs": [{"name","type","allow_missing","levels"?}...], "outputs": [...], "target"}.
std::string Signature(const data::Schema& schema) {
  nlohmann::json inputs = nlohmann::json::array();
  for (const data::ColumnSpec* c : schema.Features()) {
    nlohmann::json col = {{"name", c->name},
                          {"type", std::string(data::ToString(c->type))},
                          {"allow_missing", c->allow_missing}};
    if (!c->levels.empty()) {
      col["levels"] = c->levels;
    }
    if (c->min) {
      col["min"] = *c->min;
    }
    if (c->max) {
      col["max"] = *c->max;
    }
    inputs.push_back(std::move(col));
  }
  return nlohmann::json{
      {"inputs", inputs},
      {"outputs", nlohmann::json::array({{{"name", "churn_probability"}, {"type", "double"}},
                                         {{"name", "churn"}, {"type", "long"}}})},
      {"target", schema.target},
      {"positive_value", schema.positive_value}}
      .dump();
}

// Gain and mean |SHAP| per feature (on the training split), by mean |SHAP| descending.
absl::StatusOr<std::string> ImportanceJson(const model::Booster& booster, const Prepared& p) {
  CHURN_ASSIGN_OR_RETURN(std::vector<double> gain, booster.GainImportance(p.cols));
  CHURN_ASSIGN_OR_RETURN(model::DMatrix train,
                         model::DMatrix::FromDense(p.train_x, p.train_y.size(), p.cols, {}));
  CHURN_ASSIGN_OR_RETURN(std::vector<float> contribs, booster.Contributions(train));
  std::vector<double> shap(p.cols, 0.0);
  const size_t width = p.cols + 1;
  const size_t rows = p.train_y.size();
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < p.cols; ++c) {
      shap[c] += std::fabs(contribs[r * width + c]);
    }
  }
  std::vector<size_t> order(p.cols);
  for (size_t c = 0; c < p.cols; ++c) {
    order[c] = c;
    shap[c] /= static_cast<double>(std::max<size_t>(rows, 1));
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return shap[a] > shap[b]; });
  const std::vector<std::string> names = p.pipeline.FeatureNames();
  nlohmann::json features = nlohmann::json::array();
  for (const size_t c : order) {
    features.push_back({{"feature", names[c]}, {"gain", gain[c]}, {"mean_abs_shap", shap[c]}});
  }
  return nlohmann::json{{"rows", rows}, {"split", "train"}, {"features", features}}.dump(2);
}

// Live drift's reference: the held-out rows (validation and test: rows the trees never fit, so
// their probabilities are what serving will see on undrifted traffic), with the model's
// probabilities and the labels.
absl::StatusOr<std::string> DriftReferenceJson(const model::Booster& booster, const Prepared& p,
                                               double threshold) {
  std::vector<float> x = p.valid_x;
  x.insert(x.end(), p.test_x.begin(), p.test_x.end());
  std::vector<float> y = p.valid_y;
  y.insert(y.end(), p.test_y.begin(), p.test_y.end());
  CHURN_ASSIGN_OR_RETURN(const std::vector<float> scores,
                         booster.PredictDense(x, y.size(), p.cols));
  CHURN_ASSIGN_OR_RETURN(const drift::ReferenceProfile ref,
                         serving::BuildDriftReference(p.pipeline, x, scores, y, threshold));
  return ref.ToJson();
}

absl::Status LogWinner(Registry* registry, const TrainOutcome& out, const Prepared& p,
                       const model::Booster& booster, const std::string& model_json) {
  const std::string& run = out.winner_run_id;
  CHURN_ASSIGN_OR_RETURN(std::string ubj, booster.SaveUbj());
  CHURN_ASSIGN_OR_RETURN(std::string importance, ImportanceJson(booster, p));
  CHURN_ASSIGN_OR_RETURN(std::string drift_reference,
                         DriftReferenceJson(booster, p, out.threshold.threshold));
  const data::DatasetProfile profile = data::ComputeProfile(p.train_table, p.schema);
  const train::TrialRecord& winner = out.study.trials[out.study.winner];
  nlohmann::json evaluation = {{"valid", nlohmann::json::parse(out.valid.ToJson())},
                               {"test", nlohmann::json::parse(out.test.ToJson())}};
  nlohmann::json manifest = {{"format", "churn-model/1"},
                             {"flavor", "xgboost"},
                             {"xgboost_version", model::XgboostVersion()},
                             {"model", "model.json"},
                             {"model_ubj", "model.ubj"},
                             {"pipeline", "pipeline.json"},
                             {"schema", "schema.yaml"},
                             {"reference_profile", "profile.json"},
                             {"drift_reference", "drift_reference.json"},
                             {"feature_names", p.pipeline.FeatureNames()},
                             {"threshold", out.threshold.threshold},
                             {"best_iteration", winner.best_iteration},
                             {"dataset_snapshot", out.dataset_snapshot},
                             {"study_run_id", out.study_run_id},
                             {"trial", winner.number},
                             {"created_at", base::FormatRfc3339(absl::Now())}};
  const std::pair<const char*, std::string> files[] = {
      {"model/model.json", model_json},
      {"model/model.ubj", ubj},
      {"model/pipeline.json", p.pipeline.ToJson()},
      {"model/schema.yaml", p.schema.ToYaml()},
      {"model/profile.json", data::ProfileToJson(profile)},
      {"model/drift_reference.json", drift_reference},
      {"model/importance.json", importance},
      {"model/evaluation.json", evaluation.dump(2)},
      {"model/churn_model.json", manifest.dump(2)},
  };
  for (const auto& [path, bytes] : files) {
    CHURN_RETURN_IF_ERROR(registry->LogArtifact(run, path, bytes).status());
  }
  return absl::OkStatus();
}

std::vector<std::pair<std::string, double>> WinnerMetrics(const TrainOutcome& out) {
  const train::TrialRecord& w = out.study.trials[out.study.winner];
  return {{"valid_auc", w.valid_auc},
          {"valid_f1", out.valid.f1},
          {"test_auc", out.test.roc_auc},
          {"test_pr_auc", out.test.pr_auc},
          {"test_f1", out.test.f1},
          {"test_precision", out.test.precision},
          {"test_recall", out.test.recall},
          {"test_logloss", out.test.log_loss},
          {"test_brier", out.test.brier},
          {"test_ece", out.test.ece},
          {"threshold", out.threshold.threshold},
          {"nodes", static_cast<double>(w.size.nodes)},
          {"trees", static_cast<double>(w.size.trees)}};
}

// What a study is about: the request's settings and space, or, when resuming, what the study
// run recorded.
struct StudyPlan {
  base::TrainSettings settings{};
  std::string dataset{};
  std::string snapshot{};
  train::SearchSpace space{};
  std::optional<registry::Run> resumed{};
};

absl::StatusOr<StudyPlan> Plan(Registry* registry, const TrainRequest& request) {
  StudyPlan plan{
      .settings = request.settings, .dataset = request.dataset, .snapshot = request.snapshot};
  if (request.resume_study.empty()) {
    CHURN_RETURN_IF_ERROR(ValidateSettings(plan.settings));
    CHURN_RETURN_IF_ERROR(features::ValidateDatasetName(plan.dataset));
    CHURN_ASSIGN_OR_RETURN(plan.space, LoadSpace(plan.settings.space));
    return plan;
  }
  absl::StatusOr<registry::Run> found = registry->GetRun(request.resume_study);
  if (absl::IsNotFound(found.status())) {
    return absl::NotFoundError(absl::StrCat("no study run '", request.resume_study, "'"));
  }
  CHURN_RETURN_IF_ERROR(found.status());
  if (TagValue(*found, "churn.kind") != kStudyKind) {
    return absl::InvalidArgumentError(
        absl::StrCat("run ", request.resume_study, " is not a study (tag churn.kind=study)"));
  }
  if (found->info.status == RunStatus::kFinished) {
    return absl::FailedPreconditionError(
        absl::StrCat("study ", request.resume_study, " has finished; start a new one"));
  }
  CHURN_ASSIGN_OR_RETURN(plan.settings, SettingsFromParams(found->params, plan.settings));
  plan.dataset = ParamValue(*found, "dataset");
  plan.snapshot = ParamValue(*found, "snapshot");
  CHURN_ASSIGN_OR_RETURN(const std::string space_yaml,
                         registry->ReadArtifact(found->info.run_id, "space.yaml"));
  CHURN_ASSIGN_OR_RETURN(plan.space, train::SearchSpace::FromYaml(space_yaml));
  plan.resumed = *std::move(found);
  return plan;
}

// A new study run with its settings, space and pipeline; or the resumed one, checked to train
// on the same rows and marked running again.
absl::StatusOr<registry::Run> StartStudy(Registry* registry, const StudyPlan& plan,
                                         const Prepared& p, const TrainOutcome& out) {
  if (plan.resumed) {
    const registry::Run& study = *plan.resumed;
    if (ParamValue(study, "split_fingerprint") != p.split.Fingerprint()) {
      return absl::FailedPreconditionError(
          absl::StrCat("study ", study.info.run_id, ": the split of ", out.dataset_snapshot,
                       " differs from the one the study started on; start a new study"));
    }
    if (study.info.status != RunStatus::kRunning) {
      CHURN_RETURN_IF_ERROR(
          registry->UpdateRun({.run_id = study.info.run_id, .status = RunStatus::kRunning})
              .status());
    }
    return study;
  }
  CHURN_ASSIGN_OR_RETURN(const std::string experiment_id,
                         ExperimentId(registry, plan.settings.experiment));
  CHURN_ASSIGN_OR_RETURN(registry::Run study,
                         registry->CreateRun({.experiment_id = experiment_id,
                                              .run_name = absl::StrCat("study-", plan.dataset, "-",
                                                                       p.snapshot.id.substr(0, 8),
                                                                       "-s", plan.settings.seed),
                                              .tags = {{"churn.kind", kStudyKind}},
                                              .dataset_snapshot = out.dataset_snapshot}));
  std::vector<Param> params = SettingsParams(plan.settings);
  params.push_back({"dataset", plan.dataset});
  params.push_back({"snapshot", p.snapshot.id});
  params.push_back({"split_fingerprint", p.split.Fingerprint()});
  params.push_back({"train_rows", absl::StrCat(out.train_rows)});
  params.push_back({"valid_rows", absl::StrCat(out.valid_rows)});
  params.push_back({"test_rows", absl::StrCat(out.test_rows)});
  CHURN_RETURN_IF_ERROR(registry->LogBatch(study.info.run_id, {}, params, {}));
  CHURN_RETURN_IF_ERROR(
      registry->LogArtifact(study.info.run_id, "space.yaml", plan.space.ToYaml()).status());
  CHURN_RETURN_IF_ERROR(
      registry->LogArtifact(study.info.run_id, "pipeline.json", p.pipeline.ToJson()).status());
  return study;
}

// The winner on valid (the threshold) and then, once, on test; its package and metrics logged.
absl::Status EvaluateWinner(Registry* registry, const Prepared& p, const ThresholdRule& rule,
                            TrainOutcome* out) {
  const train::TrialRecord& winner = out->study.trials[out->study.winner];
  CHURN_ASSIGN_OR_RETURN(const std::string model_json,
                         registry->ReadArtifact(winner.run_id, "model/model.json"));
  CHURN_ASSIGN_OR_RETURN(const model::Booster booster, model::Booster::Load(model_json));
  CHURN_ASSIGN_OR_RETURN(const std::vector<float> valid_scores,
                         booster.PredictDense(p.valid_x, p.valid_y.size(), p.cols));
  if (rule.max_f1) {
    CHURN_ASSIGN_OR_RETURN(out->threshold, metrics::ThresholdForMaxF1(p.valid_y, valid_scores));
  } else {
    CHURN_ASSIGN_OR_RETURN(out->threshold,
                           metrics::ThresholdForRecall(p.valid_y, valid_scores, rule.recall));
  }
  CHURN_ASSIGN_OR_RETURN(out->valid,
                         metrics::Evaluate(p.valid_y, valid_scores, out->threshold.threshold));
  CHURN_ASSIGN_OR_RETURN(const std::vector<float> test_scores,
                         booster.PredictDense(p.test_x, p.test_y.size(), p.cols));
  CHURN_ASSIGN_OR_RETURN(out->test,
                         metrics::Evaluate(p.test_y, test_scores, out->threshold.threshold));

  CHURN_RETURN_IF_ERROR(LogWinner(registry, *out, p, booster, model_json));
  const int64_t now = NowMs();
  std::vector<registry::Metric> metrics;
  for (const auto& [key, value] : WinnerMetrics(*out)) {
    metrics.push_back({key, value, now, 0});
  }
  CHURN_RETURN_IF_ERROR(
      registry->LogBatch(out->winner_run_id, metrics, {}, {{"churn.winner", "true"}}));
  CHURN_RETURN_IF_ERROR(
      registry->LogArtifact(out->study_run_id, "pareto.json", out->study.ParetoJson()).status());
  return registry->LogBatch(
      out->study_run_id, metrics, {},
      {{"churn.winner_run", out->winner_run_id},
       {"churn.winner_trial", absl::StrCat(winner.number)},
       {"churn.best_trial", absl::StrCat(out->study.trials[out->study.best].number)}});
}

// The next version of the model, alias `candidate`.
absl::Status Register(Registry* registry, const std::string& model_name, const Prepared& p,
                      const std::string& actor, TrainOutcome* out) {
  const train::TrialRecord& winner = out->study.trials[out->study.winner];
  absl::Status created =
      registry->CreateRegisteredModel(model_name, "Churn classifier (XGBoost, binary:logistic)", {})
          .status();
  if (!created.ok() && !absl::IsAlreadyExists(created)) {
    return created;
  }
  CHURN_ASSIGN_OR_RETURN(
      out->version,
      registry->CreateModelVersion(
          {.name = model_name,
           .source = absl::StrCat("runs:/", out->winner_run_id, "/model"),
           .run_id = out->winner_run_id,
           .description = absl::StrCat("study ", out->study_run_id, ", trial ", winner.number),
           .signature = Signature(p.schema),
           .metrics = WinnerMetrics(*out),
           .tags = {{"dataset_snapshot", out->dataset_snapshot},
                    {"study_run_id", out->study_run_id}}}));
  return registry->SetAlias(
      model_name, "candidate", out->version.version, actor,
      absl::StrCat("study ", out->study_run_id, ": trial ", winner.number, ", valid_auc ",
                   winner.valid_auc, ", test_auc ", out->test.roc_auc));
}

}  // namespace

train::StudyOptions StudyOptionsFrom(const base::TrainSettings& s) {
  train::StudyOptions o;
  o.trials = s.trials;
  o.timeout_seconds = s.timeout_seconds;
  o.workers = s.workers;
  o.max_rounds = s.max_rounds;
  o.early_stopping_rounds = s.early_stopping_rounds;
  o.patience = s.patience;
  o.tolerance = s.tolerance;
  o.seed = s.seed;
  o.sampler = s.sampler;
  o.tpe.startup_trials = s.startup_trials;
  o.tpe.gamma = s.gamma;
  o.tpe.ei_candidates = s.ei_candidates;
  o.tpe.prior_weight = s.prior_weight;
  o.tpe.seed = s.seed;
  o.pruner.kind = s.pruner;
  return o;
}

absl::StatusOr<TrainOutcome> RunTrainFlow(features::FeatureStore* store, Registry* registry,
                                          const TrainRequest& request) {
  CHURN_ASSIGN_OR_RETURN(const StudyPlan plan, Plan(registry, request));
  CHURN_ASSIGN_OR_RETURN(const ThresholdRule rule, ParseThresholdRule(plan.settings.threshold));
  CHURN_ASSIGN_OR_RETURN(const Prepared p,
                         Prepare(store, plan.dataset, plan.snapshot, plan.settings.split_seed));
  TrainOutcome out;
  out.dataset_snapshot = absl::StrCat(plan.dataset, "@", p.snapshot.id);
  out.train_rows = p.split.train.size();
  out.valid_rows = p.split.valid.size();
  out.test_rows = p.split.test.size();
  CHURN_ASSIGN_OR_RETURN(const registry::Run study, StartStudy(registry, plan, p, out));
  out.experiment_id = study.info.experiment_id;
  out.study_run_id = study.info.run_id;

  const train::StudyData data{.train_x = p.train_x,
                              .train_y = p.train_y,
                              .valid_x = p.valid_x,
                              .valid_y = p.valid_y,
                              .cols = p.cols};
  absl::StatusOr<train::StudyResult> result =
      train::RunStudy(registry, out.study_run_id, plan.space, StudyOptionsFrom(plan.settings), data,
                      request.progress);
  if (!result.ok()) {
    (void)registry->LogBatch(out.study_run_id, {}, {},
                             {{"churn.error", result.status().ToString()}});
    (void)registry->UpdateRun(
        {.run_id = out.study_run_id, .status = RunStatus::kFailed, .end_time = NowMs()});
    return result.status();
  }
  out.study = *std::move(result);
  out.winner_run_id = out.study.trials[out.study.winner].run_id;
  CHURN_RETURN_IF_ERROR(EvaluateWinner(registry, p, rule, &out));
  CHURN_RETURN_IF_ERROR(Register(registry, plan.settings.model_name, p, request.actor, &out));
  CHURN_RETURN_IF_ERROR(
      registry
          ->UpdateRun(
              {.run_id = out.study_run_id, .status = RunStatus::kFinished, .end_time = NowMs()})
          .status());
  return out;
}

}  // namespace churn::flows
