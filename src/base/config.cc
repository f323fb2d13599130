#include "churn/base/config.h"

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

#include "churn/base/file.h"
#include "churn/base/status_macros.h"

namespace churn::base {
namespace {

// Reads a scalar into `out`; a type mismatch is an InvalidArgument naming the key.
template <typename T>
absl::Status ReadScalar(const YAML::Node& node, absl::string_view key, T* out) {
  try {
    *out = node.as<T>();
    return absl::OkStatus();
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("config key '", key, "': ", e.what()));
  }
}

using Setter = std::function<absl::Status(const YAML::Node&, Config*)>;

template <typename T>
Setter Field(absl::string_view key, T Config::*member) {
  return [key, member](const YAML::Node& node, Config* config) {
    return ReadScalar(node, key, &(config->*member));
  };
}

template <typename T>
Setter S3Field(absl::string_view key, T S3Options::*member) {
  return [key, member](const YAML::Node& node, Config* config) {
    return ReadScalar(node, key, &(config->s3.*member));
  };
}

template <typename T>
Setter TrainField(absl::string_view key, T TrainSettings::*member) {
  return [key, member](const YAML::Node& node, Config* config) {
    return ReadScalar(node, key, &(config->train.*member));
  };
}

template <typename T>
Setter ServeField(absl::string_view key, T ServeSettings::*member) {
  return [key, member](const YAML::Node& node, Config* config) {
    return ReadScalar(node, key, &(config->serve.*member));
  };
}

template <typename T>
Setter DriftField(absl::string_view key, T DriftSettings::*member) {
  return [key, member](const YAML::Node& node, Config* config) {
    return ReadScalar(node, key, &(config->drift.*member));
  };
}

template <typename T>
Setter DeployField(absl::string_view key, T DeploySettings::*member) {
  return [key, member](const YAML::Node& node, Config* config) {
    return ReadScalar(node, key, &(config->deploy.*member));
  };
}

const std::map<std::string, Setter>& TopLevelKeys() {
  static const auto* const kKeys = new std::map<std::string, Setter>{
      {"data_dir", Field("data_dir", &Config::data_dir)},
      {"log_level", Field("log_level", &Config::log_level)},
      {"log_format", Field("log_format", &Config::log_format)},
      {"object_store", Field("object_store", &Config::object_store)},
      {"online_store", Field("online_store", &Config::online_store)},
      {"registry", Field("registry", &Config::registry)},
      {"artifact_store", Field("artifact_store", &Config::artifact_store)},
      {"registry_token", Field("registry_token", &Config::registry_token)},
      {"max_record_bytes", Field("max_record_bytes", &Config::max_record_bytes)},
      {"max_reported_violations",
       Field("max_reported_violations", &Config::max_reported_violations)},
  };
  return *kKeys;
}

const std::map<std::string, Setter>& S3Keys() {
  static const auto* const kKeys = new std::map<std::string, Setter>{
      {"endpoint", S3Field("s3.endpoint", &S3Options::endpoint)},
      {"region", S3Field("s3.region", &S3Options::region)},
      {"access_key_id", S3Field("s3.access_key_id", &S3Options::access_key_id)},
      {"secret_access_key", S3Field("s3.secret_access_key", &S3Options::secret_access_key)},
      {"session_token", S3Field("s3.session_token", &S3Options::session_token)},
      {"timeout_seconds", S3Field("s3.timeout_seconds", &S3Options::timeout_seconds)},
  };
  return *kKeys;
}

const std::map<std::string, Setter>& TrainKeys() {
  using T = TrainSettings;
  static const auto* const kKeys = new std::map<std::string, Setter>{
      {"trials", TrainField("train.trials", &T::trials)},
      {"timeout_seconds", TrainField("train.timeout_seconds", &T::timeout_seconds)},
      {"seed", TrainField("train.seed", &T::seed)},
      {"split_seed", TrainField("train.split_seed", &T::split_seed)},
      {"workers", TrainField("train.workers", &T::workers)},
      {"max_rounds", TrainField("train.max_rounds", &T::max_rounds)},
      {"early_stopping_rounds",
       TrainField("train.early_stopping_rounds", &T::early_stopping_rounds)},
      {"patience", TrainField("train.patience", &T::patience)},
      {"tolerance", TrainField("train.tolerance", &T::tolerance)},
      {"sampler", TrainField("train.sampler", &T::sampler)},
      {"startup_trials", TrainField("train.startup_trials", &T::startup_trials)},
      {"gamma", TrainField("train.gamma", &T::gamma)},
      {"ei_candidates", TrainField("train.ei_candidates", &T::ei_candidates)},
      {"prior_weight", TrainField("train.prior_weight", &T::prior_weight)},
      {"pruner", TrainField("train.pruner", &T::pruner)},
      {"threshold", TrainField("train.threshold", &T::threshold)},
      {"space", TrainField("train.space", &T::space)},
      {"experiment", TrainField("train.experiment", &T::experiment)},
      {"model_name", TrainField("train.model_name", &T::model_name)},
  };
  return *kKeys;
}

const std::map<std::string, Setter>& ServeKeys() {
  using S = ServeSettings;
  static const auto* const kKeys = new std::map<std::string, Setter>{
      {"model", ServeField("serve.model", &S::model)},
      {"host", ServeField("serve.host", &S::host)},
      {"port", ServeField("serve.port", &S::port)},
      {"threads", ServeField("serve.threads", &S::threads)},
      {"predictions", ServeField("serve.predictions", &S::predictions)},
      {"journal_dir", ServeField("serve.journal_dir", &S::journal_dir)},
      {"durable_fsync", ServeField("serve.durable_fsync", &S::durable_fsync)},
      {"max_log_queue", ServeField("serve.max_log_queue", &S::max_log_queue)},
      {"poll_seconds", ServeField("serve.poll_seconds", &S::poll_seconds)},
      {"reasons", ServeField("serve.reasons", &S::reasons)},
      {"unknown_category", ServeField("serve.unknown_category", &S::unknown_category)},
      {"max_batch", ServeField("serve.max_batch", &S::max_batch)},
      {"max_body_bytes", ServeField("serve.max_body_bytes", &S::max_body_bytes)},
      {"admin_token", ServeField("serve.admin_token", &S::admin_token)},
      {"drain_seconds", ServeField("serve.drain_seconds", &S::drain_seconds)},
  };
  return *kKeys;
}

const std::map<std::string, Setter>& DriftKeys() {
  using D = DriftSettings;
  static const auto* const kKeys = new std::map<std::string, Setter>{
      {"enabled", DriftField("drift.enabled", &D::enabled)},
      {"count_window", DriftField("drift.count_window", &D::count_window)},
      {"time_window_seconds", DriftField("drift.time_window_seconds", &D::time_window_seconds)},
      {"time_window_max_rows", DriftField("drift.time_window_max_rows", &D::time_window_max_rows)},
      {"min_rows", DriftField("drift.min_rows", &D::min_rows)},
      {"share", DriftField("drift.share", &D::share)},
      {"interval_seconds", DriftField("drift.interval_seconds", &D::interval_seconds)},
      {"labeled_window", DriftField("drift.labeled_window", &D::labeled_window)},
      {"tests", DriftField("drift.tests", &D::tests)},
  };
  return *kKeys;
}

const std::map<std::string, Setter>& DeployKeys() {
  using D = DeploySettings;
  static const auto* const kKeys = new std::map<std::string, Setter>{
      {"min_test_auc", DeployField("deploy.min_test_auc", &D::min_test_auc)},
      {"max_auc_drop", DeployField("deploy.max_auc_drop", &D::max_auc_drop)},
      {"max_p99_ms", DeployField("deploy.max_p99_ms", &D::max_p99_ms)},
      {"canary_rows", DeployField("deploy.canary_rows", &D::canary_rows)},
      {"alias", DeployField("deploy.alias", &D::alias)},
  };
  return *kKeys;
}

absl::Status ApplyMap(const YAML::Node& map, absl::string_view where,
                      const std::map<std::string, Setter>& keys, Config* config) {
  if (!map.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat("config ", where, " must be a mapping"));
  }
  for (const auto& entry : map) {
    const auto key = entry.first.as<std::string>();
    if (where == "top level" && key == "s3") {
      CHURN_RETURN_IF_ERROR(ApplyMap(entry.second, "s3", S3Keys(), config));
      continue;
    }
    if (where == "top level" && key == "train") {
      CHURN_RETURN_IF_ERROR(ApplyMap(entry.second, "train", TrainKeys(), config));
      continue;
    }
    if (where == "top level" && key == "serve") {
      CHURN_RETURN_IF_ERROR(ApplyMap(entry.second, "serve", ServeKeys(), config));
      continue;
    }
    if (where == "top level" && key == "drift") {
      CHURN_RETURN_IF_ERROR(ApplyMap(entry.second, "drift", DriftKeys(), config));
      continue;
    }
    if (where == "top level" && key == "deploy") {
      CHURN_RETURN_IF_ERROR(ApplyMap(entry.second, "deploy", DeployKeys(), config));
      continue;
    }
    const auto it = keys.find(key);
    if (it == keys.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown config key '", key, "' in ", where));
    }
    if (!entry.second.IsNull()) {
      CHURN_RETURN_IF_ERROR(it->second(entry.second, config));
    }
  }
  return absl::OkStatus();
}

