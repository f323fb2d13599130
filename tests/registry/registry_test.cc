// The registry's one test suite, run against both backends: SQLite always, PostgreSQL when
// CHURN_TEST_POSTGRES_URL names a server (scripts/test starts one), each test in a fresh schema.
#include "churn/registry/registry.h"

#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "registry/migrations.h"
#include "registry/pg_test_util.h"
#include "registry/sql_db.h"
#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/base/sha256.h"

namespace churn::registry {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::IsOkAndHolds;
using ::churn::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kStart = absl::FromUnixMillis(1764547200000);  // 2025-12-01T00:00:00Z

class RegistryTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") {
      const std::optional<std::string> url = testing::PostgresUrlOrSkip();
      if (!url) {
        GTEST_SKIP() << testing::kNoPostgresUrl;
      }
      CHURN_ASSERT_OK_AND_ASSIGN(schema_, testing::FreshPostgresSchema::Create(*url));
      url_ = schema_->Url();
    } else {
      url_ = "sqlite:" + (dir_.Path() / "registry.db").string();
    }
    Reopen();
  }

  void Reopen() {
    reg_.reset();
    CHURN_ASSERT_OK_AND_ASSIGN(
        reg_, OpenRegistry({.url = url_,
                            .artifact_store_uri = (dir_.Path() / "objects").string(),
                            .clock = &clock_}));
  }

  int64_t NowMs() const { return absl::ToUnixMillis(clock_.Now()); }

  absl::StatusOr<std::unique_ptr<internal::SqlDb>> RawDb() const {
    if (GetParam() == "postgres") {
      return internal::OpenPostgresDb(url_);
    }
    return internal::OpenSqliteDb((dir_.Path() / "registry.db").string(), 1000);
  }

  std::string NewExperiment(const std::string& name = "exp") {
    auto id = reg_->CreateExperiment(name, "", {});
    EXPECT_THAT(id, IsOk());
    return id.value_or("");
  }

  // A finished run with the given metric, params and tags.
  std::string NewRun(const std::string& experiment, const std::vector<Metric>& metrics,
                     const std::vector<Param>& params = {}, const std::vector<Tag>& tags = {}) {
    clock_.Advance(absl::Seconds(1));
    auto run = reg_->CreateRun({.experiment_id = experiment});
    EXPECT_THAT(run, IsOk());
    if (!run.ok()) {
      return "";
    }
    EXPECT_THAT(reg_->LogBatch(run->info.run_id, metrics, params, tags), IsOk());
    EXPECT_THAT(
        reg_->UpdateRun(
            {.run_id = run->info.run_id, .status = RunStatus::kFinished, .end_time = NowMs()}),
        IsOk());
    return run->info.run_id;
  }

  std::vector<std::string> SearchIds(const std::string& experiment, const std::string& filter,
                                     const std::vector<std::string>& order_by = {}) {
    auto page =
        reg_->SearchRuns({.experiment_ids = {experiment}, .filter = filter, .order_by = order_by});
    EXPECT_THAT(page, IsOk()) << filter;
    std::vector<std::string> ids;
    if (page.ok()) {
      for (const registry::Run& r : page->items) {
        ids.push_back(r.info.run_id);
      }
    }
    return ids;
  }

  base::TempDir dir_;
  base::FakeClock clock_{kStart};
  std::unique_ptr<testing::FreshPostgresSchema> schema_;
  std::string url_;
  std::unique_ptr<Registry> reg_;
};

INSTANTIATE_TEST_SUITE_P(Backends, RegistryTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& p) { return p.param; });

// --- Schema --------------------------------------------------------------------------------

TEST_P(RegistryTest, OpenAppliesEveryMigrationOnce) {
  CHURN_ASSERT_OK_AND_ASSIGN(const int64_t version, reg_->SchemaVersion());
  EXPECT_EQ(version, internal::Migrations().back().version);
  const std::string id = NewExperiment("kept");
  Reopen();
  EXPECT_THAT(reg_->SchemaVersion(), IsOkAndHolds(version));
  CHURN_ASSERT_OK_AND_ASSIGN(auto raw, RawDb());
  CHURN_ASSERT_OK_AND_ASSIGN(const auto rows,
                             raw->Query("SELECT COUNT(*) FROM schema_migrations", {}));
  EXPECT_EQ(rows.Int(0, 0), static_cast<int64_t>(internal::Migrations().size()));
  EXPECT_THAT(reg_->GetExperiment(id), IsOk());
}

TEST_P(RegistryTest, RefusesADatabaseFromANewerChurn) {
  {
    CHURN_ASSERT_OK_AND_ASSIGN(auto raw, RawDb());
    ASSERT_THAT(raw->Query("INSERT INTO schema_migrations (version, name, applied_at) "
                           "VALUES (999, 'from the future', 0)",
                           {}),
                IsOk());
  }
  reg_.reset();
  auto reopened = OpenRegistry(
      {.url = url_, .artifact_store_uri = (dir_.Path() / "objects").string(), .clock = &clock_});
  EXPECT_THAT(reopened, StatusIs(absl::StatusCode::kFailedPrecondition, "schema version 999"));
}

