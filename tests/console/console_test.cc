// The console against real stores: a SQLite registry filled through the Registry API (a study
// with trial runs and metric histories, a model with versions and alias moves), a SQLite flow-
// run store, a reports folder written by report::PublishReport, all served by a real http::Server
// on loopback. Pages are checked for what they show, where they link, escaping, errors and
// well-formedness (every element closed in order).
#include "churn/console/console.h"

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/http_client.h"
#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/report/report_folder.h"
#include "churn/train/study.h"

namespace churn::console {
namespace {

using ::churn::testing::HttpFetch;
using ::churn::testing::HttpResponse;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;

// 2026-03-01T12:00:00Z.
const absl::Time kNow = absl::FromUnixSeconds(1772366400);

constexpr char kEvil[] = "<script>alert(1)</script>";

// A declared flow (FlowSettings has fields without defaults: no designated initializers).
base::FlowSettings Flow(const std::string& name, const std::string& kind, const std::string& cron,
                        const std::string& every, bool enabled = true) {
  base::FlowSettings f;
  f.name = name;
  f.kind = kind;
  f.cron = cron;
  f.every = every;
  f.enabled = enabled;
  return f;
}

// Counts the non-overlapping occurrences of `needle`.
size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// Empty when every element of `html` is closed in order (void elements and "/>" aside, the
// raw text of <style> skipped; the console writes no comments); else the first problem.
std::string TagProblem(const std::string& html) {
  static const std::set<std::string> kVoid = {"meta", "input", "br", "hr", "img", "link", "wbr"};
  std::vector<std::string> open;
  size_t at = 0;
  while ((at = html.find('<', at)) != std::string::npos) {
    const size_t end = html.find('>', at);
    if (end == std::string::npos) {
      return "unterminated tag";
    }
    std::string tag = html.substr(at + 1, end - at - 1);
    at = end + 1;
    if (tag.empty() || tag[0] == '!') {
      continue;
    }
    const bool closing = tag[0] == '/';
    const bool self_closing = tag.back() == '/';
    std::string name = closing ? tag.substr(1) : tag;
    name = absl::AsciiStrToLower(name.substr(0, name.find_first_of(" \n/")));
    if (closing) {
      if (open.empty() || open.back() != name) {
        return absl::StrCat("</", name, "> closes <", open.empty() ? "nothing" : open.back(), ">");
      }
      open.pop_back();
    } else if (!self_closing && !kVoid.contains(name)) {
      open.push_back(name);
      if (name == "style") {
        at = html.find("</style>", at);
      }
    }
  }
  return open.empty() ? "" : absl::StrCat("<", open.back(), "> never closed");
}

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CHURN_ASSERT_OK_AND_ASSIGN(
        registry_,
        registry::OpenRegistry({.url = "sqlite:" + (dir_.Path() / "registry.db").string(),
                                .artifact_store_uri = (dir_.Path() / "objects").string(),
                                .clock = &clock_}));
    CHURN_ASSERT_OK_AND_ASSIGN(
        runs_, flows::RunStore::Open("sqlite:" + (dir_.Path() / "flows.db").string()));
    reports_dir_ = (dir_.Path() / "reports").string();
  }

  void TearDown() override { server_.reset(); }

  // Starts the console with the sources as set up by the test.
  void Start() {
    ConsoleSources sources{.registry = registry_.get(),
                           .runs = runs_.get(),
                           .flows = flows_,
                           .time_zone = "UTC",
                           .reports_dir = reports_dir_,
                           .reports_url = "/reports/",
                           .drift_json = drift_json_,
                           .model_name = "churn",
                           .clock = &clock_};
    AddConsoleRoutes(router_, std::move(sources));
    CHURN_ASSERT_OK_AND_ASSIGN(
        server_, http::Server::Start({.port = 0, .threads = 2}, [this](const http::Request& r) {
          return router_.Dispatch(r);
        }));
  }

  HttpResponse Get(const std::string& target, absl::string_view method = "GET") {
    return HttpFetch(method, absl::StrCat("http://127.0.0.1:", server_->Port(), target));
  }

