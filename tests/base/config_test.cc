#include "churn/base/config.h"

#include "testing/test_env.h"

#include "churn/base/file.h"

namespace churn::base {
namespace {

using ::churn::testing::StatusIs;

TEST(Config, EmptyYamlGivesDefaults) {
  CHURN_ASSERT_OK_AND_ASSIGN(const Config c, ParseConfigYaml("", Config{}));
  EXPECT_EQ(c.data_dir, "./churn-data");
  EXPECT_EQ(c.ObjectStoreUri(), "./churn-data/objects");
  EXPECT_EQ(c.RegistryUrl(), "sqlite:./churn-data/registry.db");
  EXPECT_EQ(c.ArtifactStoreUri(), "./churn-data/objects");
}

TEST(Config, KeysOverrideDefaults) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const Config c,
      ParseConfigYaml("data_dir: /tmp/x\ns3:\n  endpoint: http://127.0.0.1:9\n  region: eu-west-1\n"
                      "max_record_bytes: 2048\n",
                      Config{}));
  EXPECT_EQ(c.data_dir, "/tmp/x");
  EXPECT_EQ(c.s3.endpoint, "http://127.0.0.1:9");
  EXPECT_EQ(c.s3.region, "eu-west-1");
  EXPECT_EQ(c.max_record_bytes, 2048U);
}

TEST(Config, UnknownKeyIsAnErrorNamingIt) {
  EXPECT_THAT(ParseConfigYaml("data_dri: x\n", Config{}),
              StatusIs(absl::StatusCode::kInvalidArgument, "data_dri"));
  EXPECT_THAT(ParseConfigYaml("s3:\n  bukket: x\n", Config{}),
              StatusIs(absl::StatusCode::kInvalidArgument, "bukket"));
}

TEST(Config, WrongTypeIsAnErrorNamingTheKey) {
  EXPECT_THAT(ParseConfigYaml("max_record_bytes: lots\n", Config{}),
              StatusIs(absl::StatusCode::kInvalidArgument, "max_record_bytes"));
}

// churn.yaml at the repository root documents every default: parsing it must change nothing.
TEST(Config, ShippedChurnYamlEqualsBuiltInDefaults) {
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string text,
                             ReadFile(std::filesystem::path(testing::SourceDir()) / "churn.yaml"));
  CHURN_ASSERT_OK_AND_ASSIGN(const Config c, ParseConfigYaml(text, Config{}));
  const Config d;
  EXPECT_EQ(c.data_dir, d.data_dir);
  EXPECT_EQ(c.log_level, d.log_level);
  EXPECT_EQ(c.log_format, d.log_format);
  EXPECT_EQ(c.object_store, d.object_store);
  EXPECT_EQ(c.online_store, d.online_store);
  EXPECT_EQ(c.registry, d.registry);
  EXPECT_EQ(c.artifact_store, d.artifact_store);
  EXPECT_EQ(c.registry_token, d.registry_token);
  EXPECT_EQ(c.max_record_bytes, d.max_record_bytes);
  EXPECT_EQ(c.max_reported_violations, d.max_reported_violations);
  EXPECT_EQ(c.train.trials, d.train.trials);
  EXPECT_EQ(c.train.timeout_seconds, d.train.timeout_seconds);
  EXPECT_EQ(c.train.seed, d.train.seed);
  EXPECT_EQ(c.train.split_seed, d.train.split_seed);
  EXPECT_EQ(c.train.workers, d.train.workers);
  EXPECT_EQ(c.train.max_rounds, d.train.max_rounds);
  EXPECT_EQ(c.train.early_stopping_rounds, d.train.early_stopping_rounds);
  EXPECT_EQ(c.train.patience, d.train.patience);
  EXPECT_EQ(c.train.tolerance, d.train.tolerance);
  EXPECT_EQ(c.train.sampler, d.train.sampler);
  EXPECT_EQ(c.train.startup_trials, d.train.startup_trials);
  EXPECT_EQ(c.train.gamma, d.train.gamma);
  EXPECT_EQ(c.train.ei_candidates, d.train.ei_candidates);
  EXPECT_EQ(c.train.prior_weight, d.train.prior_weight);
  EXPECT_EQ(c.train.pruner, d.train.pruner);
  EXPECT_EQ(c.train.threshold, d.train.threshold);
  EXPECT_EQ(c.train.space, d.train.space);
  EXPECT_EQ(c.train.experiment, d.train.experiment);
  EXPECT_EQ(c.train.model_name, d.train.model_name);
  EXPECT_EQ(c.serve.model, d.serve.model);
  EXPECT_EQ(c.serve.host, d.serve.host);
  EXPECT_EQ(c.serve.port, d.serve.port);
  EXPECT_EQ(c.serve.threads, d.serve.threads);
  EXPECT_EQ(c.serve.predictions, d.serve.predictions);
  EXPECT_EQ(c.serve.durable_fsync, d.serve.durable_fsync);
  EXPECT_EQ(c.serve.journal_dir, d.serve.journal_dir);
  EXPECT_EQ(c.serve.max_log_queue, d.serve.max_log_queue);
  EXPECT_EQ(c.serve.poll_seconds, d.serve.poll_seconds);
  EXPECT_EQ(c.serve.reasons, d.serve.reasons);
  EXPECT_EQ(c.serve.unknown_category, d.serve.unknown_category);
  EXPECT_EQ(c.serve.max_batch, d.serve.max_batch);
  EXPECT_EQ(c.serve.max_body_bytes, d.serve.max_body_bytes);
  EXPECT_EQ(c.serve.admin_token, d.serve.admin_token);
  EXPECT_EQ(c.serve.drain_seconds, d.serve.drain_seconds);
  EXPECT_EQ(c.deploy.min_test_auc, d.deploy.min_test_auc);
  EXPECT_EQ(c.deploy.max_auc_drop, d.deploy.max_auc_drop);
  EXPECT_EQ(c.deploy.max_p99_ms, d.deploy.max_p99_ms);
  EXPECT_EQ(c.deploy.canary_rows, d.deploy.canary_rows);
  EXPECT_EQ(c.deploy.alias, d.deploy.alias);
  EXPECT_EQ(c.report, d.report);
  EXPECT_EQ(c.scheduler, d.scheduler);
  EXPECT_EQ(c.flows, d.flows);
  EXPECT_EQ(c.s3.endpoint, d.s3.endpoint);
  EXPECT_EQ(c.s3.region, d.s3.region);
  EXPECT_EQ(c.s3.timeout_seconds, d.s3.timeout_seconds);
}

