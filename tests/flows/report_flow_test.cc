// The report flow on a real SQLite prediction log holding traffic scored by a real model: the
// verdicts of undrifted and drifted windows, the comparison with the previous window, realized
// quality from feedback, the files it writes (report, sidecar, index), the empty window and bad
// options, and the size of a report of 10,000 predictions x 19 features.
#include "churn/flows/report_flow.h"

#include <fcntl.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "flows/report_fixture.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/test_env.h"
#include <sys/stat.h>

#include "churn/base/file.h"
#include "churn/base/time.h"
#include "churn/report/report_folder.h"
#include "churn/serving/logged_inputs.h"

namespace churn::flows {
namespace {

using testing::StatusIs;

// 2026-12-02T18:00:00Z: "now" in these tests.
const absl::Time kNow = absl::FromUnixSeconds(1'796'234'400);

// Drift in 12 of the 19 inputs: the dataset drifts.
std::vector<data::SynthDrift> HeavyDrift() {
  std::vector<data::SynthDrift> out;
  for (const char* spec :
       {"shift:Customer_Age=12", "shift:Months_on_book=15", "scale:Credit_Limit=2.5",
        "shift:Total_Revolving_Bal=900", "scale:Total_Trans_Amt=2", "shift:Total_Trans_Ct=-30",
        "shift:Months_Inactive_12_mon=2", "shift:Contacts_Count_12_mon=2",
        "scale:Total_Amt_Chng_Q4_Q1=1.6", "scale:Total_Ct_Chng_Q4_Q1=1.6",
        "mix:Gender=F:0.95,M:0.05", "mix:Card_Category=Gold:0.6,Platinum:0.4"}) {
    out.push_back(*data::ParseSynthDrift(spec));
  }
  return out;
}

class ReportFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = testing::ReportFixture::Create();
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = *std::move(f);
  }

  // Logs `rows` predictions spread over [since, until).
  testing::LoggedTraffic LogWindow(absl::Time since, absl::Time until, int64_t rows,
                                   std::vector<data::SynthDrift> drift = {}, uint64_t seed = 11,
                                   const std::string& prefix = "r") {
    auto logged = fixture_->Log({.rows = rows,
                                 .seed = seed,
                                 .drift = std::move(drift),
                                 .since = since,
                                 .until = until,
                                 .prefix = prefix});
    EXPECT_TRUE(logged.ok()) << logged.status();
    return logged.ok() ? *std::move(logged) : testing::LoggedTraffic{};
  }

  absl::StatusOr<ReportFlowResult> Run(ReportFlowOptions o = {}) {
    if (o.reports_dir.empty()) {
      o.reports_dir = fixture_->ReportsDir();
    }
    o.clock = &clock_;
    return RunReportFlow(o, fixture_->Registry(), fixture_->Log());
  }

  static const report::FeatureSection* Feature(const ReportFlowResult& r, const std::string& name) {
    for (const report::FeatureSection& f : r.report.features) {
      if (f.name == name) {
        return &f;
      }
    }
    return nullptr;
  }

