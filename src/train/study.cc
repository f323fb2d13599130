#include "churn/train/study.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"
#include "churn/metrics/classification.h"

namespace churn::train {
namespace {

using registry::Metric;
using registry::Param;
using registry::Registry;
using registry::RunStatus;
using registry::Tag;

constexpr char kParentTag[] = "mlflow.parentRunId";
constexpr char kTrialTag[] = "churn.trial";
constexpr char kStateTag[] = "churn.trial_state";
constexpr char kCurveKey[] = "valid_auc_by_round";

// XGBoost's tree-booster parameters a search space may set. Everything else is either ours
// (objective, eval_metric, nthread, seed: fixed by the study) or a typo that XGBoost 1.7 would
// only warn about.
const std::set<std::string, std::less<>>& TunableParameters() {
  static const auto* const kNames = new std::set<std::string, std::less<>>{"eta",
                                                                           "learning_rate",
                                                                           "gamma",
                                                                           "min_split_loss",
                                                                           "max_depth",
                                                                           "min_child_weight",
                                                                           "max_delta_step",
                                                                           "subsample",
                                                                           "sampling_method",
                                                                           "colsample_bytree",
                                                                           "colsample_bylevel",
                                                                           "colsample_bynode",
                                                                           "lambda",
                                                                           "reg_lambda",
                                                                           "alpha",
                                                                           "reg_alpha",
                                                                           "scale_pos_weight",
                                                                           "grow_policy",
                                                                           "max_leaves",
                                                                           "max_bin",
                                                                           "num_parallel_tree",
                                                                           "max_cat_to_onehot",
                                                                           "base_score"};
  return *kNames;
}

int64_t NowMs() {
  return absl::ToUnixMillis(absl::Now());
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// What a worker is asked to do, and what it gives back.
struct Task {
  int64_t number = 0;
  Assignment params{};
  std::vector<TrialCurve> visible{};
};

struct Outcome {
  int64_t number = 0;
  absl::Status status{};
  TrialRecord record{};
  std::string model_json{};
};

// One trial on one worker's own matrices.
// What every trial of a study shares.
struct TrialContext {
  const SearchSpace& space;
  const StudyOptions& options;
  const Pruner& pruner;
  const StudyData& data;
};

Outcome RunTrial(const Task& task, const TrialContext& ctx, const model::DMatrix& train,
                 const model::DMatrix& valid) {
  const SearchSpace& space = ctx.space;
  const StudyOptions& options = ctx.options;
  const Pruner& pruner = ctx.pruner;
  const StudyData& data = ctx.data;
  Outcome out;
  out.number = task.number;
  TrialRecord& rec = out.record;
  rec.number = task.number;
  rec.params = task.params;
  model::TrainOptions train_options;
  for (const auto& [name, value] : space.Fixed()) {
    train_options.params.emplace_back(name, value);
  }
  for (const auto& [name, value] : task.params) {
    train_options.params.emplace_back(name, FormatParamValue(value));
  }
  train_options.params.emplace_back("seed", absl::StrCat(options.seed));
  train_options.max_rounds = options.max_rounds;
  train_options.early_stopping_rounds = options.early_stopping_rounds;
  std::vector<double> history;
  train_options.on_round = [&](int /*round*/, double value) {
    history.push_back(value);
    return !pruner.ShouldPrune(task.number, history, task.visible);
  };
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<model::TrainResult> trained = model::Train(train_options, train, valid);
  rec.fit_seconds = SecondsSince(start);
  if (!trained.ok()) {
    out.status = trained.status();
    return out;
  }
  rec.state = trained->stopped_by_callback ? TrialState::kPruned : TrialState::kComplete;
  rec.best_iteration = trained->best_iteration;
  rec.rounds = trained->rounds_trained;
  rec.curve = std::move(trained->history);
  rec.valid_auc = trained->best_score;
  if (rec.state == TrialState::kPruned) {
    return out;
  }
  const model::Booster& booster = trained->booster;
  const auto predict_start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<float>> scores =
      booster.PredictDense(data.valid_x, valid.Rows(), data.cols);
  const double predict_seconds = SecondsSince(predict_start);
  if (!scores.ok()) {
    out.status = scores.status();
    return out;
  }
  rec.us_per_row = predict_seconds * 1e6 / static_cast<double>(std::max<size_t>(1, valid.Rows()));
  absl::StatusOr<double> auc = metrics::RocAuc(data.valid_y, *scores);
  absl::StatusOr<model::ModelSize> size = booster.Size();
  absl::StatusOr<std::string> json = booster.SaveJson();
  for (const absl::Status& s : {auc.status(), size.status(), json.status()}) {
    if (!s.ok()) {
      out.status = s;
      return out;
    }
  }
  rec.valid_auc = *auc;
  rec.size = *size;
  out.model_json = *std::move(json);
  return out;
}

// Reads back the trials an earlier process finished; marks the ones it left running KILLED.
// The final metrics of a stored trial back into its record.
void ApplyMetrics(const std::vector<Metric>& metrics, TrialRecord* rec) {
  const std::map<absl::string_view, std::function<void(double)>> setters = {
      {"valid_auc", [rec](double v) { rec->valid_auc = v; }},
      {"best_iteration", [rec](double v) { rec->best_iteration = static_cast<int>(v); }},
      {"rounds", [rec](double v) { rec->rounds = static_cast<int>(v); }},
      {"trees", [rec](double v) { rec->size.trees = static_cast<int64_t>(v); }},
      {"nodes", [rec](double v) { rec->size.nodes = static_cast<int64_t>(v); }},
      {"leaves", [rec](double v) { rec->size.leaves = static_cast<int64_t>(v); }},
      {"us_per_row", [rec](double v) { rec->us_per_row = v; }},
      {"fit_seconds", [rec](double v) { rec->fit_seconds = v; }},
  };
  for (const Metric& m : metrics) {
    const auto it = setters.find(m.key);
    if (it != setters.end()) {
      it->second(m.value);
    }
  }
}

// A finished trial run as a record; nullopt for a run that is not (yet) a finished trial, which
// is marked KILLED when an earlier process left it RUNNING.
absl::StatusOr<std::optional<TrialRecord>> ReadTrial(Registry* registry, const registry::Run& run,
                                                     const SearchSpace& space) {
  std::map<std::string, std::string, std::less<>> tags;
  for (const Tag& t : run.tags) {
    tags[t.key] = t.value;
  }
  const auto state = tags.find(kStateTag);
  const auto number = tags.find(kTrialTag);
  if (run.info.status != RunStatus::kFinished || state == tags.end() || number == tags.end()) {
    if (run.info.status == RunStatus::kRunning) {
      CHURN_RETURN_IF_ERROR(
          registry
              ->UpdateRun(
                  {.run_id = run.info.run_id, .status = RunStatus::kKilled, .end_time = NowMs()})
              .status());
    }
    return std::nullopt;
  }
  TrialRecord rec;
  rec.run_id = run.info.run_id;
  rec.resumed = true;
  if (!absl::SimpleAtoi(number->second, &rec.number)) {
    return absl::DataLossError(
        absl::StrCat("trial run ", run.info.run_id, " has a bad ", kTrialTag, " tag"));
  }
  rec.state = state->second == "PRUNED" ? TrialState::kPruned : TrialState::kComplete;
  for (const Param& p : run.params) {
    if (const ParamSpec* spec = space.Find(p.key); spec != nullptr) {
      absl::StatusOr<ParamValue> value = ParseParamValue(*spec, p.value);
      if (!value.ok()) {
        return absl::DataLossError(absl::StrCat("trial ", rec.number, " (run ", rec.run_id,
                                                "): ", value.status().message()));
      }
      rec.params[p.key] = *std::move(value);
    }
  }
  CHURN_RETURN_IF_ERROR(space.Check(rec.params));
  ApplyMetrics(run.metrics, &rec);
  std::string token;
  do {
    CHURN_ASSIGN_OR_RETURN(
        registry::Page<Metric> history,
        registry->GetMetricHistory(rec.run_id, kCurveKey, registry::kMaxSearchResults, token));
    for (const Metric& m : history.items) {
      rec.curve.push_back(m.value);
    }
    token = history.next_page_token;
  } while (!token.empty());
  return rec;
}

// Reads back the trials an earlier process finished, by number.
absl::StatusOr<std::vector<TrialRecord>> LoadTrials(Registry* registry, const registry::Run& study,
                                                    const SearchSpace& space) {
  registry::SearchQuery query;
  query.experiment_ids = {study.info.experiment_id};
  query.filter = absl::StrCat("tags.`", kParentTag, "` = '", study.info.run_id, "'");
  query.max_results = registry::kMaxSearchResults;
  CHURN_ASSIGN_OR_RETURN(registry::Page<registry::Run> page, registry->SearchRuns(query));
  std::vector<TrialRecord> kept;
  for (const registry::Run& run : page.items) {
    CHURN_ASSIGN_OR_RETURN(std::optional<TrialRecord> rec, ReadTrial(registry, run, space));
    if (rec) {
      kept.push_back(*std::move(rec));
    }
  }
  std::sort(kept.begin(), kept.end(),
            [](const TrialRecord& a, const TrialRecord& b) { return a.number < b.number; });
  for (size_t i = 1; i < kept.size(); ++i) {
    if (kept[i].number == kept[i - 1].number) {
      return absl::DataLossError(absl::StrCat("study ", study.info.run_id,
                                              " has two finished runs of trial ", kept[i].number));
    }
  }
  return kept;
}

// Writes a finished trial; its run turns FINISHED last, so a crash before that redoes it.
absl::Status RecordTrial(Registry* registry, const TrialRecord& rec,
                         const std::string& model_json) {
  const int64_t now = NowMs();
  std::vector<Metric> curve;
  for (size_t i = 0; i < rec.curve.size(); ++i) {
    curve.push_back({kCurveKey, rec.curve[i], now, static_cast<int64_t>(i)});
    if (curve.size() == registry::kMaxMetricsPerBatch) {
      CHURN_RETURN_IF_ERROR(registry->LogBatch(rec.run_id, curve, {}, {}));
      curve.clear();
    }
  }
  std::vector<Metric> metrics = std::move(curve);
  const std::pair<const char*, double> finals[] = {
      {"valid_auc", rec.valid_auc},
      {"best_iteration", rec.best_iteration},
      {"rounds", rec.rounds},
      {"trees", static_cast<double>(rec.size.trees)},
      {"nodes", static_cast<double>(rec.size.nodes)},
      {"leaves", static_cast<double>(rec.size.leaves)},
      {"us_per_row", rec.us_per_row},
      {"fit_seconds", rec.fit_seconds},
  };
  for (const auto& [key, value] : finals) {
    metrics.push_back({key, value, now, 0});
  }
  CHURN_RETURN_IF_ERROR(registry->LogBatch(rec.run_id, metrics, {},
                                           {{kStateTag, std::string(TrialStateName(rec.state))}}));
  if (!model_json.empty()) {
    CHURN_RETURN_IF_ERROR(
        registry->LogArtifact(rec.run_id, "model/model.json", model_json).status());
  }
  return registry
      ->UpdateRun({.run_id = rec.run_id, .status = RunStatus::kFinished, .end_time = now})
      .status();
}

absl::Status ValidateOptions(const StudyOptions& o, const SearchSpace& space) {
  if (o.trials <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("trials must be positive, got ", o.trials));
  }
  if (o.workers <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("workers must be positive, got ", o.workers));
  }
  if (o.max_rounds <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_rounds must be positive, got ", o.max_rounds));
  }
  if (o.early_stopping_rounds < 0 || o.patience < 0 || o.timeout_seconds < 0 ||
      !(o.tolerance >= 0)) {
    return absl::InvalidArgumentError(
        "early_stopping_rounds, patience, timeout and tolerance must not be negative");
  }
  if (o.sampler != "tpe" && o.sampler != "random") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown sampler '", o.sampler, "' (tpe or random)"));
  }
  if (o.tpe.startup_trials < 0 || o.tpe.ei_candidates <= 0 || !(o.tpe.gamma > 0) ||
      o.tpe.gamma_cap <= 0 || !(o.tpe.prior_weight > 0)) {
    return absl::InvalidArgumentError(
        "TPE settings: startup_trials >= 0, ei_candidates > 0, gamma > 0, prior_weight > 0");
  }
  for (const ParamSpec& p : space.Params()) {
    if (!TunableParameters().contains(p.name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown parameter '", p.name, "' in the search space: not an XGBoost tree parameter"));
    }
  }
  for (const auto& [name, value] : space.Fixed()) {
    if (!TunableParameters().contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown parameter '", name, "' in the search space's fixed settings"));
    }
  }
  return absl::OkStatus();
}

// Coordinates the workers: dispatches trials in number order, each with the finished trials
// numbered up to k - workers, and records results as they come.
class Coordinator {
 public:
  Coordinator(Registry* registry, const registry::Run& study, const SearchSpace& space,
              const StudyOptions& options, const StudyData& data, const Pruner& pruner,
              Sampler& sampler)
      : registry_(registry),
        experiment_id_(study.info.experiment_id),
        study_run_id_(study.info.run_id),
        dataset_snapshot_(study.info.dataset_snapshot),
        space_(space),
        options_(options),
        data_(data),
        pruner_(pruner),
        sampler_(sampler) {}

