// The flow-run store (SQLite always, PostgreSQL when CHURN_TEST_POSTGRES_URL names a server, in a
// fresh schema per test), the leader lock, the flow runner (real processes: /bin/sh) and the
// scheduler on a fake clock for due times.
#include "churn/flows/scheduler.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "registry/pg_test_util.h"
#include "testing/test_env.h"
#include <sys/wait.h>

#include "churn/base/file.h"
#include "churn/flows/run_store.h"

namespace churn::flows {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

class RunStoreTest : public ::testing::TestWithParam<std::string> {
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
      url_ = "sqlite:" + (dir_.Path() / "flows.db").string();
    }
    CHURN_ASSERT_OK_AND_ASSIGN(store_, RunStore::Open(url_));
  }

  FlowRun Create(const std::string& flow, int64_t due_ms = 1000) {
    absl::StatusOr<FlowRun> run = store_->CreateRun(flow, "schedule", due_ms, R"({"kind":"x"})");
    EXPECT_THAT(run.status(), IsOk());
    return run.value_or(FlowRun{});
  }

  base::TempDir dir_;
  std::unique_ptr<testing::FreshPostgresSchema> schema_;
  std::string url_;
  std::unique_ptr<RunStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Stores, RunStoreTest, ::testing::Values("sqlite", "postgres"));

// Never two runs of one flow at once, whichever store handle (process) asks; other flows are not
// held up; a Retrying run still holds its flow.
TEST_P(RunStoreTest, OneActiveRunPerFlowAcrossHandles) {
  const FlowRun a = Create("train");
  EXPECT_EQ(a.state, RunState::kScheduled);
  EXPECT_EQ(a.attempts, 0);
  CHURN_ASSERT_OK_AND_ASSIGN(const FlowRun started, store_->StartRun(a.id, "scheduler@h:1", 5000));
  EXPECT_EQ(started.state, RunState::kRunning);
  EXPECT_EQ(started.attempts, 1);
  EXPECT_EQ(started.start_ms, 5000);
  EXPECT_EQ(started.owner, "scheduler@h:1");

  const FlowRun b = Create("train");
  CHURN_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RunStore> other, RunStore::Open(url_));
  EXPECT_THAT(other->StartRun(b.id, "cli@h:2", 6000),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       absl::StrCat("run ", a.id, " is Running (scheduler@h:1)")));
  const FlowRun c = Create("report");
  EXPECT_THAT(other->StartRun(c.id, "cli@h:2", 6000).status(), IsOk());

  ASSERT_THAT(store_->RetryRun(a.id, 9000, "exit code 1"), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(FlowRun retrying, store_->GetRun(a.id));
  EXPECT_EQ(retrying.state, RunState::kRetrying);
  EXPECT_EQ(retrying.next_attempt_ms, 9000);
  EXPECT_THAT(store_->StartRun(b.id, "cli@h:2", 6000),
              StatusIs(absl::StatusCode::kFailedPrecondition, "is Retrying"));
  CHURN_ASSERT_OK_AND_ASSIGN(const FlowRun again, store_->StartRun(a.id, "scheduler@h:1", 9000));
  EXPECT_EQ(again.attempts, 2);
  EXPECT_EQ(again.start_ms, 5000) << "the first start stays";
  ASSERT_THAT(store_->FinishRun(a.id, RunState::kCompleted, "version 3", 9500), IsOk());
  EXPECT_THAT(store_->FinishRun(a.id, RunState::kFailed, "x", 9600),
              StatusIs(absl::StatusCode::kFailedPrecondition, "is Completed"));
  EXPECT_THAT(store_->FinishRun(b.id, RunState::kRunning, "x", 9600),
              StatusIs(absl::StatusCode::kInvalidArgument, "final state"));
  CHURN_ASSERT_OK_AND_ASSIGN(const FlowRun b_started, other->StartRun(b.id, "cli@h:2", 9700));
  EXPECT_EQ(b_started.state, RunState::kRunning);
  EXPECT_THAT(store_->StartRun(a.id, "x", 1), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                       "is Completed, not Scheduled or Retrying"));
  EXPECT_THAT(store_->StartRun(987654, "x", 1), StatusIs(absl::StatusCode::kNotFound));
  CHURN_ASSERT_OK_AND_ASSIGN(const FlowRun done, store_->GetRun(a.id));
  EXPECT_EQ(done.result, "version 3");
  EXPECT_EQ(done.end_ms, 9500);
}

