// `churn deploy` end to end through the binary, on synthetic data and tiny studies: a first
// deployment passes every gate and moves production (recorded with actor, reason and the gate
// results); a dry run moves nothing; a version worse than production by more than
// deploy.max_auc_drop is refused by no_regression with exit code 3 and production unchanged; a
// floor above the model's AUC is refused by auc_floor; --force needs a reason and records it;
// --rollback returns to the previous version without gates; bad input exits 2 naming the
// problem; scripts/deploy deploys the version a production.yaml names, and nothing for
// `version: null` or a version already in production.
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/registry/registry.h"

namespace churn {
namespace {

using ::churn::testing::CommandResult;
using ::churn::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kGateFailedExit = 3;

// Tiny studies; by default a floor the synthetic models clear and a latency budget for the
// sanitizer build on a shared machine (the shipped defaults are for real models, release builds).
std::string DeployTestConfig(const std::string& min_test_auc = "0.5",
                             const std::string& max_p99_ms = "100") {
  return absl::StrCat(
      "train:\n  trials: 2\n  max_rounds: 60\n  early_stopping_rounds: 10\n"
      "deploy:\n  min_test_auc: ",
      min_test_auc, "\n  max_auc_drop: 0.005\n  max_p99_ms: ", max_p99_ms,
      "\n  canary_rows: 300\n");
}

// Stumps for two rounds at a tiny learning rate: clearly worse than the default first trial.
constexpr char kWeakSpace[] = R"(params:
  max_depth: {type: int, low: 1, high: 1}
  eta: {type: uniform, low: 0.01, high: 0.011}
)";

class DeployCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = Write("churn.yaml", DeployTestConfig());
    Ingest();
  }

  CommandResult Churn(std::vector<std::string> args, const std::string& config = "") {
    args.insert(args.begin(), {testing::ChurnBinary(), "--data-dir", DataDir()});
    return testing::RunCommand(args, {"CHURN_CONFIG=" + (config.empty() ? config_ : config)});
  }

  std::string DataDir() const { return (dir_.Path() / "data").string(); }

  std::string Write(const std::string& name, absl::string_view bytes) {
    const auto path = dir_.Path() / name;
    EXPECT_THAT(base::WriteFileAtomic(path, bytes), IsOk());
    return path.string();
  }

  void Ingest() {
    const std::string csv = (dir_.Path() / "synth.csv").string();
    CommandResult r = Churn({"data", "synth", "--rows", "2000", "--seed", "5", "--out", csv});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = Churn({"ingest", csv, "--dataset", "d", "--schema",
               testing::SourceDir() + "/configs/bank_churners.yaml"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Trains the next version (a weak one when asked) and returns `churn train --json`'s output.
  nlohmann::json Train(bool weak = false) {
    std::vector<std::string> args = {"train", "--dataset", "d", "--json", "--no-progress"};
    std::string config;
    if (weak) {
      args.insert(args.end(), {"--space", Write("weak_space.yaml", kWeakSpace)});
      config = Write("weak.yaml", R"(train:
  trials: 1
  max_rounds: 2
  early_stopping_rounds: 2
)");
    }
    const CommandResult r = Churn(args, config);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
  }

  // `churn deploy ARGS --json`, expecting `exit_code`; its outcome.
  nlohmann::json Deploy(std::vector<std::string> args, int exit_code,
                        const std::string& config = "") {
    args.insert(args.begin(), "deploy");
    args.emplace_back("--json");
    const CommandResult r = Churn(args, config);
    EXPECT_EQ(r.exit_code, exit_code) << absl::StrJoin(args, " ") << "\n" << r.out << r.err;
    auto out = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(out.is_discarded()) << r.out;
    return out;
  }

  std::unique_ptr<registry::Registry> Registry() {
    auto reg = registry::OpenRegistry({.url = "sqlite:" + DataDir() + "/registry.db",
                                       .artifact_store_uri = DataDir() + "/objects"});
    EXPECT_THAT(reg, IsOk());
    return reg.ok() ? *std::move(reg) : nullptr;
  }

  // The version production names, or nullopt.
  std::optional<int64_t> Production() {
    const auto v = Registry()->GetModelVersionByAlias("churn", "production");
    return v.ok() ? std::optional<int64_t>(v->version) : std::nullopt;
  }

  std::vector<registry::AliasEvent> ProductionHistory() {
    auto h = Registry()->AliasHistory("churn", "production");
    EXPECT_THAT(h, IsOk());
    return h.ok() ? *h : std::vector<registry::AliasEvent>();
  }

  // The gate results recorded on a version (null when none).
  nlohmann::json RecordedGates(int64_t version) {
    const auto v = Registry()->GetModelVersion("churn", version);
    EXPECT_THAT(v, IsOk());
    for (const auto& t : v->tags) {
      if (t.key == "churn.deploy.gates") {
        return nlohmann::json::parse(t.value);
      }
    }
    return nullptr;
  }

  base::TempDir dir_;
  std::string config_;
};

// The gate named `name` of an outcome's gates.
nlohmann::json GateOf(const nlohmann::json& gates, const std::string& name) {
  for (const auto& g : gates) {
    if (g["name"] == name) {
      return g;
    }
  }
  ADD_FAILURE() << "no gate " << name << " in " << gates.dump();
  return nlohmann::json::object();
}

const std::vector<std::string> kAllGates = {"contract", "auc_floor", "no_regression", "latency",
                                            "scorer_equals_xgboost"};

TEST_F(DeployCliTest, DryRunMovesNothingThenFirstDeployPassesEveryGateAndMovesProduction) {
  const nlohmann::json trained = Train();
  ASSERT_EQ(trained["model"]["version"], 1);

  const nlohmann::json dry = Deploy({"churn@1", "--dry-run"}, 0);
  EXPECT_TRUE(dry["gates_passed"].get<bool>());
  EXPECT_FALSE(dry["deployed"].get<bool>());
  EXPECT_EQ(Production(), std::nullopt);
  EXPECT_TRUE(RecordedGates(1).is_null());  // a dry run writes nothing

  const nlohmann::json out =
      Deploy({"churn@1", "--actor", "alice", "--reason", "first model for the launch"}, 0);
  EXPECT_TRUE(out["deployed"].get<bool>());
  EXPECT_TRUE(out["previous_version"].is_null());
  ASSERT_EQ(out["gates"].size(), kAllGates.size());
  for (size_t i = 0; i < kAllGates.size(); ++i) {
    EXPECT_EQ(out["gates"][i]["name"], kAllGates[i]);
    EXPECT_TRUE(out["gates"][i]["passed"].get<bool>()) << out["gates"][i].dump();
  }
  EXPECT_THAT(GateOf(out["gates"], "contract")["message"].get<std::string>(),
              HasSubstr("first deployment"));
  EXPECT_TRUE(GateOf(out["gates"], "no_regression")["skipped"].get<bool>());
  const nlohmann::json auc = GateOf(out["gates"], "auc_floor");
  EXPECT_DOUBLE_EQ(auc["measured"].get<double>(), trained["test"]["roc_auc"].get<double>());
  const nlohmann::json latency = GateOf(out["gates"], "latency");
  EXPECT_GT(latency["measured"].get<double>(), 0.0);
  EXPECT_THAT(latency["message"].get<std::string>(), HasSubstr("300 single-row requests"));
  EXPECT_LE(GateOf(out["gates"], "scorer_equals_xgboost")["measured"].get<double>(), 1e-6);
  EXPECT_THAT(out["holdout"].get<std::string>(), HasSubstr("test split (split_seed 42): 400 rows"));

  EXPECT_EQ(Production(), 1);
  const auto history = ProductionHistory();
  ASSERT_EQ(history.size(), 1U);
  EXPECT_EQ(history[0].version, 1);
  EXPECT_EQ(history[0].actor, "alice");
  EXPECT_EQ(history[0].reason, "first model for the launch");
  const nlohmann::json recorded = RecordedGates(1);
  ASSERT_FALSE(recorded.is_null());
  EXPECT_EQ(recorded["result"], "deployed");
  EXPECT_EQ(recorded["actor"], "alice");
  EXPECT_EQ(recorded["gates"].size(), kAllGates.size());

  // The human form: the gate table and the move; deploying it again is a no-op.
  CommandResult again = Churn({"deploy", "churn@1"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("already is v1"));
  EXPECT_EQ(ProductionHistory().size(), 1U);
}

TEST_F(DeployCliTest, AucFloorAboveTheModelRefusesWithExitThreeAndMovesNothing) {
  Train();
  const std::string strict = Write("strict.yaml", DeployTestConfig("0.9999"));
  const nlohmann::json out = Deploy({"churn@1"}, kGateFailedExit, strict);
  EXPECT_FALSE(out["deployed"].get<bool>());
  const nlohmann::json floor = GateOf(out["gates"], "auc_floor");
  EXPECT_FALSE(floor["passed"].get<bool>());
  EXPECT_EQ(floor["limit"].get<double>(), 0.9999);
  EXPECT_LT(floor["measured"].get<double>(), 0.9999);
  for (const char* other : {"contract", "no_regression", "latency", "scorer_equals_xgboost"}) {
    EXPECT_TRUE(GateOf(out["gates"], other)["passed"].get<bool>()) << other;
  }
  EXPECT_EQ(Production(), std::nullopt);
  EXPECT_EQ(RecordedGates(1)["result"], "refused");

  // The human form names the failed gate on stderr and in the table.
  const CommandResult human = Churn({"deploy", "churn@1"}, strict);
  EXPECT_EQ(human.exit_code, kGateFailedExit);
  EXPECT_THAT(human.err, HasSubstr("auc_floor"));
  EXPECT_THAT(human.out, HasSubstr("FAIL"));
  EXPECT_THAT(human.out, HasSubstr("scorer_equals_xgboost"));

  // A latency budget nothing meets fails the latency gate (a dry run too exits 3).
  const std::string slow = Write("slow.yaml", DeployTestConfig("0.5", "1e-9"));
  const nlohmann::json dry = Deploy({"churn@1", "--dry-run"}, kGateFailedExit, slow);
  EXPECT_FALSE(GateOf(dry["gates"], "latency")["passed"].get<bool>());
  EXPECT_TRUE(GateOf(dry["gates"], "auc_floor")["passed"].get<bool>());
  EXPECT_EQ(Production(), std::nullopt);
}

TEST_F(DeployCliTest, WorseVersionIsRefusedByNoRegressionAndProductionStays) {
  const nlohmann::json good = Train();
  Deploy({"--run", good["winner_run_id"].get<std::string>()}, 0);  // v1 by its run id
  ASSERT_EQ(Production(), 1);
  const nlohmann::json weak = Train(/*weak=*/true);
  ASSERT_EQ(weak["model"]["version"], 2);
  ASSERT_LT(weak["test"]["roc_auc"].get<double>() + 0.005, good["test"]["roc_auc"].get<double>());

  const nlohmann::json out = Deploy({"churn@2"}, kGateFailedExit);
  EXPECT_FALSE(out["deployed"].get<bool>());
  EXPECT_EQ(out["previous_version"], 1);
  ASSERT_EQ(out["gates"].size(), kAllGates.size());  // every gate reported
  const nlohmann::json regression = GateOf(out["gates"], "no_regression");
  EXPECT_FALSE(regression["passed"].get<bool>());
  EXPECT_FALSE(regression["skipped"].get<bool>());
  EXPECT_GT(regression["measured"].get<double>(), 0.005);
  // Both scored on the same holdout as they were tested on: the drop is the test AUC drop.
  EXPECT_NEAR(regression["measured"].get<double>(),
              good["test"]["roc_auc"].get<double>() - weak["test"]["roc_auc"].get<double>(), 1e-6);
  EXPECT_THAT(regression["message"].get<std::string>(), HasSubstr("production v1"));
  EXPECT_THAT(regression["message"].get<std::string>(), Not(HasSubstr("another split")));
  EXPECT_TRUE(GateOf(out["gates"], "contract")["passed"].get<bool>());
  EXPECT_TRUE(GateOf(out["gates"], "scorer_equals_xgboost")["passed"].get<bool>());

  EXPECT_EQ(Production(), 1);
  EXPECT_EQ(ProductionHistory().size(), 1U);
  EXPECT_EQ(RecordedGates(2)["result"], "refused");

  // --force without a reason is bad input, and moves nothing either.
  const CommandResult no_reason = Churn({"deploy", "churn@2", "--force"});
  EXPECT_EQ(no_reason.exit_code, 2);
  EXPECT_THAT(no_reason.err, HasSubstr("--reason"));
  EXPECT_EQ(Production(), 1);
}

TEST_F(DeployCliTest, CandidateThatWouldRefuseProductionRequestsFailsTheContractGate) {
  Train();
  Deploy({"churn@1"}, 0);
  // The same rows under a schema that takes customer_age as a float and caps dependent_count at
  // 8: requests production accepts (an integer age, 9 dependents) would be refused.
  CHURN_ASSERT_OK_AND_ASSIGN(
      std::string schema,
      base::ReadFile(std::filesystem::path(testing::SourceDir()) / "configs/bank_churners.yaml"));
  for (const auto& [from, to] :
       {std::pair<std::string, std::string>{"{name: Customer_Age, type: integer,",
                                            "{name: Customer_Age, type: float,"},
        {"{name: Dependent_count, type: integer, min: 0, max: 10}",
         "{name: Dependent_count, type: integer, min: 0, max: 8}"}}) {
    const size_t at = schema.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    schema.replace(at, from.size(), to);
  }
  const CommandResult ingest = Churn({"ingest", (dir_.Path() / "synth.csv").string(), "--dataset",
                                      "d2", "--schema", Write("narrow.yaml", schema)});
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  const CommandResult train = Churn({"train", "--dataset", "d2", "--json", "--no-progress"});
  ASSERT_EQ(train.exit_code, 0) << train.err;

  const nlohmann::json out = Deploy({"churn@2"}, kGateFailedExit);
  const nlohmann::json contract = GateOf(out["gates"], "contract");
  EXPECT_FALSE(contract["passed"].get<bool>());
  EXPECT_EQ(contract["measured"].get<double>(), 2.0);
  EXPECT_THAT(contract["message"].get<std::string>(),
              HasSubstr("field 'customer_age': integer in production, float in the candidate"));
  EXPECT_THAT(contract["message"].get<std::string>(), HasSubstr("field 'dependent_count'"));
  // The other gates are still computed; production trained on another split, and says so.
  EXPECT_EQ(out["gates"].size(), kAllGates.size());
  EXPECT_THAT(GateOf(out["gates"], "no_regression")["message"].get<std::string>(),
              HasSubstr("another split"));
  EXPECT_TRUE(GateOf(out["gates"], "scorer_equals_xgboost")["passed"].get<bool>());
  EXPECT_EQ(Production(), 1);
}

TEST_F(DeployCliTest, ForceRecordsItsReasonAndRollbackReturnsToThePreviousVersion) {
  Train();
  Deploy({"churn@1"}, 0);
  Train(/*weak=*/true);
  const nlohmann::json forced =
      Deploy({"churn@2", "--force", "--reason", "hotfix for ticket 42", "--actor", "bob"}, 0);
  EXPECT_TRUE(forced["forced"].get<bool>());
  EXPECT_FALSE(forced["gates_passed"].get<bool>());
  EXPECT_EQ(Production(), 2);
  auto history = ProductionHistory();
  ASSERT_EQ(history.size(), 2U);
  EXPECT_EQ(history[1].actor, "bob");
  EXPECT_THAT(history[1].reason, HasSubstr("FORCED past failed gates (no_regression)"));
  EXPECT_THAT(history[1].reason, HasSubstr("hotfix for ticket 42"));
  EXPECT_EQ(RecordedGates(2)["result"], "forced");

  const nlohmann::json dry = Deploy({"--rollback", "--dry-run"}, 0);
  EXPECT_EQ(dry["version"], 1);
  EXPECT_EQ(Production(), 2);

  const CommandResult rollback =
      Churn({"deploy", "--rollback", "--model", "churn", "--reason", "v2 misbehaves"});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.err;
  EXPECT_THAT(rollback.out, HasSubstr("no gates run"));
  EXPECT_EQ(Production(), 1);
  history = ProductionHistory();
  ASSERT_EQ(history.size(), 3U);
  EXPECT_EQ(history[2].previous_version, 2);
  EXPECT_THAT(history[2].reason, HasSubstr("rollback v2 -> v1"));
  EXPECT_THAT(history[2].reason, HasSubstr("v2 misbehaves"));
}

TEST_F(DeployCliTest, BadInputExitsTwoNamingTheProblem) {
  // Before any model: no production to roll back, no model to deploy.
  CommandResult r = Churn({"deploy", "--rollback"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("churn"));
  Train();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"churn@99"}, "no version 99"},
      {{"churn@"}, "model reference 'churn@'"},
      {{"nonsense"}, "model reference 'nonsense'"},
      {{"other@1"}, "other"},
      {{"churn@staging"}, "no alias 'staging'"},
      {{"--run", "zzz"}, "malformed run id 'zzz'"},
      {{"--run", "0123456789abcdef0123456789abcdef"}, "0123456789abcdef0123456789abcdef"},
      {{"churn@1", "--run", "0123456789abcdef0123456789abcdef"}, "one candidate"},
      {{}, "one candidate"},
      {{"churn@1", "--force"}, "--reason"},
      {{"churn@1", "--rollback"}, "--rollback takes no candidate"},
      {{"--rollback"}, "nothing to roll back"},
      {{"--model", "other", "churn@1"}, "different models"},
  };
  for (const auto& [args, needle] : cases) {
    std::vector<std::string> argv = {"deploy"};
    argv.insert(argv.end(), args.begin(), args.end());
    r = Churn(argv);
    EXPECT_EQ(r.exit_code, 2) << absl::StrJoin(args, " ") << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(needle)) << absl::StrJoin(args, " ");
  }
  EXPECT_EQ(Production(), std::nullopt);
  EXPECT_TRUE(RecordedGates(1).is_null());
}