  absl::StatusOr<StudyResult> Run(std::vector<TrialRecord> kept, const ProgressCallback& progress);

 private:
  void WorkerLoop(const model::DMatrix& train, const model::DMatrix& valid);
  absl::Status Dispatch(int64_t number);
  absl::Status Finish(Outcome outcome);
  void Report(const TrialRecord* last, const ProgressCallback& progress) const;
  void UpdatePatience(StudyResult* result);
  std::deque<int64_t> Pending(std::vector<TrialRecord> kept);
  absl::StatusOr<std::vector<model::DMatrix>> Matrices(int workers) const;
  absl::Status DispatchReady(int workers, std::deque<int64_t>* pending, StudyResult* result);
  Outcome NextOutcome();
  absl::Status Loop(int workers, std::deque<int64_t>* pending, StudyResult* result,
                    const ProgressCallback& progress);

  Registry* registry_;
  std::string experiment_id_;
  std::string study_run_id_;
  std::string dataset_snapshot_;
  const SearchSpace& space_;
  const StudyOptions& options_;
  const StudyData& data_;
  const Pruner& pruner_;
  Sampler& sampler_;
  std::chrono::steady_clock::time_point start_{};

  // Coordinator-thread state.
  std::map<int64_t, TrialRecord> finished_;
  std::map<int64_t, std::string> running_;  // number -> run id
  // Trials numbered from here on are not run (patience ran out).
  int64_t stop_at_ = std::numeric_limits<int64_t>::max();

