// Several processes on one registry database, and a writer killed with SIGKILL mid-transaction:
// SQLite always, PostgreSQL when CHURN_TEST_POSTGRES_URL names a server. Children are fork()ed;
// each opens its own Registry (a connection never crosses a fork: the parent holds none while
// it forks) and reports progress through a pipe, so the parent waits on events, never on time.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "registry/pg_test_util.h"
#include "registry/sql_db.h"
#include "testing/test_env.h"
#include <sys/types.h>
#include <sys/wait.h>

#include "churn/base/file.h"
#include "churn/base/status_macros.h"
#include "churn/registry/registry.h"

namespace churn::registry {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::IsOkAndHolds;
using ::testing::ElementsAreArray;
using ::testing::SizeIs;

constexpr char kModel[] = "shared-model";

// "exit code N" or "killed by signal N", from a waitpid status.
std::string DescribeExit(int status) {
  if (WIFEXITED(status)) {
    return absl::StrCat("exit code ", WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return absl::StrCat("killed by signal ", WTERMSIG(status));
  }
  return absl::StrCat("wait status ", status);
}

// A fork()ed process that opens its own Registry and runs `work` on it, exiting 0 when the work
// returns OK and 1 otherwise (the status goes to stderr). `notify` sends the parent one event.
// Destroying a ChildProcess that still runs kills and reaps it.
class ChildProcess {
 public:
  using Work = std::function<absl::Status(Registry& reg, const std::function<void()>& notify)>;

  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const RegistryOptions& options,
                                                             const Work& work) {
    int fds[2] = {-1, -1};
    if (pipe2(fds, O_CLOEXEC) != 0) {
      return absl::InternalError(absl::StrCat("pipe2: errno ", errno));
    }
    const pid_t pid = fork();
    if (pid < 0) {
      close(fds[0]);
      close(fds[1]);
      return absl::InternalError(absl::StrCat("fork: errno ", errno));
    }
    if (pid == 0) {
      close(fds[0]);
      RunChild(options, work, fds[1]);  // never returns
    }
    close(fds[1]);
    return std::unique_ptr<ChildProcess>(new ChildProcess(pid, fds[0]));
  }

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  ~ChildProcess() {
    if (!reaped_) {
      Kill();
    }
    close(events_);
  }

  pid_t Pid() const { return pid_; }

  // Waits for the next event. true: one came; false: the child exited (its pipe closed) first;
  // DeadlineExceeded when neither happened by `deadline`.
  absl::StatusOr<bool> WaitForEvent(absl::Time deadline) {
    while (true) {
      pollfd p{events_, POLLIN, 0};
      const int64_t wait_ms =
          std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
      const int ready = poll(&p, 1, static_cast<int>(wait_ms));
      if (ready < 0 && errno == EINTR) {
        continue;
      }
      if (ready <= 0) {
        return absl::DeadlineExceededError(absl::StrCat("no event from child ", pid_));
      }
      char buffer[256];
      const ssize_t n = read(events_, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return n > 0;
    }
  }

  // Waits for the child to exit (killing it at `deadline`) and describes how it ended.
  absl::StatusOr<std::string> WaitForExit(absl::Time deadline) {
    while (true) {
      CHURN_ASSIGN_OR_RETURN(const bool event, WaitForEvent(deadline));
      if (!event) {
        return Reap();
      }
    }
  }

  // SIGKILL, then reap: how the child ended (normally "killed by signal 9").
  std::string Kill() {
    kill(pid_, SIGKILL);
    return Reap();
  }

 private:
  ChildProcess(pid_t pid, int events) : pid_(pid), events_(events) {}

  [[noreturn]] static void RunChild(const RegistryOptions& options, const Work& work, int fd) {
    const auto notify = [fd] {
      const char byte = 'x';
      if (write(fd, &byte, 1) != 1) {
        _exit(1);
      }
    };
    absl::Status status;
    {
      absl::StatusOr<std::unique_ptr<Registry>> reg = OpenRegistry(options);
      status = reg.ok() ? work(**reg, notify) : reg.status();
    }
    if (!status.ok()) {
      std::fprintf(stderr, "child %d: %s\n", static_cast<int>(getpid()), status.ToString().c_str());
    }
    _exit(status.ok() ? 0 : 1);
  }

  std::string Reap() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return DescribeExit(status);
  }

  pid_t pid_;
  int events_;
  bool reaped_ = false;
};

class RegistryFaultTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") {
      const std::optional<std::string> url = testing::PostgresUrlOrSkip();
      if (!url) {
        GTEST_SKIP() << testing::kNoPostgresUrl;
      }
      CHURN_ASSERT_OK_AND_ASSIGN(schema_, testing::FreshPostgresSchema::Create(*url));
      options_.url = schema_->Url();
    } else {
      options_.url = "sqlite:" + SqlitePath();
    }
    options_.artifact_store_uri = (dir_.Path() / "objects").string();
  }

  bool IsSqlite() const { return GetParam() == "sqlite"; }

  std::string SqlitePath() const { return (dir_.Path() / "registry.db").string(); }

  absl::StatusOr<std::unique_ptr<internal::SqlDb>> RawDb() const {
    if (IsSqlite()) {
      return internal::OpenSqliteDb(SqlitePath(), 10000);
    }
    return internal::OpenPostgresDb(options_.url);
  }

  // The database as a killed writer left it: intact, no half transaction visible.
  void ExpectConsistent(const std::string& run_id, int64_t min_batches);
  void ExpectMetricsAreWholeBatches(internal::SqlDb& db, const std::string& run_id,
                                    int64_t min_batches);
  void ExpectLatestMetricsMatchHistory(internal::SqlDb& db);
  void ExpectDenseVersionsAndExactAliases(internal::SqlDb& db);

  base::TempDir dir_;
  std::unique_ptr<testing::FreshPostgresSchema> schema_;  // dropped after every connection
  RegistryOptions options_;
};