TEST_F(DeployCliTest, ScriptsDeployDeploysTheVersionProductionYamlNames) {
  Train();
  const std::string script = testing::SourceDir() + "/scripts/deploy";
  const std::vector<std::string> env = {"CHURN=" + testing::ChurnBinary(),
                                        "CHURN_DATA_DIR=" + DataDir(), "CHURN_CONFIG=" + config_,
                                        "CHURN_DEPLOY_ACTOR=gitops"};
  // The shipped file names no version yet: nothing happens.
  CommandResult r =
      testing::RunCommand({script, testing::SourceDir() + "/deploy/production.yaml"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("nothing to deploy"));
  EXPECT_EQ(Production(), std::nullopt);

  const std::string file = Write("production.yaml",
                                 "# which version serves\nmodel: churn\nversion: 1   # chosen\n"
                                 "reason: \"GitOps: first model # 1\"\n");
  r = testing::RunCommand({script, file}, env);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("scorer_equals_xgboost"));
  EXPECT_EQ(Production(), 1);
  auto history = ProductionHistory();
  ASSERT_EQ(history.size(), 1U);
  EXPECT_EQ(history[0].actor, "gitops");
  EXPECT_EQ(history[0].reason, "GitOps: first model # 1");

  // Already in production: a no-op that says so.
  r = testing::RunCommand({script, file}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("already is v1"));
  EXPECT_EQ(ProductionHistory().size(), 1U);

  // A version that is not a number is bad input.
  const std::string bad = Write("bad.yaml", "model: churn\nversion: latest\n");
  r = testing::RunCommand({script, bad}, env);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("'latest'"));
}

}  // namespace
}  // namespace churn