  absl::Mutex mu_;
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mu_);
  std::deque<Outcome> outcomes_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

void Coordinator::WorkerLoop(const model::DMatrix& train, const model::DMatrix& valid) {
  while (true) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Coordinator* c)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) { return c->shutdown_ || !c->tasks_.empty(); },
          this));
      if (tasks_.empty()) {
        return;
      }
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    Outcome outcome = RunTrial(task, {space_, options_, pruner_, data_}, train, valid);
    absl::MutexLock lock(&mu_);
    outcomes_.push_back(std::move(outcome));
  }
}

absl::Status Coordinator::Dispatch(int64_t number) {
  Task task;
  task.number = number;
  std::vector<Observation> history;
  for (const auto& [n, rec] : finished_) {
    if (n > number - options_.workers) {
      break;
    }
    history.push_back(
        {.params = rec.params, .value = rec.valid_auc, .pruned = rec.state == TrialState::kPruned});
    task.visible.push_back({.trial_number = n, .values = rec.curve});
  }
  const std::vector<Assignment>& start = space_.Start();
  task.params = number < static_cast<int64_t>(start.size()) ? start[static_cast<size_t>(number)]
                                                            : sampler_.Suggest(number, history);
  CHURN_ASSIGN_OR_RETURN(registry::Run run,
                         registry_->CreateRun({.experiment_id = experiment_id_,
                                               .run_name = absl::StrCat("trial-", number),
                                               .tags = {{kParentTag, study_run_id_},
                                                        {kTrialTag, absl::StrCat(number)},
                                                        {"churn.kind", "trial"}},
                                               .dataset_snapshot = dataset_snapshot_}));
  std::vector<Param> params;
  for (const auto& [name, value] : task.params) {
    params.push_back({name, FormatParamValue(value)});
  }
  CHURN_RETURN_IF_ERROR(registry_->LogBatch(run.info.run_id, {}, params, {}));
  running_[number] = run.info.run_id;
  absl::MutexLock lock(&mu_);
  tasks_.push_back(std::move(task));
  return absl::OkStatus();
}

