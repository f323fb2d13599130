// The registry verbs through the `churn` binary: runs list/show/compare/gc, models list/show,
// models alias set/get/history, and `churn registry serve` answering over HTTP until SIGTERM.
// The registry is filled through the C++ API (training will do that in production), then read
// and changed through the CLI as a user would.
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "testing/http_client.h"
#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/base/time.h"
#include "churn/registry/registry.h"

namespace churn {
namespace {

using ::churn::testing::CommandResult;
using ::churn::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

class RegistryCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CHURN_ASSERT_OK_AND_ASSIGN(
        auto reg, registry::OpenRegistry({.url = "sqlite:" + DataDir() + "/registry.db",
                                          .artifact_store_uri = DataDir() + "/objects"}));
    CHURN_ASSERT_OK_AND_ASSIGN(experiment_, reg->CreateExperiment("train", "", {}));
    for (int i = 0; i < 3; ++i) {
      CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run run,
                                 reg->CreateRun({.experiment_id = experiment_,
                                                 .run_name = absl::StrCat("trial-", i),
                                                 .start_time = 1764547200000 + int64_t{i} * 1000,
                                                 .tags = {{"flow", "train"}}}));
      ASSERT_THAT(
          reg->LogBatch(run.info.run_id, {{"valid_auc", 0.985 + 0.004 * i, 1764547200000, 0}},
                        {{"max_depth", i == 1 ? "4" : "6"}}, {}),
          IsOk());
      ASSERT_THAT(reg->LogArtifact(run.info.run_id, "model/model.json", absl::StrCat("m", i)),
                  IsOk());
      ASSERT_THAT(reg->UpdateRun({.run_id = run.info.run_id,
                                  .status = registry::RunStatus::kFinished,
                                  .end_time = 1764547200000 + int64_t{i} * 1000 + 500}),
                  IsOk());
      runs_.push_back(run.info.run_id);
    }
    ASSERT_THAT(reg->CreateRegisteredModel("churn", "churn classifier", {}), IsOk());
    ASSERT_THAT(reg->CreateModelVersion({.name = "churn",
                                         .source = absl::StrCat("runs:/", runs_[2], "/model"),
                                         .metrics = {{"test_auc", 0.991}}}),
                IsOk());
    ASSERT_THAT(reg->CreateModelVersion(
                    {.name = "churn", .source = absl::StrCat("runs:/", runs_[0], "/model")}),
                IsOk());
  }

  CommandResult Churn(std::vector<std::string> args) {
    args.insert(args.begin(), {testing::ChurnBinary(), "--data-dir", DataDir()});
    return testing::RunCommand(args, {"CHURN_CONFIG=/dev/null"});
  }

  std::string DataDir() const { return (dir_.Path() / "data").string(); }

  // `churn registry serve` on a free port with `token`; sets `base` to its http://host:port.
  // nullptr (and a failed expectation) when it does not come up.
  std::unique_ptr<testing::ChildProcess> Serve(const std::string& token, std::string* base) {
    auto server = testing::ChildProcess::Start(
        {testing::ChurnBinary(), "--data-dir", DataDir(), "registry", "serve", "--port", "0"},
        {"CHURN_CONFIG=/dev/null", "CHURN_REGISTRY_TOKEN=" + token});
    EXPECT_THAT(server, IsOk());
    if (!server.ok()) {
      return nullptr;
    }
    const absl::StatusOr<std::string> banner = (*server)->ReadLine(absl::Seconds(30));
    EXPECT_THAT(banner, IsOk());
    const size_t at = banner.ok() ? banner->find("127.0.0.1:") : std::string::npos;
    EXPECT_NE(at, std::string::npos) << banner.value_or("");
    if (at == std::string::npos) {
      return nullptr;
    }
    const size_t port = at + 10;
    *base = "http://127.0.0.1:" + banner->substr(port, banner->find('/', port) - port);
    return *std::move(server);
  }

  base::TempDir dir_;
  std::string experiment_;
  std::vector<std::string> runs_;
};

