// churn serve http: the model server (serving/model_server.h) until SIGINT or SIGTERM, which
// drain it; SIGHUP re-resolves the model reference now. (churn serve stream: cmd_stream.cc.)
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"

#include "churn/base/logging.h"
#include "churn/base/status_macros.h"
#include "churn/console/console.h"
#include "churn/flows/run_store.h"
#include "churn/report/report_routes.h"
#include "churn/serving/model_server.h"
#include "churn/serving/prediction_log.h"

namespace churn::cli {
namespace {

// Flags of `churn serve http`; unset ones take the config's serve section.
struct ServeHttpFlags {
  std::optional<std::string> model;
  std::optional<std::string> host;
  std::optional<int> port;
  std::optional<int> threads;
  std::optional<std::string> predictions;
  std::optional<double> poll_seconds;
  std::optional<int> reasons;
  std::optional<std::string> unknown_category;
  std::optional<int> max_batch;
  std::optional<std::string> reports;
  bool no_log = false;
};

base::ServeSettings Merge(base::ServeSettings s, const ServeHttpFlags& f) {
  s.model = f.model.value_or(s.model);
  s.host = f.host.value_or(s.host);
  s.port = f.port.value_or(s.port);
  s.threads = f.threads.value_or(s.threads);
  s.predictions = f.predictions.value_or(s.predictions);
  s.poll_seconds = f.poll_seconds.value_or(s.poll_seconds);
  s.reasons = f.reasons.value_or(s.reasons);
  s.unknown_category = f.unknown_category.value_or(s.unknown_category);
  s.max_batch = f.max_batch.value_or(s.max_batch);
  return s;
}

absl::StatusOr<serving::ModelServerOptions> Options(const base::ServeSettings& s) {
  if (s.port < 0 || s.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("serve port ", s.port, " is not a port"));
  }
  if (s.reasons < 0 || s.max_batch <= 0 || s.max_body_bytes <= 0 || s.poll_seconds < 0 ||
      s.drain_seconds < 0 || s.threads < 0) {
    return absl::InvalidArgumentError(
        "serve: reasons, poll_seconds, drain_seconds and threads must be >= 0; max_batch and "
        "max_body_bytes > 0");
  }
  CHURN_ASSIGN_OR_RETURN(serving::ModelRef ref, serving::ParseModelRef(s.model));
  CHURN_ASSIGN_OR_RETURN(serving::UnknownCategoryPolicy policy,
                         serving::UnknownCategoryPolicyFromString(s.unknown_category));
  return serving::ModelServerOptions{.model = std::move(ref),
                                     .host = s.host,
                                     .port = static_cast<uint16_t>(s.port),
                                     .threads = s.threads,
                                     .max_body_bytes = static_cast<size_t>(s.max_body_bytes),
                                     .max_batch_records = static_cast<size_t>(s.max_batch),
                                     .unknown_category = policy,
                                     .reasons = static_cast<size_t>(s.reasons),
                                     .poll_interval = absl::Seconds(s.poll_seconds),
                                     .admin_token = s.admin_token,
                                     .drain_timeout = absl::Seconds(s.drain_seconds)};
}

}  // namespace

absl::StatusOr<std::optional<drift::MonitorOptions>> ConfiguredDriftOptions(
    const base::DriftSettings& s) {
  if (!s.enabled) {
    return std::nullopt;
  }
  if (s.count_window < 1 || s.time_window_max_rows < 1 || s.min_rows < 1 || s.labeled_window < 1 ||
      !(s.time_window_seconds > 0) || !(s.interval_seconds > 0)) {
    return absl::InvalidArgumentError(
        "drift: count_window, time_window_max_rows, min_rows, labeled_window, "
        "time_window_seconds and interval_seconds must be positive");
  }
  CHURN_ASSIGN_OR_RETURN(auto per_column, drift::ParseColumnOverrides(s.tests));
  drift::MonitorOptions options{.count_rows = static_cast<size_t>(s.count_window),
                                .time_span = absl::Seconds(s.time_window_seconds),
                                .time_max_rows = static_cast<size_t>(s.time_window_max_rows),
                                .min_rows = static_cast<size_t>(s.min_rows),
                                .share_threshold = s.share,
                                .labeled_rows = static_cast<size_t>(s.labeled_window),
                                .per_column = std::move(per_column)};
  CHURN_RETURN_IF_ERROR(options.Validate());
  return options;
}