  base::FakeClock clock_{kNow};
  std::unique_ptr<testing::ReportFixture> fixture_;
};

TEST_F(ReportFlowTest, AnUndriftedWindowGivesNoDatasetDrift) {
  LogWindow(kNow - absl::Hours(3), kNow, 2000);
  LogWindow(kNow - absl::Hours(5), kNow - absl::Hours(4), 300, {}, 12, "old");
  CHURN_ASSERT_OK_AND_ASSIGN(const ReportFlowResult r, Run());
  EXPECT_EQ(r.report.rows, 2000U) << "the default window is the last 3 hours";
  EXPECT_EQ(r.report.since, kNow - absl::Hours(3));
  EXPECT_EQ(r.report.until, kNow);
  EXPECT_EQ(r.report.generated_at, kNow);
  EXPECT_EQ(r.report.model.name, "churn");
  EXPECT_EQ(r.report.model.version, 1);
  EXPECT_EQ(r.report.features.size(), fixture_->Model().DriftReference()->columns.size());
  EXPECT_EQ(r.report.dataset.columns, r.report.features.size());
  EXPECT_FALSE(r.report.dataset.drifted) << ReportFlowResultJson(r);
  EXPECT_LT(r.report.dataset.drifted_columns, 4U) << ReportFlowResultJson(r);
  EXPECT_FALSE(r.prediction.drifted) << "the scores of undrifted traffic";
  ASSERT_TRUE(r.report.previous.has_value());
  EXPECT_EQ(r.report.previous->rows, 300U) << "the previous 3 hours: [15:00, 18:00) before it";
  EXPECT_EQ(r.report.previous->since, kNow - absl::Hours(6));
  ASSERT_TRUE(r.report.estimated.has_value()) << "CBPE needs no labels";
  EXPECT_GT(r.report.estimated->roc_auc, 0.8);
  EXPECT_FALSE(r.report.realized.has_value()) << "no feedback yet";
  EXPECT_EQ(r.labeled, 0U);
  EXPECT_EQ(r.file_name, "report-20261202T180000Z.html");
  EXPECT_EQ(r.path, fixture_->ReportsDir() + "/report-20261202T180000Z.html");
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string html, base::ReadFile(r.path));
  EXPECT_EQ(html.size(), r.bytes);
  EXPECT_TRUE(absl::StrContains(html, "Customer_Age"));
  EXPECT_TRUE(absl::StrContains(html, "No dataset drift"));
  // The charts are bins of every value: each side's counts add up to its rows.
  const report::FeatureSection* age = Feature(r, "Customer_Age");
  ASSERT_NE(age, nullptr);
  EXPECT_EQ(age->kind, drift::ColumnKind::kNumeric);
  EXPECT_EQ(age->histogram.edges.size(), age->histogram.Bins() + 1);
  EXPECT_DOUBLE_EQ(
      std::accumulate(age->histogram.current.begin(), age->histogram.current.end(), 0.0), 2000.0);
  EXPECT_DOUBLE_EQ(
      std::accumulate(age->histogram.reference.begin(), age->histogram.reference.end(), 0.0),
      static_cast<double>(r.report.reference_rows));
  EXPECT_DOUBLE_EQ(
      std::accumulate(r.report.scores.current.begin(), r.report.scores.current.end(), 0.0), 2000.0);
  EXPECT_EQ(r.report.scores.Bins(), static_cast<size_t>(report::kScoreBins));
}

