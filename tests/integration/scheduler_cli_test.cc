// `churn scheduler` end to end through the binary: the training flow (a tiny study, then the
// deployment gates) and the report flow on short intervals over real traffic (`churn serve http`
// and `churn simulate http`); a scheduler killed with SIGKILL mid-run leaves no flow process
// behind, its run is marked Crashed by the next scheduler and the next run goes ahead; SIGTERM
// cancels the run in flight and exits 0; and two scheduler processes hand the lead over when the
// leader is killed (SQLite's file lock, and PostgreSQL's advisory lock when
// CHURN_TEST_POSTGRES_URL names a server). `churn flows run|runs|logs|list` on the same store.
#include <signal.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "registry/pg_test_util.h"
#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/flows/run_store.h"

namespace churn {
namespace {

using ::churn::testing::ChildProcess;
using ::churn::testing::CommandResult;
using ::churn::testing::IsOk;
using flows::FlowRun;
using flows::RunState;
using ::testing::HasSubstr;

class SchedulerCliTest : public ::testing::Test {
 protected:
  std::string DataDir() const { return (dir_.Path() / "data").string(); }

  std::string Url() const {
    return url_.empty() ? "sqlite:" + (dir_.Path() / "data" / "flows.db").string() : url_;
  }

  void WriteConfig(const std::string& yaml) {
    config_ = (dir_.Path() / "churn.yaml").string();
    ASSERT_THAT(base::WriteFileAtomic(config_, yaml), IsOk());
  }

  std::vector<std::string> Env() const { return {"CHURN_CONFIG=" + config_}; }

  CommandResult Churn(std::vector<std::string> args) {
    args.insert(args.begin(), {testing::ChurnBinary(), "--data-dir", DataDir()});
    return testing::RunCommand(args, Env());
  }

  std::unique_ptr<ChildProcess> Start(std::vector<std::string> args) {
    args.insert(args.begin(), {testing::ChurnBinary(), "--data-dir", DataDir()});
    absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(args, Env());
    EXPECT_THAT(child.status(), IsOk());
    return child.ok() ? *std::move(child) : nullptr;
  }

  flows::RunStore& Store() {
    if (store_ == nullptr) {
      absl::StatusOr<std::unique_ptr<flows::RunStore>> s = flows::RunStore::Open(Url());
      EXPECT_THAT(s.status(), IsOk());
      store_ = *std::move(s);
    }
    return *store_;
  }

