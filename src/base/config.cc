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

template <typename T>
Setter ReportField(absl::string_view key, T ReportSettings::*member) {
  return [key, member](const YAML::Node& node, Config* config) {
    return ReadScalar(node, key, &(config->report.*member));
  };
}

template <typename T>
Setter SchedulerField(absl::string_view key, T SchedulerSettings::*member) {
  return [key, member](const YAML::Node& node, Config* config) {
    return ReadScalar(node, key, &(config->scheduler.*member));
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

const std::map<std::string, Setter>& ReportKeys() {
  using R = ReportSettings;
  static const auto* const kKeys = new std::map<std::string, Setter>{
      {"dir", ReportField("report.dir", &R::dir)},
      {"window_seconds", ReportField("report.window_seconds", &R::window_seconds)},
      {"model", ReportField("report.model", &R::model)},
  };
  return *kKeys;
}

const std::map<std::string, Setter>& SchedulerKeys() {
  using S = SchedulerSettings;
  static const auto* const kKeys = new std::map<std::string, Setter>{
      {"runs", SchedulerField("scheduler.runs", &S::runs)},
      {"time_zone", SchedulerField("scheduler.time_zone", &S::time_zone)},
      {"leader_poll_seconds",
       SchedulerField("scheduler.leader_poll_seconds", &S::leader_poll_seconds)},
      {"heartbeat_seconds", SchedulerField("scheduler.heartbeat_seconds", &S::heartbeat_seconds)},
      {"stale_seconds", SchedulerField("scheduler.stale_seconds", &S::stale_seconds)},
      {"shutdown_grace_seconds",
       SchedulerField("scheduler.shutdown_grace_seconds", &S::shutdown_grace_seconds)},
      {"retention_days", SchedulerField("scheduler.retention_days", &S::retention_days)},
      {"keep_runs", SchedulerField("scheduler.keep_runs", &S::keep_runs)},
  };
  return *kKeys;
}

using FlowSetter = std::function<absl::Status(const YAML::Node&, FlowSettings*)>;

template <typename T>
FlowSetter FlowField(std::string key, T FlowSettings::*member) {
  return [key = std::move(key), member](const YAML::Node& node, FlowSettings* flow) {
    return ReadScalar(node, absl::StrCat("flows.", flow->name, ".", key), &(flow->*member));
  };
}

const std::map<std::string, FlowSetter>& FlowKeys() {
  using F = FlowSettings;
  static const auto* const kKeys = new std::map<std::string, FlowSetter>{
      {"kind", FlowField("kind", &F::kind)},
      {"cron", FlowField("cron", &F::cron)},
      {"every", FlowField("every", &F::every)},
      {"time_zone", FlowField("time_zone", &F::time_zone)},
      {"enabled", FlowField("enabled", &F::enabled)},
      {"retries", FlowField("retries", &F::retries)},
      {"retry_delay_seconds", FlowField("retry_delay_seconds", &F::retry_delay_seconds)},
      {"timeout_seconds", FlowField("timeout_seconds", &F::timeout_seconds)},
      {"args", FlowField("args", &F::args)},
      {"deploy", FlowField("deploy", &F::deploy)},
      {"window_seconds", FlowField("window_seconds", &F::window_seconds)},
      {"command", FlowField("command", &F::command)},
  };
  return *kKeys;
}

bool KnownFlowKind(absl::string_view kind) {
  return kind == "train" || kind == "report" || kind == "retrain_if_drifted" || kind == "command";
}

// One `flows:` entry over the flow of that name (a default one, or a new flow).
absl::Status ApplyFlow(const std::string& name, const YAML::Node& map, Config* config) {
  if (!map.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat("config flows.", name, " must be a mapping"));
  }
  FlowSettings* flow = nullptr;
  for (FlowSettings& f : config->flows) {
    if (f.name == name) {
      flow = &f;
    }
  }
  if (flow == nullptr) {
    flow = &config->flows.emplace_back();
    flow->name = name;
  }
  // A schedule given replaces the one before, whichever kind it was.
  if (map["cron"] || map["every"]) {
    flow->cron.clear();
    flow->every.clear();
  }
  for (const auto& entry : map) {
    const auto key = entry.first.as<std::string>();
    const auto it = FlowKeys().find(key);
    if (it == FlowKeys().end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown config key '", key, "' in flows.", name));
    }
    if (!entry.second.IsNull()) {
      CHURN_RETURN_IF_ERROR(it->second(entry.second, flow));
    }
  }
  if (flow->kind.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config flows.", name, " needs a kind: train, report, retrain_if_drifted or command"));
  }
  if (!KnownFlowKind(flow->kind)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config flows.", name, ".kind '", flow->kind,
                     "' is not one of train, report, retrain_if_drifted, command"));
  }
  if (flow->kind == "command" && flow->command.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config flows.", name, " of kind command needs a command"));
  }
  return absl::OkStatus();
}