absl::Status Coordinator::Finish(Outcome outcome) {
  const std::string run_id = running_[outcome.number];
  running_.erase(outcome.number);
  if (!outcome.status.ok()) {
    (void)registry_->LogBatch(run_id, {}, {}, {{"churn.error", outcome.status.ToString()}});
    (void)registry_->UpdateRun(
        {.run_id = run_id, .status = RunStatus::kFailed, .end_time = NowMs()});
    return {outcome.status.code(),
            absl::StrCat("trial ", outcome.number, ": ", outcome.status.message())};
  }
  TrialRecord& rec = outcome.record;
  rec.run_id = run_id;
  rec.finished_at_seconds = SecondsSince(start_);
  CHURN_RETURN_IF_ERROR(RecordTrial(registry_, rec, outcome.model_json));
  finished_[rec.number] = std::move(rec);
  return absl::OkStatus();
}

void Coordinator::Report(const TrialRecord* last, const ProgressCallback& progress) const {
  if (!progress) {
    return;
  }
  StudyProgress p;
  p.total = options_.trials;
  p.finished = static_cast<int>(finished_.size());
  p.elapsed_seconds = SecondsSince(start_);
  p.last = last;
  for (const auto& [n, rec] : finished_) {
    p.pruned += rec.state == TrialState::kPruned ? 1 : 0;
    if (rec.state == TrialState::kComplete && rec.valid_auc > p.best_valid_auc) {
      p.best_valid_auc = rec.valid_auc;
      p.best_trial = n;
    }
  }
  progress(p);
}