  // GET that must answer 200 with a well-formed page.
  std::string Page(const std::string& target) {
    const HttpResponse r = Get(target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    EXPECT_EQ(TagProblem(r.body), "") << target;
    return r.body;
  }

  int64_t NowMs() const { return absl::ToUnixMillis(clock_.Now()); }

  std::string Experiment(const std::string& name) {
    auto id = registry_->CreateExperiment(name, "", {});
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or("");
  }

  // A finished run lasting `seconds`, with metrics (step 0), params and tags.
  std::string FinishedRun(const std::string& experiment, const std::string& name,
                          const std::vector<std::pair<std::string, double>>& metrics,
                          const std::vector<registry::Param>& params,
                          const std::vector<registry::Tag>& tags, int seconds = 3) {
    clock_.Advance(absl::Seconds(10));
    auto run = registry_->CreateRun({.experiment_id = experiment, .run_name = name, .tags = tags});
    EXPECT_TRUE(run.ok()) << run.status();
    std::string id = run.ok() ? run->info.run_id : "";
    std::vector<registry::Metric> values;
    values.reserve(metrics.size());
    for (const auto& [key, value] : metrics) {
      values.push_back({key, value, NowMs(), 0});
    }
    EXPECT_TRUE(registry_->LogBatch(id, values, params, {}).ok());
    clock_.Advance(absl::Seconds(seconds));
    EXPECT_TRUE(
        registry_
            ->UpdateRun(
                {.run_id = id, .status = registry::RunStatus::kFinished, .end_time = NowMs()})
            .ok());
    return id;
  }

  // A study of four trials (nodes, valid AUC): 0 (100, .90), 1 (200, .95), 2 (300, .93),
  // 3 (400, .97), and a pruned trial 4. The front is 0, 1, 3.
  void AddStudy() {
    const std::string exp = Experiment("churn-train");
    auto study = registry_->CreateRun(
        {.experiment_id = exp, .run_name = "study-bank", .tags = {{"churn.kind", "study"}}});
    ASSERT_TRUE(study.ok()) << study.status();
    study_id_ = study->info.run_id;
    const std::vector<std::pair<double, double>> trials = {
        {100, 0.90}, {200, 0.95}, {300, 0.93}, {400, 0.97}, {150, 0.80}};
    for (size_t i = 0; i < trials.size(); ++i) {
      const bool pruned = i == 4;
      const std::string id = FinishedRun(exp, absl::StrCat("trial-", i),
                                         {{"valid_auc", trials[i].second},
                                          {"nodes", trials[i].first},
                                          {"trees", 10},
                                          {"us_per_row", trials[i].first / 100},
                                          {"fit_seconds", 1.5}},
                                         {{"max_depth", absl::StrCat(3 + i)}, {"eta", "0.1"}},
                                         {{"mlflow.parentRunId", study_id_},
                                          {"churn.trial", absl::StrCat(i)},
                                          {"churn.trial_state", pruned ? "PRUNED" : "COMPLETE"}});
      std::vector<registry::Metric> curve;
      curve.reserve(7);
      for (int step = 0; step < 7; ++step) {
        curve.push_back({"valid_auc_by_round", trials[i].second - 0.1 / (step + 1), NowMs(), step});
      }
      ASSERT_TRUE(registry_->LogBatch(id, curve, {}, {}).ok());
      trial_ids_.push_back(id);
    }
  }

  // Model "churn": v1 and v2 from trials 1 and 3; candidate and production moved to v1, then
  // v2, then production rolled back to v1.
  void AddModel() {
    ASSERT_TRUE(registry_->CreateRegisteredModel("churn", "Churn classifier", {}).ok());
    for (const size_t trial : {size_t{1}, size_t{3}}) {
      clock_.Advance(absl::Minutes(1));
      auto v = registry_->CreateModelVersion(
          {.name = "churn",
           .source = absl::StrCat("runs:/", trial_ids_[trial], "/model"),
           .run_id = trial_ids_[trial],
           .description = absl::StrCat("study ", study_id_, ", trial ", trial),
           .signature = R"({"inputs":[{"name":"Customer_Age","type":"integer"}]})",
           .metrics = {{"test_auc", 0.9 + 0.01 * static_cast<double>(trial)}},
           .tags = {{"study_run_id", study_id_}}});
      ASSERT_TRUE(v.ok()) << v.status();
    }
    const std::vector<std::tuple<std::string, int64_t, std::string>> moves = {
        {"candidate", 1, "study: trial 1"},
        {"production", 1, "gates passed"},
        {"candidate", 2, "study: trial 3"},
        {"production", 2, "gates passed again"},
        {"production", 1, "rollback: p99 too high"}};
    for (const auto& [alias, version, reason] : moves) {
      clock_.Advance(absl::Minutes(5));
      ASSERT_TRUE(registry_->SetAlias("churn", alias, version, "churn deploy", reason).ok());
    }
  }

  base::TempDir dir_;
  base::FakeClock clock_{kNow - absl::Hours(2)};
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<flows::RunStore> runs_;
  std::vector<base::FlowSettings> flows_;
  std::string reports_dir_;
  std::function<std::string()> drift_json_;
  std::string study_id_;
  std::vector<std::string> trial_ids_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
};

TEST_F(ConsoleTest, OverviewLinksEveryPageAndNamesTheAliases) {
  AddStudy();
  AddModel();
  Start();
  const HttpResponse r = Get("/ui");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.Header("content-type"), Optional(std::string("text/html; charset=utf-8")));
  EXPECT_THAT(r.Header("x-content-type-options"), Optional(std::string("nosniff")));
  EXPECT_THAT(
      r.Header("content-security-policy"),
      Optional(AllOf(HasSubstr("default-src 'none'"), HasSubstr("style-src 'unsafe-inline'"),
                     HasSubstr("img-src data:"), HasSubstr("form-action 'self'"))));
  EXPECT_EQ(TagProblem(r.body), "");
  EXPECT_THAT(r.body, HasSubstr("<meta name=\"viewport\""));
  for (const char* href : {"/ui/models", "/ui/runs", "/ui/flows", "/ui/reports", "/ui/drift"}) {
    EXPECT_THAT(r.body, HasSubstr(absl::StrCat("href=\"", href, "\""))) << href;
  }
  // production was rolled back to v1; candidate names v2.
  EXPECT_THAT(r.body, HasSubstr("<dt>production</dt><dd><a href=\"/ui/models/churn/versions/1\">"));
  EXPECT_THAT(r.body, HasSubstr("<dt>candidate</dt><dd><a href=\"/ui/models/churn/versions/2\">"));
  EXPECT_THAT(r.body, HasSubstr("trial-4"));  // the newest run
  EXPECT_THAT(r.body, Not(HasSubstr("<script")));
  EXPECT_EQ(Get("/ui/").status, 200);
}