TEST_F(ReportFlowTest, ADriftedWindowDriftsTheDatasetAndTheDriftedInputs) {
  LogWindow(kNow - absl::Hours(3), kNow, 2000, HeavyDrift());
  CHURN_ASSERT_OK_AND_ASSIGN(const ReportFlowResult r, Run());
  EXPECT_TRUE(r.report.dataset.drifted) << ReportFlowResultJson(r);
  EXPECT_GE(r.report.dataset.drifted_columns, 10U);
  for (const char* name : {"Customer_Age", "Total_Trans_Ct", "Credit_Limit", "Gender",
                           "Card_Category", "Months_Inactive_12_mon"}) {
    const report::FeatureSection* f = Feature(r, name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_TRUE(f->drifted) << name << ": " << f->test_name << " " << f->score;
  }
  for (const char* name : {"Education_Level", "Marital_Status", "Dependent_count"}) {
    const report::FeatureSection* f = Feature(r, name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_FALSE(f->drifted) << name << " is not drifted: " << f->test_name << " " << f->score;
  }
  const report::FeatureSection* gender = Feature(r, "Gender");
  ASSERT_NE(gender, nullptr);
  EXPECT_EQ(gender->kind, drift::ColumnKind::kCategorical);
  EXPECT_FALSE(gender->histogram.labels.empty()) << "categories are charted by level name";
  EXPECT_FALSE(r.report.previous.has_value()) << "nothing before the window";
  EXPECT_TRUE(std::any_of(r.notes.begin(), r.notes.end(), [](const std::string& n) {
    return absl::StrContains(n, "previous");
  })) << "the report says why it has no previous window";
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string html, base::ReadFile(r.path));
  EXPECT_TRUE(absl::StrContains(html, "Dataset drift detected"));
}

TEST_F(ReportFlowTest, InputsThatMovedSinceThePreviousWindowDriftAgainstIt) {
  LogWindow(kNow - absl::Hours(6), kNow - absl::Hours(3), 1500, {}, 12, "a");
  LogWindow(kNow - absl::Hours(3), kNow, 1500,
            {*data::ParseSynthDrift("shift:Total_Trans_Ct=-30"),
             *data::ParseSynthDrift("mix:Gender=F:0.95,M:0.05")},
            13, "b");
  CHURN_ASSERT_OK_AND_ASSIGN(const ReportFlowResult r, Run());
  ASSERT_TRUE(r.report.previous.has_value());
  EXPECT_EQ(r.report.previous->rows, 1500U);
  EXPECT_EQ(r.report.previous->since, kNow - absl::Hours(6));
  EXPECT_EQ(r.report.previous->until, kNow - absl::Hours(3));
  for (const char* name : {"Total_Trans_Ct", "Gender"}) {
    const report::FeatureSection* f = Feature(r, name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_EQ(f->drifted_vs_previous, std::optional<bool>(true)) << name;
  }
  for (const char* name : {"Customer_Age", "Education_Level", "Credit_Limit"}) {
    const report::FeatureSection* f = Feature(r, name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_EQ(f->drifted_vs_previous, std::optional<bool>(false)) << name;
  }
  EXPECT_FALSE(r.report.previous->dataset.drifted) << "2 of 19 inputs moved";
  EXPECT_GE(r.report.previous->dataset.drifted_columns, 2U);
}

TEST_F(ReportFlowTest, TheSameDriftInBothWindowsDriftsAgainstTheReferenceOnly) {
  LogWindow(kNow - absl::Hours(6), kNow - absl::Hours(3), 1500, HeavyDrift(), 12, "a");
  LogWindow(kNow - absl::Hours(3), kNow, 1500, HeavyDrift(), 13, "b");
  CHURN_ASSERT_OK_AND_ASSIGN(const ReportFlowResult r, Run());
  EXPECT_TRUE(r.report.dataset.drifted);
  ASSERT_TRUE(r.report.previous.has_value());
  EXPECT_FALSE(r.report.previous->dataset.drifted) << ReportFlowResultJson(r);
  const report::FeatureSection* age = Feature(r, "Customer_Age");
  ASSERT_NE(age, nullptr);
  EXPECT_TRUE(age->drifted);
  EXPECT_EQ(age->drifted_vs_previous, std::optional<bool>(false));
}

TEST_F(ReportFlowTest, FeedbackGivesTheRealizedQualityOfTheLabeledRows) {
  const testing::LoggedTraffic logged = LogWindow(kNow - absl::Hours(3), kNow, 2000);
  ASSERT_EQ(logged.request_ids.size(), 2000U);
  ASSERT_TRUE(fixture_->FeedbackByRequest(logged, 800).ok());
  // A customer's outcome labels the customer's predictions made before it was observed.
  serving::PredictionLog& log = fixture_->Log();
  ASSERT_TRUE(log.AddFeedback({.customer_id = logged.customer_ids[1500],
                               .churned = logged.churned[1500],
                               .time_us = logged.times_us[1500] + 1},
                              nullptr)
                  .ok());
  ASSERT_TRUE(log.AddFeedback({.customer_id = logged.customer_ids[1600],
                               .churned = 1,
                               .time_us = logged.times_us[1600] - 1'000'000},
                              nullptr)
                  .ok())
      << "observed before the prediction: labels nothing";
  ASSERT_TRUE(
      log.AddFeedback(
             {.request_id = "not-logged", .churned = 1, .time_us = absl::ToUnixMicros(kNow)},
             nullptr)
          .ok());
  log.Flush();
  CHURN_ASSERT_OK_AND_ASSIGN(const ReportFlowResult r, Run());
  EXPECT_EQ(r.labeled, 801U);
  ASSERT_TRUE(r.report.realized.has_value());
  EXPECT_EQ(r.report.realized->labeled_rows, 801U);
  // The same metric on what was logged, computed here from the generator's outcomes.
  std::vector<float> labels(logged.churned.begin(), logged.churned.begin() + 800);
  std::vector<float> scores(logged.probabilities.begin(), logged.probabilities.begin() + 800);
  labels.push_back(static_cast<float>(logged.churned[1500]));
  scores.push_back(logged.probabilities[1500]);
  CHURN_ASSERT_OK_AND_ASSIGN(
      const drift::Quality expected,
      drift::RealizedQuality(labels, scores,
                             fixture_->Model().DriftReference()->decision_threshold));
  EXPECT_NEAR(r.report.realized->quality.roc_auc, expected.roc_auc, 1e-9);
  EXPECT_NEAR(r.report.realized->quality.f1, expected.f1, 1e-9);
  EXPECT_NEAR(r.report.realized->quality.accuracy, expected.accuracy, 1e-9);
  EXPECT_GT(r.report.realized->quality.roc_auc, 0.8);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string html, base::ReadFile(r.path));
  EXPECT_TRUE(absl::StrContains(html, "Realized (801 labeled rows)"));
}

TEST_F(ReportFlowTest, AnEmptyWindowIsNotFoundAndWritesNothing) {
  LogWindow(kNow - absl::Hours(5), kNow - absl::Hours(4), 200);
  EXPECT_THAT(Run(), StatusIs(absl::StatusCode::kNotFound, "no logged prediction of model churn"));
  EXPECT_FALSE(std::filesystem::exists(fixture_->ReportsDir()));
}

TEST_F(ReportFlowTest, BadOptionsAreRefusedNamingTheProblem) {
  LogWindow(kNow - absl::Hours(3), kNow, 200);
  EXPECT_THAT(Run({.since = kNow, .until = kNow - absl::Hours(1)}),
              StatusIs(absl::StatusCode::kInvalidArgument, "window must end after it starts"));
  EXPECT_THAT(Run({.model = "nosuch@production"}), StatusIs(absl::StatusCode::kNotFound, "nosuch"));
  EXPECT_THAT(Run({.model = "churn"}), StatusIs(absl::StatusCode::kInvalidArgument, "churn"));
  EXPECT_THAT(Run({.model = "churn@staging"}), StatusIs(absl::StatusCode::kNotFound, "staging"));
  EXPECT_THAT(Run({.window = absl::ZeroDuration()}),
              StatusIs(absl::StatusCode::kInvalidArgument, "window"));
  EXPECT_THAT(Run({.share_threshold = 1.5}), StatusIs(absl::StatusCode::kInvalidArgument, "share"));
  EXPECT_THAT(RunReportFlow({.reports_dir = ""}, fixture_->Registry(), fixture_->Log()),
              StatusIs(absl::StatusCode::kInvalidArgument, "reports folder"));
  EXPECT_FALSE(std::filesystem::exists(fixture_->ReportsDir()));
}

TEST_F(ReportFlowTest, AVersionWithoutADriftReferenceIsRefused) {
  CHURN_ASSERT_OK_AND_ASSIGN(testing::TrainedPackage old, fixture_->Serving().Train(5, 2));
  old.drift_reference_json.clear();
  ASSERT_TRUE(fixture_->Serving().Register(old, "old").ok());
  LogWindow(kNow - absl::Hours(3), kNow, 200);
  EXPECT_THAT(Run({.model = "churn@old"}),
              StatusIs(absl::StatusCode::kFailedPrecondition, "no drift reference"));
}

TEST_F(ReportFlowTest, TheIndexListsEveryReportAndARerunReplacesItsReport) {
  LogWindow(kNow - absl::Hours(6), kNow, 1200);
  const std::filesystem::path dir = fixture_->ReportsDir();
  CHURN_ASSERT_OK_AND_ASSIGN(const ReportFlowResult first, Run({.until = kNow - absl::Hours(3)}));
  EXPECT_EQ(first.file_name, "report-20261202T150000Z.html");
  clock_.Advance(absl::Minutes(1));
  CHURN_ASSERT_OK_AND_ASSIGN(const ReportFlowResult second, Run({.until = kNow}));
  ASSERT_TRUE(base::WriteFileAtomic(dir / "notes.html", "<p>by hand</p>").ok());
  const timespec mtime[2] = {absl::ToTimespec(kNow + absl::Hours(1)),
                             absl::ToTimespec(kNow + absl::Hours(1))};
  ASSERT_EQ(utimensat(AT_FDCWD, (dir / "notes.html").c_str(), mtime, 0), 0);
  ASSERT_TRUE(base::WriteFileAtomic(dir / "report-x.html.tmp-abc123", "partial").ok());
  ASSERT_TRUE(report::WriteIndex(dir).ok());

  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<report::ReportEntry> entries,
                             report::ListReports(dir));
  ASSERT_EQ(entries.size(), 3U) << "two reports and the page without a sidecar, no temp file";
  EXPECT_EQ(entries[0].file_name, "notes.html") << "newest first (its modification time)";
  EXPECT_EQ(entries[0].generated_at, kNow + absl::Hours(1));
  EXPECT_EQ(entries[0].model_version, 0) << "nothing known but its name and time";
  EXPECT_EQ(entries[1].file_name, second.file_name);
  EXPECT_EQ(entries[1].generated_at, kNow + absl::Minutes(1));
  EXPECT_EQ(entries[1].model_name, "churn");
  EXPECT_EQ(entries[1].model_version, 1);
  EXPECT_EQ(entries[1].since, kNow - absl::Hours(3));
  EXPECT_EQ(entries[1].dataset.drifted_columns, second.report.dataset.drifted_columns);
  EXPECT_EQ(entries[1].dataset.columns, second.report.dataset.columns);
  EXPECT_EQ(entries[2].file_name, first.file_name);
  EXPECT_EQ(entries[2].until, kNow - absl::Hours(3));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string index, base::ReadFile(dir / "index.html"));
  EXPECT_TRUE(absl::StrContains(index, "3 reports"));
  for (const char* name :
       {"report-20261202T150000Z.html", "report-20261202T180000Z.html", "notes.html"}) {
    EXPECT_TRUE(absl::StrContains(index, absl::StrCat("href=\"", name, "\""))) << name;
  }
  EXPECT_FALSE(absl::StrContains(index, "tmp-abc123"));

  CHURN_ASSERT_OK_AND_ASSIGN(const std::string sidecar,
                             base::ReadFile(dir / "report-20261202T180000Z.json"));
  const nlohmann::json j = nlohmann::json::parse(sidecar);
  EXPECT_EQ(j["format"], "churn-report/1");
  EXPECT_EQ(j["result"]["rows"], second.report.rows);
  EXPECT_EQ(j["result"]["features"].size(), second.report.features.size());

  clock_.Advance(absl::Minutes(1));
  CHURN_ASSERT_OK_AND_ASSIGN(const ReportFlowResult again, Run({.until = kNow}));
  EXPECT_EQ(again.file_name, second.file_name);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<report::ReportEntry> after,
                             report::ListReports(dir));
  EXPECT_EQ(after.size(), 3U) << "the same window end replaces its report";
}