TEST_P(RunStoreTest, LogsCancelsAndQueries) {
  const FlowRun a = Create("train", 1000);
  ASSERT_THAT(store_->AppendLog(a.id, "line one\n"), IsOk());
  ASSERT_THAT(store_->AppendLog(a.id, "line 'two' ?\n"), IsOk());
  EXPECT_EQ(*store_->Log(a.id), "line one\nline 'two' ?\n");
  EXPECT_EQ(store_->GetRun(a.id)->log_bytes, 22);
  EXPECT_THAT(store_->Log(424242), StatusIs(absl::StatusCode::kNotFound));

  // A Scheduled run is cancelled at once; a Running one when its owner next beats.
  ASSERT_THAT(store_->RequestCancel(a.id, 2000), IsOk());
  EXPECT_EQ(store_->GetRun(a.id)->state, RunState::kCancelled);
  EXPECT_THAT(store_->RequestCancel(a.id, 2000),
              StatusIs(absl::StatusCode::kFailedPrecondition, "is over (Cancelled)"));
  const FlowRun b = Create("train", 3000);
  ASSERT_THAT(store_->StartRun(b.id, "cli@h:1", 3000).status(), IsOk());
  EXPECT_EQ(*store_->Heartbeat(b.id, 3500), false);
  ASSERT_THAT(store_->RequestCancel(b.id, 3600), IsOk());
  EXPECT_EQ(store_->GetRun(b.id)->state, RunState::kRunning);
  EXPECT_EQ(*store_->Heartbeat(b.id, 3700), true);
  EXPECT_EQ(store_->GetRun(b.id)->heartbeat_ms, 3700);

  const FlowRun c = Create("report", 4000);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<FlowRun> all, store_->ListRuns({}));
  ASSERT_THAT(all, SizeIs(3));
  EXPECT_EQ(all[0].id, c.id) << "newest first";
  CHURN_ASSERT_OK_AND_ASSIGN(
      const std::vector<FlowRun> running,
      store_->ListRuns({.flow = "train", .states = {RunState::kRunning}, .limit = 10}));
  ASSERT_THAT(running, SizeIs(1));
  EXPECT_EQ(running[0].id, b.id);
  EXPECT_THAT(*store_->ListRuns({.flow = "", .states = {}, .limit = 2}), SizeIs(2));

  // The schedule resumes after the latest due time of a scheduled run that started.
  EXPECT_EQ(*store_->LastStartedDue("train"), std::optional<int64_t>(3000));
  EXPECT_EQ(*store_->LastStartedDue("report"), std::nullopt) << "never started";
  EXPECT_EQ(ParseRunState("retrying").value_or(RunState::kCrashed), RunState::kRetrying);
  EXPECT_THAT(ParseRunState("Late"), StatusIs(absl::StatusCode::kInvalidArgument, "'Late'"));
}