  // The newest run of `flow` that `pred` accepts, waiting up to `timeout`.
  std::optional<FlowRun> WaitRun(const std::string& flow,
                                 const std::function<bool(const FlowRun&)>& pred,
                                 absl::Duration timeout) {
    const absl::Time until = absl::Now() + timeout;
    while (absl::Now() < until) {
      absl::StatusOr<std::vector<FlowRun>> runs =
          Store().ListRuns({.flow = flow, .states = {}, .limit = 50});
      if (runs.ok()) {
        for (const FlowRun& r : *runs) {
          if (pred(r)) {
            return r;
          }
        }
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return std::nullopt;
  }

  std::string Dump(const std::string& flow) {
    std::string out;
    for (const FlowRun& r : Store()
                                .ListRuns({.flow = flow, .states = {}, .limit = 20})
                                .value_or(std::vector<FlowRun>{})) {
      absl::StrAppend(&out, "\n#", r.id, " ", flows::RunStateName(r.state), " ", r.owner, " ",
                      r.result);
    }
    return out;
  }

  base::TempDir dir_;
  std::string config_;
  std::string url_;
  std::unique_ptr<flows::RunStore> store_;
};

// Processes (other than zombies) whose command line holds `needle`.
std::vector<int> ProcessesWith(const std::string& needle) {
  std::vector<int> pids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) {
      continue;
    }
    absl::StatusOr<std::string> cmdline = base::ReadFile(entry.path() / "cmdline");
    absl::StatusOr<std::string> stat = base::ReadFile(entry.path() / "stat");
    if (!cmdline.ok() || !stat.ok() || !absl::StrContains(*cmdline, needle)) {
      continue;
    }
    const size_t paren = stat->rfind(')');
    if (paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] != 'Z') {
      pids.push_back(pid);
    }
  }
  return pids;
}

int PortOf(const std::string& line) {
  const size_t at = line.find("http://127.0.0.1:");
  int port = 0;
  if (at == std::string::npos ||
      !absl::SimpleAtoi(line.substr(at + 17, line.find('/', at + 17) - at - 17), &port)) {
    return 0;
  }
  return port;
}

TEST_F(SchedulerCliTest, TrainingAndReportFlowsRunAndAKilledSchedulersRunIsCrashed) {
  WriteConfig(
      "train: {trials: 2, max_rounds: 60, early_stopping_rounds: 10}\n"
      "deploy: {min_test_auc: 0.5, max_p99_ms: 100, canary_rows: 300}\n"
      "scheduler: {heartbeat_seconds: 0.5, stale_seconds: 5, leader_poll_seconds: 0.5}\n"
      "report: {window_seconds: 3600}\n"
      "flows:\n"
      "  train: {every: 4s, args: [--dataset, d], retries: 0, timeout_seconds: 300}\n"
      "  report: {every: 2s, retries: 0}\n");
  const std::string csv = (dir_.Path() / "synth.csv").string();
  ASSERT_EQ(Churn({"data", "synth", "--rows", "2000", "--seed", "7", "--out", csv}).exit_code, 0);
  const CommandResult ingest = Churn({"ingest", csv, "--dataset", "d", "--schema",
                                      testing::SourceDir() + "/configs/bank_churners.yaml"});
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;

  std::unique_ptr<ChildProcess> scheduler = Start({"scheduler"});
  ASSERT_NE(scheduler, nullptr);
  const auto completed = [](const FlowRun& r) { return r.state == RunState::kCompleted; };
  const std::optional<FlowRun> trained = WaitRun("train", completed, absl::Seconds(240));
  ASSERT_TRUE(trained.has_value()) << Dump("train");
  EXPECT_EQ(trained->trigger, "schedule");
  const CommandResult alias = Churn({"models", "alias", "get", "churn", "production"});
  ASSERT_EQ(alias.exit_code, 0) << "the training flow deployed through the gates: " << alias.err;

  // Traffic for the report flow.
  std::unique_ptr<ChildProcess> server = Start({"serve", "http", "--port", "0", "--poll", "0.5"});
  ASSERT_NE(server, nullptr);
  absl::StatusOr<std::string> line = server->ReadLine(absl::Seconds(60));
  ASSERT_TRUE(line.ok()) << line.status();
  const int port = PortOf(*line);
  ASSERT_GT(port, 0) << *line;
  const CommandResult sim =
      Churn({"simulate", "http", "--url", absl::StrCat("http://127.0.0.1:", port, "/predict"),
             "--rate", "500", "--max", "300", "--duration", "60s"});
  ASSERT_EQ(sim.exit_code, 0) << sim.out << sim.err;
  const int64_t traffic_done = absl::ToUnixMillis(absl::Now());
  const std::optional<FlowRun> reported = WaitRun(
      "report",
      [&](const FlowRun& r) {
        return r.state == RunState::kCompleted && r.start_ms > traffic_done;
      },
      absl::Seconds(60));
  ASSERT_TRUE(reported.has_value()) << Dump("report");
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(DataDir()) / "reports" / "index.html"));
  EXPECT_THAT(*Store().Log(reported->id), HasSubstr("step report"));

  // SIGKILL while a training run is Running: its `churn train` goes with it (PDEATHSIG).
  const std::optional<FlowRun> running = WaitRun(
      "train", [](const FlowRun& r) { return r.state == RunState::kRunning; }, absl::Seconds(60));
  ASSERT_TRUE(running.has_value()) << Dump("train");
  scheduler->Signal(SIGKILL);
  EXPECT_EQ(scheduler->Wait(absl::Seconds(10)), 128 + SIGKILL);
  EXPECT_EQ(Store().GetRun(running->id)->state, RunState::kRunning) << "nobody has noticed yet";
  std::vector<int> left;
  for (int i = 0; i < 50; ++i) {
    left = ProcessesWith(DataDir() + std::string("\0train", 6));
    if (left.empty()) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(left.empty()) << "a flow process outlived its scheduler: pid " << left.at(0);

  // The next scheduler marks it Crashed, and the next run goes ahead.
  scheduler = Start({"scheduler"});
  ASSERT_NE(scheduler, nullptr);
  const std::optional<FlowRun> crashed = WaitRun(
      "train",
      [&](const FlowRun& r) { return r.id == running->id && r.state == RunState::kCrashed; },
      absl::Seconds(20));
  ASSERT_TRUE(crashed.has_value()) << Dump("train");
  EXPECT_THAT(crashed->result, HasSubstr("killed or crashed"));
  const std::optional<FlowRun> next = WaitRun(
      "train", [&](const FlowRun& r) { return r.id > running->id && completed(r); },
      absl::Seconds(240));
  ASSERT_TRUE(next.has_value()) << Dump("train");

  // The CLI sees the same runs.
  const CommandResult runs = Churn({"flows", "runs", "train", "--json"});
  ASSERT_EQ(runs.exit_code, 0) << runs.err;
  const nlohmann::json listed = nlohmann::json::parse(runs.out);
  bool saw_crashed = false;
  for (const nlohmann::json& r : listed) {
    saw_crashed |= r.at("id") == running->id && r.at("state") == "Crashed";
  }
  EXPECT_TRUE(saw_crashed) << runs.out;
  const CommandResult logs = Churn({"flows", "logs", absl::StrCat(next->id)});
  EXPECT_EQ(logs.exit_code, 0);
  EXPECT_THAT(logs.out, HasSubstr("step train"));
  EXPECT_THAT(logs.out, HasSubstr("step deploy"));

  // SIGTERM: the run in flight (if any) is Cancelled, and the scheduler exits 0.
  scheduler->Signal(SIGTERM);
  EXPECT_EQ(scheduler->Wait(absl::Seconds(60)), 0);
  const std::vector<FlowRun> active =
      Store()
          .ListRuns({.flow = "", .states = {RunState::kRunning, RunState::kRetrying}, .limit = 10})
          .value_or(std::vector<FlowRun>{});
  EXPECT_TRUE(active.empty()) << Dump("train") << Dump("report");
  server->Signal(SIGTERM);
  EXPECT_EQ(server->Wait(absl::Seconds(30)), 0);
}