// Patience counts in trial order: the study stops at the first finished prefix 0..c whose best
// trial is `patience` or more trials back, and still runs the trials up to c + workers - 1 (all
// that could have been dispatched before c finished), so where it stops never depends on which
// worker was faster.
void Coordinator::UpdatePatience(StudyResult* result) {
  if (options_.patience <= 0) {
    return;
  }
  int64_t c = -1;
  int64_t best = -1;
  for (const auto& [n, r] : finished_) {
    if (n != c + 1) {
      break;
    }
    c = n;
    if (r.state == TrialState::kComplete &&
        (best < 0 || r.valid_auc > finished_.at(best).valid_auc)) {
      best = n;
    }
    if (c - best >= options_.patience) {
      stop_at_ = std::min<int64_t>(stop_at_, c + options_.workers);
      result->stopped_by_patience = true;
      return;
    }
  }
}

std::deque<int64_t> Coordinator::Pending(std::vector<TrialRecord> kept) {
  for (TrialRecord& rec : kept) {
    if (rec.number < options_.trials) {
      finished_[rec.number] = std::move(rec);
    }
  }
  std::deque<int64_t> pending;
  for (int64_t n = 0; n < options_.trials; ++n) {
    if (!finished_.contains(n)) {
      pending.push_back(n);
    }
  }
  return pending;
}

// Each worker gets its own matrices: XGBoost caches its histogram index in them.
absl::StatusOr<std::vector<model::DMatrix>> Coordinator::Matrices(int workers) const {
  std::vector<model::DMatrix> matrices;
  for (int w = 0; w < workers; ++w) {
    CHURN_ASSIGN_OR_RETURN(
        model::DMatrix train,
        model::DMatrix::FromDense(data_.train_x, data_.train_y.size(), data_.cols, data_.train_y));
    CHURN_ASSIGN_OR_RETURN(
        model::DMatrix valid,
        model::DMatrix::FromDense(data_.valid_x, data_.valid_y.size(), data_.cols, data_.valid_y));
    matrices.push_back(std::move(train));
    matrices.push_back(std::move(valid));
  }
  return matrices;
}