TEST_F(ConsoleTest, ModelPageListsVersionsWithTheirRunsAndEveryAliasMove) {
  AddStudy();
  AddModel();
  Start();
  const std::string list = Page("/ui/models");
  EXPECT_THAT(list, HasSubstr("<a href=\"/ui/models/churn\">churn</a>"));
  EXPECT_THAT(list, HasSubstr("production → v1"));
  const std::string page = Page("/ui/models/churn");
  EXPECT_THAT(page, HasSubstr(absl::StrCat("href=\"/ui/runs/", trial_ids_[1], "\"")));
  EXPECT_THAT(page, HasSubstr(absl::StrCat("href=\"/ui/runs/", trial_ids_[3], "\"")));
  EXPECT_THAT(page, HasSubstr(absl::StrCat("href=\"/ui/studies/", study_id_, "\"")));
  EXPECT_THAT(page, HasSubstr("0.93"));  // v2's test_auc
  // Newest move first, with its actor and reason.
  const size_t rollback = page.find("rollback: p99 too high");
  const size_t first = page.find("study: trial 1");
  ASSERT_NE(rollback, std::string::npos);
  ASSERT_NE(first, std::string::npos);
  EXPECT_LT(rollback, first);
  EXPECT_EQ(Count(page, "churn deploy"), 5u);
  EXPECT_THAT(page, HasSubstr("<a href=\"/ui/models/churn/versions/2\">v2</a> → "
                              "<a href=\"/ui/models/churn/versions/1\">v1</a>"));
}