TEST(OpenRegistry, RejectsMalformedUrls) {
  base::TempDir dir;
  const std::string objects = (dir.Path() / "o").string();
  EXPECT_THAT(OpenRegistry({.url = "", .artifact_store_uri = objects}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(OpenRegistry({.url = "mysql://x/y", .artifact_store_uri = objects}),
              StatusIs(absl::StatusCode::kInvalidArgument, "mysql://x/y"));
  EXPECT_THAT(OpenRegistry({.url = "sqlite:", .artifact_store_uri = objects}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(OpenRegistry({.url = "postgresql://127.0.0.1:1/nothing?connect_timeout=2",
                            .artifact_store_uri = objects}),
              StatusIs(absl::StatusCode::kUnavailable));
}

// --- Experiments ---------------------------------------------------------------------------

TEST_P(RegistryTest, TheDefaultExperimentExists) {
  CHURN_ASSERT_OK_AND_ASSIGN(const Experiment e, reg_->GetExperiment("0"));
  EXPECT_EQ(e.name, "Default");
  EXPECT_EQ(e.lifecycle_stage, LifecycleStage::kActive);
  EXPECT_THAT(reg_->DeleteExperiment("0"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_P(RegistryTest, ExperimentsAreFoundByIdAndNameAndNamesAreUnique) {
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string id,
                             reg_->CreateExperiment("churn-train", "", {{"team", "risk"}}));
  CHURN_ASSERT_OK_AND_ASSIGN(const Experiment by_id, reg_->GetExperiment(id));
  CHURN_ASSERT_OK_AND_ASSIGN(const Experiment by_name, reg_->GetExperimentByName("churn-train"));
  EXPECT_EQ(by_id.experiment_id, by_name.experiment_id);
  EXPECT_EQ(by_id.artifact_location, "mlflow-artifacts:/" + id);
  EXPECT_EQ(by_id.creation_time, NowMs());
  EXPECT_THAT(by_id.tags, ElementsAre(Tag{"team", "risk"}));
  EXPECT_THAT(reg_->CreateExperiment("churn-train", "", {}),
              StatusIs(absl::StatusCode::kAlreadyExists, "churn-train"));
  EXPECT_THAT(reg_->CreateExperiment("", "", {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(reg_->GetExperiment("12345"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(reg_->GetExperiment("abc"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(reg_->GetExperimentByName("nope"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(RegistryTest, SearchExperimentsFiltersOrdersAndPages) {
  for (const char* name : {"train-a", "train-b", "report-a"}) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_THAT(reg_->CreateExperiment(name, "", {{"kind", absl::StrCat(name).substr(0, 5)}}),
                IsOk());
  }
  CHURN_ASSERT_OK_AND_ASSIGN(
      const auto like,
      reg_->SearchExperiments({.filter = "name LIKE 'train-%'", .order_by = {"name DESC"}}));
  ASSERT_THAT(like.items, SizeIs(2));
  EXPECT_EQ(like.items[0].name, "train-b");
  CHURN_ASSERT_OK_AND_ASSIGN(const auto tagged,
                             reg_->SearchExperiments({.filter = "tags.kind = 'repor'"}));
  ASSERT_THAT(tagged.items, SizeIs(1));
  EXPECT_EQ(tagged.items[0].name, "report-a");
  // Pages of one cover Default + 3 experiments exactly once.
  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    CHURN_ASSERT_OK_AND_ASSIGN(const auto page,
                               reg_->SearchExperiments({.max_results = 1, .page_token = token}));
    for (const auto& e : page.items) {
      EXPECT_TRUE(seen.insert(e.name).second) << e.name;
    }
    token = page.next_page_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(seen.size(), 4U);
}

TEST_P(RegistryTest, DeletedExperimentsHideTheirRunsAndRefuseNewOnes) {
  const std::string exp = NewExperiment();
  const std::string run = NewRun(exp, {{"auc", 0.9, NowMs(), 0}});
  ASSERT_THAT(reg_->DeleteExperiment(exp), IsOk());
  EXPECT_THAT(reg_->CreateRun({.experiment_id = exp}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(SearchIds(exp, ""), IsEmpty());
  CHURN_ASSERT_OK_AND_ASSIGN(const auto deleted,
                             reg_->SearchExperiments({.view = ViewType::kDeletedOnly}));
  ASSERT_THAT(deleted.items, SizeIs(1));
  ASSERT_THAT(reg_->RestoreExperiment(exp), IsOk());
  EXPECT_THAT(SearchIds(exp, ""), ElementsAre(run));
}

// --- Runs ----------------------------------------------------------------------------------

TEST_P(RegistryTest, CreateRunRecordsWhoWhenAndWhatData) {
  const std::string exp = NewExperiment();
  CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run run,
                             reg_->CreateRun({.experiment_id = exp,
                                              .user_id = "ana",
                                              .run_name = "trial-7",
                                              .tags = {{"flow", "train"}},
                                              .dataset_snapshot = "bank_churners@7a486c86"}));
  EXPECT_EQ(run.info.run_id.size(), 32U);
  CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run got, reg_->GetRun(run.info.run_id));
  EXPECT_EQ(got.info.run_name, "trial-7");
  EXPECT_EQ(got.info.user_id, "ana");
  EXPECT_EQ(got.info.status, RunStatus::kRunning);
  EXPECT_EQ(got.info.start_time, NowMs());
  EXPECT_FALSE(got.info.end_time.has_value());
  EXPECT_EQ(got.info.dataset_snapshot, "bank_churners@7a486c86");
  EXPECT_EQ(got.info.artifact_uri,
            absl::StrCat("mlflow-artifacts:/", exp, "/", run.info.run_id, "/artifacts"));
  EXPECT_THAT(got.tags, ElementsAre(Tag{"flow", "train"}, Tag{"mlflow.runName", "trial-7"}));
  EXPECT_THAT(reg_->GetRun("0123456789abcdef0123456789abcdef"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(reg_->CreateRun({.experiment_id = "424242"}), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(RegistryTest, UpdateRunSetsStatusEndTimeAndName) {
  const std::string exp = NewExperiment();
  CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run run, reg_->CreateRun({.experiment_id = exp}));
  EXPECT_THAT(run.info.run_name, HasSubstr("run-"));
  CHURN_ASSERT_OK_AND_ASSIGN(const RunInfo info, reg_->UpdateRun({.run_id = run.info.run_id,
                                                                  .status = RunStatus::kFailed,
                                                                  .end_time = NowMs() + 5,
                                                                  .run_name = "renamed"}));
  EXPECT_EQ(info.status, RunStatus::kFailed);
  CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run got, reg_->GetRun(run.info.run_id));
  EXPECT_EQ(got.info.status, RunStatus::kFailed);
  EXPECT_EQ(got.info.end_time, NowMs() + 5);
  EXPECT_EQ(got.info.run_name, "renamed");
  EXPECT_THAT(got.tags, ElementsAre(Tag{"mlflow.runName", "renamed"}));
}

TEST_P(RegistryTest, LogBatchKeepsHistoryAndTheLatestValueByStep) {
  const std::string exp = NewExperiment();
  CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run run, reg_->CreateRun({.experiment_id = exp}));
  const std::string& id = run.info.run_id;
  const int64_t t = NowMs();
  // Out of order on purpose: step 2 is the latest whatever the order of arrival.
  ASSERT_THAT(reg_->LogBatch(id, {{"auc", 0.7, t, 0}, {"auc", 0.9, t, 2}, {"auc", 0.8, t + 9, 1}},
                             {{"max_depth", "6"}}, {{"flow", "train"}}),
              IsOk());
  ASSERT_THAT(reg_->LogBatch(id, {{"auc", 0.5, t + 20, 1}, {"loss", 0.25, t, 0}}, {}, {}), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run got, reg_->GetRun(id));
  ASSERT_THAT(got.metrics, SizeIs(2));
  EXPECT_EQ(got.metrics[0].key, "auc");
  EXPECT_EQ(got.metrics[0].value, 0.9);
  EXPECT_EQ(got.metrics[0].step, 2);
  EXPECT_EQ(got.metrics[1].value, 0.25);
  EXPECT_THAT(got.params, ElementsAre(Param{"max_depth", "6"}));
  CHURN_ASSERT_OK_AND_ASSIGN(const auto history, reg_->GetMetricHistory(id, "auc", 0, ""));
  ASSERT_THAT(history.items, SizeIs(4));
  std::vector<int64_t> steps;
  for (const Metric& m : history.items) {
    steps.push_back(m.step);
  }
  EXPECT_THAT(steps, ElementsAre(0, 1, 1, 2));
  // Pages of 3 then 1.
  CHURN_ASSERT_OK_AND_ASSIGN(const auto first, reg_->GetMetricHistory(id, "auc", 3, ""));
  EXPECT_THAT(first.items, SizeIs(3));
  CHURN_ASSERT_OK_AND_ASSIGN(const auto second,
                             reg_->GetMetricHistory(id, "auc", 3, first.next_page_token));
  EXPECT_THAT(second.items, SizeIs(1));
  EXPECT_TRUE(second.next_page_token.empty());
}

TEST_P(RegistryTest, NanAndInfinitiesRoundTrip) {
  const std::string exp = NewExperiment();
  const std::string id = NewRun(exp, {{"nan", std::nan(""), NowMs(), 0},
                                      {"inf", HUGE_VAL, NowMs(), 0},
                                      {"ninf", -HUGE_VAL, NowMs(), 0},
                                      {"tiny", 1e-300, NowMs(), 0},
                                      {"third", 1.0 / 3.0, NowMs(), 0}});
  CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run got, reg_->GetRun(id));
  ASSERT_THAT(got.metrics, SizeIs(5));
  std::map<std::string, double> values;
  for (const Metric& m : got.metrics) {
    values[m.key] = m.value;
  }
  EXPECT_TRUE(std::isnan(values["nan"]));
  EXPECT_EQ(values["inf"], HUGE_VAL);
  EXPECT_EQ(values["ninf"], -HUGE_VAL);
  EXPECT_EQ(values["tiny"], 1e-300);
  EXPECT_EQ(values["third"], 1.0 / 3.0);
  // A NaN never satisfies a comparison.
  EXPECT_THAT(SearchIds(exp, "metrics.nan > -1"), IsEmpty());
  EXPECT_THAT(SearchIds(exp, "metrics.inf > 1e300"), ElementsAre(id));
}

TEST_P(RegistryTest, ParamsCannotChangeAndAFailedBatchWritesNothing) {
  const std::string exp = NewExperiment();
  CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run run, reg_->CreateRun({.experiment_id = exp}));
  const std::string& id = run.info.run_id;
  ASSERT_THAT(reg_->LogBatch(id, {}, {{"eta", "0.1"}}, {}), IsOk());
  EXPECT_THAT(reg_->LogBatch(id, {}, {{"eta", "0.1"}}, {}), IsOk());  // same value: fine
  EXPECT_THAT(reg_->LogBatch(id, {{"auc", 0.9, NowMs(), 0}}, {{"eta", "0.2"}}, {{"a", "b"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "Changing param values"));
  EXPECT_THAT(reg_->LogBatch(id, {}, {{"x", "1"}, {"x", "2"}}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, "Duplicate parameter"));
  CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run got, reg_->GetRun(id));
  EXPECT_THAT(got.metrics, IsEmpty());
  EXPECT_THAT(got.params, ElementsAre(Param{"eta", "0.1"}));
  EXPECT_EQ(got.tags.size(), 1U);  // only mlflow.runName
}

TEST_P(RegistryTest, LogBatchEnforcesMlflowLimits) {
  const std::string exp = NewExperiment();
  CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run run, reg_->CreateRun({.experiment_id = exp}));
  std::vector<Metric> metrics;
  metrics.reserve(1001);
  for (int i = 0; i < 1000; ++i) {
    metrics.push_back({absl::StrCat("m", i % 20), i * 0.001, NowMs(), i / 20});
  }
  EXPECT_THAT(reg_->LogBatch(run.info.run_id, metrics, {}, {}), IsOk());
  metrics.push_back({"one_too_many", 1, NowMs(), 0});
  EXPECT_THAT(reg_->LogBatch(run.info.run_id, metrics, {}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, "at most 1000 metrics"));
  std::vector<Param> params;
  params.reserve(101);
  for (int i = 0; i < 101; ++i) {
    params.push_back({absl::StrCat("p", i), "v"});
  }
  EXPECT_THAT(reg_->LogBatch(run.info.run_id, {}, params, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<Tag> tags(101, Tag{"t", "v"});
  EXPECT_THAT(reg_->LogBatch(run.info.run_id, {}, {}, tags),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(reg_->LogBatch(run.info.run_id, {{"bad;key", 1, 0, 0}}, {}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, "bad;key"));
  EXPECT_THAT(reg_->LogBatch(run.info.run_id, {}, {{"k", std::string(6001, 'x')}}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, "longer than 6000"));
  CHURN_ASSERT_OK_AND_ASSIGN(const auto history,
                             reg_->GetMetricHistory(run.info.run_id, "m0", 0, ""));
  EXPECT_THAT(history.items, SizeIs(50));
}

TEST_P(RegistryTest, DeletedRunsRefuseWritesAndHideFromSearch) {
  const std::string exp = NewExperiment();
  const std::string id = NewRun(exp, {{"auc", 0.9, NowMs(), 0}}, {}, {{"x", "1"}});
  ASSERT_THAT(reg_->DeleteTag(id, "x"), IsOk());
  EXPECT_THAT(reg_->DeleteTag(id, "x"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(reg_->DeleteRun(id), IsOk());
  EXPECT_THAT(reg_->LogBatch(id, {{"auc", 1, 0, 1}}, {}, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(SearchIds(exp, ""), IsEmpty());
  CHURN_ASSERT_OK_AND_ASSIGN(const auto all,
                             reg_->SearchRuns({.experiment_ids = {exp}, .view = ViewType::kAll}));
  EXPECT_THAT(all.items, SizeIs(1));
  ASSERT_THAT(reg_->RestoreRun(id), IsOk());
  EXPECT_THAT(SearchIds(exp, ""), ElementsAre(id));
}

// --- Search --------------------------------------------------------------------------------

class RunSearchTest : public RegistryTest {
 protected:
  void SetUp() override {
    RegistryTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    exp_ = NewExperiment();
    // Five runs, newest last: auc rises, depth alternates, one report run without auc.
    for (int i = 0; i < 4; ++i) {
      ids_.push_back(NewRun(exp_, {{"valid_auc", 0.985 + 0.003 * i, NowMs(), 0}},
                            {{"max_depth", i % 2 == 0 ? "6" : "4"}},
                            {{"flow", "train"}, {"owner", i < 2 ? "Ana" : "bo"}}));
    }
    ids_.push_back(NewRun(exp_, {}, {}, {{"flow", "report"}}));
  }

  std::string exp_;
  std::vector<std::string> ids_;  // ids_[0] oldest
};

INSTANTIATE_TEST_SUITE_P(Backends, RunSearchTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& p) { return p.param; });

TEST_P(RunSearchTest, TheIssueExampleFilter) {
  // auc: 0.985, 0.988, 0.991, 0.994; depth 6 for runs 0 and 2.
  EXPECT_THAT(SearchIds(exp_,
                        "metrics.valid_auc > 0.99 and params.max_depth = '6' and "
                        "tags.flow = 'train'"),
              ElementsAre(ids_[2]));
}

TEST_P(RunSearchTest, DefaultOrderIsNewestFirst) {
  EXPECT_THAT(SearchIds(exp_, ""), ElementsAre(ids_[4], ids_[3], ids_[2], ids_[1], ids_[0]));
}

TEST_P(RunSearchTest, NumericComparisons) {
  EXPECT_THAT(SearchIds(exp_, "metrics.valid_auc >= 0.991"), ElementsAre(ids_[3], ids_[2]));
  EXPECT_THAT(SearchIds(exp_, "metrics.valid_auc < 0.988"), ElementsAre(ids_[0]));
  EXPECT_THAT(SearchIds(exp_, "metrics.valid_auc <= 0.988"), ElementsAre(ids_[1], ids_[0]));
  EXPECT_THAT(SearchIds(exp_, "metrics.valid_auc = 0.988"), ElementsAre(ids_[1]));
  EXPECT_THAT(SearchIds(exp_, "metrics.valid_auc != 0.988"),
              ElementsAre(ids_[3], ids_[2], ids_[0]));
  EXPECT_THAT(SearchIds(exp_, "metrics.missing > 0"), IsEmpty());
  CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run r0, reg_->GetRun(ids_[0]));
  EXPECT_THAT(SearchIds(exp_, absl::StrCat("attributes.start_time <= ", r0.info.start_time)),
              ElementsAre(ids_[0]));
}

TEST_P(RunSearchTest, StringComparisonsLikeAndIlike) {
  EXPECT_THAT(SearchIds(exp_, "params.max_depth != '6'"), ElementsAre(ids_[3], ids_[1]));
  EXPECT_THAT(SearchIds(exp_, "tags.owner LIKE 'A%'"), ElementsAre(ids_[1], ids_[0]));
  EXPECT_THAT(SearchIds(exp_, "tags.owner LIKE 'a%'"), IsEmpty());  // LIKE is case-sensitive
  EXPECT_THAT(SearchIds(exp_, "tags.owner ILIKE 'a%'"), ElementsAre(ids_[1], ids_[0]));
  EXPECT_THAT(SearchIds(exp_, "attributes.status = 'FINISHED' and tags.flow = 'report'"),
              ElementsAre(ids_[4]));
  EXPECT_THAT(
      SearchIds(exp_, absl::StrCat("attributes.run_id IN ('", ids_[1], "', '", ids_[3], "')")),
      ElementsAre(ids_[3], ids_[1]));
  EXPECT_THAT(SearchIds(exp_, "tags.owner IS NULL"), ElementsAre(ids_[4]));
  EXPECT_THAT(SearchIds(exp_, "params.max_depth IS NOT NULL and tags.owner = 'bo'"),
              ElementsAre(ids_[3], ids_[2]));
  EXPECT_THAT(SearchIds(exp_, "run_name LIKE 'run-%' and attributes.end_time IS NOT NULL"),
              SizeIs(5));
}

TEST_P(RunSearchTest, OrderByMetricsParamsAndAttributesWithMissingLast) {
  EXPECT_THAT(SearchIds(exp_, "", {"metrics.valid_auc DESC"}),
              ElementsAre(ids_[3], ids_[2], ids_[1], ids_[0], ids_[4]));
  EXPECT_THAT(SearchIds(exp_, "", {"metrics.valid_auc ASC"}),
              ElementsAre(ids_[0], ids_[1], ids_[2], ids_[3], ids_[4]));
  EXPECT_THAT(SearchIds(exp_, "tags.flow = 'train'", {"params.max_depth", "attributes.start_time"}),
              ElementsAre(ids_[1], ids_[3], ids_[0], ids_[2]));
}

TEST_P(RunSearchTest, PageTokensVisitEveryRunOnce) {
  std::vector<std::string> seen;
  std::string token;
  for (int page = 0; page < 10; ++page) {
    CHURN_ASSERT_OK_AND_ASSIGN(const auto result,
                               reg_->SearchRuns({.experiment_ids = {exp_},
                                                 .order_by = {"metrics.valid_auc DESC"},
                                                 .max_results = 2,
                                                 .page_token = token}));
    EXPECT_LE(result.items.size(), 2U);
    for (const registry::Run& r : result.items) {
      seen.push_back(r.info.run_id);
    }
    token = result.next_page_token;
    if (token.empty()) {
      break;
    }
  }
  EXPECT_THAT(seen, ElementsAre(ids_[3], ids_[2], ids_[1], ids_[0], ids_[4]));
}

TEST_P(RunSearchTest, SearchReturnsLatestMetricsParamsAndTags) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const auto page,
      reg_->SearchRuns({.experiment_ids = {exp_}, .filter = "params.max_depth = '4'"}));
  ASSERT_THAT(page.items, SizeIs(2));
  const registry::Run& r = page.items[0];
  EXPECT_EQ(r.info.run_id, ids_[3]);
  ASSERT_THAT(r.metrics, SizeIs(1));
  EXPECT_DOUBLE_EQ(r.metrics[0].value, 0.994);
  EXPECT_THAT(r.params, ElementsAre(Param{"max_depth", "4"}));
  EXPECT_THAT(r.tags, SizeIs(3));
}

TEST_P(RunSearchTest, BadQueriesAreInvalidArgument) {
  const auto search = [this](SearchQuery q) {
    q.experiment_ids = {exp_};
    return reg_->SearchRuns(q);
  };
  EXPECT_THAT(search({.filter = "metrics.valid_auc > 'high'"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(search({.filter = "attributes.colour = 'red'"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "colour"));
  EXPECT_THAT(search({.filter = "metrics.a > 1 or metrics.b > 1"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "OR"));
  EXPECT_THAT(search({.order_by = {"metrics.auc SIDEWAYS"}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(search({.max_results = 0}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(search({.max_results = 50001}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(search({.page_token = "not a token"}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(reg_->SearchRuns({}), StatusIs(absl::StatusCode::kInvalidArgument));
}

// --- Artifacts -----------------------------------------------------------------------------

TEST_P(RegistryTest, ArtifactsAreContentAddressedAndChecked) {
  const std::string exp = NewExperiment();
  const std::string a = NewRun(exp, {});
  const std::string b = NewRun(exp, {});
  CHURN_ASSERT_OK_AND_ASSIGN(const ArtifactRef ref,
                             reg_->LogArtifact(a, "model/model.json", "{\"trees\": []}"));
  EXPECT_EQ(ref.sha256, base::Sha256Hex("{\"trees\": []}"));
  ASSERT_THAT(reg_->LogArtifact(a, "model/pipeline.json", "{}"), IsOk());
  ASSERT_THAT(reg_->LogArtifact(b, "copy.json", "{\"trees\": []}"), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const auto blobs, reg_->Artifacts().List());
  EXPECT_THAT(blobs, SizeIs(2));  // the same bytes are stored once
  CHURN_ASSERT_OK_AND_ASSIGN(const auto files, reg_->ListArtifacts(a, "model/"));
  ASSERT_THAT(files, SizeIs(2));
  EXPECT_EQ(files[0].path, "model/model.json");
  EXPECT_THAT(reg_->ReadArtifact(a, "model/pipeline.json"), IsOkAndHolds(std::string("{}")));
  EXPECT_THAT(reg_->ReadArtifact(a, "nope"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(reg_->LogArtifact(a, "../escape", "x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(reg_->LogArtifact(a, "/abs", "x"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// --- Registered models and versions --------------------------------------------------------

TEST_P(RegistryTest, RegisteredModelsAreUniqueAndSearchable) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const RegisteredModel m,
      reg_->CreateRegisteredModel("churn", "the churn model", {{"owner", "risk"}}));
  EXPECT_EQ(m.name, "churn");
  EXPECT_EQ(m.creation_timestamp, NowMs());
  EXPECT_FALSE(m.latest_version.has_value());
  EXPECT_THAT(reg_->CreateRegisteredModel("churn", "", {}),
              StatusIs(absl::StatusCode::kAlreadyExists, "churn"));
  ASSERT_THAT(reg_->CreateRegisteredModel("churn-shadow", "", {}), IsOk());
  ASSERT_THAT(reg_->CreateRegisteredModel("other", "", {}), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const auto like,
                             reg_->SearchRegisteredModels({.filter = "name LIKE 'churn%'"}));
  EXPECT_THAT(like.items, SizeIs(2));
  CHURN_ASSERT_OK_AND_ASSIGN(const auto tagged,
                             reg_->SearchRegisteredModels({.filter = "tags.owner = 'risk'"}));
  ASSERT_THAT(tagged.items, SizeIs(1));
  clock_.Advance(absl::Seconds(3));
  CHURN_ASSERT_OK_AND_ASSIGN(const RegisteredModel updated,
                             reg_->UpdateRegisteredModel("churn", "v2 text"));
  EXPECT_EQ(updated.description, "v2 text");
  EXPECT_EQ(updated.last_updated_timestamp, NowMs());
  ASSERT_THAT(reg_->SetRegisteredModelTag("churn", {"stage", "prod"}), IsOk());
  ASSERT_THAT(reg_->DeleteRegisteredModelTag("churn", "owner"), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const RegisteredModel got, reg_->GetRegisteredModel("churn"));
  EXPECT_THAT(got.tags, ElementsAre(Tag{"stage", "prod"}));
  EXPECT_THAT(reg_->GetRegisteredModel("missing"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(RegistryTest, ModelVersionsNumberUpAndCarryTheRunsFiles) {
  const std::string exp = NewExperiment();
  const std::string run = NewRun(exp, {{"valid_auc", 0.99, NowMs(), 0}});
  ASSERT_THAT(reg_->LogArtifact(run, "model/model.json", "M"), IsOk());
  ASSERT_THAT(reg_->LogArtifact(run, "model/pipeline.json", "P"), IsOk());
  ASSERT_THAT(reg_->LogArtifact(run, "modelling-notes.txt", "N"), IsOk());
  ASSERT_THAT(reg_->CreateRegisteredModel("churn", "", {}), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(
      const ModelVersion v1,
      reg_->CreateModelVersion({.name = "churn",
                                .source = absl::StrCat("runs:/", run, "/model"),
                                .signature = R"({"inputs":[{"name":"customer_age"}]})",
                                .metrics = {{"test_auc", 0.991}, {"test_f1", 0.9}},
                                .tags = {{"trained_by", "churn train"}}}));
  EXPECT_EQ(v1.version, 1);
  EXPECT_EQ(v1.run_id, run);
  EXPECT_EQ(v1.status, "READY");
  ASSERT_THAT(v1.artifacts, SizeIs(2));  // model/ only, not modelling-notes.txt
  EXPECT_EQ(v1.artifacts[0].path, "model.json");
  EXPECT_EQ(v1.artifacts[0].sha256, base::Sha256Hex("M"));
  EXPECT_EQ(v1.signature, R"({"inputs":[{"name":"customer_age"}]})");
  ASSERT_THAT(v1.metrics, SizeIs(2));
  EXPECT_EQ(v1.metrics[0].second, 0.991);
  CHURN_ASSERT_OK_AND_ASSIGN(const ModelVersion v2,
                             reg_->CreateModelVersion({.name = "churn", .source = "s3://b/m"}));
  EXPECT_EQ(v2.version, 2);
  EXPECT_THAT(v2.artifacts, IsEmpty());
  CHURN_ASSERT_OK_AND_ASSIGN(const RegisteredModel m, reg_->GetRegisteredModel("churn"));
  EXPECT_EQ(m.latest_version, 2);
  EXPECT_THAT(reg_->CreateModelVersion({.name = "nope", .source = "x"}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(reg_->CreateModelVersion(
                  {.name = "churn", .source = "runs:/0123456789abcdef0123456789abcdef/model"}),
              StatusIs(absl::StatusCode::kNotFound));
  CHURN_ASSERT_OK_AND_ASSIGN(
      const auto by_run,
      reg_->SearchModelVersions({.filter = absl::StrCat("run_id = '", run, "'")}));
  ASSERT_THAT(by_run.items, SizeIs(1));
  EXPECT_EQ(by_run.items[0].version, 1);
  CHURN_ASSERT_OK_AND_ASSIGN(const auto by_name,
                             reg_->SearchModelVersions({.filter = "name = 'churn'"}));
  ASSERT_THAT(by_name.items, SizeIs(2));
  EXPECT_EQ(by_name.items[0].version, 2);  // newest first
  ASSERT_THAT(reg_->SetModelVersionTag("churn", 2, {"gate", "passed"}), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const auto tagged,
                             reg_->SearchModelVersions({.filter = "tags.gate = 'passed'"}));
  ASSERT_THAT(tagged.items, SizeIs(1));
  EXPECT_EQ(tagged.items[0].version, 2);
  CHURN_ASSERT_OK_AND_ASSIGN(const ModelVersion described,
                             reg_->UpdateModelVersion("churn", 1, "first"));
  EXPECT_EQ(described.description, "first");
  EXPECT_THAT(reg_->GetModelVersion("churn", 3), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(RegistryTest, ConcurrentVersionCreationKeepsNumbersDense) {
  ASSERT_THAT(reg_->CreateRegisteredModel("churn", "", {}), IsOk());
  // A second Registry object on the same database: its own connection, as another process.
  CHURN_ASSERT_OK_AND_ASSIGN(auto other,
                             OpenRegistry({.url = url_,
                                           .artifact_store_uri = (dir_.Path() / "objects").string(),
                                           .clock = &clock_}));
  std::vector<int64_t> a;
  std::vector<int64_t> b;
  const auto create = [](Registry* r, std::vector<int64_t>* out) {
    for (int i = 0; i < 25; ++i) {
      auto v = r->CreateModelVersion({.name = "churn", .source = "s3://x"});
      if (v.ok()) {
        out->push_back(v->version);
      }
    }
  };
  std::thread ta(create, reg_.get(), &a);
  std::thread tb(create, other.get(), &b);
  ta.join();
  tb.join();
  ASSERT_EQ(a.size() + b.size(), 50U);
  std::set<int64_t> all(a.begin(), a.end());
  all.insert(b.begin(), b.end());
  EXPECT_EQ(all.size(), 50U);
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), 50);
}

// --- Aliases -------------------------------------------------------------------------------

class AliasTest : public RegistryTest {
 protected:
  void SetUp() override {
    RegistryTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    ASSERT_THAT(reg_->CreateRegisteredModel("churn", "", {}), IsOk());
    for (int i = 0; i < 3; ++i) {
      ASSERT_THAT(reg_->CreateModelVersion({.name = "churn", .source = "s3://m"}), IsOk());
    }
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, AliasTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& p) { return p.param; });

TEST_P(AliasTest, AliasesMoveAndResolve) {
  ASSERT_THAT(reg_->SetAlias("churn", "production", 1, "ana", "first deploy"), IsOk());
  ASSERT_THAT(reg_->SetAlias("churn", "candidate", 2, "train", "new best"), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const ModelVersion prod,
                             reg_->GetModelVersionByAlias("churn", "production"));
  EXPECT_EQ(prod.version, 1);
  EXPECT_THAT(prod.aliases, ElementsAre("production"));
  ASSERT_THAT(reg_->SetAlias("churn", "production", 2, "deploy", "gates passed"), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const RegisteredModel m, reg_->GetRegisteredModel("churn"));
  EXPECT_THAT(m.aliases, ElementsAre(std::pair<std::string, int64_t>{"candidate", 2},
                                     std::pair<std::string, int64_t>{"production", 2}));
  CHURN_ASSERT_OK_AND_ASSIGN(const ModelVersion v2, reg_->GetModelVersion("churn", 2));
  EXPECT_THAT(v2.aliases, ElementsAre("candidate", "production"));
  EXPECT_THAT(reg_->GetModelVersionByAlias("churn", "shadow"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(reg_->GetModelVersionByAlias("nope", "production"),
              StatusIs(absl::StatusCode::kNotFound));
}

// SetAliasIf is a compare-and-set: of deploys racing from separate connections, each expecting
// production at v1, exactly one moves it; the others are told where it is now.
TEST_P(AliasTest, SetAliasIfMovesOnlyFromTheExpectedVersion) {
  EXPECT_THAT(reg_->SetAliasIf("churn", "production", 2, 1, "a", "r"),
              StatusIs(absl::StatusCode::kFailedPrecondition, "names nothing, not v1"));
  ASSERT_THAT(reg_->SetAliasIf("churn", "production", 1, std::nullopt, "a", "first"), IsOk());
  std::vector<std::unique_ptr<Registry>> others;
  for (int i = 0; i < 4; ++i) {
    CHURN_ASSERT_OK_AND_ASSIGN(
        auto other, OpenRegistry({.url = url_,
                                  .artifact_store_uri = (dir_.Path() / "objects").string(),
                                  .clock = &clock_}));
    others.push_back(std::move(other));
  }
  std::vector<absl::Status> results(others.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < others.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] = others[i]->SetAliasIf("churn", "production", 2 + static_cast<int64_t>(i % 2), 1,
                                         absl::StrCat("deployer", i), "race");
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  int won = 0;
  for (const absl::Status& r : results) {
    if (r.ok()) {
      ++won;
    } else {
      EXPECT_THAT(r, StatusIs(absl::StatusCode::kFailedPrecondition, "it moved meanwhile"));
    }
  }
  EXPECT_EQ(won, 1);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<AliasEvent> history,
                             reg_->AliasHistory("churn", "production"));
  ASSERT_EQ(history.size(), 2U) << "one move for the first deploy, one for the winner";
  EXPECT_EQ(history.back().previous_version, 1);
}

TEST_P(AliasTest, ReservedAndDanglingAliasesAreRefused) {
  for (const char* bad : {"latest", "LATEST", "v1", "V42", "", "has space", "semi;colon"}) {
    EXPECT_THAT(reg_->SetAlias("churn", bad, 1, "a", "r"),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
  EXPECT_THAT(reg_->SetAlias("churn", "production", 9, "a", "r"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(reg_->SetAlias("nope", "production", 1, "a", "r"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(reg_->DeleteAlias("churn", "production", "a", "r"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(reg_->SetAlias("churn", "v1beta", 1, "a", "r"), IsOk());
}

TEST_P(AliasTest, HistoryRecordsEveryMoveAndAnswersWhichVersionAtTimeT) {
  const int64_t t0 = NowMs();
  clock_.Advance(absl::Minutes(1));
  ASSERT_THAT(reg_->SetAlias("churn", "production", 1, "ana", "first deploy"), IsOk());
  const int64_t t1 = NowMs();
  clock_.Advance(absl::Hours(2));
  ASSERT_THAT(reg_->SetAlias("churn", "production", 3, "deploy", "v3 passed the gates"), IsOk());
  const int64_t t2 = NowMs();
  clock_.Advance(absl::Hours(1));
  ASSERT_THAT(reg_->SetAlias("churn", "candidate", 2, "train", ""), IsOk());
  ASSERT_THAT(reg_->DeleteAlias("churn", "production", "ops", "incident 42: rollback"), IsOk());
  const int64_t t3 = NowMs();

  CHURN_ASSERT_OK_AND_ASSIGN(const auto history, reg_->AliasHistory("churn", "production"));
  ASSERT_THAT(history, SizeIs(3));
  EXPECT_EQ(history[0].version, 1);
  EXPECT_FALSE(history[0].previous_version.has_value());
  EXPECT_EQ(history[0].actor, "ana");
  EXPECT_EQ(history[0].timestamp, t1);
  EXPECT_EQ(history[1].version, 3);
  EXPECT_EQ(history[1].previous_version, 1);
  EXPECT_EQ(history[1].reason, "v3 passed the gates");
  EXPECT_FALSE(history[2].version.has_value());
  EXPECT_EQ(history[2].previous_version, 3);
  EXPECT_EQ(history[2].actor, "ops");
  CHURN_ASSERT_OK_AND_ASSIGN(const auto every, reg_->AliasHistory("churn", ""));
  EXPECT_THAT(every, SizeIs(4));

  EXPECT_THAT(reg_->AliasAt("churn", "production", t0), IsOkAndHolds(std::optional<int64_t>()));
  EXPECT_THAT(reg_->AliasAt("churn", "production", t1), IsOkAndHolds(1));
  EXPECT_THAT(reg_->AliasAt("churn", "production", t1 + int64_t{3600} * 1000), IsOkAndHolds(1));
  EXPECT_THAT(reg_->AliasAt("churn", "production", t2), IsOkAndHolds(3));
  EXPECT_THAT(reg_->AliasAt("churn", "production", t3), IsOkAndHolds(std::optional<int64_t>()));
  EXPECT_THAT(reg_->AliasAt("churn", "candidate", t3), IsOkAndHolds(2));
}

TEST_P(AliasTest, DeletingAVersionOrModelRemovesItsAliasesButKeepsHistory) {
  ASSERT_THAT(reg_->SetAlias("churn", "production", 2, "ana", ""), IsOk());
  ASSERT_THAT(reg_->SetAlias("churn", "candidate", 3, "ana", ""), IsOk());
  ASSERT_THAT(reg_->DeleteModelVersion("churn", 2), IsOk());
  EXPECT_THAT(reg_->GetModelVersionByAlias("churn", "production"),
              StatusIs(absl::StatusCode::kNotFound));
  CHURN_ASSERT_OK_AND_ASSIGN(const auto history, reg_->AliasHistory("churn", "production"));
  ASSERT_THAT(history, SizeIs(2));
  EXPECT_EQ(history[1].reason, "model version deleted");
  // Version numbers are never reused.
  CHURN_ASSERT_OK_AND_ASSIGN(const ModelVersion v4,
                             reg_->CreateModelVersion({.name = "churn", .source = "s3://m"}));
  EXPECT_EQ(v4.version, 4);
  ASSERT_THAT(reg_->DeleteRegisteredModel("churn"), IsOk());
  EXPECT_THAT(reg_->GetRegisteredModel("churn"), StatusIs(absl::StatusCode::kNotFound));
  CHURN_ASSERT_OK_AND_ASSIGN(const auto after, reg_->AliasHistory("churn", ""));
  EXPECT_THAT(after, SizeIs(4));  // 2 sets, 2 removals
}

// --- Retention -----------------------------------------------------------------------------

TEST_P(RegistryTest, GarbageCollectKeepsRecentRegisteredAndRunningRuns) {
  const std::string exp = NewExperiment();
  std::vector<std::string> runs;
  for (int i = 0; i < 5; ++i) {
    runs.push_back(NewRun(exp, {{"auc", 0.9, NowMs(), 0}}));
    ASSERT_THAT(reg_->LogArtifact(runs.back(), "model.json", absl::StrCat("model ", i)), IsOk());
    ASSERT_THAT(reg_->LogArtifact(runs.back(), "shared.json", "same bytes"), IsOk());
  }
  clock_.Advance(absl::Seconds(1));
  CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run running, reg_->CreateRun({.experiment_id = exp}));
  ASSERT_THAT(reg_->CreateRegisteredModel("churn", "", {}), IsOk());
  ASSERT_THAT(reg_->CreateModelVersion(
                  {.name = "churn", .source = absl::StrCat("runs:/", runs[0], "/model.json")}),
              IsOk());
  clock_.Advance(absl::Hours(48));
  const std::string fresh = NewRun(exp, {});
  // Keep the newest 2 (fresh, running); of the rest only those older than a day and not
  // registered go: runs 1..4.
  CHURN_ASSERT_OK_AND_ASSIGN(
      const GcResult dry,
      reg_->GarbageCollect({.keep_last = 2, .older_than_ms = 86400000, .dry_run = true}));
  EXPECT_THAT(dry.deleted_runs, SizeIs(4));
  EXPECT_EQ(dry.artifacts_deleted, 4);
  EXPECT_THAT(reg_->GetRun(runs[1]), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const GcResult gc,
                             reg_->GarbageCollect({.keep_last = 2, .older_than_ms = 86400000}));
  EXPECT_EQ(std::set<std::string>(gc.deleted_runs.begin(), gc.deleted_runs.end()),
            std::set<std::string>(runs.begin() + 1, runs.end()));
  EXPECT_EQ(gc.artifacts_deleted, 4);  // model 1..4; model 0 and the shared blob stay
  for (size_t i = 1; i < runs.size(); ++i) {
    EXPECT_THAT(reg_->GetRun(runs[i]), StatusIs(absl::StatusCode::kNotFound));
  }
  EXPECT_THAT(reg_->GetRun(runs[0]), IsOk());
  EXPECT_THAT(reg_->GetRun(running.info.run_id), IsOk());
  EXPECT_THAT(reg_->GetRun(fresh), IsOk());
  EXPECT_THAT(reg_->ReadArtifact(runs[0], "model.json"), IsOkAndHolds(std::string("model 0")));
  EXPECT_THAT(reg_->ReadArtifact(runs[0], "shared.json"), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const ModelVersion v1, reg_->GetModelVersion("churn", 1));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string bytes,
                             reg_->Artifacts().Get(v1.artifacts[0].sha256));
  EXPECT_EQ(bytes, "model 0");
  EXPECT_THAT(reg_->GarbageCollect({.keep_last = -1}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace churn::registry