INSTANTIATE_TEST_SUITE_P(Backends, RegistryFaultTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& p) { return p.param; });

// --- Two writers at once -------------------------------------------------------------------

constexpr int kRunsPerChild = 100;
constexpr int kVersionsPerChild = 30;
constexpr int kMetricsPerRun = 20;
constexpr int kParamsPerRun = 5;

double MetricValue(int child, int run, int metric) {
  return child * 1000.0 + run + metric * 0.25;
}

// One writer of TwoProcessesWritingAtOnceLoseNothing: its runs with their batches, and a model
// version from every third-or-so run, so both writers version the model throughout.
absl::Status WriteRunsAndVersions(Registry& reg, const std::string& experiment, int child) {
  int versions = 0;
  for (int r = 0; r < kRunsPerChild; ++r) {
    CHURN_ASSIGN_OR_RETURN(
        const registry::Run run,
        reg.CreateRun({.experiment_id = experiment, .run_name = absl::StrCat("c", child, "-", r)}));
    std::vector<Metric> metrics;
    metrics.reserve(kMetricsPerRun);
    for (int m = 0; m < kMetricsPerRun; ++m) {
      metrics.push_back({absl::StrCat("m", m), MetricValue(child, r, m), 1000 + r, 0});
    }
    std::vector<Param> params;
    params.reserve(kParamsPerRun);
    for (int p = 0; p < kParamsPerRun; ++p) {
      params.push_back({absl::StrCat("p", p), absl::StrCat("c", child, "-", r, "-", p)});
    }
    CHURN_RETURN_IF_ERROR(reg.LogBatch(run.info.run_id, metrics, params, {}));
    if (r % 10 < 3) {
      CHURN_RETURN_IF_ERROR(
          reg.CreateModelVersion(
                 {.name = kModel, .source = absl::StrCat("runs:/", run.info.run_id, "/model")})
              .status());
      ++versions;
    }
  }
  if (versions != kVersionsPerChild) {
    return absl::InternalError(absl::StrCat("created ", versions, " versions"));
  }
  return absl::OkStatus();
}

