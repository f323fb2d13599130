// `churn serve http` under load while `churn deploy` moves production: not one request may fail
// (the new version is loaded and verified off the request path and swapped atomically; requests
// in flight finish on the old one), and after SIGTERM every answered prediction is in the log,
// from both versions.
#include <csignal>
#include <filesystem>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "testing/http_client.h"
#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/serving/prediction_log.h"

namespace churn {
namespace {

using ::churn::testing::CommandResult;
using ::churn::testing::IsOk;

class ServeCliTest : public ::testing::Test {
 protected:
  CommandResult Churn(std::vector<std::string> args) {
    args.insert(args.begin(), {testing::ChurnBinary(), "--data-dir", DataDir()});
    return testing::RunCommand(args, {"CHURN_CONFIG=" + Config()});
  }

  std::string DataDir() const { return (dir_.Path() / "data").string(); }

  // Gates loose enough for models trained in seconds on synthetic rows.
  std::string Config() const { return (dir_.Path() / "churn.yaml").string(); }

  void SetUp() override {
    ASSERT_THAT(base::WriteFileAtomic(Config(),
                                      "deploy:\n  min_test_auc: 0.5\n  max_auc_drop: 1.0\n"
                                      "  max_p99_ms: 1000\n"),
                IsOk());
    const std::string csv = (dir_.Path() / "synth.csv").string();
    CommandResult r = Churn({"data", "synth", "--rows", "3000", "--seed", "5", "--out", csv});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = Churn({"ingest", csv, "--dataset", "bank_churners"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* seed : {"1", "2"}) {
      r = Churn({"train", "--dataset", "bank_churners", "--trials", "2", "--seed", seed});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    r = Churn({"deploy", "churn@1", "--reason", "first"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }

  base::TempDir dir_;
};

TEST_F(ServeCliTest, DeployUnderLoadFailsNoRequest) {
  const std::optional<std::string> wrk = []() -> std::optional<std::string> {
    for (const char* p : {"/usr/bin/wrk", "/usr/local/bin/wrk"}) {
      if (std::filesystem::exists(p)) {
        return p;
      }
    }
    return std::nullopt;
  }();
  if (!wrk) {
    GTEST_SKIP() << "wrk not installed (scripts/bootstrap installs it)";
  }
  auto server = testing::ChildProcess::Start({testing::ChurnBinary(), "--data-dir", DataDir(),
                                              "serve", "http", "--port", "0", "--poll", "0.2"},
                                             {"CHURN_CONFIG=" + Config()});
  ASSERT_TRUE(server.ok()) << server.status();
  auto line = (*server)->ReadLine(absl::Seconds(60));
  ASSERT_TRUE(line.ok()) << line.status();
  const size_t at = line->find("http://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << *line;
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(line->substr(at + 17, line->find('/', at + 17) - at - 17), &port));
  const std::string base = absl::StrCat("http://127.0.0.1:", port);
  // One record of the ingested file as the body.
  const std::string body_path = (dir_.Path() / "body.json").string();
  ASSERT_THAT(
      base::WriteFileAtomic(
          body_path,
          R"({"customer_age":45,"gender":"M","dependent_count":3,"education_level":"Graduate",)"
          R"("marital_status":"Married","income_category":"$60K - $80K","card_category":"Blue",)"
          R"("months_on_book":39,"total_relationship_count":5,"months_inactive_12_mon":1,)"
          R"("contacts_count_12_mon":3,"credit_limit":12691.0,"total_revolving_bal":777,)"
          R"("avg_open_to_buy":11914.0,"total_amt_chng_q4_q1":1.335,"total_trans_amt":1144,)"
          R"("total_trans_ct":42,"total_ct_chng_q4_q1":1.625,"avg_utilization_ratio":0.061})"),
      IsOk());
  ASSERT_EQ(testing::HttpFetch("POST", base + "/predict", base::ReadFile(body_path).value(),
                               {"Content-Type: application/json"})
                .status,
            200);
  CommandResult load;
  std::thread wrk_thread([&] {
    load = testing::RunCommand(
        {*wrk, "-t1", "-c16", "-d20s", "-s",
         testing::SourceDir() + "/tests/fixtures/wrk/post_count.lua", base + "/predict"},
        {"BODY=" + body_path});
  });
  std::this_thread::sleep_for(std::chrono::seconds(5));
  const CommandResult deploy = Churn({"deploy", "churn@2", "--reason", "swap under load"});
  EXPECT_EQ(deploy.exit_code, 0) << deploy.out << deploy.err;
  int served = 0;
  for (int i = 0; i < 100 && served != 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const nlohmann::json model =
        nlohmann::json::parse(testing::HttpFetch("GET", base + "/model").body, nullptr, false);
    served = model.is_object() ? model.value("version", 0) : 0;
  }
  EXPECT_EQ(served, 2) << "the server follows production within the poll interval";
  wrk_thread.join();
  ASSERT_EQ(load.exit_code, 0) << load.err;
  const size_t w = load.out.find("WRKSTATUS ");
  ASSERT_NE(w, std::string::npos) << load.out;
  const nlohmann::json stats = nlohmann::json::parse(load.out.substr(w + 10));
  const int64_t requests = stats.at("requests");
  EXPECT_GT(requests, 1000);
  EXPECT_EQ(stats.at("errors"), 0) << load.out;
  EXPECT_EQ(stats.at("statuses").size(), 1U) << load.out;
  EXPECT_EQ(stats.at("statuses").value("200", int64_t{0}), requests) << load.out;
  // SIGTERM drains: every answered request is in the log, from both versions.
  (*server)->Signal(SIGTERM);
  EXPECT_EQ((*server)->Wait(absl::Seconds(30)), 0);
  auto log = serving::PredictionLog::Open({.url = "sqlite:" + DataDir() + "/predictions.db"});
  ASSERT_TRUE(log.ok()) << log.status();
  auto rows = (*log)->ReadPredictions(0, size_t{1} << 24);
  ASSERT_TRUE(rows.ok());
  // wrk counts the answers it read; up to one request per connection may have been answered
  // (and logged) as it stopped.
  EXPECT_GE(static_cast<int64_t>(rows->size()), requests + 1);
  EXPECT_LE(static_cast<int64_t>(rows->size()), requests + 1 + 16);
  std::set<int64_t> versions;
  for (const auto& row : *rows) {
    versions.insert(row.record.model_version);
  }
  EXPECT_EQ(versions, (std::set<int64_t>{1, 2}));
}

// --predictions (like every serve flag) overrides the config: the log goes where it says.
TEST_F(ServeCliTest, PredictionsFlagChoosesTheStore) {
  const std::string elsewhere = (dir_.Path() / "elsewhere.db").string();
  auto server = testing::ChildProcess::Start(
      {testing::ChurnBinary(), "--data-dir", DataDir(), "serve", "http", "--port", "0", "--poll",
       "0", "--predictions", "sqlite:" + elsewhere},
      {"CHURN_CONFIG=" + Config()});
  ASSERT_TRUE(server.ok()) << server.status();
  auto line = (*server)->ReadLine(absl::Seconds(60));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_NE(line->find("predictions to sqlite:" + elsewhere), std::string::npos) << *line;
  const size_t at = line->find("http://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << *line;
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(line->substr(at + 17, line->find('/', at + 17) - at - 17), &port));
  const testing::HttpResponse answer = testing::HttpFetch(
      "POST", absl::StrCat("http://127.0.0.1:", port, "/predict"),
      R"({"customer_age":45,"gender":"M","dependent_count":3,"education_level":"Graduate",)"
      R"("marital_status":"Married","income_category":"$60K - $80K","card_category":"Blue",)"
      R"("months_on_book":39,"total_relationship_count":5,"months_inactive_12_mon":1,)"
      R"("contacts_count_12_mon":3,"credit_limit":12691.0,"total_revolving_bal":777,)"
      R"("avg_open_to_buy":11914.0,"total_amt_chng_q4_q1":1.335,"total_trans_amt":1144,)"
      R"("total_trans_ct":42,"total_ct_chng_q4_q1":1.625,"avg_utilization_ratio":0.061})",
      {"Content-Type: application/json"});
  ASSERT_EQ(answer.status, 200) << answer.body;
  (*server)->Signal(SIGTERM);
  EXPECT_EQ((*server)->Wait(absl::Seconds(30)), 0);
  auto log = serving::PredictionLog::Open({.url = "sqlite:" + elsewhere});
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_THAT((*log)->CountPredictions(), ::churn::testing::IsOkAndHolds(1));
  EXPECT_FALSE(std::filesystem::exists(DataDir() + "/predictions.db"));
}

}  // namespace
}  // namespace churn