// A new leader marks its predecessors' active runs Crashed, not a CLI run still beating; runs
// without a heartbeat for the stale age are Crashed; retention keeps the newest N of each flow.
TEST_P(RunStoreTest, CrashesAndRetention) {
  const FlowRun s1 = Create("train");
  const FlowRun s2 = Create("report");
  const FlowRun manual = Create("other");
  ASSERT_THAT(store_->StartRun(s1.id, "scheduler@a:1", 1000).status(), IsOk());
  ASSERT_THAT(store_->StartRun(s2.id, "scheduler@b:2", 1000).status(), IsOk());
  ASSERT_THAT(store_->RetryRun(s2.id, 5000, "exit code 1"), IsOk());
  ASSERT_THAT(store_->StartRun(manual.id, "cli@a:3", 1000).status(), IsOk());
  EXPECT_EQ(*store_->MarkOwnedCrashed("scheduler@", "its scheduler died", 2000), 2);
  EXPECT_EQ(store_->GetRun(s1.id)->state, RunState::kCrashed);
  EXPECT_EQ(store_->GetRun(s2.id)->state, RunState::kCrashed);
  EXPECT_EQ(store_->GetRun(s1.id)->result, "its scheduler died");
  EXPECT_EQ(store_->GetRun(manual.id)->state, RunState::kRunning);
  ASSERT_THAT(store_->Heartbeat(manual.id, 50000).status(), IsOk());
  EXPECT_EQ(*store_->MarkStaleCrashed(60000, 100000), 0) << "beat 50 s ago, stale after 60 s";
  EXPECT_EQ(*store_->MarkStaleCrashed(60000, 120000), 1);
  EXPECT_EQ(store_->GetRun(manual.id)->state, RunState::kCrashed);
  EXPECT_THAT(store_->GetRun(manual.id)->result, HasSubstr("no sign of life"));

  // Five more ended train runs (end 10..14 s) with logs; keep 2 per flow of those before 13 s.
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    const FlowRun r = Create("train");
    ASSERT_THAT(store_->AppendLog(r.id, "x\n"), IsOk());
    ASSERT_THAT(store_->FinishRun(r.id, RunState::kCompleted, "ok", 10000 + i * 1000), IsOk());
    ids.push_back(r.id);
  }
  // Ended before 13 s: s1, s2, manual (2 s, 2 s, 120 s: not before), ids[0..2]. The newest two of
  // each flow stay: train ids[3], ids[4]; report s2 (its only run); other: manual.
  CHURN_ASSERT_OK_AND_ASSIGN(const int64_t deleted, store_->DeleteEndedBefore(13000, 2));
  EXPECT_EQ(deleted, 4) << "s1 and ids[0..2]";
  EXPECT_THAT(store_->GetRun(s1.id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->GetRun(ids[2]), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->GetRun(s2.id).status(), IsOk());
  EXPECT_EQ(*store_->Log(ids[4]), "x\n");
  EXPECT_THAT(*store_->ListRuns({.flow = "train", .states = {}, .limit = 100}), SizeIs(2));
}

// The SQLite leader lock: one holder at a time; a holder that dies (SIGKILL) frees it.
TEST(LeaderLockTest, FileLockHasOneHolderAndDiesWithIt) {
  base::TempDir dir;
  const std::string url = "sqlite:" + (dir.Path() / "flows.db").string();
  CHURN_ASSERT_OK_AND_ASSIGN(std::unique_ptr<LeaderLock> a, LeaderLock::ForStore(url));
  CHURN_ASSERT_OK_AND_ASSIGN(std::unique_ptr<LeaderLock> b, LeaderLock::ForStore(url));
  EXPECT_EQ(*a->TryAcquire(), true);
  EXPECT_EQ(*a->TryAcquire(), true) << "already held";
  EXPECT_EQ(*b->TryAcquire(), false);
  a->Release();
  EXPECT_EQ(*b->TryAcquire(), true);
  b->Release();

  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lock = LeaderLock::ForStore(url);
    const bool held = lock.ok() && (*lock)->TryAcquire().value_or(false);
    (void)!::write(ready[1], held ? "1" : "0", 1);
    ::pause();
    ::_exit(0);
  }
  char held = '?';
  ASSERT_EQ(::read(ready[0], &held, 1), 1);
  EXPECT_EQ(held, '1');
  EXPECT_EQ(*a->TryAcquire(), false) << "the child leads";
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(*a->TryAcquire(), true) << "the kernel released the dead leader's lock";
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(LeaderLockTest, PostgresAdvisoryLockHasOneHolder) {
  const std::optional<std::string> url = testing::PostgresUrlOrSkip();
  if (!url) {
    GTEST_SKIP() << testing::kNoPostgresUrl;
  }
  // A schema of its own: the lock is per schema, so other tests' leaders do not interfere.
  CHURN_ASSERT_OK_AND_ASSIGN(const auto schema, testing::FreshPostgresSchema::Create(*url));
  CHURN_ASSERT_OK_AND_ASSIGN(std::unique_ptr<LeaderLock> a, LeaderLock::ForStore(schema->Url()));
  CHURN_ASSERT_OK_AND_ASSIGN(std::unique_ptr<LeaderLock> b, LeaderLock::ForStore(schema->Url()));
  CHURN_ASSERT_OK_AND_ASSIGN(const auto other, testing::FreshPostgresSchema::Create(*url));
  CHURN_ASSERT_OK_AND_ASSIGN(std::unique_ptr<LeaderLock> c, LeaderLock::ForStore(other->Url()));
  ASSERT_EQ(*a->TryAcquire(), true);
  EXPECT_TRUE(a->StillHeld());
  EXPECT_EQ(*b->TryAcquire(), false);
  EXPECT_EQ(*c->TryAcquire(), true) << "another schema has a leader of its own";
  c->Release();
  EXPECT_FALSE(b->StillHeld());
  a->Release();
  EXPECT_FALSE(a->StillHeld());
  EXPECT_EQ(*b->TryAcquire(), true);
  EXPECT_TRUE(b->StillHeld());
  b->Release();
}