absl::Status ApplyFlows(const YAML::Node& map, Config* config) {
  if (map.IsNull()) {
    return absl::OkStatus();
  }
  if (!map.IsMap()) {
    return absl::InvalidArgumentError("config flows must be a mapping from flow names");
  }
  for (const auto& entry : map) {
    CHURN_RETURN_IF_ERROR(ApplyFlow(entry.first.as<std::string>(), entry.second, config));
  }
  return absl::OkStatus();
}

absl::Status ApplyMap(const YAML::Node& map, absl::string_view where,
                      const std::map<std::string, Setter>& keys, Config* config);

// The sections of the top level: each a mapping of its own keys (flows: of flow names).
const std::map<std::string, std::function<absl::Status(const YAML::Node&, Config*)>>& Sections() {
  using Apply = std::function<absl::Status(const YAML::Node&, Config*)>;
  const auto section = [](const char* name, const std::map<std::string, Setter>& (*keys)()) {
    return Apply([name, keys](const YAML::Node& node, Config* config) {
      return ApplyMap(node, name, keys(), config);
    });
  };
  static const auto* const kSections = new std::map<std::string, Apply>{
      {"s3", section("s3", S3Keys)},
      {"train", section("train", TrainKeys)},
      {"serve", section("serve", ServeKeys)},
      {"drift", section("drift", DriftKeys)},
      {"deploy", section("deploy", DeployKeys)},
      {"report", section("report", ReportKeys)},
      {"scheduler", section("scheduler", SchedulerKeys)},
      {"flows", Apply(ApplyFlows)},
  };
  return *kSections;
}

absl::Status ApplyMap(const YAML::Node& map, absl::string_view where,
                      const std::map<std::string, Setter>& keys, Config* config) {
  if (!map.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat("config ", where, " must be a mapping"));
  }
  for (const auto& entry : map) {
    const auto key = entry.first.as<std::string>();
    if (where == "top level") {
      if (const auto section = Sections().find(key); section != Sections().end()) {
        CHURN_RETURN_IF_ERROR(section->second(entry.second, config));
        continue;
      }
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
  if (const char* v = Env("CHURN_FLOWS_URL")) {
    config->scheduler.runs = v;
  }
  config->s3 = S3OptionsFromEnv(config->s3);
}

}  // namespace

std::vector<FlowSettings> DefaultFlows() {
  std::vector<FlowSettings> flows(3);
  flows[0].name = "train";
  flows[0].kind = "train";
  flows[0].cron = "0 */6 * * *";
  flows[0].args = {"--dataset", "bank_churners"};
  flows[0].deploy = true;
  flows[0].retries = 1;
  flows[0].retry_delay_seconds = 300;
  flows[0].timeout_seconds = 7200;
  flows[1].name = "report";
  flows[1].kind = "report";
  flows[1].every = "3h";
  flows[1].retries = 2;
  flows[1].retry_delay_seconds = 60;
  flows[1].timeout_seconds = 600;
  flows[2].name = "retrain-when-drifted";
  flows[2].kind = "retrain_if_drifted";
  flows[2].every = "1h";
  flows[2].args = {"--dataset", "bank_churners"};
  flows[2].enabled = false;
  flows[2].deploy = true;
  flows[2].timeout_seconds = 7200;
  return flows;
}

std::string Config::ReportsDir() const {
  if (!report.dir.empty()) {
    return report.dir;
  }
  return (std::filesystem::path(data_dir) / "reports").string();
}

std::string Config::FlowRunsUrl() const {
  if (!scheduler.runs.empty()) {
    return scheduler.runs;
  }
  return "sqlite:" + (std::filesystem::path(data_dir) / "flows.db").string();
}

const FlowSettings* Config::FindFlow(const std::string& name) const {
  for (const FlowSettings& flow : flows) {
    if (flow.name == name) {
      return &flow;
    }
  }
  return nullptr;
}

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