TEST(Config, DeploySectionOverridesItsDefaults) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const Config c,
      ParseConfigYaml("deploy:\n  min_test_auc: 0.9999\n  max_p99_ms: 1.5\n  alias: prod\n",
                      Config{}));
  EXPECT_EQ(c.deploy.min_test_auc, 0.9999);
  EXPECT_EQ(c.deploy.max_p99_ms, 1.5);
  EXPECT_EQ(c.deploy.alias, "prod");
  EXPECT_EQ(c.deploy.max_auc_drop, DeploySettings{}.max_auc_drop);
  EXPECT_EQ(c.deploy.canary_rows, 1000);
  EXPECT_THAT(ParseConfigYaml("deploy:\n  max_auc_dorp: 0.1\n", Config{}),
              StatusIs(absl::StatusCode::kInvalidArgument, "max_auc_dorp"));
}

TEST(Config, LoadMissingExplicitFileIsNotFound) {
  EXPECT_THAT(LoadConfig("/nonexistent/churn.yaml"), StatusIs(absl::StatusCode::kNotFound));
}

// flows: entries replace the built-in flow of their name key by key (a schedule given replaces
// the other kind), add new flows, and are checked.
TEST(Config, FlowsOverrideAndAdd) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const Config c,
      ParseConfigYaml("flows:\n"
                      "  train: {every: 30m, retries: 3, args: [--dataset, d, --trials, '5']}\n"
                      "  backup:\n"
                      "    kind: command\n"
                      "    cron: '0 3 * * *'\n"
                      "    command: [/usr/bin/true]\n"
                      "scheduler: {runs: 'postgresql://h/db', keep_runs: 7}\n"
                      "report: {window_seconds: 600}\n",
                      Config{}));
  ASSERT_EQ(c.flows.size(), 4u);
  const FlowSettings* train = c.FindFlow("train");
  ASSERT_NE(train, nullptr);
  EXPECT_EQ(train->kind, "train") << "kept from the built-in flow";
  EXPECT_EQ(train->cron, "") << "every replaced the cron schedule";
  EXPECT_EQ(train->every, "30m");
  EXPECT_EQ(train->retries, 3);
  EXPECT_TRUE(train->deploy);
  EXPECT_EQ(train->args, (std::vector<std::string>{"--dataset", "d", "--trials", "5"}));
  const FlowSettings* backup = c.FindFlow("backup");
  ASSERT_NE(backup, nullptr);
  EXPECT_EQ(backup->cron, "0 3 * * *");
  EXPECT_EQ(backup->command, std::vector<std::string>{"/usr/bin/true"});
  EXPECT_EQ(c.FindFlow("nope"), nullptr);
  EXPECT_EQ(c.FlowRunsUrl(), "postgresql://h/db");
  EXPECT_EQ(c.scheduler.keep_runs, 7);
  EXPECT_EQ(c.report.window_seconds, 600);
  EXPECT_EQ(Config{}.FlowRunsUrl(), "sqlite:./churn-data/flows.db");
  EXPECT_EQ(Config{}.ReportsDir(), "./churn-data/reports");

  EXPECT_THAT(
      ParseConfigYaml("flows:\n  train: {retry: 2}\n", Config{}),
      StatusIs(absl::StatusCode::kInvalidArgument, "unknown config key 'retry' in flows.train"));
  EXPECT_THAT(ParseConfigYaml("flows:\n  x: {every: 1h}\n", Config{}),
              StatusIs(absl::StatusCode::kInvalidArgument, "flows.x needs a kind"));
  EXPECT_THAT(ParseConfigYaml("flows:\n  x: {kind: cronjob, every: 1h}\n", Config{}),
              StatusIs(absl::StatusCode::kInvalidArgument, "'cronjob' is not one of"));
  EXPECT_THAT(ParseConfigYaml("flows:\n  x: {kind: command, every: 1h}\n", Config{}),
              StatusIs(absl::StatusCode::kInvalidArgument, "needs a command"));
  EXPECT_THAT(ParseConfigYaml("flows:\n  train: {retries: many}\n", Config{}),
              StatusIs(absl::StatusCode::kInvalidArgument, "flows.train.retries"));
  EXPECT_THAT(ParseConfigYaml("flows: [train]\n", Config{}),
              StatusIs(absl::StatusCode::kInvalidArgument, "mapping"));
}

}  // namespace
}  // namespace churn::base