const char* Env(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
  return value != nullptr && *value != '\0' ? value : nullptr;
}

void ApplyEnv(Config* config) {
  if (const char* v = Env("CHURN_DATA_DIR")) {
    config->data_dir = v;
  }
  if (const char* v = Env("CHURN_LOG_LEVEL")) {
    config->log_level = v;
  }
  if (const char* v = Env("CHURN_OBJECT_STORE")) {
    config->object_store = v;
  }
  if (const char* v = Env("CHURN_REDIS_URL")) {
    config->online_store = v;
  }
  if (const char* v = Env("CHURN_REGISTRY_URL")) {
    config->registry = v;
  }
  if (const char* v = Env("CHURN_ARTIFACT_STORE")) {
    config->artifact_store = v;
  }
  if (const char* v = Env("CHURN_PREDICTIONS_URL")) {
    config->serve.predictions = v;
  }
  if (const char* v = Env("CHURN_ADMIN_TOKEN")) {
    config->serve.admin_token = v;
  }
  if (const char* v = Env("CHURN_REGISTRY_TOKEN")) {
    config->registry_token = v;
  }
  config->s3 = S3OptionsFromEnv(config->s3);
}

}  // namespace

std::string Config::ObjectStoreUri() const {
  if (!object_store.empty()) {
    return object_store;
  }
  return (std::filesystem::path(data_dir) / "objects").string();
}

