#include "churn/cli/cli.h"

#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"

#include "churn/base/logging.h"
#include "churn/base/status_macros.h"
#include "churn/base/version.h"

namespace churn::cli {
namespace {

// Loads the config file and applies the global flags over it (flags win).
absl::Status PrepareConfig(Context& ctx) {
  CHURN_ASSIGN_OR_RETURN(ctx.config, base::LoadConfig(ctx.config_path));
  if (!ctx.data_dir.empty()) {
    ctx.config.data_dir = ctx.data_dir;
  }
  if (!ctx.log_level.empty()) {
    ctx.config.log_level = ctx.log_level;
  }
  if (!ctx.log_format.empty()) {
    ctx.config.log_format = ctx.log_format;
  }
  return base::InitLogging(ctx.config.log_level, ctx.config.log_format);
}

}  // namespace

void Print(absl::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
}

std::string WithCommas(uint64_t n) {
  std::string digits = absl::StrCat(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      out.push_back(',');
    }
    out.push_back(digits[i]);
  }
  return out;
}

int RunCli(int argc, char** argv) {
  CLI::App app(
      "churn: an automated churn-prediction platform (feature store, training, "
      "registry, serving, monitoring)",
      "churn");
  app.set_version_flag("--version", std::string("churn ") + kVersion);
  app.require_subcommand(1);
  app.fallthrough();
  Context ctx;
  app.add_option("--config", ctx.config_path,
                 "Settings file (default: $CHURN_CONFIG, else ./churn.yaml when present)");
  app.add_option("--data-dir", ctx.data_dir,
                 "Folder of every embedded store (default ./churn-data; env CHURN_DATA_DIR)");
  app.add_option("--log-level", ctx.log_level, "trace, debug, info, warn, error or off");
  app.add_option("--log-format", ctx.log_format, "text or json");
  app.add_subcommand("version", "Print the version")->callback([&ctx] {
    ctx.action = [] {
      Print(absl::StrCat("churn ", kVersion, "\n"));
      return absl::OkStatus();
    };
  });
  AddDataCommand(app, ctx);
  AddIngestCommand(app, ctx);
  AddDatasetsCommand(app, ctx);
  AddFeaturesCommand(app, ctx);
  AddConfigCommand(app, ctx);
  AddRunsCommand(app, ctx);
  AddModelsCommand(app, ctx);
  AddRegistryCommand(app, ctx);
  AddTrainCommand(app, ctx);
  AddServeCommand(app, ctx);
  AddDeployCommand(app, ctx);
  AddSimulateCommand(app, ctx);
  AddStreamCommand(app, ctx);
  AddDriftCommand(app, ctx);
  AddSchedulerCommand(app, ctx);
  AddFlowsCommand(app, ctx);
  AddReportCommand(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  absl::Status status = PrepareConfig(ctx);
  if (status.ok() && ctx.action) {
    status = ctx.action();
  }
  if (!status.ok()) {
    std::cerr << "churn: error: " << status.message() << "\n";
  }
  return ExitCodeFor(status);
}

}  // namespace churn::cli