// Two schedulers on one store: one leads; when it is killed the other takes over (and marks the
// killed one's run Crashed). Run on SQLite (file lock) and PostgreSQL (advisory lock).
class SchedulerHandOverTest : public SchedulerCliTest,
                              public ::testing::WithParamInterface<std::string> {};

INSTANTIATE_TEST_SUITE_P(Stores, SchedulerHandOverTest, ::testing::Values("sqlite", "postgres"));

TEST_P(SchedulerHandOverTest, StandbyTakesOverWhenTheLeaderIsKilled) {
  std::unique_ptr<testing::FreshPostgresSchema> schema;
  std::string runs_line;
  if (GetParam() == "postgres") {
    const std::optional<std::string> url = testing::PostgresUrlOrSkip();
    if (!url) {
      GTEST_SKIP() << testing::kNoPostgresUrl;
    }
    CHURN_ASSERT_OK_AND_ASSIGN(schema, testing::FreshPostgresSchema::Create(*url));
    url_ = schema->Url();
    runs_line = absl::StrCat(", runs: '", url_, "'");
  }
  WriteConfig(absl::StrCat(
      "scheduler: {heartbeat_seconds: 0.3, stale_seconds: 3, leader_poll_seconds: 0.3", runs_line,
      "}\n"
      "flows:\n"
      "  train: {enabled: false}\n"
      "  report: {enabled: false}\n"
      "  beat: {kind: command, every: 1s, command: [/bin/sh, -c, 'echo beat; sleep 2']}\n"));
  std::unique_ptr<ChildProcess> a = Start({"scheduler"});
  ASSERT_NE(a, nullptr);
  const std::string owner_a = absl::StrCat(":", a->Pid());
  const auto by = [](const std::string& owner) {
    return [owner](const FlowRun& r) {
      return absl::EndsWith(r.owner, owner) && r.state == RunState::kRunning;
    };
  };
  const std::optional<FlowRun> run_a = WaitRun("beat", by(owner_a), absl::Seconds(30));
  ASSERT_TRUE(run_a.has_value()) << Dump("beat");
  std::unique_ptr<ChildProcess> b = Start({"scheduler"});
  ASSERT_NE(b, nullptr);
  const std::string owner_b = absl::StrCat(":", b->Pid());
  absl::SleepFor(absl::Seconds(2));
  EXPECT_FALSE(WaitRun(
                   "beat", [&](const FlowRun& r) { return absl::EndsWith(r.owner, owner_b); },
                   absl::ZeroDuration())
                   .has_value())
      << "the standby ran something while the leader lives" << Dump("beat");
  a->Signal(SIGKILL);
  EXPECT_EQ(a->Wait(absl::Seconds(10)), 128 + SIGKILL);
  const std::optional<FlowRun> run_b = WaitRun("beat", by(owner_b), absl::Seconds(30));
  ASSERT_TRUE(run_b.has_value()) << "the standby took over" << Dump("beat");
  const std::optional<FlowRun> orphan = WaitRun(
      "beat",
      [&](const FlowRun& r) {
        return absl::EndsWith(r.owner, owner_a) &&
               (r.state == RunState::kCrashed || r.state == RunState::kCompleted);
      },
      absl::Seconds(10));
  EXPECT_TRUE(orphan.has_value()) << Dump("beat");
  EXPECT_TRUE(WaitRun(
                  "beat",
                  [&](const FlowRun& r) {
                    return absl::EndsWith(r.owner, owner_a) &&
                           (r.state == RunState::kRunning || r.state == RunState::kRetrying);
                  },
                  absl::ZeroDuration()) == std::nullopt)
      << "no run of the dead leader is left active" << Dump("beat");
  b->Signal(SIGTERM);
  EXPECT_EQ(b->Wait(absl::Seconds(30)), 0);

  // `churn flows run` runs a flow now, outside the schedule, with the same store and rules.
  const CommandResult manual = Churn({"flows", "run", "beat"});
  EXPECT_EQ(manual.exit_code, 0) << manual.err;
  EXPECT_THAT(manual.out, HasSubstr("beat\n"));
  EXPECT_THAT(manual.out, HasSubstr("Completed after 1 attempt(s): beat"));
  const CommandResult unknown = Churn({"flows", "run", "nope"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("no flow 'nope' (flows: train, report"));
  const CommandResult list = Churn({"flows", "list"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_THAT(list.out, HasSubstr("every 1s"));
}

}  // namespace
}  // namespace churn