TEST_F(ConsoleTest, VersionPageShowsMetricsSignatureAndItsAliasMoves) {
  AddStudy();
  AddModel();
  Start();
  const std::string page = Page("/ui/models/churn/versions/2");
  EXPECT_THAT(page, HasSubstr("<td>test_auc</td><td class=\"n\">0.93</td>"));
  EXPECT_THAT(page, HasSubstr("Customer_Age"));
  EXPECT_THAT(page, HasSubstr(absl::StrCat("href=\"/ui/runs/", trial_ids_[3], "\"")));
  EXPECT_THAT(page, HasSubstr("gates passed again"));
  EXPECT_THAT(page, Not(HasSubstr("study: trial 1")));  // a move of v1 only
  const HttpResponse missing = Get("/ui/models/churn/versions/9");
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.body, HasSubstr("version 9 of model &#39;churn&#39; not found"));
  EXPECT_EQ(TagProblem(missing.body), "");
  EXPECT_EQ(Get("/ui/models/nope").status, 404);
}

TEST_F(ConsoleTest, RunsPageOffersCompareCheckboxesAndFilters) {
  AddStudy();
  Start();
  const std::string page = Page("/ui/runs");
  EXPECT_THAT(page, HasSubstr("<form method=\"get\" action=\"/ui/compare\">"));
  for (const std::string& id : trial_ids_) {
    EXPECT_THAT(page, HasSubstr(absl::StrCat("name=\"run\" value=\"", id, "\""))) << id;
  }
  EXPECT_THAT(page, HasSubstr("<th>valid_auc</th>"));
  EXPECT_THAT(page, HasSubstr(absl::StrCat("href=\"/ui/studies/", study_id_, "\"")));
  EXPECT_THAT(page, HasSubstr("s-ok\">FINISHED"));
  EXPECT_THAT(page, HasSubstr("s-run\">RUNNING"));  // the study never finished
  const std::string filtered = Page("/ui/runs?filter=metrics.valid_auc+%3E+0.94");
  EXPECT_EQ(Count(filtered, "name=\"run\" value="), 2u);  // trials 1 and 3
  EXPECT_THAT(filtered, HasSubstr("value=\"metrics.valid_auc &gt; 0.94\""));

  const HttpResponse bad = Get("/ui/runs?filter=metrics.valid_auc+%3E%3E");
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("query parameter &#39;filter&#39;"));
  const HttpResponse bad_max = Get("/ui/runs?max=lots");
  EXPECT_EQ(bad_max.status, 400);
  EXPECT_THAT(bad_max.body, HasSubstr("query parameter &#39;max&#39;"));
  EXPECT_EQ(Get("/ui/runs?experiment=424242").status, 404);
}

TEST_F(ConsoleTest, RunPageChartsMetricHistoryAndLinksItsStudy) {
  AddStudy();
  AddModel();
  // Logged again at the same step (as the training flow logs the winner's): no history.
  ASSERT_TRUE(registry_->LogBatch(trial_ids_[3], {{"valid_auc", 0.97, NowMs(), 0}}, {}, {}).ok());
  Start();
  const std::string page = Page(absl::StrCat("/ui/runs/", trial_ids_[3]));
  EXPECT_THAT(page, HasSubstr(absl::StrCat("href=\"/ui/studies/", study_id_, "\"")));
  EXPECT_THAT(page, HasSubstr("valid_auc_by_round (7 points)"));
  EXPECT_EQ(Count(page, "<svg"), 1u);  // the only metric with a history
  EXPECT_EQ(Count(page, "<polyline"), 1u);
  EXPECT_THAT(page, HasSubstr("<a href=\"/ui/models/churn/versions/2\">churn v2</a>"));
  EXPECT_THAT(page, HasSubstr("max_depth"));
  const std::string study_run = Page(absl::StrCat("/ui/runs/", study_id_));
  EXPECT_THAT(study_run, HasSubstr(absl::StrCat("href=\"/ui/studies/", study_id_, "\"")));
  const HttpResponse missing = Get("/ui/runs/0123456789abcdef");
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.body, HasSubstr("run &#39;0123456789abcdef&#39; not found"));
}

