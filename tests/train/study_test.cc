// Studies against a real SQLite registry and real XGBoost on a small synthetic problem: what
// every trial run holds, reproducibility whatever the thread timing, resumption that equals an
// uninterrupted study, crashed trials, patience, the winner rule and bad settings.
#include "churn/train/study.h"

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/registry/registry.h"

namespace churn::train {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;
using ::testing::HasSubstr;

constexpr size_t kCols = 5;

// y ~ Bernoulli(sigmoid(2 x0 - 1.5 x1 + x2 x3)), x4 noise, 5% missing in x1.
void MakeData(size_t rows, uint32_t seed, std::vector<float>* x, std::vector<float>* y) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0F, 1.0F);
  std::uniform_real_distribution<float> unit(0.0F, 1.0F);
  for (size_t r = 0; r < rows; ++r) {
    float v[kCols];
    for (float& f : v) {
      f = normal(rng);
    }
    const float logit = 2 * v[0] - 1.5F * v[1] + v[2] * v[3];
    y->push_back(unit(rng) < 1 / (1 + std::exp(-logit)) ? 1.0F : 0.0F);
    if (unit(rng) < 0.05F) {
      v[1] = std::nanf("");
    }
    x->insert(x->end(), v, v + kCols);
  }
}

constexpr char kSpace[] = R"yaml(
params:
  max_depth: {type: int, low: 2, high: 5}
  eta: {type: loguniform, low: 0.05, high: 0.5}
  subsample: {type: uniform, low: 0.6, high: 1.0}
  max_bin: {type: quniform, low: 32, high: 128, q: 32}
)yaml";

class StudyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeData(1200, 1, &train_x_, &train_y_);
    MakeData(400, 2, &valid_x_, &valid_y_);
    CHURN_ASSERT_OK_AND_ASSIGN(space_, SearchSpace::FromYaml(kSpace));
    options_.trials = 8;
    options_.workers = 2;
    options_.max_rounds = 80;
    options_.early_stopping_rounds = 10;
    options_.tpe.startup_trials = 4;
    options_.pruner.startup_trials = 2;
  }

  std::unique_ptr<registry::Registry> OpenRegistry(const std::string& name) {
    auto reg = registry::OpenRegistry({.url = "sqlite:" + (dir_.Path() / name).string() + ".db",
                                       .artifact_store_uri = (dir_.Path() / "artifacts").string()});
    EXPECT_THAT(reg, IsOk());
    return reg.ok() ? *std::move(reg) : nullptr;
  }

  // A new study run in a new experiment of `reg`.
  std::pair<std::string, std::string> NewStudy(registry::Registry* reg) {
    const auto exp = reg->CreateExperiment(absl::StrCat("studies-", ++studies_), "", {});
    EXPECT_THAT(exp, IsOk());
    const auto run = reg->CreateRun({.experiment_id = *exp,
                                     .run_name = "study",
                                     .tags = {{"churn.kind", "study"}},
                                     .dataset_snapshot = "synthetic@0123456789abcdef"});
    EXPECT_THAT(run, IsOk());
    return {*exp, run->info.run_id};
  }

  StudyData Data() const {
    return {.train_x = train_x_,
            .train_y = train_y_,
            .valid_x = valid_x_,
            .valid_y = valid_y_,
            .cols = kCols};
  }

  absl::StatusOr<StudyResult> Run(registry::Registry* reg, const std::string& study,
                                  const StudyOptions& options) {
    return RunStudy(reg, study, space_, options, Data(), {});
  }

  base::TempDir dir_;
  std::vector<float> train_x_, train_y_, valid_x_, valid_y_;
  SearchSpace space_;
  StudyOptions options_;
  int studies_ = 0;
};

// What a trial is, as a comparable string: its number, params and result.
std::string Describe(const TrialRecord& t) {
  std::string s = absl::StrCat(t.number, " ", TrialStateName(t.state), " auc=", t.valid_auc,
                               " it=", t.best_iteration, " nodes=", t.size.nodes);
  for (const auto& [k, v] : t.params) {
    absl::StrAppend(&s, " ", k, "=", FormatParamValue(v));
  }
  return s;
}

std::vector<std::string> DescribeAll(const StudyResult& r) {
  std::vector<std::string> out;
  for (const TrialRecord& t : r.trials) {
    out.push_back(Describe(t));
  }
  return out;
}

