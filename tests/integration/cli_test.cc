// End to end through the `churn` binary, as a user runs it: synth, ingest, list, show, features,
// and every kind of bad input, which must exit 2 with a message naming what was wrong and leave
// no snapshot behind.
#include <cstdlib>
#include <filesystem>

#include "nlohmann/json.hpp"
#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/base/object_store.h"

namespace churn {
namespace {

using ::churn::testing::CommandResult;
using ::churn::testing::IsOk;
using ::testing::HasSubstr;

class CliTest : public ::testing::Test {
 protected:
  CommandResult Churn(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), {testing::ChurnBinary(), "--data-dir", DataDir()});
    env.emplace_back("CHURN_CONFIG=/dev/null");
    return testing::RunCommand(args, env);
  }

  std::string DataDir() const { return (dir_.Path() / "data").string(); }

  std::string Write(const std::string& name, absl::string_view bytes) {
    const auto path = dir_.Path() / name;
    EXPECT_THAT(base::WriteFileAtomic(path, bytes), IsOk());
    return path.string();
  }

  // A valid synthetic file of `rows` rows.
  std::string Synth(int rows, int seed = 1) {
    std::string out = (dir_.Path() / ("synth" + std::to_string(seed) + ".csv")).string();
    const CommandResult r = Churn({"data", "synth", "--rows", std::to_string(rows), "--seed",
                                   std::to_string(seed), "--out", out});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  }

  bool NoSnapshotWritten() const {
    std::error_code ec;
    const auto objects = std::filesystem::path(DataDir()) / "objects";
    return !std::filesystem::exists(objects, ec) || std::filesystem::is_empty(objects, ec);
  }

  base::TempDir dir_;
};