TEST_F(ConsoleTest, CompareMarksDifferingRowsAndOverlaysHistories) {
  AddStudy();
  Start();
  const std::string target =
      absl::StrCat("/ui/compare?run=", trial_ids_[0], "&run=", trial_ids_[1]);
  const std::string page = Page(target);
  EXPECT_THAT(page,
              HasSubstr("<tr class=\"diff\"><td>≠ params.max_depth</td><td>3</td><td>4</td>"));
  EXPECT_THAT(page, HasSubstr("<tr class=\"same\"><td>params.eta</td>"));
  EXPECT_THAT(page, HasSubstr(absl::StrCat("href=\"/ui/runs/", trial_ids_[0], "\"")));
  // valid_auc_by_round overlaid: one chart, two lines and a legend.
  EXPECT_EQ(Count(page, "<svg"), 1u);
  EXPECT_EQ(Count(page, "<polyline"), 2u);
  const std::string only_diff = Page(target + "&diff=1");
  EXPECT_THAT(only_diff, Not(HasSubstr("params.eta")));
  EXPECT_THAT(only_diff, HasSubstr("params.max_depth"));

  const HttpResponse one = Get(absl::StrCat("/ui/compare?run=", trial_ids_[0]));
  EXPECT_EQ(one.status, 400);
  EXPECT_THAT(one.body, HasSubstr("query parameter &#39;run&#39;"));
  const HttpResponse unknown = Get(absl::StrCat("/ui/compare?run=", trial_ids_[0], "&run=nope"));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_THAT(unknown.body, HasSubstr("run &#39;nope&#39; not found"));
}

TEST_F(ConsoleTest, StudyStillRunningShowsTheFrontOfItsTrialRuns) {
  AddStudy();
  Start();
  const std::string page = Page(absl::StrCat("/ui/studies/", study_id_));
  EXPECT_THAT(page, HasSubstr("the trial runs (the study has not finished)"));
  // Three scatter/line charts; one point per trial in each scatter, the front orange.
  EXPECT_EQ(Count(page, "<svg"), 3u);
  EXPECT_EQ(Count(page, "<circle class=\"pt"), 10u);
  EXPECT_EQ(Count(page, "<circle class=\"pt front\""), 6u);
  EXPECT_EQ(Count(page, "<tr class=\"front\">"), 3u);
  for (const size_t front : {size_t{0}, size_t{1}, size_t{3}}) {
    EXPECT_THAT(page, HasSubstr(absl::StrCat("<tr class=\"front\"><td><a href=\"/ui/runs/",
                                             trial_ids_[front], "\">", front, "</a>")))
        << front;
  }
  EXPECT_THAT(page, HasSubstr("s-wait\">PRUNED"));
  EXPECT_THAT(page, HasSubstr("Compare the 3 front trials"));
}

TEST_F(ConsoleTest, FinishedStudyShowsItsParetoJsonWithTheWinner) {
  AddStudy();
  // The summary the training flow stores, from the study's own code.
  train::StudyResult result;
  const std::vector<std::pair<int64_t, double>> trials = {
      {100, 0.90}, {200, 0.95}, {300, 0.93}, {400, 0.97}, {150, 0.80}};
  for (size_t i = 0; i < trials.size(); ++i) {
    train::TrialRecord t;
    t.number = static_cast<int64_t>(i);
    t.run_id = trial_ids_[i];
    t.state = i == 4 ? train::TrialState::kPruned : train::TrialState::kComplete;
    t.valid_auc = trials[i].second;
    t.size.nodes = trials[i].first;
    result.trials.push_back(t);
  }
  ASSERT_TRUE(train::ChooseWinner(0.03, &result).ok());  // 0.95 is within 0.03 of 0.97
  ASSERT_TRUE(registry_->LogArtifact(study_id_, "pareto.json", result.ParetoJson()).ok());
  Start();
  const std::string page = Page(absl::StrCat("/ui/studies/", study_id_));
  EXPECT_THAT(page, HasSubstr("pareto.json (the finished study)"));
  EXPECT_EQ(Count(page, "<tr class=\"front\">"), 3u);
  EXPECT_THAT(page, HasSubstr(absl::StrCat("<a href=\"/ui/runs/", trial_ids_[1],
                                           "\">trial 1</a>: valid AUC 0.95")));
  EXPECT_EQ(Count(page, "<strong>winner</strong>"), 1u);
  EXPECT_EQ(Count(page, "stroke=\"#c0392b\""), 2u);  // the winner ringed in both scatters

  const HttpResponse not_study = Get(absl::StrCat("/ui/studies/", trial_ids_[0]));
  EXPECT_EQ(not_study.status, 404);
  EXPECT_THAT(not_study.body, HasSubstr("is not a study"));
}

