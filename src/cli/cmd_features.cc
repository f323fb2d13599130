// churn features get --dataset NAME --entity ID: one entity's latest features, as JSON.
#include <memory>

#include "cli/commands.h"

#include "churn/base/status_macros.h"
#include "churn/base/time.h"
#include "churn/features/feature_store.h"

namespace churn::cli {

void AddFeaturesCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("features", "Read the online feature store");
  cmd->require_subcommand(1);
  auto dataset = std::make_shared<std::string>();
  auto entity = std::make_shared<std::string>();
  CLI::App* get = cmd->add_subcommand("get", "One entity's latest feature values as JSON");
  get->add_option("--dataset", *dataset, "Dataset name")->required();
  get->add_option("--entity", *entity, "Entity key (e.g. a CLIENTNUM)")->required();
  auto json_flag = std::make_shared<bool>(true);  // accepted for symmetry; the output is JSON
  get->add_flag("--json", *json_flag, "Print JSON (always on)");
  get->callback([&ctx, dataset, entity, json_flag] {
    ctx.action = [&ctx, dataset, entity]() -> absl::Status {
      CHURN_ASSIGN_OR_RETURN(auto store,
                             features::FeatureStore::Open(ctx.config, base::SystemClock()));
      CHURN_ASSIGN_OR_RETURN(const std::string json, store->GetFeaturesJson(*dataset, *entity));
      Print(json + "\n");
      return absl::OkStatus();
    };
  });
}

}  // namespace churn::cli
