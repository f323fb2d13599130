// `churn train` end to end through the binary: a study on a feature-store snapshot registers the
// winner as the next version with alias `candidate` and its deployable package; the same seed
// gives the same trials and the same model; a study killed with SIGKILL resumes keeping every
// finished trial; bad settings exit 2 naming what is wrong; on the real Kaggle file the model
// meets the quality bar.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <thread>

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

class TrainCliTest : public ::testing::Test {
 protected:
  CommandResult Churn(std::vector<std::string> args, const std::string& data_dir = "") {
    args.insert(args.begin(),
                {testing::ChurnBinary(), "--data-dir", data_dir.empty() ? DataDir() : data_dir});
    return testing::RunCommand(args, {"CHURN_CONFIG=/dev/null"});
  }

  std::string DataDir() const { return (dir_.Path() / "data").string(); }

  std::string Write(const std::string& name, absl::string_view bytes) {
    const auto path = dir_.Path() / name;
    EXPECT_THAT(base::WriteFileAtomic(path, bytes), IsOk());
    return path.string();
  }

  // Synthetic rows ingested as dataset "d".
  void Ingest(int rows, const std::string& data_dir = "") {
    const std::string csv = (dir_.Path() / "synth.csv").string();
    CommandResult r = Churn(
        {"data", "synth", "--rows", std::to_string(rows), "--seed", "3", "--out", csv}, data_dir);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = Churn({"ingest", csv, "--dataset", "d", "--schema",
               testing::SourceDir() + "/configs/bank_churners.yaml"},
              data_dir);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  std::unique_ptr<registry::Registry> Registry(const std::string& data_dir = "") {
    const std::string dir = data_dir.empty() ? DataDir() : data_dir;
    auto reg = registry::OpenRegistry(
        {.url = "sqlite:" + dir + "/registry.db", .artifact_store_uri = dir + "/objects"});
    EXPECT_THAT(reg, IsOk());
    return reg.ok() ? *std::move(reg) : nullptr;
  }

  // The runs of the study, by trial number, with their status.
  std::vector<registry::Run> Trials(registry::Registry* reg, const std::string& study) {
    const auto run = reg->GetRun(study);
    EXPECT_THAT(run, IsOk());
    registry::SearchQuery q;
    q.experiment_ids = {run->info.experiment_id};
    q.filter = absl::StrCat("tags.`mlflow.parentRunId` = '", study, "'");
    q.order_by = {"attributes.start_time"};
    const auto page = reg->SearchRuns(q);
    EXPECT_THAT(page, IsOk());
    return page->items;
  }

  base::TempDir dir_;
};

std::string Tag(const registry::Run& run, const std::string& key) {
  for (const auto& t : run.tags) {
    if (t.key == key) {
      return t.value;
    }
  }
  return "";
}

TEST_F(TrainCliTest, RegistersTheWinnerAsCandidateWithItsPackageAndIsReproducible) {
  Ingest(3000);
  const CommandResult r = Churn({"train", "--dataset", "d", "--trials", "6", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("[6/6] trial "));  // plain progress lines when not on a terminal
  const auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["trials"], 6);
  EXPECT_EQ(out["model"]["name"], "churn");
  EXPECT_EQ(out["model"]["version"], 1);
  EXPECT_GT(out["test"]["roc_auc"].get<double>(), 0.85);

  auto reg = Registry();
  CHURN_ASSERT_OK_AND_ASSIGN(const registry::ModelVersion v,
                             reg->GetModelVersionByAlias("churn", "candidate"));
  EXPECT_EQ(v.version, 1);
  EXPECT_EQ(v.run_id, out["winner_run_id"]);
  std::set<std::string> files;
  for (const auto& a : v.artifacts) {
    files.insert(a.path);
  }
  // The version's files are the winner run's files under model/, named relative to it.
  for (const char* f : {"model.json", "model.ubj", "pipeline.json", "schema.yaml", "profile.json",
                        "importance.json", "evaluation.json", "churn_model.json"}) {
    EXPECT_TRUE(files.contains(f)) << f;
  }
  std::map<std::string, double> metrics(v.metrics.begin(), v.metrics.end());
  for (const char* m : {"valid_auc", "test_auc", "test_pr_auc", "test_f1", "test_precision",
                        "test_recall", "test_logloss", "test_brier", "test_ece", "threshold"}) {
    EXPECT_TRUE(metrics.contains(m)) << m;
  }
  EXPECT_DOUBLE_EQ(metrics["test_auc"], out["test"]["roc_auc"].get<double>());
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string importance,
                             reg->ReadArtifact(v.run_id, "model/importance.json"));
  const auto imp = nlohmann::json::parse(importance);
  ASSERT_FALSE(imp["features"].empty());
  EXPECT_GT(imp["features"][0]["mean_abs_shap"].get<double>(), 0.0);
  const std::string study = out["study_run_id"];
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string pareto, reg->ReadArtifact(study, "pareto.json"));
  EXPECT_EQ(nlohmann::json::parse(pareto)["trials"].size(), 6U);
  CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run study_run, reg->GetRun(study));
  EXPECT_EQ(study_run.info.status, registry::RunStatus::kFinished);
  EXPECT_EQ(Trials(reg.get(), study).size(), 6U);

  // Again, same seed and snapshot: the same trials and byte for byte the same model.
  const CommandResult again = Churn({"train", "--dataset", "d", "--trials", "6", "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const auto out2 = nlohmann::json::parse(again.out);
  EXPECT_EQ(out2["model"]["version"], 2);
  EXPECT_EQ(out2["winner_trial"], out["winner_trial"]);
  CHURN_ASSERT_OK_AND_ASSIGN(const registry::ModelVersion v2, reg->GetModelVersion("churn", 2));
  auto model_sha = [](const registry::ModelVersion& mv) {
    for (const auto& a : mv.artifacts) {
      if (a.path == "model.json") {
        return a.sha256;
      }
    }
    return std::string();
  };
  EXPECT_EQ(model_sha(v2), model_sha(v));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string pareto2,
                             reg->ReadArtifact(out2["study_run_id"], "pareto.json"));
  auto trials_of = [](const std::string& text) {
    std::vector<std::string> t;
    const auto doc = nlohmann::json::parse(text);
    for (const auto& trial : doc["trials"]) {
      t.push_back(trial["params"].dump() + trial["valid_auc"].dump());
    }
    return t;
  };
  EXPECT_EQ(trials_of(pareto2), trials_of(pareto));
}

