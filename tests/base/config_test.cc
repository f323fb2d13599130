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

}  // namespace
}  // namespace churn::base
