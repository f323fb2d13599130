// churn config show: the settings in effect after file, environment and flags.
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "nlohmann/json.hpp"

#include "churn/serving/prediction_log.h"

namespace churn::cli {
namespace {

nlohmann::ordered_json TrainJson(const base::TrainSettings& t) {
  return {{"trials", t.trials},
          {"timeout_seconds", t.timeout_seconds},
          {"seed", t.seed},
          {"split_seed", t.split_seed},
          {"workers", t.workers},
          {"max_rounds", t.max_rounds},
          {"early_stopping_rounds", t.early_stopping_rounds},
          {"patience", t.patience},
          {"tolerance", t.tolerance},
          {"sampler", t.sampler},
          {"startup_trials", t.startup_trials},
          {"gamma", t.gamma},
          {"ei_candidates", t.ei_candidates},
          {"prior_weight", t.prior_weight},
          {"pruner", t.pruner},
          {"threshold", t.threshold},
          {"space", t.space},
          {"experiment", t.experiment},
          {"model_name", t.model_name}};
}

// The scheduler settings after defaults (the run store as it will be opened).
nlohmann::ordered_json SchedulerJson(const base::Config& c) {
  const base::SchedulerSettings& s = c.scheduler;
  return {{"runs", c.FlowRunsUrl()},
          {"time_zone", s.time_zone},
          {"leader_poll_seconds", s.leader_poll_seconds},
          {"heartbeat_seconds", s.heartbeat_seconds},
          {"stale_seconds", s.stale_seconds},
          {"shutdown_grace_seconds", s.shutdown_grace_seconds},
          {"retention_days", s.retention_days},
          {"keep_runs", s.keep_runs}};
}

// The flows, a mapping from their names in the order declared.
nlohmann::ordered_json FlowsJson(const base::Config& c) {
  nlohmann::ordered_json flows = nlohmann::ordered_json::object();
  for (const base::FlowSettings& f : c.flows) {
    nlohmann::ordered_json flow = {{"kind", f.kind}};
    if (!f.cron.empty()) {
      flow["cron"] = f.cron;
    }
    if (!f.every.empty()) {
      flow["every"] = f.every;
    }
    flow["time_zone"] = f.time_zone.empty() ? c.scheduler.time_zone : f.time_zone;
    flow["enabled"] = f.enabled;
    flow["retries"] = f.retries;
    flow["retry_delay_seconds"] = f.retry_delay_seconds;
    flow["timeout_seconds"] = f.timeout_seconds;
    flow["args"] = f.args;
    flow["deploy"] = f.deploy;
    flow["window_seconds"] = f.window_seconds;
    flow["command"] = f.command;
    flows[f.name] = std::move(flow);
  }
  return flows;
}

// The serve settings after defaults (the store and journal as the server will open them).
nlohmann::ordered_json ServeJson(const base::Config& c) {
  const base::ServeSettings& s = c.serve;
  return {{"model", s.model},
          {"host", s.host},
          {"port", s.port},
          {"threads", s.threads},
          {"predictions", c.PredictionsUrl()},
          // Empty: PredictionLog's default, beside the SQLite file.
          {"journal_dir", c.PredictionJournalDir().empty()
                              ? serving::PredictionLog::DefaultJournalDir(c.PredictionsUrl())
                              : c.PredictionJournalDir()},
          {"durable_fsync", s.durable_fsync},
          {"max_log_queue", s.max_log_queue},
          {"poll_seconds", s.poll_seconds},
          {"reasons", s.reasons},
          {"unknown_category", s.unknown_category},
          {"max_batch", s.max_batch},
          {"max_body_bytes", s.max_body_bytes},
          {"admin_token", s.admin_token.empty() ? "" : "(set)"},
          {"drain_seconds", s.drain_seconds}};
}

}  // namespace

void AddConfigCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("config", "Show the effective settings");
  cmd->require_subcommand(1);
  CLI::App* show = cmd->add_subcommand("show", "Print the settings in effect as JSON");
  auto json_flag = std::make_shared<bool>(true);  // accepted for symmetry; the output is JSON
  show->add_flag("--json", *json_flag, "Print JSON (always on)");
  show->callback([&ctx, json_flag] {
    ctx.action = [&ctx] {
      const base::Config& c = ctx.config;
      const nlohmann::ordered_json out = {
          {"data_dir", c.data_dir},
          {"log_level", c.log_level},
          {"log_format", c.log_format},
          {"object_store", c.ObjectStoreUri()},
          {"online_store", c.online_store.empty() ? c.data_dir + "/online.sqlite" : c.online_store},
          {"registry", c.RegistryUrl()},
          {"artifact_store", c.ArtifactStoreUri()},
          {"registry_token", c.registry_token.empty() ? "" : "(set)"},
          {"max_record_bytes", c.max_record_bytes},
          {"max_reported_violations", c.max_reported_violations},
          {"s3",
           {{"endpoint", c.s3.endpoint},
            {"region", c.s3.region},
            {"access_key_id", c.s3.access_key_id.empty() ? "" : "(set)"},
            {"secret_access_key", c.s3.secret_access_key.empty() ? "" : "(set)"},
            {"timeout_seconds", c.s3.timeout_seconds}}},
          {"train", TrainJson(c.train)},
          {"serve", ServeJson(c)},
          {"drift",
           {{"enabled", c.drift.enabled},
            {"count_window", c.drift.count_window},
            {"time_window_seconds", c.drift.time_window_seconds},
            {"time_window_max_rows", c.drift.time_window_max_rows},
            {"min_rows", c.drift.min_rows},
            {"share", c.drift.share},
            {"interval_seconds", c.drift.interval_seconds},
            {"labeled_window", c.drift.labeled_window},
            {"tests", c.drift.tests}}},
          {"deploy",
           {{"min_test_auc", c.deploy.min_test_auc},
            {"max_auc_drop", c.deploy.max_auc_drop},
            {"max_p99_ms", c.deploy.max_p99_ms},
            {"canary_rows", c.deploy.canary_rows},
            {"alias", c.deploy.alias}}},
          {"report",
           {{"dir", c.ReportsDir()},
            {"window_seconds", c.report.window_seconds},
            {"model", c.report.model.empty() ? c.serve.model : c.report.model}}},
          {"scheduler", SchedulerJson(c)},
          {"flows", FlowsJson(c)}};
      Print(out.dump(2) + "\n");
      return absl::OkStatus();
    };
  });
}

}  // namespace churn::cli