TEST_F(TrainCliTest, SigkillMidStudyThenResumeKeepsEveryFinishedTrial) {
  Ingest(3000);
  CHURN_ASSERT_OK_AND_ASSIGN(
      auto child,
      testing::ChildProcess::Start({testing::ChurnBinary(), "--data-dir", DataDir(), "train",
                                    "--dataset", "d", "--trials", "14", "--no-progress"},
                                   {"CHURN_CONFIG=/dev/null"}));
  auto reg = Registry();
  std::string study;
  std::vector<std::string> finished_before;
  const absl::Time deadline = absl::Now() + absl::Minutes(3);
  while (absl::Now() < deadline && finished_before.size() < 3) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (study.empty()) {
      auto exp = reg->GetExperimentByName("churn-train");
      if (!exp.ok()) {
        continue;
      }
      registry::SearchQuery q;
      q.experiment_ids = {exp->experiment_id};
      q.filter = "tags.`churn.kind` = 'study'";
      auto page = reg->SearchRuns(q);
      if (!page.ok() || page->items.empty()) {
        continue;
      }
      study = page->items[0].info.run_id;
    }
    finished_before.clear();
    for (const registry::Run& run : Trials(reg.get(), study)) {
      if (run.info.status == registry::RunStatus::kFinished) {
        finished_before.push_back(run.info.run_id);
      }
    }
  }
  ASSERT_GE(finished_before.size(), 3U) << "the study did not get going";
  child->Signal(SIGKILL);
  EXPECT_EQ(child->Wait(absl::Seconds(10)), 128 + SIGKILL);
  // Trials finished up to the kill (one more may have finished since the last look).
  std::set<std::string> kept;
  for (const registry::Run& run : Trials(reg.get(), study)) {
    if (run.info.status == registry::RunStatus::kFinished) {
      kept.insert(run.info.run_id);
    }
  }
  ASSERT_LT(kept.size(), 14U) << "killed too late to test anything";

  const CommandResult r = Churn({"train", "--resume", study, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["study_run_id"], study);
  EXPECT_EQ(out["trials"], 14);
  std::set<std::string> finished_after;
  std::set<std::string> numbers;
  int killed = 0;
  for (const registry::Run& run : Trials(reg.get(), study)) {
    if (run.info.status == registry::RunStatus::kFinished) {
      finished_after.insert(run.info.run_id);
      numbers.insert(Tag(run, "churn.trial"));
    } else {
      EXPECT_EQ(run.info.status, registry::RunStatus::kKilled);
      ++killed;
    }
  }
  EXPECT_EQ(finished_after.size(), 14U);
  EXPECT_EQ(numbers.size(), 14U);  // every trial number once: nothing kept was redone
  EXPECT_LE(killed, 2);            // at most the trials in flight at the kill (2 workers)
  for (const std::string& id : kept) {
    EXPECT_TRUE(finished_after.contains(id)) << id;
  }
  // A finished study cannot be resumed again.
  const CommandResult twice = Churn({"train", "--resume", study});
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_THAT(twice.err, HasSubstr("finished"));
}