TEST_F(ReportFlowTest, AReportOf10000PredictionsAnd19FeaturesIsUnder500KB) {
  LogWindow(kNow - absl::Hours(6), kNow - absl::Hours(3), 10000, {}, 12, "a");
  const testing::LoggedTraffic logged =
      LogWindow(kNow - absl::Hours(3), kNow, 10000, HeavyDrift(), 13, "b");
  ASSERT_TRUE(fixture_->FeedbackByRequest(logged, 3000).ok());
  CHURN_ASSERT_OK_AND_ASSIGN(const ReportFlowResult r, Run());
  EXPECT_EQ(r.report.rows, 10000U);
  EXPECT_EQ(r.report.features.size(), 19U);
  ASSERT_TRUE(r.report.previous.has_value());
  EXPECT_EQ(r.report.previous->rows, 10000U);
  ASSERT_TRUE(r.report.realized.has_value());
  EXPECT_EQ(r.report.realized->labeled_rows, 3000U);
  const uintmax_t size = std::filesystem::file_size(r.path);
  EXPECT_EQ(size, r.bytes);
  EXPECT_LT(size, 500'000U);
  std::cout << "report of 10,000 predictions x 19 features: " << size << " bytes\n";
  RecordProperty("report_bytes", static_cast<int>(size));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string html, base::ReadFile(r.path));
  // Self-contained: nothing to fetch, nothing to run, no raw rows.
  for (const char* banned : {"<script", "<link", "<img", "<iframe", "url(", "@import", "http://",
                             "https://", "src=", logged.customer_ids[0].c_str()}) {
    EXPECT_FALSE(absl::StrContains(html, banned)) << banned;
  }
  EXPECT_TRUE(absl::StrContains(html, "vs previous window"));
}