TEST_F(StudyTest, EveryTrialIsAFinishedChildRunWithItsParamsCurveAndModel) {
  auto reg = OpenRegistry("a");
  const auto [exp, study] = NewStudy(reg.get());
  std::vector<int> seen;
  CHURN_ASSERT_OK_AND_ASSIGN(const StudyResult result,
                             RunStudy(reg.get(), study, space_, options_, Data(),
                                      [&](const StudyProgress& p) { seen.push_back(p.finished); }));
  ASSERT_EQ(result.trials.size(), 8U);
  EXPECT_EQ(seen.front(), 0);
  EXPECT_EQ(seen.back(), 8);
  const TrialRecord& winner = result.trials[result.winner];
  EXPECT_EQ(winner.state, TrialState::kComplete);
  EXPECT_GT(winner.valid_auc, 0.8);
  EXPECT_GE(winner.valid_auc, result.trials[result.best].valid_auc - options_.tolerance);

  registry::SearchQuery q;
  q.experiment_ids = {exp};
  q.filter = absl::StrCat("tags.`mlflow.parentRunId` = '", study, "'");
  CHURN_ASSERT_OK_AND_ASSIGN(const auto runs, reg->SearchRuns(q));
  ASSERT_EQ(runs.items.size(), 8U);
  for (const TrialRecord& t : result.trials) {
    CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run run, reg->GetRun(t.run_id));
    EXPECT_EQ(run.info.status, registry::RunStatus::kFinished);
    EXPECT_EQ(run.info.dataset_snapshot, "synthetic@0123456789abcdef");
    std::map<std::string, std::string> params;
    for (const auto& p : run.params) {
      params[p.key] = p.value;
    }
    EXPECT_EQ(params.size(), 4U);
    EXPECT_EQ(params["max_depth"], FormatParamValue(t.params.at("max_depth")));
    CHURN_ASSERT_OK_AND_ASSIGN(const auto curve,
                               reg->GetMetricHistory(t.run_id, "valid_auc_by_round", 1000, ""));
    EXPECT_EQ(curve.items.size(), static_cast<size_t>(t.rounds));
    EXPECT_EQ(curve.items.size(), t.curve.size());
    if (t.state == TrialState::kComplete) {
      CHURN_ASSERT_OK_AND_ASSIGN(const std::string model,
                                 reg->ReadArtifact(t.run_id, "model/model.json"));
      EXPECT_THAT(model, HasSubstr("\"learner\""));
      EXPECT_GT(t.size.nodes, 0);
      // valid_auc is the exact AUC of the best iteration, not XGBoost's per-round figure.
      EXPECT_NEAR(t.valid_auc, t.curve[static_cast<size_t>(t.best_iteration)], 2e-3);
    }
  }
  const auto pareto = nlohmann::json::parse(result.ParetoJson());
  EXPECT_EQ(pareto["winner"], winner.number);
  EXPECT_EQ(pareto["trials"].size(), 8U);
  ASSERT_FALSE(pareto["front"].empty());
  for (size_t i = 1; i < pareto["front"].size(); ++i) {
    EXPECT_GT(pareto["front"][i]["nodes"], pareto["front"][i - 1]["nodes"]);
    EXPECT_GT(pareto["front"][i]["valid_auc"], pareto["front"][i - 1]["valid_auc"]);
  }
}

// Trial k sees exactly trials <= k - workers, so thread timing never changes a study.
TEST_F(StudyTest, SameSeedSameTrialsWhateverTheTiming) {
  auto reg = OpenRegistry("b");
  const auto [exp1, study1] = NewStudy(reg.get());
  const auto [exp2, study2] = NewStudy(reg.get());
  CHURN_ASSERT_OK_AND_ASSIGN(const StudyResult a, Run(reg.get(), study1, options_));
  CHURN_ASSERT_OK_AND_ASSIGN(const StudyResult b, Run(reg.get(), study2, options_));
  EXPECT_EQ(DescribeAll(a), DescribeAll(b));
  EXPECT_EQ(a.trials[a.winner].number, b.trials[b.winner].number);

  StudyOptions other = options_;
  other.seed = 7;
  const auto [exp3, study3] = NewStudy(reg.get());
  CHURN_ASSERT_OK_AND_ASSIGN(const StudyResult c, Run(reg.get(), study3, other));
  EXPECT_NE(DescribeAll(a), DescribeAll(c));
}

// A study stopped after 4 trials and resumed to 8 is the study that ran 8 at once.
TEST_F(StudyTest, ResumedStudyEqualsAnUninterruptedOne) {
  auto reg = OpenRegistry("c");
  const auto [exp, whole] = NewStudy(reg.get());
  CHURN_ASSERT_OK_AND_ASSIGN(const StudyResult uninterrupted, Run(reg.get(), whole, options_));

  const auto [exp2, study] = NewStudy(reg.get());
  StudyOptions first = options_;
  first.trials = 4;
  CHURN_ASSERT_OK_AND_ASSIGN(const StudyResult part, Run(reg.get(), study, first));
  ASSERT_EQ(part.trials.size(), 4U);
  CHURN_ASSERT_OK_AND_ASSIGN(const StudyResult resumed, Run(reg.get(), study, options_));
  ASSERT_EQ(resumed.trials.size(), 8U);
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(resumed.trials[i].resumed, i < 4) << i;
  }
  EXPECT_EQ(resumed.trials[0].run_id, part.trials[0].run_id);
  EXPECT_EQ(DescribeAll(resumed), DescribeAll(uninterrupted));
}