TEST_F(TrainCliTest, BadSettingsExitTwoNamingTheProblem) {
  Ingest(400);
  const std::string empty = Write("empty.yaml", "params: {}\n");
  const std::string inverted =
      Write("inverted.yaml", "params:\n  eta: {type: uniform, low: 0.5, high: 0.1}\n");
  const std::string unknown =
      Write("unknown.yaml", "params:\n  max_dept: {type: int, low: 2, high: 6}\n");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--dataset", "d", "--trials", "0"}, "trials"},
      {{"--dataset", "d", "--trials", "-3"}, "trials"},
      {{"--dataset", "d", "--space", empty}, "empty.yaml"},
      {{"--dataset", "d", "--space", inverted}, "eta"},
      {{"--dataset", "d", "--space", unknown}, "max_dept"},
      {{"--dataset", "d", "--space", "/nonexistent.yaml"}, "nonexistent"},
      {{"--dataset", "d", "--snapshot", "ffffffff"}, "ffffffff"},
      {{"--dataset", "nope"}, "nope"},
      {{"--dataset", "d", "--timeout", "soon"}, "timeout"},
      {{"--dataset", "d", "--threshold", "recall:2"}, "recall:2"},
      {{"--dataset", "d", "--pruner", "sometimes"}, "sometimes"},
      {{"--resume", "0123456789abcdef0123456789abcdef"}, "0123456789abcdef"},
      {{"--resume", "0123456789abcdef0123456789abcdef", "--trials", "9"}, "--trials"},
      {{}, "--dataset"},
  };
  for (const auto& [args, needle] : cases) {
    std::vector<std::string> argv = {"train"};
    argv.insert(argv.end(), args.begin(), args.end());
    const CommandResult r = Churn(argv);
    EXPECT_EQ(r.exit_code, 2) << absl::StrJoin(args, " ") << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(needle)) << absl::StrJoin(args, " ");
  }
  // Nothing was registered.
  auto reg = Registry();
  EXPECT_FALSE(reg->GetRegisteredModel("churn").ok());
}

// The quality bar on the real data: 50 trials, test ROC-AUC >= 0.99, PR-AUC >= 0.96, F1 >= 0.90
// at the threshold chosen on the validation split.
TEST_F(TrainCliTest, BankChurnersMeetsTheQualityBar) {
  const auto csv = testing::BankChurnersPath();
  if (!csv) {
    GTEST_SKIP() << testing::kNoBankChurners;
  }
  CommandResult r = Churn({"ingest", *csv, "--dataset", "bank_churners"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Churn({"train", "--dataset", "bank_churners", "--trials", "50", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = nlohmann::json::parse(r.out);
  std::cout << "bank_churners 50 trials: " << out.dump() << "\n";
  EXPECT_GE(out["test"]["roc_auc"].get<double>(), 0.99);
  EXPECT_GE(out["test"]["pr_auc"].get<double>(), 0.96);
  EXPECT_GE(out["test"]["f1"].get<double>(), 0.90);
}

}  // namespace
}  // namespace churn
