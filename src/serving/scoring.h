// What the HTTP model server and the stream worker share (internal to the serving module): a
// loaded model version with its request decoder, the answer a scored record gets, the metrics
// of scoring, and the follower that keeps a model reference (churn@production) loaded and swaps
// in a new version when the reference moves.
#ifndef CHURN_SERVING_SCORING_H_
#define CHURN_SERVING_SCORING_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

#include "churn/drift/monitor.h"
#include "churn/registry/registry.h"
#include "churn/serving/prediction_log.h"
#include "churn/serving/request_decoder.h"
#include "churn/serving/served_model.h"

namespace churn::serving::internal {

// What one loaded version needs on the scoring path.
struct LoadedModel {
  std::shared_ptr<const ServedModel> model;
  RequestDecoder decoder;
  std::vector<std::string> feature_names;  // lowercase, per pipeline feature
  std::string model_json;                  // {"name":...,"version":...,"run_id":...}
  // Live drift of this version against its reference; null when the version has none or
  // monitoring is off. A new version starts with empty windows.
  std::shared_ptr<drift::DriftMonitor> monitor;
};

// `drift`: the monitor's windows (nullopt: no monitoring).
absl::StatusOr<std::shared_ptr<const LoadedModel>> PrepareModel(
    std::shared_ptr<const ServedModel> model, UnknownCategoryPolicy policy,
    const std::optional<drift::MonitorOptions>& drift = std::nullopt);

// The `n` features that pushed this record's score most (TreeSHAP), as the JSON array of an
// answer's "reasons": [{"feature":"total_trans_ct","value":42,"contribution":1.3}, ...].
std::string ReasonsJson(const LoadedModel& loaded, const std::vector<float>& features, size_t n);

// The JSON answer /predict gives for one scored record: churn_probability, churn, threshold,
// model, request_id, and reasons unless `reasons` is empty.
std::string AnswerJson(const LoadedModel& loaded, const PredictionRecord& record,
                       absl::string_view reasons);

// Scores one decoded record with `loaded` (the probability, the label at the threshold), moving
// its inputs and customer id into the returned record; `received_us` is when it arrived.
PredictionRecord ScoreRecord(const LoadedModel& loaded, DecodedRecord& record, int64_t received_us);

int64_t NowMicros();

// The metrics every scoring process exports, in the caller's registry (which must outlive it).
class ScoringMetrics {
 public:
  explicit ScoringMetrics(prometheus::Registry& registry);

  // Counts a scored record and hands it to the version's drift monitor.
  void Scored(const LoadedModel& loaded, const PredictionRecord& record,
              const DecodedRecord& decoded);
  void Reloaded(bool ok);
  void Serving(const ServedModel& m);
  // The whole registry (these metrics and the caller's) in Prometheus' text format, with the
  // prediction log's counters copied into their gauges first (when there is a log).
  std::string Text(const PredictionLog* log);

  prometheus::Registry& Registry() { return registry_; }

 private:
  prometheus::Registry& registry_;
  prometheus::Family<prometheus::Counter>& predictions_;
  prometheus::Family<prometheus::Histogram>& scores_;
  prometheus::Family<prometheus::Gauge>& model_info_;
  prometheus::Family<prometheus::Counter>& reloads_;
  prometheus::Family<prometheus::Counter>& unknown_;
  prometheus::Gauge& log_depth_;
  prometheus::Gauge& log_written_;
  prometheus::Gauge& log_loaded_;
  prometheus::Gauge& log_backlog_;
  prometheus::Gauge& log_failures_;
  prometheus::Counter& score_0_;
  prometheus::Counter& score_1_;
  prometheus::Histogram& score_hist_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, prometheus::Counter*> unknown_counters_ ABSL_GUARDED_BY(mu_);
  prometheus::Gauge* info_ ABSL_GUARDED_BY(mu_) = nullptr;
};

struct FollowerOptions {
  ModelRef model{};
  UnknownCategoryPolicy unknown_category = UnknownCategoryPolicy::kReject;
  // How often the reference is resolved again (0: only on RequestReload and Reload calls).
  absl::Duration poll_interval = absl::Seconds(10);
  // The log prefix ("serve", "stream").
  std::string who = "serve";
  // Live drift windows of each loaded version (nullopt: no monitoring).
  std::optional<drift::MonitorOptions> drift = drift::MonitorOptions{};
};

// Keeps the version a model reference names loaded. Start loads it (or starts unready when the
// reference does not resolve yet); a thread re-resolves it every poll interval and on
// RequestReload (SIGHUP); a new version is loaded and verified off the scoring path and swapped
// in atomically, a broken one refused (counted, logged) while the old one keeps serving.
class ModelFollower {
 public:
  ModelFollower(FollowerOptions options, registry::Registry* registry, ScoringMetrics* metrics)
      : options_(std::move(options)), registry_(registry), metrics_(metrics) {}

  ~ModelFollower() { Stop(); }

  ModelFollower(const ModelFollower&) = delete;
  ModelFollower& operator=(const ModelFollower&) = delete;

  // Loads the model when the reference resolves and starts the thread. A model that resolves
  // but fails to load or verify is an error (nothing safe to serve).
  absl::Status Start();
  // The version being served; nullptr while unready.
  std::shared_ptr<const LoadedModel> Current() const;
  int64_t ServingVersion() const;
  // Resolves the reference and loads a new version when it changed. Returns the version served
  // afterwards; the load error when a new version was refused.
  absl::StatusOr<int64_t> Reload();
  // Stops the thread. Idempotent.
  void Stop();

 private:
  absl::Status Load(const registry::ModelVersion& version);
  void Loop();

  const FollowerOptions options_;
  registry::Registry* const registry_;
  ScoringMetrics* const metrics_;
  std::thread thread_;
  absl::Mutex reload_mu_;  // one Reload at a time

  mutable absl::Mutex mu_;
  std::shared_ptr<const LoadedModel> loaded_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// A record id given by a client (X-Request-Id, a stream event's request_id) is kept when it is
// short and printable.
bool UsableRequestId(absl::string_view id);

}  // namespace churn::serving::internal

#endif  // CHURN_SERVING_SCORING_H_
