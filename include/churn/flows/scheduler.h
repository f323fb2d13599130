// File: churn/flows/scheduler.h
//
// The scheduler (`churn scheduler`) and the flow runner it shares with `churn flows run`.
//
// A flow (`flows:` of churn.yaml, base::FlowSettings) is a short list of steps, each one child
// process: the churn binary itself with a verb (`churn train`, `churn deploy`, `churn report`,
// `churn drift`), or any program for kind `command`. Running steps as processes, not threads,
// is what makes a timeout real (a process can be stopped; a thread cannot), keeps a crashing
// flow from taking the scheduler down, and gives every run its own log: the steps' stdout and
// stderr go to the run's log in the run store, line by line, beside the runner's own lines.
//
//   kind                 steps
//   train                churn train --no-progress ARGS   [then churn deploy MODEL@candidate]
//   report               churn report ARGS
//   retrain_if_drifted   churn drift --reference serve.model --current log:WINDOW --json; when
//                        the dataset drifted, the train steps (a verdict of no drift ends it)
//   command              COMMAND as given
//
// A run: Scheduled, then Running (attempt 1). A failed attempt (an exit code other than the
// step's accepted ones, a timeout) goes to Retrying and is attempted again after the retry
// delay, doubled each time, while retries remain; then Failed. A cancel (`churn flows cancel`,
// SIGTERM of the scheduler) stops the attempt's process group (SIGTERM, then SIGKILL after the
// grace) and ends the run Cancelled. A `churn deploy` whose gates refuse the version (exit 3)
// is a completed run: the flow trained and gated, and the result says what refused it.
//
// The children die with their runner: each is started with PR_SET_PDEATHSIG (SIGKILL) in its
// own process group, so a scheduler killed with SIGKILL leaves no flow process behind, and the
// next scheduler to lead marks the runs it left Crashed (RunStore::MarkOwnedCrashed).
#ifndef CHURN_FLOWS_SCHEDULER_H_
#define CHURN_FLOWS_SCHEDULER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "churn/base/config.h"
#include "churn/flows/run_store.h"
#include "churn/flows/schedule.h"

namespace churn::flows {

// One process of a flow.
struct FlowStep {
  // "train", "deploy", "report", "drift" or "command".
  std::string name;
  std::vector<std::string> argv;
  // Exit codes that count as success (deploy: 0 and 3, a refusal by the gates).
  std::vector<int> ok_exit_codes = {0};
};

// A flow made ready to run: its settings, schedule and steps.
struct FlowPlan {
  base::FlowSettings settings;
  Schedule schedule;
  // The steps before the drift verdict (retrain_if_drifted: the drift check), and the steps
  // after it (retrain_if_drifted: train [+ deploy]; empty for the other kinds).
  std::vector<FlowStep> steps;
  std::vector<FlowStep> steps_if_drifted;
  // JSON object recorded as each run's parameters.
  std::string parameters_json;
};

// How a flow's churn steps call churn: the binary, and the global flags that give them the
// same config as the caller (--config, --data-dir).
struct ChurnInvocation {
  std::string binary;
  std::vector<std::string> global_flags;
};

// The plans of the config's flows (every declared flow, enabled or not). InvalidArgument naming
// the flow for a bad schedule, kind, retry or timeout setting.
absl::StatusOr<std::vector<FlowPlan>> MakeFlowPlans(const base::Config& config,
                                                    const ChurnInvocation& churn);

// The runner's settings.
struct RunnerOptions {
  // Who runs: "scheduler@HOST:PID" or "cli@HOST:PID" (OwnerName).
  std::string owner;
  absl::Duration heartbeat = absl::Seconds(5);
  // A stopped (timed-out, cancelled, shut-down) step's process group gets SIGTERM, then SIGKILL
  // after this (`churn scheduler`: scheduler.shutdown_grace_seconds).
  absl::Duration kill_grace = absl::Seconds(10);
  // Also writes every log line to this (the CLI: stdout), besides the store.
  std::function<void(absl::string_view)> echo{};
};

// "<role>@<hostname>:<pid>".
std::string OwnerName(absl::string_view role);

// Runs flow runs: attempts, retries with backoff, timeouts, cancel, the log. Thread-safe: one
// runner serves every run of a scheduler, each run on its caller's thread.
class FlowRunner {
 public:
  FlowRunner(RunStore* store, RunnerOptions options);