namespace {

absl::Status ServeHttp(base::Config config, const ServeHttpFlags& flags) {
  // The flags replace the config's serve settings everywhere below (PredictionsUrl included).
  config.serve = Merge(config.serve, flags);
  const base::ServeSettings& settings = config.serve;
  CHURN_ASSIGN_OR_RETURN(serving::ModelServerOptions options, Options(settings));
  options.log_predictions = !flags.no_log;
  CHURN_ASSIGN_OR_RETURN(options.drift, ConfiguredDriftOptions(config.drift));
  options.drift_interval = absl::Seconds(config.drift.interval_seconds);
  const std::string reports_dir = flags.reports.value_or(config.ReportsDir());
  const sigset_t signals = BlockStopSignals();
  CHURN_ASSIGN_OR_RETURN(auto registry, OpenConfiguredRegistry(config));
  // The console's flow pages read the flow runs; without the store they say so.
  absl::StatusOr<std::unique_ptr<flows::RunStore>> runs =
      flows::RunStore::Open(config.FlowRunsUrl());
  if (!runs.ok()) {
    base::LogWarn(absl::StrCat("console: no flow runs: ", runs.status().message()));
  }
  const console::ConsoleSources console_sources{.registry = registry.get(),
                                                .runs = runs.ok() ? runs->get() : nullptr,
                                                .flows = config.flows,
                                                .time_zone = config.scheduler.time_zone,
                                                .reports_dir = reports_dir,
                                                .reports_url = "/reports/",
                                                .drift_json = {},
                                                .model_name = options.model.name,
                                                .clock = nullptr};
  options.extra_routes = [reports_dir, console_sources](http::Router& router,
                                                        const serving::ModelServer& server) {
    report::AddReportRoutes(router, reports_dir);
    console::ConsoleSources sources = console_sources;
    sources.drift_json = [&server] { return server.DriftJson(); };
    console::AddConsoleRoutes(router, std::move(sources));
  };
  std::unique_ptr<serving::PredictionLog> log;
  if (options.log_predictions) {
    CHURN_ASSIGN_OR_RETURN(log, OpenConfiguredPredictionLog(config));
  }
  CHURN_ASSIGN_OR_RETURN(auto server,
                         serving::ModelServer::Start(options, registry.get(), log.get()));
  Print(absl::StrCat("churn serving ", options.model.ToString(),
                     server->ServingVersion() > 0
                         ? absl::StrCat(" (version ", server->ServingVersion(), ")")
                         : std::string(" (not resolvable yet: unready)"),
                     " on http://", options.host, ":", server->Port(), "/predict; predictions to ",
                     log != nullptr ? log->Describe() : "nowhere (--no-log)", "\n"));
  std::fflush(stdout);
  WaitForStopSignal(signals);
  const int64_t left = server->Drain();
  base::LogInfo(absl::StrCat("model server stopped (", left,
                             " requests unanswered at the drain "
                             "deadline; prediction log flushed)"));
  server.reset();
  if (log != nullptr) {
    log->Close();
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<serving::PredictionLog>> OpenConfiguredPredictionLog(
    const base::Config& config) {
  return serving::PredictionLog::Open({.url = config.PredictionsUrl(),
                                       .max_queue = static_cast<size_t>(config.serve.max_log_queue),
                                       .durable_fsync = config.serve.durable_fsync,
                                       .journal_dir = config.PredictionJournalDir()});
}

sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

void WaitForStopSignal(const sigset_t& signals) {
  for (;;) {
    int signal = 0;
    sigwait(&signals, &signal);
    if (signal == SIGHUP) {
      serving::RequestReload();
      continue;
    }
    return;
  }
}

void AddServeCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("serve", "Serve a registered model");
  cmd->require_subcommand(1);
  auto flags = std::make_shared<ServeHttpFlags>();
  CLI::App* http = cmd->add_subcommand(
      "http", "HTTP API: /predict, /predict/batch, /v2 (Open Inference Protocol), /metrics");
  http->add_option("--model", flags->model,
                   "NAME@ALIAS (followed) or NAME@VERSION (default serve.model: churn@production)");
  http->add_option("--host", flags->host, "Address to bind (default 127.0.0.1)");
  http->add_option("--port", flags->port, "Port (default 9696; 0 picks a free one)");
  http->add_option("--threads", flags->threads, "io threads (default: one per core)");
  http->add_option("--predictions", flags->predictions,
                   "Prediction store URL (default sqlite:<data_dir>/predictions.db)");
  http->add_option("--poll", flags->poll_seconds,
                   "Seconds between model-reference checks (default 10; 0: SIGHUP only)");
  http->add_option("--reasons", flags->reasons, "Top features per answer (default 3; 0: none)");
  http->add_option("--unknown-category", flags->unknown_category,
                   "reject (400) or unknown_bucket (default reject)");
  http->add_option("--max-batch", flags->max_batch, "Records per batch call (default 1000)");
  http->add_option("--reports", flags->reports,
                   "Reports folder served at /reports/ (default report.dir: <data_dir>/reports)");
  http->add_flag("--no-log", flags->no_log,
                 "Do not log predictions (only to measure what the log costs)");
  http->callback(
      [&ctx, flags] { ctx.action = [&ctx, flags] { return ServeHttp(ctx.config, *flags); }; });
  AddServeStreamCommand(*cmd, ctx);
}

}  // namespace churn::cli