// ---- the runner and the scheduler: real processes ----

base::FlowSettings Command(const std::string& name, const std::string& script) {
  base::FlowSettings f;
  f.name = name;
  f.kind = "command";
  f.every = "1m";
  f.command = {"/bin/sh", "-c", script};
  return f;
}

class FlowRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = "sqlite:" + (dir_.Path() / "flows.db").string();
    CHURN_ASSERT_OK_AND_ASSIGN(store_, RunStore::Open(url_));
  }

  absl::StatusOr<FlowPlan> Plan(const base::FlowSettings& f) {
    base::Config config;
    config.flows = {f};
    CHURN_ASSIGN_OR_RETURN(std::vector<FlowPlan> plans,
                           MakeFlowPlans(config, {.binary = "churn", .global_flags = {}}));
    return std::move(plans.at(0));
  }

  // Runs `f` once, manually, to its end.
  absl::StatusOr<FlowRun> RunOnce(const base::FlowSettings& f, FlowRunner& runner) {
    CHURN_ASSIGN_OR_RETURN(const FlowPlan plan, Plan(f));
    CHURN_ASSIGN_OR_RETURN(FlowRun run,
                           store_->CreateRun(f.name, "manual", 1, plan.parameters_json));
    return runner.Run(plan, std::move(run));
  }

  RunnerOptions Options() {
    return {.owner = "cli@test:1",
            .heartbeat = absl::Milliseconds(100),
            .kill_grace = absl::Seconds(2),
            .echo = nullptr};
  }

  std::filesystem::path Path(const std::string& name) const { return dir_.Path() / name; }

  base::TempDir dir_;
  std::string url_;
  std::unique_ptr<RunStore> store_;
};