// Dispatches while a worker is free and the next trial's visible trials have all finished.
absl::Status Coordinator::DispatchReady(int workers, std::deque<int64_t>* pending,
                                        StudyResult* result) {
  while (!pending->empty() && static_cast<int>(running_.size()) < workers) {
    const int64_t next = pending->front();
    if (next >= stop_at_) {
      pending->clear();
      break;
    }
    if (!running_.empty() && running_.begin()->first <= next - options_.workers) {
      break;
    }
    if (options_.timeout_seconds > 0 && SecondsSince(start_) >= options_.timeout_seconds) {
      result->timed_out = true;
      pending->clear();
      break;
    }
    pending->pop_front();
    CHURN_RETURN_IF_ERROR(Dispatch(next));
  }
  return absl::OkStatus();
}

Outcome Coordinator::NextOutcome() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](std::deque<Outcome>* q) { return !q->empty(); }, &outcomes_));
  Outcome outcome = std::move(outcomes_.front());
  outcomes_.pop_front();
  return outcome;
}

// Until every dispatched trial has come back; after an error nothing new is dispatched, but the
// trials in flight are still recorded.
absl::Status Coordinator::Loop(int workers, std::deque<int64_t>* pending, StudyResult* result,
                               const ProgressCallback& progress) {
  absl::Status status;
  UpdatePatience(result);  // a resumed study may have run out of patience already
  while (true) {
    if (status.ok()) {
      status = DispatchReady(workers, pending, result);
    }
    if (running_.empty()) {
      return status;
    }
    Outcome outcome = NextOutcome();
    const int64_t number = outcome.number;
    const absl::Status finished = Finish(std::move(outcome));
    if (!finished.ok()) {
      status.Update(finished);
      continue;
    }
    UpdatePatience(result);
    Report(&finished_.at(number), progress);
  }
}

absl::StatusOr<StudyResult> Coordinator::Run(std::vector<TrialRecord> kept,
                                             const ProgressCallback& progress) {
  start_ = std::chrono::steady_clock::now();
  std::deque<int64_t> pending = Pending(std::move(kept));
  Report(nullptr, progress);
  const int workers = std::min<int>(options_.workers, static_cast<int>(pending.size()));
  CHURN_ASSIGN_OR_RETURN(const std::vector<model::DMatrix> matrices, Matrices(workers));
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(workers));
  for (size_t w = 0; w < static_cast<size_t>(workers); ++w) {
    threads.emplace_back(
        [this, &matrices, w] { WorkerLoop(matrices[2 * w], matrices[2 * w + 1]); });
  }
  StudyResult result;
  const absl::Status status = Loop(workers, &pending, &result, progress);
  {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
    tasks_.clear();
  }
  for (std::thread& t : threads) {
    t.join();
  }
  CHURN_RETURN_IF_ERROR(status);
  for (auto& [n, rec] : finished_) {
    result.trials.push_back(std::move(rec));
  }
  result.wall_seconds = SecondsSince(start_);
  CHURN_RETURN_IF_ERROR(ChooseWinner(options_.tolerance, &result));
  return result;
}

}  // namespace

absl::string_view TrialStateName(TrialState state) {
  return state == TrialState::kPruned ? "PRUNED" : "COMPLETE";
}

std::vector<size_t> QualityCostFront(absl::Span<const FrontPoint> points) {
  std::vector<size_t> order(points.size());
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::sort(order.begin(), order.end(), [&points](size_t a, size_t b) {
    if (points[a].nodes != points[b].nodes) {
      return points[a].nodes < points[b].nodes;
    }
    return points[a].valid_auc > points[b].valid_auc;
  });
  std::vector<size_t> front;
  double best_auc = -std::numeric_limits<double>::infinity();
  for (const size_t i : order) {
    if (points[i].valid_auc > best_auc) {
      front.push_back(i);
      best_auc = points[i].valid_auc;
    }
  }
  return front;
}

