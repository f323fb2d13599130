// `churn drift` through the binary: a model's training snapshot against a drifted CSV (text
// table and --json), a snapshot against itself, and bad arguments (exit 2 naming what was wrong).
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/data/csv_table.h"
#include "churn/data/schema.h"
#include "churn/data/synth.h"
#include "churn/serving/prediction_log.h"
#include "churn/serving/request_decoder.h"

namespace churn {
namespace {

using ::churn::testing::CommandResult;
using ::testing::HasSubstr;

class DriftCliTest : public ::testing::Test {
 protected:
  CommandResult Churn(std::vector<std::string> args) {
    args.insert(args.begin(), {testing::ChurnBinary(), "--data-dir", DataDir()});
    return testing::RunCommand(args, {"CHURN_CONFIG=/dev/null"});
  }

  std::string DataDir() const { return (dir_.Path() / "data").string(); }

  std::string Path(const std::string& name) const { return (dir_.Path() / name).string(); }

  void SetUp() override {
    CommandResult r =
        Churn({"data", "synth", "--rows", "2000", "--seed", "5", "--out", Path("train.csv")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = Churn({"ingest", Path("train.csv"), "--dataset", "bank_churners"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = Churn({"train", "--dataset", "bank_churners", "--trials", "2", "--no-progress"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = Churn({"data", "synth", "--rows", "1000", "--seed", "9", "--no-label", "--drift",
               "scale:Total_Trans_Ct=0.5", "--out", Path("drifted.csv")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  base::TempDir dir_;
};

TEST_F(DriftCliTest, FlagsTheDriftedColumnInTextAndJson) {
  const CommandResult text =
      Churn({"drift", "--reference", "churn@1", "--current", Path("drifted.csv")});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("column"));
  EXPECT_THAT(text.out, HasSubstr("threshold"));
  EXPECT_THAT(text.out, HasSubstr("drifted columns: "));
  EXPECT_THAT(text.out, HasSubstr("dataset drift: "));
  bool flagged = false;
  for (const absl::string_view line : absl::StrSplit(text.out, '\n')) {
    if (absl::StartsWith(line, "Total_Trans_Ct ")) {
      EXPECT_THAT(std::string(line), HasSubstr("wasserstein"));
      flagged = absl::EndsWith(line, "yes");
    }
  }
  EXPECT_TRUE(flagged) << text.out;

  const CommandResult json =
      Churn({"drift", "--reference", "churn@1", "--current", Path("drifted.csv"), "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["reference"]["source"], "churn@1");
  EXPECT_THAT(j["reference"]["snapshot"].get<std::string>(), HasSubstr("bank_churners@"));
  EXPECT_EQ(j["reference"]["rows"], 2000);
  EXPECT_EQ(j["current"]["rows"], 1000);
  ASSERT_EQ(j["columns"].size(), 19U);
  int drifted = 0;
  for (const nlohmann::json& c : j["columns"]) {
    drifted += c["drifted"].get<bool>() ? 1 : 0;
    if (c["column"] == "Total_Trans_Ct") {
      EXPECT_EQ(c["type"], "numeric");
      EXPECT_EQ(c["test"], "wasserstein");
      EXPECT_TRUE(c["drifted"].get<bool>());
      EXPECT_GE(c["score"].get<double>(), c["threshold"].get<double>());
    }
  }
  const nlohmann::json& d = j["dataset"];
  EXPECT_EQ(d["columns"], 19);
  EXPECT_EQ(d["drifted_columns"], drifted);
  EXPECT_DOUBLE_EQ(d["share"].get<double>(), drifted / 19.0);
  EXPECT_EQ(d["threshold"], 0.5);
  EXPECT_EQ(d["drifted"].get<bool>(), drifted / 19.0 >= 0.5);
}

TEST_F(DriftCliTest, OverridesColumnsAndSnapshots) {
  const CommandResult r =
      Churn({"drift", "--reference", "churn/1", "--current", Path("drifted.csv"), "--columns",
             "total_trans_ct,Gender", "--stattest", "Total_Trans_Ct=ks", "--threshold",
             "gender=0.3", "--share", "0.4", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["columns"].size(), 2U);
  EXPECT_EQ(j["columns"][0]["column"], "Total_Trans_Ct");
  EXPECT_EQ(j["columns"][0]["test"], "ks");
  EXPECT_EQ(j["columns"][1]["threshold"], 0.3);
  EXPECT_EQ(j["dataset"]["threshold"], 0.4);
  EXPECT_TRUE(j["dataset"]["drifted"].get<bool>());  // 1 of 2 >= 0.4

  // A snapshot against itself: nothing drifted.
  const CommandResult same = Churn(
      {"drift", "--reference", "bank_churners", "--current", "bank_churners@latest", "--json"});
  ASSERT_EQ(same.exit_code, 0) << same.err;
  const nlohmann::json s = nlohmann::json::parse(same.out);
  EXPECT_EQ(s["dataset"]["drifted_columns"], 0);
  EXPECT_FALSE(s["dataset"]["drifted"].get<bool>());
}

// --current log:WINDOW: the inputs the servers logged in the window, read back under the
// reference's schema; older predictions are outside the window.
TEST_F(DriftCliTest, ComparesAWindowOfThePredictionLog) {
  const CommandResult none = Churn({"drift", "--reference", "churn@1", "--current", "log:1h"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, HasSubstr("no logged prediction"));
  absl::StatusOr<data::Schema> schema =
      data::LoadSchemaFile(testing::SourceDir() + "/configs/bank_churners.yaml");
  ASSERT_TRUE(schema.ok()) << schema.status();
  const auto table = [&](uint64_t seed, const char* drift) {
    data::SynthOptions o{.rows = 400, .seed = seed};
    if (drift != nullptr) {
      o.drift.push_back(*data::ParseSynthDrift(drift));
    }
    return data::ReadCsvTable(*data::GenerateSynthCsv(o), *schema, {})->table;
  };
  const data::Table old_rows = table(11, nullptr);
  const data::Table new_rows = table(12, "scale:Total_Trans_Ct=0.5");
  {
    auto log = serving::PredictionLog::Open({.url = "sqlite:" + DataDir() + "/predictions.db"});
    ASSERT_TRUE(log.ok()) << log.status();
    std::vector<serving::PredictionRecord> records;
    const absl::Time now = absl::Now();
    for (const auto& [rows, when] : {std::pair{&old_rows, now - absl::Hours(6)},
                                     std::pair{&new_rows, now - absl::Minutes(2)}}) {
      for (size_t r = 0; r < rows->NumRows(); ++r) {
        records.push_back({.request_id = absl::StrCat(records.size()),
                           .time_us = absl::ToUnixMicros(when),
                           .model_name = "churn",
                           .model_version = 1,
                           .inputs_json = serving::RecordJson(*schema, *rows, r),
                           .probability = 0.5});
      }
    }
    ASSERT_TRUE((*log)->Append(std::move(records), nullptr).ok());
    (*log)->Close();
  }
  const CommandResult r =
      Churn({"drift", "--reference", "churn@1", "--current", "log:1h", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["current"]["rows"], 400);
  EXPECT_THAT(j["current"]["source"].get<std::string>(), HasSubstr("400 logged predictions"));
  for (const nlohmann::json& c : j["columns"]) {
    if (c["column"] == "Total_Trans_Ct") {
      EXPECT_TRUE(c["drifted"].get<bool>()) << c.dump();
    }
  }
  const CommandResult all =
      Churn({"drift", "--reference", "churn@1", "--current", "log", "--json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(nlohmann::json::parse(all.out)["current"]["rows"], 800);
  const CommandResult bad = Churn({"drift", "--reference", "churn@1", "--current", "log:soon"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("log window 'soon'"));
}

TEST_F(DriftCliTest, BadArgumentsExitTwoNamingWhatWasWrong) {
  const std::string csv = Path("drifted.csv");
  CommandResult r =
      Churn({"drift", "--reference", "churn@1", "--current", csv, "--stattest", "nope=ks"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no column 'nope'"));
  r = Churn({"drift", "--reference", "churn@1", "--current", csv, "--stattest",
             "Total_Trans_Ct=kolmogorov"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown test 'kolmogorov'"));
  r = Churn({"drift", "--reference", "churn@1", "--current", csv, "--stattest", "Gender=ks"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("Gender"));
  r = Churn({"drift", "--reference", "churn@1", "--current", csv, "--threshold", "Gender=lots"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--threshold Gender=lots"));
  r = Churn({"drift", "--reference", "churn@7", "--current", csv});
  EXPECT_EQ(r.exit_code, 2);
  r = Churn({"drift", "--reference", "churn@1", "--current", Path("missing.csv")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("missing.csv"));
  EXPECT_EQ(Churn({"drift", "--current", csv}).exit_code, 2);
}

}  // namespace
}  // namespace churn