TEST_F(FlowRunnerTest, PlansHaveTheStepsOfTheirKind) {
  base::Config config;
  config.flows = base::DefaultFlows();
  config.flows[2].enabled = true;
  CHURN_ASSERT_OK_AND_ASSIGN(
      const std::vector<FlowPlan> plans,
      MakeFlowPlans(config, {.binary = "/bin/churn", .global_flags = {"--config", "c.yaml"}}));
  ASSERT_THAT(plans, SizeIs(3));
  ASSERT_THAT(plans[0].steps, SizeIs(2));
  EXPECT_THAT(plans[0].steps[0].argv,
              ::testing::ElementsAre("/bin/churn", "--config", "c.yaml", "train", "--no-progress",
                                     "--dataset", "bank_churners"));
  EXPECT_EQ(plans[0].steps[1].name, "deploy");
  EXPECT_THAT(plans[0].steps[1].ok_exit_codes, ::testing::ElementsAre(0, 3));
  EXPECT_THAT(plans[0].steps[1].argv, ::testing::Contains("churn@candidate"));
  EXPECT_EQ(plans[0].schedule.ToString(), "0 */6 * * *");
  EXPECT_EQ(plans[1].steps.at(0).name, "report");
  EXPECT_EQ(plans[1].schedule.ToString(), "every 3h");
  EXPECT_EQ(plans[2].steps.at(0).name, "drift");
  EXPECT_THAT(plans[2].steps[0].argv, ::testing::Contains("log:10800s"));
  EXPECT_THAT(plans[2].steps_if_drifted, SizeIs(2));
  const nlohmann::json params = nlohmann::json::parse(plans[0].parameters_json);
  EXPECT_EQ(params.at("kind"), "train");
  EXPECT_EQ(params.at("retries"), 1);

  base::FlowSettings bad = Command("bad", "true");
  bad.every = "0s";
  EXPECT_THAT(Plan(bad), StatusIs(absl::StatusCode::kInvalidArgument, "flow 'bad'"));
  bad = Command("bad", "true");
  bad.cron = "0 * * * *";
  EXPECT_THAT(Plan(bad), StatusIs(absl::StatusCode::kInvalidArgument, "flow 'bad'"));
  bad = Command("bad", "true");
  bad.retries = -1;
  EXPECT_THAT(Plan(bad), StatusIs(absl::StatusCode::kInvalidArgument, "retries -1"));
  config.flows.push_back(config.flows[0]);
  EXPECT_THAT(MakeFlowPlans(config, {.binary = "churn", .global_flags = {}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "declared twice"));
}

// A failing step is attempted 1 + retries times, the delay doubling; then Failed with the step's
// exit code and last line. The log holds every attempt's output, stdout and stderr.
TEST_F(FlowRunnerTest, RetriesWithBackoffThenFails) {
  base::FlowSettings f = Command("flaky", "echo out-$$; echo err >&2; exit 4");
  f.retries = 2;
  f.retry_delay_seconds = 0.2;
  FlowRunner runner(store_.get(), Options());
  const absl::Time start = absl::Now();
  CHURN_ASSERT_OK_AND_ASSIGN(const FlowRun run, RunOnce(f, runner));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(600)) << "0.2 s, then 0.4 s";
  EXPECT_EQ(run.state, RunState::kFailed);
  EXPECT_EQ(run.attempts, 3);
  EXPECT_THAT(run.result, HasSubstr("exit code 4 from `command`: out-"));
  const std::string log = *store_->Log(run.id);
  EXPECT_THAT(log, HasSubstr("retrying in 200ms"));
  EXPECT_THAT(log, HasSubstr("retrying in 400ms"));
  EXPECT_THAT(log, HasSubstr("attempt 3 of 3"));
  EXPECT_THAT(log, HasSubstr("err\n"));
  EXPECT_THAT(log, HasSubstr("failed: exit code 4"));
}

TEST_F(FlowRunnerTest, SucceedsOnARetry) {
  const std::string counter = Path("count").string();
  base::FlowSettings f = Command(
      "second", absl::StrCat("n=$(cat ", counter, " 2>/dev/null || echo 0); echo $((n+1)) > ",
                             counter, "; echo attempt $n; [ $n -ge 1 ]"));
  f.retries = 3;
  f.retry_delay_seconds = 0.05;
  FlowRunner runner(store_.get(), Options());
  CHURN_ASSERT_OK_AND_ASSIGN(const FlowRun run, RunOnce(f, runner));
  EXPECT_EQ(run.state, RunState::kCompleted);
  EXPECT_EQ(run.attempts, 2);
  EXPECT_EQ(run.result, "attempt 1");
}

// Whether `pid` runs (a zombie, killed and waiting for a reaper that may not be ours, does not).
bool Alive(pid_t pid) {
  absl::StatusOr<std::string> stat = base::ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) {
    return false;
  }
  const size_t paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] != 'Z';
}

pid_t ReadPid(const std::filesystem::path& file) {
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<std::string> text = base::ReadFile(file);
    int pid = 0;
    if (text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) && pid > 0) {
      return pid;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return -1;
}

