// Private to the cli module: what each verb file registers, and the context they share.
#ifndef CHURN_CLI_COMMANDS_H_
#define CHURN_CLI_COMMANDS_H_

#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include "churn/base/config.h"
#include "churn/drift/monitor.h"
#include "churn/registry/registry.h"
#include "churn/serving/prediction_log.h"

namespace churn::cli {

// Global options, filled by CLI11, and the action the chosen verb set.
struct Context {
  std::string config_path;
  std::string data_dir;
  std::string log_level;
  std::string log_format;
  // The loaded config with global flags applied; valid when `action` runs.
  base::Config config;
  std::function<absl::Status()> action;
};

// Each registers one verb (with its subcommands) on `app`; the callbacks set ctx.action.
void AddDataCommand(CLI::App& app, Context& ctx);
void AddIngestCommand(CLI::App& app, Context& ctx);
void AddDatasetsCommand(CLI::App& app, Context& ctx);
void AddFeaturesCommand(CLI::App& app, Context& ctx);
void AddConfigCommand(CLI::App& app, Context& ctx);
void AddRunsCommand(CLI::App& app, Context& ctx);
void AddModelsCommand(CLI::App& app, Context& ctx);
void AddRegistryCommand(CLI::App& app, Context& ctx);
void AddTrainCommand(CLI::App& app, Context& ctx);
void AddServeCommand(CLI::App& app, Context& ctx);
void AddDeployCommand(CLI::App& app, Context& ctx);
void AddSimulateCommand(CLI::App& app, Context& ctx);
void AddStreamCommand(CLI::App& app, Context& ctx);
void AddDriftCommand(CLI::App& app, Context& ctx);
void AddSchedulerCommand(CLI::App& app, Context& ctx);
void AddFlowsCommand(CLI::App& app, Context& ctx);
void AddReportCommand(CLI::App& app, Context& ctx);
// `churn serve stream`, on the `serve` command.
void AddServeStreamCommand(CLI::App& serve, Context& ctx);

// The live drift windows the config's drift section asks for (nullopt: drift.enabled is false);
// InvalidArgument naming the setting that is out of range.
absl::StatusOr<std::optional<drift::MonitorOptions>> ConfiguredDriftOptions(
    const base::DriftSettings& s);

// The prediction log the config's serve section names (store, journal, queue, fsync).
absl::StatusOr<std::unique_ptr<serving::PredictionLog>> OpenConfiguredPredictionLog(
    const base::Config& config);
// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and the threads it starts afterwards
// (call it before any thread starts), for WaitForStopSignal.
sigset_t BlockStopSignals();
// Waits for SIGINT or SIGTERM; a SIGHUP in between makes every model follower re-resolve its
// reference (serving::RequestReload).
void WaitForStopSignal(const sigset_t& signals);

// The registry the config names (config.RegistryUrl(), config.ArtifactStoreUri()).
absl::StatusOr<std::unique_ptr<registry::Registry>> OpenConfiguredRegistry(
    const base::Config& config);
// Milliseconds since the epoch as "2026-11-24T14:15:16.123Z"; "-" for 0.
std::string FormatMs(int64_t ms);

// Writes text to stdout as is.
void Print(absl::string_view text);
// 12345678 -> "12,345,678".
std::string WithCommas(uint64_t n);

}  // namespace churn::cli

#endif  // CHURN_CLI_COMMANDS_H_
