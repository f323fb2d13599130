// File: churn/registry/types.h
//
// The records of the tracking store and the model registry, shaped like MLflow's entities
// (experiments, runs with params / tags / metric history, registered models, model versions,
// aliases) so the REST layer maps them field for field. Times are milliseconds since the Unix
// epoch, as in MLflow. Plain structs: thread-compatible.
#ifndef CHURN_REGISTRY_TYPES_H_
#define CHURN_REGISTRY_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace churn::registry {

// MLflow's run states. FINISHED, FAILED and KILLED are terminal.
enum class RunStatus { kRunning, kScheduled, kFinished, kFailed, kKilled };
// "RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED".
const char* ToString(RunStatus status);
// InvalidArgument naming the value when it is none of the above.
absl::StatusOr<RunStatus> RunStatusFromString(absl::string_view text);

// Soft deletion, as MLflow: deleted experiments and runs stay until garbage-collected.
enum class LifecycleStage { kActive, kDeleted };
// "active", "deleted".
const char* ToString(LifecycleStage stage);
absl::StatusOr<LifecycleStage> LifecycleStageFromString(absl::string_view text);

// Which lifecycle stages a search returns (MLflow's ViewType).
enum class ViewType { kActiveOnly, kDeletedOnly, kAll };
// "ACTIVE_ONLY", "DELETED_ONLY", "ALL".
const char* ToString(ViewType view);
absl::StatusOr<ViewType> ViewTypeFromString(absl::string_view text);

struct Tag {
  std::string key{};
  std::string value{};
  friend bool operator==(const Tag&, const Tag&) = default;
};

struct Param {
  std::string key{};
  std::string value{};
  friend bool operator==(const Param&, const Param&) = default;
};

// One logged value of a metric. NaN and infinities are allowed (MLflow allows them).
struct Metric {
  std::string key{};
  double value = 0;
  int64_t timestamp = 0;  // ms since the epoch
  int64_t step = 0;
};

struct Experiment {
  std::string experiment_id{};  // decimal, as MLflow
  std::string name{};
  std::string artifact_location{};
  LifecycleStage lifecycle_stage = LifecycleStage::kActive;
  int64_t creation_time = 0;
  int64_t last_update_time = 0;
  std::vector<Tag> tags{};
};

// A file logged by a run: a path in the run's artifact tree and the content address of its
// bytes in the artifact store.
struct ArtifactRef {
  std::string path{};    // "model/model.json"
  std::string sha256{};  // 64 lowercase hex digits
  int64_t size = 0;
  friend bool operator==(const ArtifactRef&, const ArtifactRef&) = default;
};

struct RunInfo {
  std::string run_id{};  // 32 lowercase hex digits (MLflow's uuid4().hex)
  std::string run_name{};
  std::string experiment_id{};
  std::string user_id{};
  RunStatus status = RunStatus::kRunning;
  int64_t start_time = 0;
  std::optional<int64_t> end_time{};
  std::string artifact_uri{};  // "runs:/<run_id>" resolved through the artifact store
  LifecycleStage lifecycle_stage = LifecycleStage::kActive;
  // The feature-store snapshot the run trained on ("dataset@id"), empty when none.
  std::string dataset_snapshot{};
};

// A run with its latest metric values (largest step, then latest timestamp, then largest value:
// MLflow's rule), params and tags.
struct Run {
  RunInfo info;
  std::vector<Metric> metrics{};
  std::vector<Param> params{};
  std::vector<Tag> tags{};
};

struct ModelVersion {
  std::string name{};
  int64_t version = 0;  // 1, 2, ... per registered model
  int64_t creation_timestamp = 0;
  int64_t last_updated_timestamp = 0;
  std::string description{};
  std::string user_id{};
  std::string source{};  // "runs:/<run_id>/<path>" or any URI
  std::string run_id{};  // empty when the version has no source run
  std::string run_link{};
  std::string status = "READY";  // MLflow's ModelVersionStatus; versions are READY when created
  // The feature schema the version expects, as JSON text (MLflow's signature); may be empty.
  std::string signature{};
  // Key metrics copied at registration, e.g. {"test_auc", 0.991}.
  std::vector<std::pair<std::string, double>> metrics{};
  // The files of the version: the source run's artifacts under the source path.
  std::vector<ArtifactRef> artifacts{};
  std::vector<Tag> tags{};
  std::vector<std::string> aliases{};
};

struct RegisteredModel {
  std::string name{};
  int64_t creation_timestamp = 0;
  int64_t last_updated_timestamp = 0;
  std::string description{};
  std::vector<Tag> tags{};
  // Alias -> version, sorted by alias.
  std::vector<std::pair<std::string, int64_t>> aliases{};
  // The newest version, when there is one (MLflow's latest_versions without stages).
  std::optional<int64_t> latest_version{};
};

// One move of an alias: set to `version`, or removed (version nullopt).
struct AliasEvent {
  int64_t id = 0;  // increasing in the order the moves happened
  std::string name{};
  std::string alias{};
  std::optional<int64_t> version{};
  std::optional<int64_t> previous_version{};
  int64_t timestamp = 0;  // ms since the epoch
  std::string actor{};
  std::string reason{};
};

// A page of results and the token of the next page (empty on the last page).
template <typename T>
struct Page {
  std::vector<T> items{};
  std::string next_page_token{};
};

}  // namespace churn::registry

#endif  // CHURN_REGISTRY_TYPES_H_