TEST_F(ReportFlowTest, ChurnReportWritesTheReportAndPrintsOneLine) {
  LogWindow(kNow - absl::Hours(3), kNow, 1200);
  const auto churn = [this](std::vector<std::string> args) {
    args.insert(args.begin(),
                {testing::ChurnBinary(), "--data-dir", fixture_->Serving().DataDir(), "report"});
    return testing::RunCommand(args, {"CHURN_CONFIG=/dev/null"});
  };
  testing::CommandResult r =
      churn({"--since", "2026-12-02T15:00:00Z", "--until", "2026-12-02T18:00:00Z", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["rows"], 1200);
  EXPECT_EQ(j["window"]["since"], "2026-12-02T15:00:00.000Z");
  EXPECT_EQ(j["model"]["ref"], "churn@production");
  EXPECT_EQ(j["features"].size(), 19U);

  r = churn({"--since", "2026-12-02T15:00:00Z", "--until", "2026-12-02T18:00:00Z"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string path = fixture_->ReportsDir() + "/report-20261202T180000Z.html";
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string html, base::ReadFile(path));
  EXPECT_EQ(
      r.out,
      absl::StrCat("wrote ", path, " (", (html.size() + 500) / 1000, " kB): 1,200 predictions, ",
                   j["dataset"]["drifted_columns"].get<int>(), " of 19 features drifted, dataset ",
                   j["dataset"]["drifted"].get<bool>() ? "drifted" : "not drifted", "\n"));

  r = churn({"--since", "yesterday"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "--since 'yesterday'")) << r.err;
  r = churn({"--since", "2026-12-02T18:00:00Z", "--until", "2026-12-02T15:00:00Z"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "is not before --until")) << r.err;
  r = churn({"--since", "2026-12-01T00:00:00Z", "--until", "2026-12-01T03:00:00Z"});
  EXPECT_EQ(r.exit_code, 2) << "an empty window";
  EXPECT_TRUE(absl::StrContains(r.err, "no logged prediction")) << r.err;
  r = churn({"--model", "churn@nope", "--until", "2026-12-02T18:00:00Z"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "nope")) << r.err;
}

}  // namespace
}  // namespace churn::flows