// The parent used the registry (created a run) before it forked, as a server forking workers
// would; whether a process drew random numbers before fork() must not matter.
TEST_P(RegistryFaultTest, TwoProcessesWritingAtOnceLoseNothing) {
  std::string experiment;
  {
    CHURN_ASSERT_OK_AND_ASSIGN(auto reg, OpenRegistry(options_));
    CHURN_ASSERT_OK_AND_ASSIGN(experiment, reg->CreateExperiment("concurrent", "", {}));
    ASSERT_THAT(reg->CreateRegisteredModel(kModel, "", {}), IsOk());
    ASSERT_THAT(reg->CreateRun({.experiment_id = "0", .run_name = "parent"}), IsOk());
  }  // closed before forking
  std::vector<std::unique_ptr<ChildProcess>> children;
  for (int child = 0; child < 2; ++child) {
    CHURN_ASSERT_OK_AND_ASSIGN(
        auto process,
        ChildProcess::Start(options_, [&experiment, child](Registry& reg, const auto& /*notify*/) {
          return WriteRunsAndVersions(reg, experiment, child);
        }));
    children.push_back(std::move(process));
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  for (auto& child : children) {
    EXPECT_THAT(child->WaitForExit(deadline), IsOkAndHolds(std::string("exit code 0")))
        << "child " << child->Pid();
  }

  CHURN_ASSERT_OK_AND_ASSIGN(auto reg, OpenRegistry(options_));
  CHURN_ASSERT_OK_AND_ASSIGN(
      const Page<registry::Run> runs,
      reg->SearchRuns({.experiment_ids = {experiment}, .max_results = 1000}));
  ASSERT_EQ(runs.items.size(), static_cast<size_t>(2 * kRunsPerChild));
  std::set<std::string> names;
  for (const registry::Run& run : runs.items) {
    names.insert(run.info.run_name);
    ASSERT_THAT(run.metrics, SizeIs(kMetricsPerRun)) << run.info.run_name;
    ASSERT_THAT(run.params, SizeIs(kParamsPerRun)) << run.info.run_name;
    const std::vector<std::string> parts = absl::StrSplit(run.info.run_name.substr(1), '-');
    int child = 0;
    int r = 0;
    ASSERT_TRUE(parts.size() == 2 && absl::SimpleAtoi(parts[0], &child) &&
                absl::SimpleAtoi(parts[1], &r))
        << run.info.run_name;
    for (const Metric& m : run.metrics) {
      EXPECT_EQ(m.value, MetricValue(child, r, std::stoi(m.key.substr(1)))) << run.info.run_name;
    }
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(2 * kRunsPerChild));  // no run twice

  CHURN_ASSERT_OK_AND_ASSIGN(
      const Page<ModelVersion> versions,
      reg->SearchModelVersions({.filter = absl::StrCat("name = '", kModel, "'"),
                                .order_by = {"version_number ASC"},
                                .max_results = 1000}));
  std::vector<int64_t> numbers;
  std::set<std::string> version_runs;
  for (const ModelVersion& v : versions.items) {
    numbers.push_back(v.version);
    version_runs.insert(v.run_id);
  }
  std::vector<int64_t> expected(size_t{2} * kVersionsPerChild);
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_THAT(numbers, ElementsAreArray(expected));
  EXPECT_EQ(version_runs.size(), static_cast<size_t>(2 * kVersionsPerChild));
  CHURN_ASSERT_OK_AND_ASSIGN(const RegisteredModel model, reg->GetRegisteredModel(kModel));
  EXPECT_EQ(model.latest_version, std::optional<int64_t>(2 * kVersionsPerChild));
}

// Run ids must stay unique across processes forked from one that already made runs: two
// children creating runs at once must never collide on run_uuid.
TEST_P(RegistryFaultTest, ForkedProcessesGetDistinctRunIds) {
  std::string experiment;
  {
    CHURN_ASSERT_OK_AND_ASSIGN(auto reg, OpenRegistry(options_));
    CHURN_ASSERT_OK_AND_ASSIGN(experiment, reg->CreateExperiment("ids", "", {}));
    ASSERT_THAT(reg->CreateRun({.experiment_id = experiment, .run_name = "parent"}), IsOk());
  }
  std::vector<std::unique_ptr<ChildProcess>> children;
  for (int child = 0; child < 2; ++child) {
    CHURN_ASSERT_OK_AND_ASSIGN(
        auto process,
        ChildProcess::Start(options_, [&experiment](Registry& reg, const auto& /*notify*/) {
          for (int r = 0; r < 5; ++r) {
            CHURN_RETURN_IF_ERROR(reg.CreateRun({.experiment_id = experiment}).status());
          }
          return absl::OkStatus();
        }));
    children.push_back(std::move(process));
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (auto& child : children) {
    EXPECT_THAT(child->WaitForExit(deadline), IsOkAndHolds(std::string("exit code 0")))
        << "child " << child->Pid() << " (its error is on stderr above)";
  }
  CHURN_ASSERT_OK_AND_ASSIGN(auto reg, OpenRegistry(options_));
  CHURN_ASSERT_OK_AND_ASSIGN(const Page<registry::Run> runs,
                             reg->SearchRuns({.experiment_ids = {experiment}}));
  EXPECT_EQ(runs.items.size(), 11U);
}

// --- A writer killed mid-transaction -------------------------------------------------------

constexpr int kMetricsPerBatch = 1000;
constexpr int kMetricKeys = 10;
constexpr int64_t kStepsPerRound = 1000000;

// 1000 metrics over 10 keys, 100 new steps each: batch `i` of `round` has steps above every
// earlier batch's, so the latest value of a key is its largest-step row.
std::vector<Metric> Batch(int round, int64_t i) {
  std::vector<Metric> batch;
  batch.reserve(kMetricsPerBatch);
  const int64_t base = round * kStepsPerRound + i * (kMetricsPerBatch / kMetricKeys);
  for (int64_t j = 0; j < kMetricsPerBatch; ++j) {
    batch.push_back({absl::StrCat("m", j % kMetricKeys),
                     static_cast<double>((i * 7919 + j * 104729) % 1000) / 1000.0, base,
                     base + j / kMetricKeys});
  }
  return batch;
}

// The killed writer: forever a 1000-metric batch, a new model version, alias moves.
absl::Status WriteUntilKilled(Registry& reg, const std::string& run_id, int round,
                              const std::function<void()>& notify) {
  for (int64_t i = 0;; ++i) {
    CHURN_RETURN_IF_ERROR(reg.LogBatch(run_id, Batch(round, i), {}, {}));
    CHURN_ASSIGN_OR_RETURN(
        const ModelVersion v,
        reg.CreateModelVersion({.name = kModel, .source = absl::StrCat("s3://b/", round, "/", i)}));
    CHURN_RETURN_IF_ERROR(reg.SetAlias(kModel, "champion", v.version, "writer", "newest"));
    if (i % 3 == 0) {
      CHURN_RETURN_IF_ERROR(reg.SetAlias(kModel, "challenger", v.version, "writer", "every 3rd"));
    }
    notify();
  }
}

// How many whole batches of the run's metric history are visible.
absl::StatusOr<int64_t> VisibleBatches(Registry& reg, const std::string& run_id) {
  CHURN_ASSIGN_OR_RETURN(const Page<Metric> history, reg.GetMetricHistory(run_id, "m0", 0, ""));
  return static_cast<int64_t>(history.items.size()) / (kMetricsPerBatch / kMetricKeys);
}

void RegistryFaultTest::ExpectMetricsAreWholeBatches(internal::SqlDb& db, const std::string& run_id,
                                                     int64_t min_batches) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const internal::SqlRows counts,
      db.Query("SELECT run_uuid, COUNT(*) FROM metrics GROUP BY run_uuid", {}));
  ASSERT_EQ(counts.size(), 1U);
  EXPECT_EQ(counts.Text(0, 0), run_id);
  const int64_t rows = counts.Int(0, 1);
  EXPECT_EQ(rows % kMetricsPerBatch, 0) << rows << " rows: a batch was half written";
  EXPECT_GE(rows / kMetricsPerBatch, min_batches);
}

