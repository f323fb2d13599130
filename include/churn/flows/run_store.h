// File: churn/flows/run_store.h
//
// Flow runs: what the scheduler (`churn scheduler`) and `churn flows run` did, kept in a SQL
// database (SQLite at <data_dir>/flows.db by default, or PostgreSQL when several hosts run
// schedulers) so that `churn flows runs`, the console and a restarted scheduler all see it.
//
// A run's life:
//
//   Scheduled --start--> Running --ok--> Completed
//                          |  \--error, attempts left--> Retrying --due--> Running ...
//                          |  \--error, none left------> Failed
//                          |  \--cancel / shutdown-----> Cancelled
//                          \--its runner died----------> Crashed (found at the next start)
//
// Never two runs of one flow at once: a partial unique index (flow, where the state is Running
// or Retrying) makes the database refuse a second one, whichever host or process asks
// (StartRun answers FailedPrecondition naming the run that holds the flow).
//
// The log of a run (its processes' stdout and stderr, and the runner's own lines) is stored in
// chunks beside it, so every host reads it.
#ifndef CHURN_FLOWS_RUN_STORE_H_
#define CHURN_FLOWS_RUN_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace churn::flows {

enum class RunState { kScheduled, kRunning, kCompleted, kFailed, kRetrying, kCancelled, kCrashed };

// "Scheduled", "Running", "Completed", "Failed", "Retrying", "Cancelled", "Crashed".
absl::string_view RunStateName(RunState state);
// The state a name (case-insensitive) stands for; InvalidArgument otherwise.
absl::StatusOr<RunState> ParseRunState(absl::string_view name);
// Completed, Failed, Cancelled and Crashed: the run is over.
bool IsFinal(RunState state);

struct FlowRun {
  int64_t id = 0;
  std::string flow;
  RunState state = RunState::kScheduled;
  // "schedule" (the scheduler, at a due time) or "manual" (`churn flows run`, the console).
  std::string trigger;
  // The due time the run is for (ms since the epoch; the creation time of a manual run).
  int64_t scheduled_ms = 0;
  // First start and final end (0: not yet).
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  // Attempts started, and when the next one is due (Retrying only).
  int attempts = 0;
  int64_t next_attempt_ms = 0;
  // JSON object: the flow's kind, its settings and the command lines it runs.
  std::string parameters = "{}";
  // One line: what the run ended with ("registered churn version 7", "exit code 1 from
  // `churn train`", "timed out after 600 s").
  std::string result;
  // Who runs it: "scheduler@HOST:PID" or "cli@HOST:PID"; empty while Scheduled.
  std::string owner;
  // The owner's last sign of life (ms); an active run whose heartbeat is older than the stale
  // age is Crashed (see MarkStaleCrashed).
  int64_t heartbeat_ms = 0;
  // Set by RequestCancel; the owner sees it at its next heartbeat and stops the run.
  bool cancel_requested = false;
  // Log bytes stored.
  int64_t log_bytes = 0;
};

struct RunQuery {
  // Empty: every flow.
  std::string flow;
  // Empty: every state.
  std::vector<RunState> states;
  // Newest first, at most this many.
  int64_t limit = 100;
};

class RunStore {
 public:
  // Opens (creating) the store a URL names: "postgresql://...", "sqlite:PATH" or a path.
  static absl::StatusOr<std::unique_ptr<RunStore>> Open(absl::string_view url);

  virtual ~RunStore() = default;

  // "sqlite:/path/flows.db" or "postgresql://host:port/db" (no credentials).
  virtual std::string Describe() const = 0;

  // A new run in Scheduled.
  virtual absl::StatusOr<FlowRun> CreateRun(absl::string_view flow, absl::string_view trigger,
                                            int64_t scheduled_ms,
                                            absl::string_view parameters_json) = 0;
  // Moves a Scheduled or Retrying run to Running for `owner`: one more attempt, start_ms set at
  // the first, heartbeat now. FailedPrecondition when another run of the flow is Running or
  // Retrying (naming it) or when the run is in another state; NotFound for an unknown id.
  virtual absl::StatusOr<FlowRun> StartRun(int64_t id, absl::string_view owner, int64_t now_ms) = 0;
  // Running -> Retrying with the next attempt due at `next_attempt_ms`.
  virtual absl::Status RetryRun(int64_t id, int64_t next_attempt_ms, absl::string_view result) = 0;
  // Ends a run that is not over yet in a final state with its result. FailedPrecondition when
  // it is already over.
  virtual absl::Status FinishRun(int64_t id, RunState state, absl::string_view result,
                                 int64_t now_ms) = 0;
  // Records that `id`'s owner is alive; returns whether a cancel was requested.
  virtual absl::StatusOr<bool> Heartbeat(int64_t id, int64_t now_ms) = 0;
  // Asks the run's owner to stop it; a Scheduled or Retrying run is Cancelled at once.
  // FailedPrecondition when the run is over.
  virtual absl::Status RequestCancel(int64_t id, int64_t now_ms) = 0;

  // Appends to the run's log.
  virtual absl::Status AppendLog(int64_t id, absl::string_view text) = 0;
  // The run's whole log.
  virtual absl::StatusOr<std::string> Log(int64_t id) = 0;

  virtual absl::StatusOr<FlowRun> GetRun(int64_t id) = 0;
  virtual absl::StatusOr<std::vector<FlowRun>> ListRuns(const RunQuery& query) = 0;
  // The latest due time among the flow's scheduled runs that started (nullopt: none): where a
  // restarted scheduler takes up the flow's schedule.
  virtual absl::StatusOr<std::optional<int64_t>> LastStartedDue(absl::string_view flow) = 0;

  // Marks Crashed every Running or Retrying run whose owner starts with `owner_prefix` (a new
  // leader's predecessors: "scheduler@"), with `result`. Returns how many.
  virtual absl::StatusOr<int64_t> MarkOwnedCrashed(absl::string_view owner_prefix,
                                                   absl::string_view result, int64_t now_ms) = 0;
  // Marks Crashed every Running or Retrying run whose heartbeat is older than now - stale_ms
  // (a Retrying run's owner keeps beating while it waits). Returns how many.
  virtual absl::StatusOr<int64_t> MarkStaleCrashed(int64_t stale_ms, int64_t now_ms) = 0;
  // Deletes runs that ended before `before_ms`, keeping the newest `keep_per_flow` of each flow,
  // with their logs. Returns how many went.
  virtual absl::StatusOr<int64_t> DeleteEndedBefore(int64_t before_ms, int64_t keep_per_flow) = 0;
};

// One scheduler leads at a time: the one holding this lock. On PostgreSQL a session advisory
// lock on a connection of its own (released by the server when the holder's connection dies);
// on SQLite an flock(2) on "<database>.leader" (released by the kernel when the holder dies).
class LeaderLock {
 public:
  // The lock for the store `url` names. Nothing is taken yet.
  static absl::StatusOr<std::unique_ptr<LeaderLock>> ForStore(absl::string_view url);

  virtual ~LeaderLock() = default;

  // Takes the lock if it is free: true when held afterwards.
  virtual absl::StatusOr<bool> TryAcquire() = 0;
  // Whether the lock is still held (PostgreSQL: the connection is alive). A lost lock means
  // another scheduler may lead now: stop starting runs.
  virtual bool StillHeld() = 0;
  virtual void Release() = 0;
};

}  // namespace churn::flows

#endif  // CHURN_FLOWS_RUN_STORE_H_