std::string Config::RegistryUrl() const {
  if (!registry.empty()) {
    return registry;
  }
  return "sqlite:" + (std::filesystem::path(data_dir) / "registry.db").string();
}

std::string Config::ArtifactStoreUri() const {
  return artifact_store.empty() ? ObjectStoreUri() : artifact_store;
}

std::string Config::PredictionJournalDir() const {
  if (!serve.journal_dir.empty() || absl::StartsWith(PredictionsUrl(), "sqlite:")) {
    return serve.journal_dir;  // empty: the log's own default, beside the SQLite file
  }
  return (std::filesystem::path(data_dir) / "predictions.journal").string();
}

std::string Config::PredictionsUrl() const {
  if (!serve.predictions.empty()) {
    return serve.predictions;
  }
  return "sqlite:" + (std::filesystem::path(data_dir) / "predictions.db").string();
}

absl::StatusOr<Config> ParseConfigYaml(const std::string& yaml, Config defaults) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("config is not valid YAML: ", e.what()));
  }
  if (root.IsNull()) {
    return defaults;
  }
  CHURN_RETURN_IF_ERROR(ApplyMap(root, "top level", TopLevelKeys(), &defaults));
  return defaults;
}

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  std::string file = path;
  if (file.empty()) {
    if (const char* v = Env("CHURN_CONFIG")) {
      file = v;
    } else if (std::error_code ec; std::filesystem::is_regular_file("churn.yaml", ec)) {
      file = "churn.yaml";
    }
  }
  Config config;
  if (!file.empty()) {
    CHURN_ASSIGN_OR_RETURN(const std::string text, ReadFile(file));
    auto parsed = ParseConfigYaml(text, config);
    if (!parsed.ok()) {
      return WithContext(parsed.status(), file);
    }
    config = *std::move(parsed);
  }
  ApplyEnv(&config);
  return config;
}

}  // namespace churn::base
