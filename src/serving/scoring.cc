#include "serving/scoring.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "prometheus/text_serializer.h"

#include "churn/base/json_text.h"
#include "churn/base/logging.h"
#include "churn/base/status_macros.h"
#include "churn/serving/model_server.h"

namespace churn::serving {
namespace {

std::atomic<int> reload_requests{0};

std::string ModelJson(const ServedModel& m) {
  std::string out = "{\"name\":";
  base::AppendJsonString(m.Name(), &out);
  absl::StrAppend(&out, ",\"version\":", m.Version(), ",\"run_id\":");
  base::AppendJsonString(m.RunId(), &out);
  out.push_back('}');
  return out;
}

}  // namespace

void RequestReload() {
  reload_requests.fetch_add(1);
}

namespace internal {

int64_t NowMicros() {
  return absl::ToUnixMicros(absl::Now());
}

absl::StatusOr<std::shared_ptr<const LoadedModel>> PrepareModel(
    std::shared_ptr<const ServedModel> model, UnknownCategoryPolicy policy,
    const std::optional<drift::MonitorOptions>& drift) {
  CHURN_ASSIGN_OR_RETURN(RequestDecoder decoder,
                         RequestDecoder::Create(model->Schema(), model->Pipeline(), policy));
  std::vector<std::string> names;
  for (const auto& f : model->Pipeline().Features()) {
    names.push_back(absl::AsciiStrToLower(f.name));
  }
  std::string model_json = ModelJson(*model);
  std::shared_ptr<drift::DriftMonitor> monitor;
  if (drift.has_value() && model->DriftReference() != nullptr) {
    CHURN_RETURN_IF_ERROR(drift->Validate());
    monitor = std::make_shared<drift::DriftMonitor>(model->DriftReference(), *drift);
    for (const std::string& why : monitor->IgnoredOverrides()) {
      base::LogWarn(absl::StrCat("version ", model->Version(), ": ", why, " (left out)"));
    }
  }
  return std::make_shared<const LoadedModel>(LoadedModel{std::move(model), std::move(decoder),
                                                         std::move(names), std::move(model_json),
                                                         std::move(monitor)});
}

std::string ReasonsJson(const LoadedModel& loaded, const std::vector<float>& features, size_t n) {
  const std::vector<float> contributions = loaded.model->Trees().Contributions(features);
  const std::vector<model::Reason> top = model::TopReasons(contributions, n);
  const auto& specs = loaded.model->Pipeline().Features();
  std::string out = "[";
  for (size_t i = 0; i < top.size(); ++i) {
    const size_t f = top[i].feature;
    absl::StrAppend(&out, i == 0 ? "" : ",", R"({"feature":)");
    base::AppendJsonString(loaded.feature_names[f], &out);
    out.append(R"(,"value":)");
    const float v = features[f];
    if (specs[f].kind == features::EncodedFeature::Kind::kCategorical && !std::isnan(v)) {
      const auto code = static_cast<size_t>(v);
      base::AppendJsonString(code < specs[f].levels.size() ? specs[f].levels[code] : "(unknown)",
                             &out);
    } else {
      base::AppendJsonNumber(v, &out);
    }
    out.append(R"(,"contribution":)");
    base::AppendJsonNumber(top[i].contribution, &out);
    out.push_back('}');
  }
  out.push_back(']');
  return out;
}

std::string AnswerJson(const LoadedModel& loaded, const PredictionRecord& record,
                       absl::string_view reasons) {
  std::string out = R"({"churn_probability":)";
  base::AppendJsonNumber(static_cast<float>(record.probability), &out);
  absl::StrAppend(&out, R"(,"churn":)", record.label, R"(,"threshold":)");
  base::AppendJsonNumber(loaded.model->Threshold(), &out);
  absl::StrAppend(&out, R"(,"model":)", loaded.model_json, R"(,"request_id":)");
  base::AppendJsonString(record.request_id, &out);
  if (!reasons.empty()) {
    absl::StrAppend(&out, R"(,"reasons":)", reasons);
  }
  out.push_back('}');
  return out;
}

PredictionRecord ScoreRecord(const LoadedModel& loaded, DecodedRecord& record,
                             int64_t received_us) {
  const ServedModel& m = *loaded.model;
  const float p = m.Trees().Predict(record.features);
  const int64_t scored_us = NowMicros();
  return PredictionRecord{.time_us = scored_us,
                          .model_name = m.Name(),
                          .model_version = m.Version(),
                          .customer_id = std::move(record.customer_id),
                          .inputs_json = std::move(record.inputs_json),
                          .probability = p,
                          .label = p >= m.Threshold() ? 1 : 0,
                          .latency_us = scored_us - received_us};
}

bool UsableRequestId(absl::string_view id) {
  return !id.empty() && id.size() <= 128 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

ScoringMetrics::ScoringMetrics(prometheus::Registry& registry)
    : registry_(registry),
      predictions_(prometheus::BuildCounter()
                       .Name("churn_predictions_total")
                       .Help("Records scored, by predicted label")
                       .Register(registry)),
      scores_(prometheus::BuildHistogram()
                  .Name("churn_prediction_score")
                  .Help("Churn probabilities answered")
                  .Register(registry)),
      model_info_(prometheus::BuildGauge()
                      .Name("churn_model_info")
                      .Help("The model version being served (value 1)")
                      .Register(registry)),
      reloads_(prometheus::BuildCounter()
                   .Name("churn_model_reloads_total")
                   .Help("Model loads, by result (ok, refused)")
                   .Register(registry)),
      unknown_(prometheus::BuildCounter()
                   .Name("churn_unknown_category_total")
                   .Help("Categorical values outside the declared levels, by field")
                   .Register(registry)),
      log_depth_(prometheus::BuildGauge()
                     .Name("churn_prediction_log_queue_depth")
                     .Help("Records waiting for the prediction log")
                     .Register(registry)
                     .Add({})),
      log_written_(prometheus::BuildGauge()
                       .Name("churn_prediction_log_written")
                       .Help("Records in the prediction log's journal since start (answered)")
                       .Register(registry)
                       .Add({})),
      log_loaded_(prometheus::BuildGauge()
                      .Name("churn_prediction_log_loaded")
                      .Help("Records loaded from the journal into the prediction store since start")
                      .Register(registry)
                      .Add({})),
      log_backlog_(prometheus::BuildGauge()
                       .Name("churn_prediction_log_backlog_bytes")
                       .Help("Journal bytes not loaded into the prediction store yet")
                       .Register(registry)
                       .Add({})),
      log_failures_(prometheus::BuildGauge()
                        .Name("churn_prediction_log_failures")
                        .Help("Records whose prediction-log journal write failed since start")
                        .Register(registry)
                        .Add({})),
      score_0_(predictions_.Add({{"label", "0"}})),
      score_1_(predictions_.Add({{"label", "1"}})),
      score_hist_(scores_.Add({}, prometheus::Histogram::BucketBoundaries{
                                      0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95})) {}

void ScoringMetrics::Scored(const LoadedModel& loaded, const PredictionRecord& record,
                            const DecodedRecord& decoded) {
  (record.label == 1 ? score_1_ : score_0_).Increment();
  score_hist_.Observe(record.probability);
  if (loaded.monitor != nullptr) {
    loaded.monitor->Observe(decoded.features, record.probability, record.request_id,
                            record.customer_id, absl::FromUnixMicros(record.time_us));
  }
  if (decoded.unknown_fields.empty()) {
    return;
  }
  absl::MutexLock lock(&mu_);
  for (const int f : decoded.unknown_fields) {
    const std::string& field = loaded.decoder.Fields()[static_cast<size_t>(f)];
    auto& c = unknown_counters_[field];
    if (c == nullptr) {
      c = &unknown_.Add({{"field", field}});
    }
    c->Increment();
  }
}

void ScoringMetrics::Reloaded(bool ok) {
  reloads_.Add({{"result", ok ? "ok" : "refused"}}).Increment();
}

void ScoringMetrics::Serving(const ServedModel& m) {
  absl::MutexLock lock(&mu_);
  if (info_ != nullptr) {
    model_info_.Remove(info_);
  }
  info_ = &model_info_.Add(
      {{"name", m.Name()}, {"version", absl::StrCat(m.Version())}, {"run_id", m.RunId()}});
  info_->Set(1);
}

std::string ScoringMetrics::Text(const PredictionLog* log) {
  if (log != nullptr) {
    const PredictionLog::Stats stats = log->GetStats();
    log_depth_.Set(static_cast<double>(stats.queue_depth));
    log_written_.Set(static_cast<double>(stats.written));
    log_failures_.Set(static_cast<double>(stats.failures));
    log_loaded_.Set(static_cast<double>(stats.loaded));
    log_backlog_.Set(static_cast<double>(stats.backlog_bytes));
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_.Collect());
  return out.str();
}

absl::Status ModelFollower::Start() {
  absl::StatusOr<registry::ModelVersion> version = ResolveModelRef(*registry_, options_.model);
  if (version.ok()) {
    CHURN_RETURN_IF_ERROR(Load(*version));
  } else if (absl::IsNotFound(version.status())) {
    base::LogWarn(absl::StrCat(options_.who, ": ", options_.model.ToString(),
                               " does not resolve yet (", version.status().message(),
                               "); serving unready"));
  } else {
    return version.status();
  }
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

std::shared_ptr<const LoadedModel> ModelFollower::Current() const {
  absl::MutexLock lock(&mu_);
  return loaded_;
}

int64_t ModelFollower::ServingVersion() const {
  const std::shared_ptr<const LoadedModel> loaded = Current();
  return loaded == nullptr ? 0 : loaded->model->Version();
}

absl::StatusOr<int64_t> ModelFollower::Reload() {
  absl::MutexLock reload_lock(&reload_mu_);
  CHURN_ASSIGN_OR_RETURN(const registry::ModelVersion version,
                         ResolveModelRef(*registry_, options_.model));
  if (version.version != ServingVersion()) {
    CHURN_RETURN_IF_ERROR(Load(version));
  }
  return ServingVersion();
}

void ModelFollower::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

absl::Status ModelFollower::Load(const registry::ModelVersion& version) {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::shared_ptr<const ServedModel>> model =
      LoadServedModel(*registry_, ModelRef{.name = version.name, .version = version.version});
  absl::StatusOr<std::shared_ptr<const LoadedModel>> loaded =
      model.ok() ? PrepareModel(*std::move(model), options_.unknown_category, options_.drift)
                 : absl::StatusOr<std::shared_ptr<const LoadedModel>>(model.status());
  metrics_->Reloaded(loaded.ok());
  if (!loaded.ok()) {
    base::LogError(absl::StrCat(options_.who, ": refused ", version.name, " version ",
                                version.version, ": ", loaded.status().message()));
    return loaded.status();
  }
  metrics_->Serving(*(*loaded)->model);
  {
    absl::MutexLock lock(&mu_);
    loaded_ = *std::move(loaded);
  }
  base::LogInfo(absl::StrCat(options_.who, ": serving ", version.name, " version ", version.version,
                             " (loaded and verified in ", absl::FormatDuration(absl::Now() - start),
                             ")"));
  return absl::OkStatus();
}

void ModelFollower::Loop() {
  absl::Time next_poll = absl::Now() + options_.poll_interval;
  int seen_requests = reload_requests.load();
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopped_), absl::Milliseconds(100))) {
        return;
      }
    }
    const int requests = reload_requests.load();
    const bool poll = options_.poll_interval > absl::ZeroDuration() && absl::Now() >= next_poll;
    if (requests == seen_requests && !poll) {
      continue;
    }
    seen_requests = requests;
    next_poll = absl::Now() + options_.poll_interval;
    absl::StatusOr<int64_t> served = Reload();
    if (!served.ok() && !absl::IsNotFound(served.status())) {
      base::LogWarn(absl::StrCat(options_.who, ": reload: ", served.status().message()));
    }
  }
}

}  // namespace internal
}  // namespace churn::serving