absl::Status ChooseWinner(double tolerance, StudyResult* result) {
  const std::vector<TrialRecord>& trials = result->trials;
  std::optional<size_t> best;
  for (size_t i = 0; i < trials.size(); ++i) {
    if (trials[i].state == TrialState::kComplete &&
        (!best || trials[i].valid_auc > trials[*best].valid_auc)) {
      best = i;
    }
  }
  if (!best) {
    return absl::FailedPreconditionError(
        absl::StrCat("no trial of ", trials.size(), " completed (all were pruned)"));
  }
  result->best = *best;
  size_t winner = *best;
  for (size_t i = 0; i < trials.size(); ++i) {
    const TrialRecord& t = trials[i];
    const TrialRecord& w = trials[winner];
    if (t.state != TrialState::kComplete || t.valid_auc < trials[*best].valid_auc - tolerance) {
      continue;
    }
    if (t.size.nodes < w.size.nodes ||
        (t.size.nodes == w.size.nodes && t.valid_auc > w.valid_auc)) {
      winner = i;
    }
  }
  result->winner = winner;
  std::vector<size_t> complete;
  std::vector<FrontPoint> points;
  for (size_t i = 0; i < trials.size(); ++i) {
    if (trials[i].state == TrialState::kComplete) {
      complete.push_back(i);
      points.push_back(
          {.valid_auc = trials[i].valid_auc, .nodes = static_cast<double>(trials[i].size.nodes)});
    }
  }
  result->pareto.clear();
  for (const size_t k : QualityCostFront(points)) {
    result->pareto.push_back(complete[k]);
  }
  return absl::OkStatus();
}

std::string StudyResult::ParetoJson() const {
  auto trial_json = [](const TrialRecord& t) {
    nlohmann::json params = nlohmann::json::object();
    for (const auto& [name, value] : t.params) {
      params[name] = FormatParamValue(value);
    }
    return nlohmann::json{{"trial", t.number},
                          {"run_id", t.run_id},
                          {"state", std::string(TrialStateName(t.state))},
                          {"valid_auc", t.valid_auc},
                          {"nodes", t.size.nodes},
                          {"trees", t.size.trees},
                          {"us_per_row", t.us_per_row},
                          {"best_iteration", t.best_iteration},
                          {"rounds", t.rounds},
                          {"fit_seconds", t.fit_seconds},
                          {"finished_at_seconds", t.finished_at_seconds},
                          {"resumed", t.resumed},
                          {"params", params}};
  };
  nlohmann::json j;
  j["objective"] = "valid_auc (maximise)";
  j["cost"] = "nodes (minimise)";
  j["winner"] = trials.empty() ? -1 : trials[winner].number;
  j["best"] = trials.empty() ? -1 : trials[best].number;
  j["front"] = nlohmann::json::array();
  for (const size_t i : pareto) {
    j["front"].push_back(trial_json(trials[i]));
  }
  j["trials"] = nlohmann::json::array();
  for (const TrialRecord& t : trials) {
    j["trials"].push_back(trial_json(t));
  }
  return j.dump(2);
}

absl::StatusOr<StudyResult> RunStudy(registry::Registry* registry, absl::string_view study_run_id,
                                     const SearchSpace& space, const StudyOptions& options,
                                     const StudyData& data, const ProgressCallback& progress) {
  CHURN_RETURN_IF_ERROR(ValidateOptions(options, space));
  if (data.cols == 0 || data.train_y.empty() || data.valid_y.empty() ||
      data.train_x.size() != data.train_y.size() * data.cols ||
      data.valid_x.size() != data.valid_y.size() * data.cols) {
    return absl::InvalidArgumentError("study data: matrices do not match their labels");
  }
  CHURN_ASSIGN_OR_RETURN(std::unique_ptr<Pruner> pruner, MakePruner(options.pruner));
  std::unique_ptr<Sampler> sampler;
  if (options.sampler == "random") {
    sampler = std::make_unique<RandomSampler>(space, options.seed);
  } else {
    TpeOptions tpe = options.tpe;
    tpe.seed = options.seed;
    sampler = std::make_unique<TpeSampler>(space, tpe);
  }
  CHURN_ASSIGN_OR_RETURN(const registry::Run study, registry->GetRun(study_run_id));
  CHURN_ASSIGN_OR_RETURN(std::vector<TrialRecord> kept, LoadTrials(registry, study, space));
  Coordinator coordinator(registry, study, space, options, data, *pruner, *sampler);
  return coordinator.Run(std::move(kept), progress);
}

}  // namespace churn::train
