// churn registry serve: the registry's MLflow-compatible REST API over HTTP, until SIGINT or
// SIGTERM. Also the shared helpers of the registry verbs (runs, models).
#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"

#include "churn/base/logging.h"
#include "churn/base/status_macros.h"
#include "churn/base/time.h"
#include "churn/http/server.h"
#include "churn/registry/rest_api.h"

namespace churn::cli {
namespace {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 5000;
  int threads = 0;
  int64_t max_body_mb = 256;  // artifact uploads (models) go through the same server
};

absl::Status Serve(const base::Config& config, const ServeOptions& options) {
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--port ", options.port, " is not a port"));
  }
  if (options.max_body_mb <= 0 || options.max_body_mb > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-body-mb ", options.max_body_mb, " is not between 1 and 4096"));
  }
  CHURN_ASSIGN_OR_RETURN(auto reg, OpenConfiguredRegistry(config));
  http::Router router;
  registry::AddRestRoutes(*reg, {.token = config.registry_token}, router);
  CHURN_ASSIGN_OR_RETURN(
      auto server,
      http::Server::Start({.host = options.host,
                           .port = static_cast<uint16_t>(options.port),
                           .threads = options.threads,
                           .max_body_bytes = static_cast<size_t>(options.max_body_mb) << 20,
                           .stop_on_signals = true},
                          [&router](const http::Request& r) { return router.Dispatch(r); }));
  Print(absl::StrCat("churn registry serving ", reg->Describe(), " on http://", options.host, ":",
                     server->Port(), "/api/2.0/mlflow/",
                     config.registry_token.empty() ? " (no token: mutating calls are open)"
                                                   : " (token required on mutating calls)",
                     "\n"));
  std::fflush(stdout);
  server->Wait();  // until SIGINT or SIGTERM
  base::LogInfo("registry server stopped");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<registry::Registry>> OpenConfiguredRegistry(
    const base::Config& config) {
  return registry::OpenRegistry({.url = config.RegistryUrl(),
                                 .artifact_store_uri = config.ArtifactStoreUri(),
                                 .s3 = config.s3});
}

std::string FormatMs(int64_t ms) {
  return ms == 0 ? "-" : base::FormatRfc3339(absl::FromUnixMillis(ms));
}

void AddRegistryCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("registry", "Serve the model registry over HTTP");
  cmd->require_subcommand(1);
  auto options = std::make_shared<ServeOptions>();
  CLI::App* serve = cmd->add_subcommand(
      "serve", "MLflow-compatible REST API (/api/2.0/mlflow/...) until SIGINT/SIGTERM");
  serve->add_option("--host", options->host, "Address to bind (default 127.0.0.1: loopback only)");
  serve->add_option("--port", options->port, "Port (default 5000, MLflow's; 0 picks a free one)");
  serve->add_option("--threads", options->threads, "Server threads (default: one per core)");
  serve->add_option("--max-body-mb", options->max_body_mb,
                    "Largest request body, artifact uploads included (default 256 MiB)");
  serve->callback(
      [&ctx, options] { ctx.action = [&ctx, options] { return Serve(ctx.config, *options); }; });
}

}  // namespace churn::cli