TEST_F(CliTest, VersionAndHelp) {
  const CommandResult v = Churn({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_THAT(v.out, HasSubstr("churn "));
  for (const char* verb : {"data", "ingest", "datasets", "features", "config"}) {
    const CommandResult h = Churn({verb, "--help"});
    EXPECT_EQ(h.exit_code, 0) << verb;
    EXPECT_THAT(h.out, HasSubstr("Usage")) << verb;
  }
}

// config show prints every section in effect: file defaults, then the environment; secrets
// masked.
TEST_F(CliTest, ConfigShowPrintsEverySectionAfterTheEnvironment) {
  const CommandResult r =
      Churn({"config", "show"},
            {"CHURN_PREDICTIONS_URL=postgresql://db.example/churn", "CHURN_ADMIN_TOKEN=tok-8d3f"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json c = nlohmann::json::parse(r.out);
  EXPECT_EQ(c["data_dir"], DataDir());
  EXPECT_EQ(c["train"]["trials"], 50);
  EXPECT_EQ(c["serve"]["predictions"], "postgresql://db.example/churn");
  EXPECT_EQ(c["serve"]["journal_dir"], DataDir() + "/predictions.journal");
  EXPECT_EQ(c["serve"]["admin_token"], "(set)");
  EXPECT_EQ(c["serve"]["port"], 9696);
  EXPECT_EQ(c["deploy"]["min_test_auc"], 0.95);
  EXPECT_EQ(c["deploy"]["alias"], "production");
  EXPECT_EQ(r.out.find("tok-8d3f"), std::string::npos);
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Churn({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Churn({"ingest"}).exit_code, 2);
  EXPECT_EQ(Churn({"data", "synth", "--rows", "many", "--out", "x"}).exit_code, 2);
}

TEST_F(CliTest, SynthIsDeterministic) {
  const std::string a = Synth(500, 3);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string first, base::ReadFile(a));
  std::filesystem::remove(a);
  Synth(500, 3);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string second, base::ReadFile(a));
  EXPECT_EQ(first, second);
  EXPECT_GT(first.size(), 10000U);
}

TEST_F(CliTest, IngestListShowAndFeaturesGet) {
  const std::string csv = Synth(2000);
  const std::string schema =
      (std::filesystem::path(testing::SourceDir()) / "configs" / "bank_churners.yaml").string();
  const CommandResult first =
      Churn({"ingest", csv, "--dataset", "synth", "--schema", schema, "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto a = nlohmann::json::parse(first.out);
  EXPECT_TRUE(a["created"].get<bool>());
  EXPECT_EQ(a["rows"].get<int>(), 2000);
  EXPECT_EQ(a["entities_materialized"].get<int>(), 2000);
  // The second ingest finds the schema of the dataset's latest snapshot by itself.
  const CommandResult again = Churn({"ingest", csv, "--dataset", "synth", "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const auto b = nlohmann::json::parse(again.out);
  EXPECT_FALSE(b["created"].get<bool>());
  EXPECT_EQ(a["id"], b["id"]);

  const CommandResult list = Churn({"datasets", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(nlohmann::json::parse(list.out)[0]["dataset"], "synth");
  const CommandResult show = Churn({"datasets", "show", "synth@" + a["id"].get<std::string>()});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("Total_Trans_Ct"));
  const CommandResult show_json = Churn({"datasets", "show", "synth", "--json"});
  ASSERT_EQ(show_json.exit_code, 0) << show_json.err;
  EXPECT_EQ(nlohmann::json::parse(show_json.out)["profile"]["rows"].get<int>(), 2000);

  const CommandResult get =
      Churn({"features", "get", "--dataset", "synth", "--entity", "700000000"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  const auto features = nlohmann::json::parse(get.out)["features"];
  EXPECT_TRUE(features["Customer_Age"].is_number_integer());
  EXPECT_TRUE(features["Gender"].is_string());
  EXPECT_FALSE(features.contains("Attrition_Flag"));
  const CommandResult missing = Churn({"features", "get", "--dataset", "synth", "--entity", "1"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("no entity '1'"));
}

struct BadInput {
  const char* name;
  std::string bytes;
  const char* message;
};

// Valid header and row of the bank_churners schema, to break one thing at a time.
const char kHeader[] =
    "CLIENTNUM,Attrition_Flag,Customer_Age,Gender,Dependent_count,Education_Level,"
    "Marital_Status,Income_Category,Card_Category,Months_on_book,Total_Relationship_Count,"
    "Months_Inactive_12_mon,Contacts_Count_12_mon,Credit_Limit,Total_Revolving_Bal,"
    "Avg_Open_To_Buy,Total_Amt_Chng_Q4_Q1,Total_Trans_Amt,Total_Trans_Ct,Total_Ct_Chng_Q4_Q1,"
    "Avg_Utilization_Ratio,"
    "Naive_Bayes_Classifier_Attrition_Flag_Card_Category_Contacts_Count_12_mon_Dependent_count_"
    "Education_Level_Months_Inactive_12_mon_1,"
    "Naive_Bayes_Classifier_Attrition_Flag_Card_Category_Contacts_Count_12_mon_Dependent_count_"
    "Education_Level_Months_Inactive_12_mon_2\n";
const char kRow[] =
    "768805383,\"Existing Customer\",45,\"M\",3,\"High School\",\"Married\",\"$60K - $80K\","
    "\"Blue\",39,5,1,3,12691,777,11914,1.335,1144,42,1.625,0.061,9.3448e-05,0.99991\n";

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  s.replace(s.find(from), from.size(), to);
  return s;
}

class CliBadInputTest : public CliTest, public ::testing::WithParamInterface<BadInput> {};

TEST_P(CliBadInputTest, ExitsTwoNamingTheProblemAndWritesNoSnapshot) {
  const std::string path = Write("bad.csv", GetParam().bytes);
  const CommandResult r = Churn({"ingest", path, "--dataset", "bank_churners"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr(GetParam().message));
  EXPECT_TRUE(NoSnapshotWritten());
  // The store still works afterwards.
  const CommandResult list = Churn({"datasets", "list", "--json"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
}

INSTANTIATE_TEST_SUITE_P(
    Files, CliBadInputTest,
    ::testing::Values(
        BadInput{"Empty", "", "empty"}, BadInput{"HeaderOnly", kHeader, "no data rows"},
        BadInput{"MissingColumn", Replace(kHeader, "Gender,", "") + kRow, "lacks column(s)"},
        BadInput{"ExtraColumn", Replace(kHeader, "\n", ",Extra\n") + Replace(kRow, "\n", ",1\n"),
                 "does not declare: Extra"},
        BadInput{"WrongType", std::string(kHeader) + Replace(kRow, ",45,", ",forty,"),
                 "line 2 (row 1), column 'Customer_Age': 'forty' not an integer"},
        BadInput{"UnknownCategory", std::string(kHeader) + Replace(kRow, "\"M\"", "\"X\""),
                 "column 'Gender': 'X' not one of the levels"},
        BadInput{"RaggedRow", std::string(kHeader) + kRow + "1,2,3\n",
                 "line 3 (row 2) has 3 fields"},
        BadInput{"NulByte", std::string(kHeader) + Replace(kRow, "Blue", std::string("Bl\0e", 4)),
                 "line 2, byte"},
        BadInput{"InvalidUtf8",
                 std::string(kHeader) + Replace(kRow, "Blue",
                                                "Bl\xFF"
                                                "e"),
                 "line 2, byte 81: invalid UTF-8"},
        BadInput{"HugeLine", std::string(kHeader) + std::string(100 << 20, 'x') + "\n",
                 "line 2 is longer than the limit"},
        BadInput{"UnterminatedQuote", std::string(kHeader) + "\"open,1\n",
                 "quoted field is never closed"}),
    [](const ::testing::TestParamInfo<BadInput>& param_info) {
      return std::string(param_info.param.name);
    });

TEST_F(CliTest, DataValidateChecksWithoutWriting) {
  const std::string csv = Synth(300);
  const CommandResult ok = Churn({"data", "validate", csv, "--json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(nlohmann::json::parse(ok.out)["rows_accepted"].get<int>(), 300);
  const std::string bad = Write("bad.csv", std::string(kHeader) + Replace(kRow, ",45,", ",x,"));
  const CommandResult no = Churn({"data", "validate", bad});
  EXPECT_EQ(no.exit_code, 2);
  EXPECT_THAT(no.err, HasSubstr("column 'Customer_Age': 'x' not an integer"));
  EXPECT_TRUE(NoSnapshotWritten());
}

TEST_F(CliTest, SelfContradictorySchemaExitsTwo) {
  const std::string schema = Write("s.yaml",
                                   "name: s\ntarget: y\npositive_value: '1'\nentity_key: id\n"
                                   "columns:\n  - {name: id, type: string, role: entity_key}\n"
                                   "  - {name: y, type: integer, role: target}\n"
                                   "  - {name: x, type: float, min: 5, max: 1}\n");
  const std::string csv = Write("d.csv", "id,y,x\na,1,2\n");
  const CommandResult r = Churn({"ingest", csv, "--dataset", "d", "--schema", schema});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("column 'x' has min 5 greater than max 1"));
  EXPECT_TRUE(NoSnapshotWritten());
}

TEST_F(CliTest, MissingSourceExitsTwo) {
  const CommandResult r = Churn({"ingest", "/nonexistent.csv", "--dataset", "bank_churners"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent.csv"));
}

std::string EnvOrEmpty(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
  return value == nullptr ? "" : value;
}

// Both ends on S3: the source file is an s3:// object and the offline store is an S3 prefix.
TEST_F(CliTest, IngestsFromS3IntoAnS3OfflineStore) {
  const std::string endpoint = EnvOrEmpty("CHURN_TEST_S3_ENDPOINT");
  if (endpoint.empty()) {
    GTEST_SKIP() << "CHURN_TEST_S3_ENDPOINT is not set (scripts/services start s3rver sets it)";
  }
  base::S3Options s3;
  s3.endpoint = endpoint;
  s3.access_key_id = "S3RVER";
  s3.secret_access_key = "S3RVER";
  const std::string prefix = "cli" + std::to_string(absl::ToUnixNanos(absl::Now()));
  auto bucket = base::NewS3ObjectStore("churn-test", prefix, s3);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string csv, base::ReadFile(Synth(500)));
  ASSERT_THAT(bucket->Put("in/synth.csv", csv), IsOk());
  const std::vector<std::string> env = {"AWS_ENDPOINT_URL=" + endpoint, "AWS_ACCESS_KEY_ID=S3RVER",
                                        "AWS_SECRET_ACCESS_KEY=S3RVER",
                                        "CHURN_OBJECT_STORE=s3://churn-test/" + prefix + "/store"};
  const CommandResult r = Churn({"ingest", "s3://churn-test/" + prefix + "/in/synth.csv",
                                 "--dataset", "bank_churners", "--json"},
                                env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["rows"].get<int>(), 500);
  CHURN_ASSERT_OK_AND_ASSIGN(const bool stored,
                             bucket->Exists("store/datasets/bank_churners/snapshots/" +
                                            out["id"].get<std::string>() + "/snapshot.json"));
  EXPECT_TRUE(stored);
  const CommandResult list = Churn({"datasets", "list", "--json"}, env);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(nlohmann::json::parse(list.out)[0]["latest"]["id"], out["id"]);
  const CommandResult missing = Churn(
      {"ingest", "s3://churn-test/" + prefix + "/in/none.csv", "--dataset", "bank_churners"}, env);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("none.csv"));
}

TEST_F(CliTest, RedisOnlineStore) {
  const std::string url = EnvOrEmpty("CHURN_TEST_REDIS_URL");
  if (url.empty()) {
    GTEST_SKIP() << "CHURN_TEST_REDIS_URL is not set (scripts/services start redis sets it)";
  }
  const std::string dataset = "cli" + std::to_string(absl::ToUnixNanos(absl::Now()));
  const std::string schema =
      (std::filesystem::path(testing::SourceDir()) / "configs" / "bank_churners.yaml").string();
  const CommandResult r = Churn({"ingest", Synth(300), "--dataset", dataset, "--schema", schema},
                                {"CHURN_REDIS_URL=" + url});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("300 entities -> " + url));
  const CommandResult get =
      Churn({"features", "get", "--dataset", dataset, "--entity", "700007919"},
            {"CHURN_REDIS_URL=" + url});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_TRUE(nlohmann::json::parse(get.out)["features"]["Total_Trans_Ct"].is_number_integer());
}

TEST_F(CliTest, RealBankChurnersFile) {
  const auto path = testing::BankChurnersPath();
  if (!path.has_value()) {
    GTEST_SKIP() << testing::kNoBankChurners;
  }
  const CommandResult first = Churn({"ingest", *path, "--dataset", "bank_churners", "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto a = nlohmann::json::parse(first.out);
  EXPECT_EQ(a["rows"].get<int>(), 10127);
  EXPECT_EQ(a["positives"].get<int>(), 1627);
  const CommandResult again = Churn({"ingest", *path, "--dataset", "bank_churners", "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["id"], a["id"]);
  const CommandResult get =
      Churn({"features", "get", "--dataset", "bank_churners", "--entity", "768805383"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  const auto f = nlohmann::json::parse(get.out)["features"];
  EXPECT_EQ(f["Customer_Age"], 45);
  EXPECT_EQ(f["Income_Category"], "$60K - $80K");
  EXPECT_DOUBLE_EQ(f["Total_Amt_Chng_Q4_Q1"].get<double>(), 1.335);
}

}  // namespace
}  // namespace churn