TEST_F(RegistryCliTest, RunsListFiltersAndOrders) {
  const CommandResult r = Churn({"runs", "list", "--experiment", "train", "--filter",
                                 "metrics.valid_auc > 0.986 and params.max_depth = '6'", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto json = nlohmann::json::parse(r.out);
  ASSERT_EQ(json.size(), 1U);
  EXPECT_EQ(json[0]["run_id"], runs_[2]);
  const CommandResult ordered =
      Churn({"runs", "list", "-e", experiment_, "--order-by", "metrics.valid_auc ASC"});
  ASSERT_EQ(ordered.exit_code, 0) << ordered.err;
  EXPECT_LT(ordered.out.find(runs_[0]), ordered.out.find(runs_[2]));
  EXPECT_THAT(ordered.out, HasSubstr("valid_auc"));
}

TEST_F(RegistryCliTest, RunsShowAndCompare) {
  const CommandResult show = Churn({"runs", "show", runs_[1]});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("trial-1"));
  EXPECT_THAT(show.out, HasSubstr("max_depth"));
  EXPECT_THAT(show.out, HasSubstr("model/model.json"));
  const CommandResult compare = Churn({"runs", "compare", runs_[0], runs_[1], "--json"});
  ASSERT_EQ(compare.exit_code, 0) << compare.err;
  const auto json = nlohmann::json::parse(compare.out);
  EXPECT_TRUE(json["rows"]["params.max_depth"]["differs"].get<bool>());
  EXPECT_EQ(json["rows"]["params.max_depth"]["values"][1], "4");
  const CommandResult same = Churn({"runs", "compare", runs_[0], runs_[2]});
  EXPECT_THAT(same.out, HasSubstr("  params.max_depth"));  // no '*': equal
}

TEST_F(RegistryCliTest, ModelsListShowAndAliases) {
  const CommandResult list = Churn({"models", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("churn"));
  EXPECT_THAT(list.out, HasSubstr("v2"));
  ASSERT_EQ(Churn({"models", "alias", "set", "churn", "production", "1", "--reason", "first deploy",
                   "--actor", "ana"})
                .exit_code,
            0);
  const CommandResult get = Churn({"models", "alias", "get", "churn", "production"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_THAT(get.out, HasSubstr("v1"));
  EXPECT_THAT(get.out, HasSubstr(runs_[2]));
  ASSERT_EQ(Churn({"models", "alias", "set", "churn", "production", "2"}).exit_code, 0);
  const CommandResult history = Churn({"models", "alias", "history", "churn", "--json"});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  const auto events = nlohmann::json::parse(history.out);
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0]["actor"], "ana");
  EXPECT_EQ(events[0]["reason"], "first deploy");
  EXPECT_EQ(events[1]["previous_version"], 1);
  EXPECT_EQ(events[1]["version"], 2);
  const std::string first_time = events[0]["time"];
  const CommandResult at =
      Churn({"models", "alias", "history", "churn", "production", "--at", first_time});
  ASSERT_EQ(at.exit_code, 0) << at.err;
  EXPECT_THAT(at.out, HasSubstr(": v"));
  const CommandResult before =
      Churn({"models", "alias", "history", "churn", "production", "--at", "2000-01-01T00:00:00Z"});
  EXPECT_THAT(before.out, HasSubstr("not set"));
  const CommandResult show = Churn({"models", "show", "churn"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("production"));
  EXPECT_THAT(show.out, HasSubstr("test_auc=0.991"));
}

TEST_F(RegistryCliTest, BadInputExitsTwoWithAClearMessage) {
  const CommandResult unknown = Churn({"runs", "show", "0123456789abcdef0123456789abcdef"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("not found"));
  const CommandResult filter = Churn({"runs", "list", "-e", "train", "--filter", "metrics.x >"});
  EXPECT_EQ(filter.exit_code, 2);
  EXPECT_THAT(filter.err, HasSubstr("invalid filter"));
  const CommandResult reserved = Churn({"models", "alias", "set", "churn", "latest", "1"});
  EXPECT_EQ(reserved.exit_code, 2);
  EXPECT_THAT(reserved.err, HasSubstr("reserved"));
  EXPECT_EQ(Churn({"models", "alias", "set", "churn", "production", "9"}).exit_code, 2);
  EXPECT_EQ(Churn({"models", "show", "nope"}).exit_code, 2);
  EXPECT_EQ(Churn({"runs", "gc", "--older-than", "soon"}).exit_code, 2);
}

TEST_F(RegistryCliTest, GcRemovesOldRunsButNeverARegisteredVersionsRun) {
  const CommandResult dry =
      Churn({"runs", "gc", "--keep-last", "0", "--older-than", "0s", "--dry-run", "--json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(nlohmann::json::parse(dry.out)["deleted_runs"].size(), 1U);  // trial-1 only
  EXPECT_EQ(Churn({"runs", "show", runs_[1]}).exit_code, 0);
  const CommandResult gc = Churn({"runs", "gc", "--keep-last", "0", "--older-than", "0s"});
  ASSERT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_THAT(gc.out, HasSubstr("removed 1 runs and 1 unreferenced artifacts"));
  EXPECT_EQ(Churn({"runs", "show", runs_[1]}).exit_code, 2);
  EXPECT_EQ(Churn({"runs", "show", runs_[0]}).exit_code, 0);
  EXPECT_EQ(Churn({"runs", "show", runs_[2]}).exit_code, 0);
}

TEST_F(RegistryCliTest, RegistryServeAnswersUntilSigterm) {
  std::string base;
  auto server = Serve("s3cret", &base);
  ASSERT_NE(server, nullptr);
  const testing::HttpResponse health = testing::HttpFetch("GET", base + "/health");
  EXPECT_EQ(health.status, 200) << health.body;
  const testing::HttpResponse model =
      testing::HttpFetch("GET", base + "/api/2.0/mlflow/registered-models/get?name=churn");
  EXPECT_EQ(model.status, 200) << model.body;
  EXPECT_THAT(model.body, HasSubstr("churn classifier"));
  const testing::HttpResponse no_token =
      testing::HttpFetch("POST", base + "/api/2.0/mlflow/registered-models/create",
                         R"({"name":"x"})", {"Content-Type: application/json"});
  EXPECT_EQ(no_token.status, 401);
  const testing::HttpResponse with_token = testing::HttpFetch(
      "POST", base + "/api/2.0/mlflow/registered-models/create", R"({"name":"x"})",
      {"Content-Type: application/json", "Authorization: Bearer s3cret"});
  EXPECT_EQ(with_token.status, 200) << with_token.body;
  server->Signal(SIGTERM);
  EXPECT_EQ(server->Wait(absl::Seconds(30)), 0);
  EXPECT_THAT(testing::HttpFetch("GET", base + "/health").status, Not(200));
}

// A real third-party MLflow client (npm "mlflow", pinned by scripts/test) against the server.
TEST_F(RegistryCliTest, AnMlflowClientWorksAgainstTheServer) {
  const char* modules = std::getenv("CHURN_TEST_MLFLOW_JS");  // NOLINT(concurrency-mt-unsafe)
  if (modules == nullptr || *modules == '\0') {
    GTEST_SKIP() << "CHURN_TEST_MLFLOW_JS (the node_modules folder holding the npm package "
                    "\"mlflow\"; scripts/test installs it) is not set: MLflow client test skipped";
  }
  std::string base;
  auto server = Serve("tok", &base);
  ASSERT_NE(server, nullptr);
  const std::string script =
      (std::filesystem::path(testing::SourceDir()) / "tests/integration/mlflow_js/check.js")
          .string();
  const CommandResult r = testing::RunCommand({"node", script, modules, base, "tok"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("mlflow js client: ok"));
  server->Signal(SIGTERM);
  EXPECT_EQ(server->Wait(absl::Seconds(30)), 0);
}

}  // namespace
}  // namespace churn