// A step past the timeout is stopped (its whole process group) and the attempt fails.
TEST_F(FlowRunnerTest, TimeoutStopsTheProcessGroup) {
  const std::filesystem::path pid_file = Path("grandchild.pid");
  base::FlowSettings f =
      Command("slow", absl::StrCat("sleep 60 & echo $! > ", pid_file.string(), "; wait"));
  f.timeout_seconds = 0.5;
  FlowRunner runner(store_.get(), Options());
  const absl::Time start = absl::Now();
  CHURN_ASSERT_OK_AND_ASSIGN(const FlowRun run, RunOnce(f, runner));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(run.state, RunState::kFailed);
  EXPECT_EQ(run.result, "timed out after 0.5 s");
  const pid_t grandchild = ReadPid(pid_file);
  ASSERT_GT(grandchild, 0);
  for (int i = 0; i < 50 && Alive(grandchild); ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_FALSE(Alive(grandchild))
      << "the step's background child went with its group: "
      << base::ReadFile(absl::StrCat("/proc/", grandchild, "/stat")).value_or("gone");
}

// A cancel request reaches the runner at its next heartbeat; the run ends Cancelled.
TEST_F(FlowRunnerTest, CancelRequestStopsTheRun) {
  base::FlowSettings f = Command("long", "sleep 60");
  f.retries = 5;
  FlowRunner runner(store_.get(), Options());
  CHURN_ASSERT_OK_AND_ASSIGN(const FlowPlan plan, Plan(f));
  CHURN_ASSERT_OK_AND_ASSIGN(FlowRun run, store_->CreateRun("long", "manual", 1, "{}"));
  const int64_t id = run.id;
  std::thread canceller([&] {
    for (int i = 0; i < 100 && store_->GetRun(id)->state != RunState::kRunning; ++i) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_THAT(store_->RequestCancel(id, absl::ToUnixMillis(absl::Now())), IsOk());
  });
  const absl::Time start = absl::Now();
  CHURN_ASSERT_OK_AND_ASSIGN(const FlowRun ended, runner.Run(plan, std::move(run)));
  canceller.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(ended.state, RunState::kCancelled);
  EXPECT_EQ(ended.attempts, 1) << "a cancelled run is not retried";
  EXPECT_EQ(ended.result, "cancelled on request");
}

// A run of a busy flow does not start: it ends Cancelled, saying which run holds the flow.
TEST_F(FlowRunnerTest, BusyFlowIsNotStartedTwice) {
  CHURN_ASSERT_OK_AND_ASSIGN(const FlowRun holder, store_->CreateRun("busy", "manual", 1, "{}"));
  ASSERT_THAT(store_->StartRun(holder.id, "cli@elsewhere:9", 1).status(), IsOk());
  FlowRunner runner(store_.get(), Options());
  CHURN_ASSERT_OK_AND_ASSIGN(const FlowPlan plan, Plan(Command("busy", "true")));
  CHURN_ASSERT_OK_AND_ASSIGN(FlowRun run, store_->CreateRun("busy", "manual", 2, "{}"));
  const int64_t id = run.id;
  EXPECT_THAT(runner.Run(plan, std::move(run)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       absl::StrCat("run ", holder.id, " is Running (cli@elsewhere:9)")));
  EXPECT_EQ(store_->GetRun(id)->state, RunState::kCancelled);
}

// A clock the test moves.
class FakeClock {
 public:
  explicit FakeClock(absl::Time t) : now_(t) {}

  absl::Time Now() const {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

class SchedulerTest : public FlowRunnerTest {
 protected:
  std::unique_ptr<Scheduler> Make(const std::vector<base::FlowSettings>& flows) {
    base::Config config;
    config.flows = flows;
    auto plans = MakeFlowPlans(config, {.binary = "churn", .global_flags = {}});
    EXPECT_THAT(plans.status(), IsOk());
    SchedulerOptions options;
    options.runner = {.owner = "scheduler@test:1",
                      .heartbeat = absl::Milliseconds(100),
                      .kill_grace = absl::Seconds(2),
                      .echo = nullptr};
    options.now = [this] { return clock_.Now(); };
    return std::make_unique<Scheduler>(*std::move(plans), store_.get(), options);
  }

  // Waits until no run is in flight.
  static void Settle(Scheduler& s) {
    for (int i = 0; i < 500 && !s.InFlight().empty(); ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    ASSERT_TRUE(s.InFlight().empty());
  }

  const absl::Time t0_ =
      absl::FromCivil(absl::CivilSecond(2026, 3, 1, 10, 0, 30), absl::UTCTimeZone());
  FakeClock clock_{t0_};
};

// Down (or busy) past five due times: one run, for the latest, the others skipped and said so.
TEST_F(SchedulerTest, MissedRunsAreSkippedNotPiledUp) {
  std::unique_ptr<Scheduler> s = Make({Command("every-minute", "echo ran")});
  ASSERT_THAT(s->TakeOver().status(), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(TickResult tick, s->Tick());
  EXPECT_TRUE(tick.started.empty()) << "a flow that never ran waits for its first due time";
  EXPECT_EQ(tick.next, t0_ + absl::Seconds(30));
  clock_.Set(t0_ + absl::Minutes(5) + absl::Seconds(10));  // due 10:01 ... 10:05 passed
  CHURN_ASSERT_OK_AND_ASSIGN(tick, s->Tick());
  ASSERT_THAT(tick.started, SizeIs(1));
  EXPECT_EQ(tick.skipped, 4);
  Settle(*s);
  CHURN_ASSERT_OK_AND_ASSIGN(const FlowRun run, store_->GetRun(tick.started[0]));
  EXPECT_EQ(run.state, RunState::kCompleted);
  EXPECT_EQ(run.trigger, "schedule");
  EXPECT_EQ(absl::FromUnixMillis(run.scheduled_ms),
            absl::FromCivil(absl::CivilMinute(2026, 3, 1, 10, 5), absl::UTCTimeZone()));
  EXPECT_THAT(*store_->Log(run.id), HasSubstr("skipped 4 missed due time(s)"));
  CHURN_ASSERT_OK_AND_ASSIGN(tick, s->Tick());
  EXPECT_TRUE(tick.started.empty()) << "10:05 is handled";
}

// A run in flight holds its flow: the due times passing meanwhile start nothing; after it ends,
// one run for the latest of them.
TEST_F(SchedulerTest, NoOverlapWhileARunIsInFlight) {
  const std::filesystem::path gate = Path("gate");
  base::FlowSettings f =
      Command("slow", absl::StrCat("while [ ! -e ", gate.string(), " ]; do sleep 0.05; done"));
  f.every = "10s";
  std::unique_ptr<Scheduler> s = Make({f});
  ASSERT_THAT(s->TakeOver().status(), IsOk());
  clock_.Set(t0_ + absl::Seconds(1));  // 10:00:40 is due... not yet: 10:00:31
  clock_.Set(t0_ + absl::Seconds(10));
  CHURN_ASSERT_OK_AND_ASSIGN(TickResult tick, s->Tick());
  ASSERT_THAT(tick.started, SizeIs(1));
  for (int i = 1; i <= 3; ++i) {
    clock_.Set(t0_ + absl::Seconds(10 + 10 * i));
    CHURN_ASSERT_OK_AND_ASSIGN(const TickResult busy, s->Tick());
    EXPECT_TRUE(busy.started.empty()) << "tick " << i;
  }
  ASSERT_THAT(base::WriteFileAtomic(gate, ""), IsOk());
  Settle(*s);
  CHURN_ASSERT_OK_AND_ASSIGN(tick, s->Tick());
  ASSERT_THAT(tick.started, SizeIs(1));
  EXPECT_EQ(tick.skipped, 2);
  Settle(*s);
  EXPECT_THAT(*store_->ListRuns({.flow = "slow", .states = {RunState::kCompleted}, .limit = 10}),
              SizeIs(2));
}

// A new leader marks the runs of the scheduler before it Crashed, and picks the schedule up after
// its last started due time (a missed due time runs once).
TEST_F(SchedulerTest, TakeOverMarksCrashedAndResumesTheSchedule) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const FlowRun left,
      store_->CreateRun("every-minute", "schedule", absl::ToUnixMillis(t0_ - absl::Seconds(30)),
                        "{}"));  // 10:00
  ASSERT_THAT(
      store_->StartRun(left.id, "scheduler@dead:7", absl::ToUnixMillis(absl::Now())).status(),
      IsOk());
  std::unique_ptr<Scheduler> s = Make({Command("every-minute", "echo ran")});
  CHURN_ASSERT_OK_AND_ASSIGN(const int64_t crashed, s->TakeOver());
  EXPECT_EQ(crashed, 1);
  CHURN_ASSERT_OK_AND_ASSIGN(const FlowRun marked, store_->GetRun(left.id));
  EXPECT_EQ(marked.state, RunState::kCrashed);
  EXPECT_THAT(marked.result, HasSubstr("killed or crashed"));
  clock_.Set(t0_ + absl::Minutes(2));  // 10:01 and 10:02 due since 10:00
  CHURN_ASSERT_OK_AND_ASSIGN(const TickResult tick, s->Tick());
  ASSERT_THAT(tick.started, SizeIs(1)) << "the next run goes ahead";
  EXPECT_EQ(tick.skipped, 1);
  Settle(*s);
  EXPECT_EQ(store_->GetRun(tick.started[0])->state, RunState::kCompleted);
}

// Serve: one leader among two; stopping the leader cancels its run in flight, and the standby
// takes over and runs the flow.
TEST_F(SchedulerTest, LeaderHandOverAndStopCancelsTheRunInFlight) {
  base::FlowSettings f = Command("tick", "sleep 30");
  f.every = "1s";
  base::Config config;
  config.flows = {f};
  CHURN_ASSERT_OK_AND_ASSIGN(std::vector<FlowPlan> plans,
                             MakeFlowPlans(config, {.binary = "churn", .global_flags = {}}));
  SchedulerOptions options;
  options.runner = {.owner = "scheduler@a:1",
                    .heartbeat = absl::Milliseconds(100),
                    .kill_grace = absl::Seconds(1),
                    .echo = nullptr};
  options.leader_poll = absl::Milliseconds(100);
  Scheduler first(plans, store_.get(), options);
  options.runner.owner = "scheduler@b:2";
  CHURN_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RunStore> second_store, RunStore::Open(url_));
  Scheduler second(plans, second_store.get(), options);
  CHURN_ASSERT_OK_AND_ASSIGN(std::unique_ptr<LeaderLock> lock_a, LeaderLock::ForStore(url_));
  CHURN_ASSERT_OK_AND_ASSIGN(std::unique_ptr<LeaderLock> lock_b, LeaderLock::ForStore(url_));
  std::atomic<bool> stop_a{false};
  std::atomic<bool> stop_b{false};
  std::thread a([&] { EXPECT_THAT(first.Serve(*lock_a, stop_a), IsOk()); });
  const auto wait_running = [&](const std::string& owner) -> std::optional<FlowRun> {
    for (int i = 0; i < 300; ++i) {
      auto runs = store_->ListRuns({.flow = "tick", .states = {RunState::kRunning}, .limit = 1});
      if (runs.ok() && !runs->empty() && (*runs)[0].owner == owner) {
        return (*runs)[0];
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return std::nullopt;
  };
  const std::optional<FlowRun> run_a = wait_running("scheduler@a:1");
  ASSERT_TRUE(run_a.has_value()) << "the first scheduler leads and runs the flow";
  std::thread b([&] { EXPECT_THAT(second.Serve(*lock_b, stop_b), IsOk()); });
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_TRUE(second.InFlight().empty()) << "the standby runs nothing";
  stop_a = true;
  a.join();
  EXPECT_EQ(store_->GetRun(run_a->id)->state, RunState::kCancelled);
  EXPECT_THAT(store_->GetRun(run_a->id)->result, HasSubstr("stopped"));
  EXPECT_TRUE(wait_running("scheduler@b:2").has_value()) << "the standby took over";
  stop_b = true;
  b.join();
}

}  // namespace
}  // namespace churn::flows