// A trial an earlier process left RUNNING (it was killed) is marked KILLED and run again.
TEST_F(StudyTest, TrialLeftRunningByACrashIsKilledAndRedone) {
  auto reg = OpenRegistry("d");
  const auto [exp, study] = NewStudy(reg.get());
  CHURN_ASSERT_OK_AND_ASSIGN(
      const registry::Run crashed,
      reg->CreateRun({.experiment_id = exp,
                      .run_name = "trial-0",
                      .tags = {{"mlflow.parentRunId", study}, {"churn.trial", "0"}}}));
  StudyOptions o = options_;
  o.trials = 3;
  CHURN_ASSERT_OK_AND_ASSIGN(const StudyResult r, Run(reg.get(), study, o));
  ASSERT_EQ(r.trials.size(), 3U);
  EXPECT_NE(r.trials[0].run_id, crashed.info.run_id);
  CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run after, reg->GetRun(crashed.info.run_id));
  EXPECT_EQ(after.info.status, registry::RunStatus::kKilled);
}

TEST_F(StudyTest, PatienceStopsAtTheSameTrialEveryTime) {
  auto reg = OpenRegistry("e");
  StudyOptions o = options_;
  o.trials = 40;
  o.patience = 3;
  const auto [exp1, s1] = NewStudy(reg.get());
  const auto [exp2, s2] = NewStudy(reg.get());
  CHURN_ASSERT_OK_AND_ASSIGN(const StudyResult a, Run(reg.get(), s1, o));
  CHURN_ASSERT_OK_AND_ASSIGN(const StudyResult b, Run(reg.get(), s2, o));
  EXPECT_TRUE(a.stopped_by_patience);
  EXPECT_LT(a.trials.size(), 40U);
  EXPECT_EQ(DescribeAll(a), DescribeAll(b));
}

TEST_F(StudyTest, BadSettingsAreRejectedBeforeAnyTrial) {
  auto reg = OpenRegistry("f");
  const auto [exp, study] = NewStudy(reg.get());
  StudyOptions o = options_;
  o.trials = 0;
  EXPECT_THAT(Run(reg.get(), study, o), StatusIs(absl::StatusCode::kInvalidArgument, "trials"));
  o = options_;
  o.sampler = "grid";
  EXPECT_THAT(Run(reg.get(), study, o), StatusIs(absl::StatusCode::kInvalidArgument, "grid"));
  o = options_;
  o.pruner.kind = "sometimes";
  EXPECT_THAT(Run(reg.get(), study, o), StatusIs(absl::StatusCode::kInvalidArgument));
  CHURN_ASSERT_OK_AND_ASSIGN(
      const SearchSpace typo,
      SearchSpace::FromYaml("params:\n  max_dept: {type: int, low: 2, high: 5}\n"));
  EXPECT_THAT(RunStudy(reg.get(), study, typo, options_, Data(), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, "max_dept"));
  registry::SearchQuery q;
  q.experiment_ids = {exp};
  CHURN_ASSERT_OK_AND_ASSIGN(const auto runs, reg->SearchRuns(q));
  EXPECT_EQ(runs.items.size(), 1U);  // the study run only
}

TrialRecord Trial(int64_t number, double auc, int64_t nodes,
                  TrialState state = TrialState::kComplete) {
  TrialRecord t;
  t.number = number;
  t.valid_auc = auc;
  t.size.nodes = nodes;
  t.state = state;
  return t;
}

TEST(ChooseWinner, CheapestWithinToleranceOfTheBest) {
  StudyResult r;
  r.trials = {Trial(0, 0.9900, 900),
              Trial(1, 0.9935, 5000),
              Trial(2, 0.9927, 1200),
              Trial(3, 0.9930, 1200),
              Trial(4, 0.9990, 10, TrialState::kPruned),
              Trial(5, 0.9800, 100)};
  ASSERT_THAT(ChooseWinner(0.001, &r), IsOk());
  EXPECT_EQ(r.best, 1U);
  EXPECT_EQ(r.winner, 3U);  // 1,200 nodes like trial 2, but the higher AUC
  // The front by nodes: 5 (100), 0 (900), 3 (1200), 1 (5000); pruned trials are not on it.
  EXPECT_EQ(r.pareto, (std::vector<size_t>{5, 0, 3, 1}));
  ASSERT_THAT(ChooseWinner(0.0, &r), IsOk());
  EXPECT_EQ(r.winner, 1U);
  ASSERT_THAT(ChooseWinner(0.02, &r), IsOk());
  EXPECT_EQ(r.winner, 5U);
}

TEST(ChooseWinner, NoCompletedTrialIsAnError) {
  StudyResult r;
  r.trials = {Trial(0, 0.9, 10, TrialState::kPruned)};
  EXPECT_THAT(ChooseWinner(0.001, &r), StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace churn::train