TEST_F(ConsoleTest, FlowsPageShowsNextFireTimesStatesAndFilters) {
  flows_ = {Flow("train", "train", "0 */6 * * *", ""), Flow("report", "report", "", "3h"),
            Flow("retrain", "retrain_if_drifted", "", "1h", /*enabled=*/false)};
  clock_.Set(kNow);
  const int64_t now = absl::ToUnixMillis(kNow);
  CHURN_ASSERT_OK_AND_ASSIGN(flows::FlowRun done,
                             runs_->CreateRun("train", "schedule", now - 60000, "{}"));
  ASSERT_TRUE(runs_->StartRun(done.id, "test@host:1", now - 60000).ok());
  ASSERT_TRUE(runs_
                  ->FinishRun(done.id, flows::RunState::kCompleted, "registered churn version 7",
                              now - 30000)
                  .ok());
  CHURN_ASSERT_OK_AND_ASSIGN(flows::FlowRun failed,
                             runs_->CreateRun("report", "manual", now - 20000, "{}"));
  ASSERT_TRUE(runs_->StartRun(failed.id, "test@host:1", now - 20000).ok());
  ASSERT_TRUE(runs_
                  ->FinishRun(failed.id, flows::RunState::kFailed,
                              "exit code 1 from `churn report`", now - 19000)
                  .ok());
  CHURN_ASSERT_OK_AND_ASSIGN(flows::FlowRun running,
                             runs_->CreateRun("train", "manual", now - 5000, "{}"));
  ASSERT_TRUE(runs_->StartRun(running.id, "test@host:1", now - 5000).ok());
  Start();
  const std::string page = Page("/ui/flows");
  // Next fire times after 12:00:00 UTC: cron at 18:00, every 3h at 15:00.
  EXPECT_THAT(page, HasSubstr("2026-03-01 18:00:00"));
  EXPECT_THAT(page, HasSubstr("2026-03-01 15:00:00"));
  EXPECT_THAT(page, HasSubstr("<span class=\"muted\">disabled</span>"));
  EXPECT_THAT(page, HasSubstr("s-ok\">Completed"));
  EXPECT_THAT(page, HasSubstr("s-bad\">Failed"));
  EXPECT_THAT(page, HasSubstr("s-run\">Running"));
  EXPECT_THAT(page, HasSubstr("30.0 s"));  // the completed run's duration
  EXPECT_THAT(page, HasSubstr("5.0 s <span class=\"muted\">(running)</span>"));
  EXPECT_THAT(page, HasSubstr("exit code 1 from `churn report`"));
  EXPECT_THAT(page, HasSubstr(absl::StrCat("href=\"/ui/flows/runs/", failed.id, "\"")));

  const std::string only_failed = Page("/ui/flows?state=failed");
  EXPECT_THAT(only_failed, Not(HasSubstr("registered churn version 7")));
  EXPECT_THAT(only_failed, HasSubstr("exit code 1"));
  const std::string only_train = Page("/ui/flows?flow=train");
  EXPECT_THAT(only_train, Not(HasSubstr("exit code 1")));
  const HttpResponse bad = Get("/ui/flows?state=Exploded");
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("query parameter &#39;state&#39;"));
}