void RegistryFaultTest::ExpectLatestMetricsMatchHistory(internal::SqlDb& db) {
  using Latest = std::map<std::string, std::pair<int64_t, double>>;  // key -> (step, value)
  CHURN_ASSERT_OK_AND_ASSIGN(const internal::SqlRows latest,
                             db.Query("SELECT key, step, value FROM latest_metrics", {}));
  CHURN_ASSERT_OK_AND_ASSIGN(
      const internal::SqlRows top,
      db.Query("SELECT m.key, m.step, m.value FROM metrics m WHERE m.step = (SELECT MAX(n.step) "
               "FROM metrics n WHERE n.run_uuid = m.run_uuid AND n.key = m.key)",
               {}));
  Latest from_latest;
  Latest from_history;
  for (size_t i = 0; i < latest.size(); ++i) {
    from_latest[latest.Text(i, 0)] = {latest.Int(i, 1), latest.Double(i, 2)};
  }
  for (size_t i = 0; i < top.size(); ++i) {
    from_history[top.Text(i, 0)] = {top.Int(i, 1), top.Double(i, 2)};
  }
  EXPECT_EQ(from_latest.size(), static_cast<size_t>(kMetricKeys));
  EXPECT_EQ(from_latest, from_history);
}

void RegistryFaultTest::ExpectDenseVersionsAndExactAliases(internal::SqlDb& db) {
  CHURN_ASSERT_OK_AND_ASSIGN(
      const internal::SqlRows versions,
      db.Query("SELECT version FROM model_versions WHERE name = ? ORDER BY version",
               {std::string(kModel)}));
  ASSERT_FALSE(versions.empty());
  for (size_t i = 0; i < versions.size(); ++i) {
    EXPECT_EQ(versions.Int(i, 0), static_cast<int64_t>(i) + 1) << "versions are not 1..N";
  }
  CHURN_ASSERT_OK_AND_ASSIGN(
      const internal::SqlRows last,
      db.Query("SELECT last_version FROM registered_models WHERE name = ?", {std::string(kModel)}));
  ASSERT_EQ(last.size(), 1U);
  EXPECT_EQ(last.Int(0, 0), static_cast<int64_t>(versions.size()));
  CHURN_ASSERT_OK_AND_ASSIGN(
      const internal::SqlRows aliases,
      db.Query("SELECT alias, version FROM registered_model_aliases WHERE name = ?",
               {std::string(kModel)}));
  ASSERT_FALSE(aliases.empty());
  for (size_t a = 0; a < aliases.size(); ++a) {
    const int64_t version = aliases.Int(a, 1);
    EXPECT_GE(version, 1);
    EXPECT_LE(version, static_cast<int64_t>(versions.size()));
    CHURN_ASSERT_OK_AND_ASSIGN(
        const internal::SqlRows history,
        db.Query("SELECT version, previous_version FROM alias_history WHERE name = ? AND "
                 "alias = ? ORDER BY id",
                 {std::string(kModel), aliases.Text(a, 0)}));
    ASSERT_FALSE(history.empty()) << aliases.Text(a, 0);
    EXPECT_EQ(history.Int(history.size() - 1, 0), version) << aliases.Text(a, 0);
    EXPECT_TRUE(history.IsNull(0, 1));
    for (size_t h = 1; h < history.size(); ++h) {  // every move starts where the last one ended
      EXPECT_EQ(history.Int(h, 1), history.Int(h - 1, 0)) << aliases.Text(a, 0) << " move " << h;
    }
  }
}

