// churn config show: the settings in effect after file, environment and flags.
#include <memory>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "nlohmann/json.hpp"

namespace churn::cli {

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
            {"timeout_seconds", c.s3.timeout_seconds}}}};
      Print(out.dump(2) + "\n");
      return absl::OkStatus();
    };
  });
}

}  // namespace churn::cli