TEST_F(ConsoleTest, FlowRunPageShowsItsLogEscaped) {
  CHURN_ASSERT_OK_AND_ASSIGN(flows::FlowRun run,
                             runs_->CreateRun("report", "manual", NowMs(), R"({"kind":"report"})"));
  ASSERT_TRUE(runs_->StartRun(run.id, "cli@host:2", NowMs()).ok());
  ASSERT_TRUE(runs_->AppendLog(run.id, absl::StrCat("step 1 ok\n", kEvil, "\n")).ok());
  Start();
  const std::string page = Page(absl::StrCat("/ui/flows/runs/", run.id));
  EXPECT_THAT(page, HasSubstr("step 1 ok"));
  EXPECT_THAT(page, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(page, Not(HasSubstr(kEvil)));
  EXPECT_THAT(page, HasSubstr("&quot;kind&quot;: &quot;report&quot;"));
  EXPECT_THAT(page, HasSubstr("cli@host:2"));
  EXPECT_EQ(Get("/ui/flows/runs/abc").status, 400);
  const HttpResponse missing = Get("/ui/flows/runs/999");
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.body, HasSubstr("flow run 999 not found"));
}

TEST_F(ConsoleTest, ReportsPageLinksEveryReportWithItsVerdict) {
  for (int i = 0; i < 2; ++i) {
    const absl::Time until = kNow - absl::Hours(3 * i);
    const report::ReportEntry entry{.file_name = report::ReportFileName(until),
                                    .model_name = "churn",
                                    .model_version = 2,
                                    .since = until - absl::Hours(3),
                                    .until = until,
                                    .generated_at = until + absl::Seconds(1),
                                    .dataset = {.columns = 19,
                                                .drifted_columns = i == 0 ? size_t{12} : size_t{1},
                                                .share = i == 0 ? 12.0 / 19 : 1.0 / 19,
                                                .threshold = 0.5,
                                                .drifted = i == 0}};
    ASSERT_TRUE(report::PublishReport(reports_dir_, entry, "<p>r</p>", "{}").ok());
  }
  Start();
  const std::string page = Page("/ui/reports");
  const size_t newest = page.find("href=\"/reports/report-20260301T120000Z.html\"");
  const size_t older = page.find("href=\"/reports/report-20260301T090000Z.html\"");
  ASSERT_NE(newest, std::string::npos);
  ASSERT_NE(older, std::string::npos);
  EXPECT_LT(newest, older);
  EXPECT_THAT(page, HasSubstr("s-bad\">drifted</span> 12 of 19 (63.2%)"));
  EXPECT_THAT(page, HasSubstr("s-ok\">no drift</span> 1 of 19 (5.3%)"));
  EXPECT_EQ(Count(page, "<tr class=\"report"), 2u);
  EXPECT_THAT(page, HasSubstr("href=\"/reports/\""));
  EXPECT_THAT(Page("/ui"), HasSubstr("report-20260301T120000Z.html"));
}

TEST_F(ConsoleTest, DriftPageShowsEveryFeatureOfEveryWindow) {
  // GET /drift's shape (src/serving/drift_exporter.cc ReportJson).
  drift_json_ = [] {
    return std::string(R"({"monitored":true,"model":{"name":"churn","version":2,"run_id":"r"},
      "reference_rows":2000,"observed":1500,"labels_matched":10,"labels_unmatched":0,
      "compute_seconds":0.004,"windows":[
      {"window":"count","rows":1000,"computed":true,"columns":[
        {"test":"ks","score":0.001,"threshold":0.05,"drifted":true,"feature":"total_trans_amt","rows":1000},
        {"test":"chisquare","score":0.4,"threshold":0.05,"drifted":false,"feature":"gender","rows":1000},
        {"test":"ks","score":0.7,"threshold":0.05,"drifted":false,"feature":"customer_age","rows":1000}],
       "dataset":{"columns":3,"drifted_columns":1,"share":0.3333,"threshold":0.5,"drifted":false},
       "prediction":{"test":"ks","score":0.02,"threshold":0.05,"drifted":true},"score_mean":0.21,
       "estimated_quality":{"roc_auc":0.93,"precision":0.8,"recall":0.7,"f1":0.75,"accuracy":0.9}},
      {"window":"time","rows":12,"computed":false}],
      "labeled":{"rows":10,"positives":2,"computed":false}})");
  };
  Start();
  const std::string page = Page("/ui/drift");
  EXPECT_EQ(Count(page, "<tr class=\"feature"), 3u);
  EXPECT_EQ(Count(page, "<tr class=\"feature drifted\">"), 1u);
  EXPECT_THAT(page, HasSubstr("<td>total_trans_amt</td>"));
  EXPECT_THAT(page, HasSubstr("1 of 3 features (33.3%; threshold 50.0%)"));
  EXPECT_THAT(page, HasSubstr("Not computed yet: 12 predictions"));
  EXPECT_THAT(page, HasSubstr("<a href=\"/ui/models/churn/versions/2\">churn v2</a>"));
  EXPECT_THAT(page, HasSubstr("<meta http-equiv=\"refresh\""));
  EXPECT_EQ(Count(page, "<svg"), 1u);
  EXPECT_EQ(Count(page, "<rect "), 6u);  // 3 features x 2 windows
}