  // Runs `run` (Scheduled) of `plan` to its end on this thread and returns it as it ended.
  // FailedPrecondition when the flow already has an active run (nothing is started; the run is
  // ended Cancelled with that reason).
  absl::StatusOr<FlowRun> Run(const FlowPlan& plan, const FlowRun& run);

  // Asks every run in progress to stop (their processes get SIGTERM now); they end Cancelled
  // with `reason`. Later Run calls end at once, Cancelled.
  void StopAll(absl::string_view reason);
  // Undoes StopAll for the runs started afterwards (a scheduler that leads again).
  void Resume();

 private:
  struct Attempt;
  absl::StatusOr<bool> RunSteps(const FlowPlan& plan, int64_t run_id, Attempt& attempt);
  absl::Status RunStep(const FlowStep& step, int64_t run_id, Attempt& attempt,
                       std::string* stdout_text);
  void Log(int64_t run_id, absl::string_view line);
  // Stores the attempt's pending log text when it is due (or `now`).
  void FlushLog(int64_t run_id, Attempt& attempt, bool now);
  // The heartbeat (and cancel request), a stop of every run, the deadline.
  void CheckStop(int64_t run_id, Attempt& attempt);
  // Waits up to `d` unless stopped or `run_id` is cancelled; false when interrupted.
  bool WaitInterruptible(absl::Duration d, int64_t run_id);
  bool Stopping() const;

  RunStore* const store_;
  const RunnerOptions options_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::string stop_reason_ ABSL_GUARDED_BY(mu_);
};

struct SchedulerOptions {
  RunnerOptions runner{};
  // The clock of due times (tests move it by hand); attempts, timeouts and heartbeats use the
  // real clock.
  std::function<absl::Time()> now = [] { return absl::Now(); };
  absl::Duration leader_poll = absl::Seconds(5);
  // A Running run without a heartbeat for this long is Crashed.
  absl::Duration stale = absl::Seconds(60);
  // Ended runs older than this go (the newest keep_runs of each flow stay).
  absl::Duration retention = absl::Hours(24 * 30);
  int64_t keep_runs = 100;
};

// What one Tick did.
struct TickResult {
  // The ids of the runs started, and the due times skipped because they were missed.
  std::vector<int64_t> started;
  int64_t skipped = 0;
  // The next due time of any enabled flow.
  absl::Time next = absl::InfiniteFuture();
};

class Scheduler {
 public:
  // Only enabled plans are scheduled. `store` must outlive the scheduler.
  Scheduler(std::vector<FlowPlan> plans, RunStore* store, SchedulerOptions options);
  ~Scheduler();

  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // What a new leader does first: runs its predecessors left Running or Retrying are Crashed;
  // each flow's schedule resumes after its last started due time (or now, for a flow that
  // never ran: it waits for its next due time). Returns how many runs were marked Crashed.
  absl::StatusOr<int64_t> TakeOver();

  // One pass at options.now(): for each enabled flow with no run in flight and a due time in
  // (last due, now], one run for the latest due time (the earlier ones are skipped and said in
  // its log), started on a thread of its own.
  absl::StatusOr<TickResult> Tick();

  // Housekeeping: stale runs Crashed, retention applied.
  absl::Status Maintain();

  // The daemon: waits to lead (`lock`), takes over, ticks until `stop` is set (checked every
  // few hundred ms), then stops the runs in flight (Cancelled) within the shutdown grace. A
  // lost lock stops the runs and goes back to waiting.
  absl::Status Serve(LeaderLock& lock, const std::atomic<bool>& stop);

  // Stops the runs in flight and waits for their threads.
  void Shutdown(absl::string_view reason);

  // Runs in flight now (their flows).
  std::vector<std::string> InFlight() const;

 private:
  struct FlowState {
    absl::Time last_due = absl::InfinitePast();
    bool in_flight = false;
  };

  void StartRun(const FlowPlan& plan, FlowRun run);
  // Takes the lead when the lock is free (TakeOver); whether this scheduler leads now.
  bool TryLead(LeaderLock& lock);
  void ReapFinished();

  const std::vector<FlowPlan> plans_;
  RunStore* const store_;
  const SchedulerOptions options_;
  FlowRunner runner_;

  mutable absl::Mutex mu_;
  std::map<std::string, FlowState> state_ ABSL_GUARDED_BY(mu_);
  // Run threads by run id; a finished thread's id lands in finished_ for joining.
  std::map<int64_t, std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> finished_ ABSL_GUARDED_BY(mu_);
};

}  // namespace churn::flows

#endif  // CHURN_FLOWS_SCHEDULER_H_