void RegistryFaultTest::ExpectConsistent(const std::string& run_id, int64_t min_batches) {
  CHURN_ASSERT_OK_AND_ASSIGN(auto db, RawDb());
  if (IsSqlite()) {
    CHURN_ASSERT_OK_AND_ASSIGN(const internal::SqlRows check,
                               db->Query("PRAGMA integrity_check", {}));
    ASSERT_EQ(check.size(), 1U);
    EXPECT_EQ(check.Text(0, 0), "ok");
  }
  ExpectMetricsAreWholeBatches(*db, run_id, min_batches);
  ExpectLatestMetricsMatchHistory(*db);
  ExpectDenseVersionsAndExactAliases(*db);
}

TEST_P(RegistryFaultTest, WriterKilledMidTransactionLeavesConsistentDatabase) {
  std::string run_id;
  {
    CHURN_ASSERT_OK_AND_ASSIGN(auto reg, OpenRegistry(options_));
    CHURN_ASSERT_OK_AND_ASSIGN(const std::string experiment,
                               reg->CreateExperiment("killed", "", {}));
    CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run run,
                               reg->CreateRun({.experiment_id = experiment}));
    run_id = run.info.run_id;
    ASSERT_THAT(reg->CreateRegisteredModel(kModel, "", {}), IsOk());
  }
  int64_t batches = 0;  // whole batches committed before the round
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    CHURN_ASSERT_OK_AND_ASSIGN(
        auto child,
        ChildProcess::Start(options_, [&run_id, round](Registry& reg, const auto& notify) {
          return WriteUntilKilled(reg, run_id, round, notify);
        }));
    // Opened after the fork, so the child shares no connection with it.
    CHURN_ASSERT_OK_AND_ASSIGN(auto reg, OpenRegistry(options_));
    // A later moment in each round: 5, 6, then 7 batches of this round.
    const int64_t target = batches + 5 + round;
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    int64_t visible = 0;
    while (visible < target) {
      ASSERT_THAT(child->WaitForEvent(deadline), IsOkAndHolds(true))
          << "the writer stopped or stalled after " << visible << " batches";
      CHURN_ASSERT_OK_AND_ASSIGN(visible, VisibleBatches(*reg, run_id));
    }
    EXPECT_EQ(child->Kill(), "killed by signal 9");
    reg.reset();

    ExpectConsistent(run_id, target);
    if (HasFatalFailure()) {
      return;
    }

    // The registry opens and takes writes again: a whole batch, a version, an alias move.
    CHURN_ASSERT_OK_AND_ASSIGN(reg, OpenRegistry(options_));
    CHURN_ASSERT_OK_AND_ASSIGN(const RegisteredModel before, reg->GetRegisteredModel(kModel));
    ASSERT_TRUE(before.latest_version.has_value());
    ASSERT_THAT(reg->LogBatch(run_id, Batch(round, kStepsPerRound / 200), {}, {}), IsOk());
    CHURN_ASSERT_OK_AND_ASSIGN(const ModelVersion v,
                               reg->CreateModelVersion({.name = kModel, .source = "s3://b/after"}));
    EXPECT_EQ(v.version, *before.latest_version + 1);
    ASSERT_THAT(reg->SetAlias(kModel, "champion", v.version, "test", "after the kill"), IsOk());
    EXPECT_THAT(reg->GetModelVersionByAlias(kModel, "champion"), IsOk());
    CHURN_ASSERT_OK_AND_ASSIGN(batches, VisibleBatches(*reg, run_id));
    reg.reset();  // closed before the next fork
    ExpectConsistent(run_id, batches);
  }
}

}  // namespace
}  // namespace churn::registry