TEST_F(ConsoleTest, DriftPageSaysWhyThereIsNone) {
  drift_json_ = [] { return std::string(R"({"monitored":false,"reason":"no model is served"})"); };
  Start();
  EXPECT_THAT(Page("/ui/drift"), HasSubstr("Drift is not monitored: no model is served."));
}

TEST_F(ConsoleTest, DriftPageWithoutAServer) {
  Start();
  EXPECT_THAT(Page("/ui/drift"),
              HasSubstr("Live drift is shown on the console of the model server"));
  EXPECT_THAT(Page("/ui/flows"), HasSubstr("No flow declared"));
}

TEST_F(ConsoleTest, EscapesEveryNameFromData) {
  const std::string exp = Experiment(kEvil);
  const std::string run = FinishedRun(exp, kEvil, {{"auc", 0.5}}, {{"p", kEvil}}, {{"t", kEvil}});
  ASSERT_TRUE(registry_->CreateRegisteredModel(kEvil, kEvil, {}).ok());
  ASSERT_TRUE(registry_
                  ->CreateModelVersion(
                      {.name = kEvil, .source = "s3://x", .run_id = run, .description = kEvil})
                  .ok());
  ASSERT_TRUE(registry_->SetAlias(kEvil, "prod", 1, kEvil, kEvil).ok());
  flows_ = {Flow(kEvil, "command", "", "1h")};
  CHURN_ASSERT_OK_AND_ASSIGN(flows::FlowRun flow_run,
                             runs_->CreateRun(kEvil, "manual", NowMs(), "{}"));
  Start();
  const std::string model = absl::StrCat("/ui/models/", "%3Cscript%3Ealert%281%29%3C%2Fscript%3E");
  for (const std::string& target :
       {std::string("/ui"), std::string("/ui/models"), model, model + "/versions/1",
        std::string("/ui/runs"), absl::StrCat("/ui/runs/", run),
        absl::StrCat("/ui/compare?run=", run, "&run=", run), std::string("/ui/flows"),
        absl::StrCat("/ui/flows/runs/", flow_run.id)}) {
    const std::string page = Page(target);
    EXPECT_THAT(page, Not(HasSubstr("<script"))) << target;
    EXPECT_THAT(page, HasSubstr("&lt;script&gt;")) << target;
  }
  // Links carry the name percent-encoded.
  EXPECT_THAT(Page("/ui/models"), HasSubstr(absl::StrCat("href=\"", model, "\"")));
}

TEST_F(ConsoleTest, UnknownPagesMethodsAndHead) {
  Start();
  const HttpResponse unknown = Get("/ui/nothing/here");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_THAT(unknown.Header("content-type"), Optional(std::string("text/html; charset=utf-8")));
  EXPECT_THAT(unknown.body, HasSubstr("no console page at /ui/nothing/here"));
  EXPECT_EQ(TagProblem(unknown.body), "");
  EXPECT_EQ(Get("/ui/studies/").status, 404);
  EXPECT_EQ(Get("/ui", "POST").status, 405);
  const HttpResponse head = Get("/ui/models", "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
}

TEST_F(ConsoleTest, EmptyStoresGiveEmptyPagesNotErrors) {
  Start();
  for (const char* target :
       {"/ui", "/ui/models", "/ui/runs", "/ui/flows", "/ui/reports", "/ui/drift"}) {
    Page(target);
  }
  EXPECT_THAT(Page("/ui/models"), HasSubstr("No registered model yet"));
  EXPECT_THAT(Page("/ui/reports"), HasSubstr("No report yet"));
}

}  // namespace
}  // namespace churn::console
