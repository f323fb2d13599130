#include "churn/flows/scheduler.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include <sys/prctl.h>
#include <sys/wait.h>

#include "churn/base/logging.h"
#include "churn/base/status_macros.h"

namespace churn::flows {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxLogBytes = size_t{8} << 20;     // per run; beyond, lines are dropped
constexpr size_t kMaxStdoutBytes = size_t{4} << 20;  // kept per step for its verdict
constexpr size_t kLogFlushBytes = 64 << 10;
constexpr absl::Duration kLogFlushEvery = absl::Seconds(1);
constexpr absl::Duration kPollStep = absl::Milliseconds(200);
constexpr size_t kMaxResultChars = 300;

int64_t RealNowMs() {
  return absl::ToUnixMillis(absl::Now());
}

std::string Quoted(const std::vector<std::string>& argv) {
  std::vector<std::string> parts;
  parts.reserve(argv.size());
  for (const std::string& a : argv) {
    parts.push_back(a.find_first_of(" \t\"'") == std::string::npos ? a : absl::StrCat("'", a, "'"));
  }
  return absl::StrJoin(parts, " ");
}

// A line of a run's log: "2026-12-02T18:23:32Z <line>\n".
std::string LogLine(absl::string_view line) {
  return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ ", absl::Now(), absl::UTCTimeZone()),
                      line, "\n");
}

// The last non-empty line of `text`, shortened.
std::string LastLine(absl::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipWhitespace());
  if (lines.empty()) {
    return "";
  }
  std::string line(absl::StripAsciiWhitespace(lines.back()));
  if (line.size() > kMaxResultChars) {
    line = absl::StrCat(line.substr(0, kMaxResultChars), "...");
  }
  return line;
}

std::vector<std::string> ChurnArgv(const ChurnInvocation& churn,
                                   std::initializer_list<std::string> verb,
                                   const std::vector<std::string>& more) {
  std::vector<std::string> argv = {churn.binary};
  argv.insert(argv.end(), churn.global_flags.begin(), churn.global_flags.end());
  argv.insert(argv.end(), verb.begin(), verb.end());
  argv.insert(argv.end(), more.begin(), more.end());
  return argv;
}

std::vector<FlowStep> TrainSteps(const base::FlowSettings& f, const base::Config& config,
                                 const ChurnInvocation& churn) {
  std::vector<FlowStep> steps;
  steps.push_back({.name = "train",
                   .argv = ChurnArgv(churn, {"train", "--no-progress"}, f.args),
                   .ok_exit_codes = {0}});
  if (f.deploy) {
    steps.push_back(
        {.name = "deploy",
         .argv = ChurnArgv(churn,
                           {"deploy", absl::StrCat(config.train.model_name, "@candidate"),
                            "--actor", "scheduler", "--reason", absl::StrCat("flow ", f.name)},
                           {}),
         .ok_exit_codes = {0, 3}});
  }
  return steps;
}

absl::Status CheckSettings(const base::FlowSettings& f) {
  const auto bad = [&f](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("flow '", f.name, "': ", what));
  };
  if (f.retries < 0 || f.retries > 100) {
    return bad(absl::StrCat("retries ", f.retries, " is outside 0-100"));
  }
  if (!(f.retry_delay_seconds >= 0) || f.retry_delay_seconds > 86400) {
    return bad(absl::StrCat("retry_delay_seconds ", f.retry_delay_seconds, " is outside 0-86400"));
  }
  if (!(f.timeout_seconds >= 0)) {
    return bad(absl::StrCat("timeout_seconds ", f.timeout_seconds, " is negative"));
  }
  if (!(f.window_seconds >= 0)) {
    return bad(absl::StrCat("window_seconds ", f.window_seconds, " is negative"));
  }
  return absl::OkStatus();
}

absl::StatusOr<FlowPlan> MakePlan(const base::FlowSettings& f, const base::Config& config,
                                  const ChurnInvocation& churn) {
  CHURN_RETURN_IF_ERROR(CheckSettings(f));
  const std::optional<std::string> cron =
      f.cron.empty() ? std::nullopt : std::optional<std::string>(f.cron);
  const std::optional<std::string> every =
      f.every.empty() ? std::nullopt : std::optional<std::string>(f.every);
  absl::StatusOr<Schedule> schedule = ParseFlowSchedule(
      cron, every, f.time_zone.empty() ? config.scheduler.time_zone : f.time_zone);
  if (!schedule.ok()) {
    return base::WithContext(schedule.status(), absl::StrCat("flow '", f.name, "'"));
  }
  FlowPlan plan{.settings = f,
                .schedule = *std::move(schedule),
                .steps = {},
                .steps_if_drifted = {},
                .parameters_json = ""};
  if (f.kind == "train") {
    plan.steps = TrainSteps(f, config, churn);
  } else if (f.kind == "report") {
    plan.steps.push_back(
        {.name = "report", .argv = ChurnArgv(churn, {"report"}, f.args), .ok_exit_codes = {0}});
  } else if (f.kind == "retrain_if_drifted") {
    const double window = f.window_seconds > 0 ? f.window_seconds : config.report.window_seconds;
    const std::string model =
        config.report.model.empty() ? config.serve.model : config.report.model;
    plan.steps.push_back(
        {.name = "drift",
         .argv = ChurnArgv(churn,
                           {"drift", "--reference", model, "--current",
                            absl::StrCat("log:", static_cast<int64_t>(window), "s"), "--json"},
                           {}),
         .ok_exit_codes = {0}});
    plan.steps_if_drifted = TrainSteps(f, config, churn);
  } else if (f.kind == "command") {
    if (f.command.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("flow '", f.name, "' has no command"));
    }
    plan.steps.push_back({.name = "command", .argv = f.command, .ok_exit_codes = {0}});
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("flow '", f.name, "': unknown kind '", f.kind, "'"));
  }
  Json steps = Json::array();
  for (const std::vector<FlowStep>* list : {&plan.steps, &plan.steps_if_drifted}) {
    for (const FlowStep& s : *list) {
      steps.push_back({{"step", s.name}, {"argv", s.argv}});
    }
  }
  plan.parameters_json = Json{
      {"kind", f.kind},
      {"schedule", plan.schedule.ToString()},
      {"retries", f.retries},
      {"retry_delay_seconds", f.retry_delay_seconds},
      {"timeout_seconds", f.timeout_seconds},
      {"steps", steps}}.dump();
  return plan;
}

// The dataset verdict of `churn drift --json`, and a line saying it.
absl::StatusOr<std::pair<bool, std::string>> DriftVerdict(const std::string& stdout_text) {
  const Json j = Json::parse(stdout_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("dataset") || !j["dataset"].is_object() ||
      !j["dataset"].contains("drifted") || !j["dataset"]["drifted"].is_boolean()) {
    return absl::InternalError(
        absl::StrCat("`churn drift --json` printed no dataset verdict: ", LastLine(stdout_text)));
  }
  const Json& d = j["dataset"];
  const std::string line =
      absl::StrCat(d.value("drifted_columns", 0), " of ", d.value("columns", 0),
                   " features drifted (share ", d.value("share", 0.0), ")");
  return std::make_pair(d["drifted"].get<bool>(), line);
}

// The child's side of fork(): its own process group, killed with its parent, output to the
// pipes, signals unblocked. Only async-signal-safe calls.
[[noreturn]] void ExecChild(const std::vector<char*>& argv, int out_fd, int err_fd, pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) {
    ::_exit(127);  // the parent died before prctl
  }
  ::setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  ::pthread_sigmask(SIG_SETMASK, &none, nullptr);  // the caller blocks the stop signals
  const int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd >= 0) {
    ::dup2(null_fd, 0);
  }
  ::dup2(out_fd, 1);
  ::dup2(err_fd, 2);
  ::execvp(argv[0], argv.data());
  const char msg[] = "flow step: exec failed (no such program, or not executable): ";
  if (::write(2, msg, sizeof msg - 1) > 0 && ::write(2, argv[0], std::strlen(argv[0])) > 0) {
    (void)::write(2, "\n", 1);
  }
  ::_exit(127);
}

// "exit code 3", "killed by signal 9".
std::string ExitText(int status) {
  if (WIFEXITED(status)) {
    return absl::StrCat("exit code ", WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return absl::StrCat("killed by signal ", WTERMSIG(status));
  }
  return absl::StrCat("wait status ", status);
}

// One step's process: its own process group, killed with its parent (PDEATHSIG), its stdout
// and stderr read through two pipes. The destructor kills what is left of the group and reaps.
class StepProcess {
 public:
  static absl::StatusOr<std::unique_ptr<StepProcess>> Spawn(const std::vector<std::string>& argv) {
    std::array<int, 2> out{-1, -1};
    std::array<int, 2> err{-1, -1};
    if (::pipe2(out.data(), O_CLOEXEC) != 0 || ::pipe2(err.data(), O_CLOEXEC) != 0) {
      const int e = errno;
      for (const int fd : {out[0], out[1], err[0], err[1]}) {
        if (fd >= 0) {
          ::close(fd);
        }
      }
      return base::ErrnoStatus("cannot create the output pipes of", argv.at(0), e);
    }
    std::vector<std::string> args = argv;
    std::vector<char*> cargs;
    cargs.reserve(args.size() + 1);
    for (std::string& a : args) {
      cargs.push_back(a.data());
    }
    cargs.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
      const int e = errno;
      for (const int fd : {out[0], out[1], err[0], err[1]}) {
        ::close(fd);
      }
      return base::ErrnoStatus("cannot fork for", argv.at(0), e);
    }
    if (pid == 0) {
      ExecChild(cargs, out[1], err[1], parent);
    }
    ::setpgid(pid, pid);  // also here: no window in which a kill misses the group
    ::close(out[1]);
    ::close(err[1]);
    return std::unique_ptr<StepProcess>(new StepProcess(pid, out[0], err[0]));
  }

  ~StepProcess() {
    for (pollfd& p : fds_) {
      if (p.fd >= 0) {
        ::close(p.fd);
      }
    }
    if (!exited_) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
    }
  }

  StepProcess(const StepProcess&) = delete;
  StepProcess& operator=(const StepProcess&) = delete;

  // Reads what the pipes have (waiting up to `wait` for something): sink(0 stdout / 1 stderr,
  // bytes). A pipe at its end is closed.
  void Pump(absl::Duration wait, const std::function<void(int, absl::string_view)>& sink) {
    if (::poll(fds_.data(), fds_.size(), static_cast<int>(absl::ToInt64Milliseconds(wait))) <= 0) {
      return;
    }
    for (size_t i = 0; i < fds_.size(); ++i) {
      if (fds_[i].fd < 0 || (fds_[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      std::array<char, 16384> buf{};
      const ssize_t n = ::read(fds_[i].fd, buf.data(), buf.size());
      if (n > 0) {
        sink(static_cast<int>(i), absl::string_view(buf.data(), static_cast<size_t>(n)));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(fds_[i].fd);
        fds_[i].fd = -1;
      }
    }
  }

  // Signals the whole group (unless the step has been reaped: its pid may be reused).
  void Signal(int signal) const {
    if (!exited_) {
      ::kill(-pid_, signal);
    }
  }

  // Reaps the step if it has exited; what its group left behind gets SIGKILL (it holds the
  // pipes open otherwise). Whether it has exited.
  bool Reap() {
    if (!exited_ && ::waitpid(pid_, &status_, WNOHANG) == pid_) {
      ::kill(-pid_, SIGKILL);
      exited_ = true;
    }
    return exited_;
  }

  // Exited, and both pipes read to their end.
  bool Done() const { return exited_ && fds_[0].fd < 0 && fds_[1].fd < 0; }

  int Status() const { return status_; }

 private:
  StepProcess(pid_t pid, int out_fd, int err_fd)
      : pid_(pid), fds_{pollfd{out_fd, POLLIN, 0}, pollfd{err_fd, POLLIN, 0}} {}

  const pid_t pid_;
  std::array<pollfd, 2> fds_;
  bool exited_ = false;
  int status_ = 0;
};

// A step's output as lines for the log (at most kMaxLogBytes a run), and its stdout kept whole
// (at most kMaxStdoutBytes) for its verdict.
class StepOutput {
 public:
  StepOutput(std::string* stdout_text, std::string* pending,
             const std::function<void(absl::string_view)>& echo)
      : stdout_text_(stdout_text), pending_(pending), echo_(echo) {}

  void Take(int which, absl::string_view data) {
    if (which == 0 && stdout_text_->size() < kMaxStdoutBytes) {
      absl::StrAppend(stdout_text_, data);
    }
    std::string& partial = partial_[which == 0 ? 0 : 1];
    absl::StrAppend(&partial, data);
    size_t nl = 0;
    while ((nl = partial.find('\n')) != std::string::npos) {
      const absl::string_view line = absl::string_view(partial).substr(0, nl + 1);
      if (logged_ < kMaxLogBytes) {
        absl::StrAppend(pending_, line);
        logged_ += line.size();
        if (echo_) {
          echo_(line);
        }
      }
      partial.erase(0, nl + 1);
    }
  }

  // Ends unterminated last lines.
  void Finish() {
    for (int i = 0; i < 2; ++i) {
      if (!partial_[i].empty()) {
        Take(i, "\n");
      }
    }
  }

 private:
  std::string* const stdout_text_;
  std::string* const pending_;
  const std::function<void(absl::string_view)>& echo_;
  std::array<std::string, 2> partial_;
  size_t logged_ = 0;
};

}  // namespace

absl::StatusOr<std::vector<FlowPlan>> MakeFlowPlans(const base::Config& config,
                                                    const ChurnInvocation& churn) {
  std::vector<FlowPlan> plans;
  for (const base::FlowSettings& f : config.flows) {
    for (const FlowPlan& p : plans) {
      if (p.settings.name == f.name) {
        return absl::InvalidArgumentError(absl::StrCat("flow '", f.name, "' is declared twice"));
      }
    }
    CHURN_ASSIGN_OR_RETURN(FlowPlan plan, MakePlan(f, config, churn));
    plans.push_back(std::move(plan));
  }
  return plans;
}

std::string OwnerName(absl::string_view role) {
  std::array<char, 256> host{};
  const std::string name =
      ::gethostname(host.data(), host.size() - 1) == 0 ? host.data() : "localhost";
  return absl::StrCat(role, "@", name, ":", ::getpid());
}

// What one attempt came to.
struct FlowRunner::Attempt {
  absl::Time deadline = absl::InfiniteFuture();
  bool timed_out = false;
  bool cancelled = false;
  // Why it failed, or what it ended with.
  std::string failure;
  std::string result;
  // Log text not yet stored.
  std::string pending;
  absl::Time last_flush = absl::Now();
  absl::Time last_heartbeat = absl::Now();
};

FlowRunner::FlowRunner(RunStore* store, RunnerOptions options)
    : store_(store), options_(std::move(options)) {}

bool FlowRunner::Stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void FlowRunner::StopAll(absl::string_view reason) {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  stop_reason_ = std::string(reason);
}

void FlowRunner::Resume() {
  absl::MutexLock lock(&mu_);
  stopping_ = false;
  stop_reason_.clear();
}

void FlowRunner::Log(int64_t run_id, absl::string_view line) {
  const std::string text = LogLine(line);
  if (options_.echo) {
    options_.echo(text);
  }
  if (absl::Status s = store_->AppendLog(run_id, text); !s.ok()) {
    base::LogWarn(absl::StrCat("flow run ", run_id, ": log not stored: ", s.ToString()));
  }
}

bool FlowRunner::WaitInterruptible(absl::Duration d, int64_t run_id) {
  const absl::Time until = absl::Now() + d;
  absl::Time beat = absl::Now();
  while (absl::Now() < until) {
    if (Stopping()) {
      return false;
    }
    if (absl::Now() - beat >= options_.heartbeat) {
      beat = absl::Now();
      absl::StatusOr<bool> cancel = store_->Heartbeat(run_id, RealNowMs());
      if (cancel.ok() && *cancel) {
        return false;
      }
    }
    absl::SleepFor(std::min(kPollStep, until - absl::Now()));
  }
  return true;
}

void FlowRunner::FlushLog(int64_t run_id, Attempt& attempt, bool now) {
  if (attempt.pending.empty()) {
    return;
  }
  if (now || attempt.pending.size() >= kLogFlushBytes ||
      absl::Now() - attempt.last_flush >= kLogFlushEvery) {
    if (absl::Status s = store_->AppendLog(run_id, attempt.pending); !s.ok()) {
      base::LogWarn(absl::StrCat("flow run ", run_id, ": log not stored: ", s.ToString()));
    }
    attempt.pending.clear();
    attempt.last_flush = absl::Now();
  }
}

void FlowRunner::CheckStop(int64_t run_id, Attempt& attempt) {
  const absl::Time now = absl::Now();
  if (now - attempt.last_heartbeat >= options_.heartbeat) {
    attempt.last_heartbeat = now;
    absl::StatusOr<bool> cancel = store_->Heartbeat(run_id, RealNowMs());
    if (cancel.ok() && *cancel && !attempt.cancelled) {
      attempt.cancelled = true;
      attempt.failure = "cancelled on request";
    }
  }
  if (!attempt.cancelled) {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      attempt.cancelled = true;
      attempt.failure = stop_reason_;
    }
  }
  if (now >= attempt.deadline) {
    attempt.timed_out = true;
  }
}

absl::Status FlowRunner::RunStep(const FlowStep& step, int64_t run_id, Attempt& attempt,
                                 std::string* stdout_text) {
  Log(run_id, absl::StrCat("step ", step.name, ": ", Quoted(step.argv)));
  CHURN_ASSIGN_OR_RETURN(std::unique_ptr<StepProcess> process, StepProcess::Spawn(step.argv));
  StepOutput output(stdout_text, &attempt.pending, options_.echo);
  const auto sink = [&output](int which, absl::string_view data) { output.Take(which, data); };
  std::optional<absl::Time> kill_at;
  while (!process->Done()) {
    process->Pump(kPollStep, sink);
    FlushLog(run_id, attempt, false);
    CheckStop(run_id, attempt);
    if ((attempt.cancelled || attempt.timed_out) && !kill_at.has_value()) {
      process->Signal(SIGTERM);
      kill_at = absl::Now() + options_.kill_grace;
    }
    if (kill_at.has_value() && absl::Now() >= *kill_at) {
      process->Signal(SIGKILL);
    }
    process->Reap();
  }
  output.Finish();
  FlushLog(run_id, attempt, true);
  const int status = process->Status();
  Log(run_id, absl::StrCat("step ", step.name, ": ", ExitText(status)));
  if (attempt.timed_out || attempt.cancelled) {
    return absl::OkStatus();
  }
  const bool ok =
      WIFEXITED(status) && std::find(step.ok_exit_codes.begin(), step.ok_exit_codes.end(),
                                     WEXITSTATUS(status)) != step.ok_exit_codes.end();
  if (!ok) {
    attempt.failure =
        absl::StrCat(ExitText(status), " from `", step.name, "`: ", LastLine(*stdout_text));
    return absl::OkStatus();
  }
  attempt.result = LastLine(*stdout_text);
  if (step.name == "deploy" && WEXITSTATUS(status) == 3) {
    attempt.result = absl::StrCat("deployment gates refused the version: ", attempt.result);
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> FlowRunner::RunSteps(const FlowPlan& plan, int64_t run_id, Attempt& attempt) {
  const auto run_all = [&](const std::vector<FlowStep>& steps,
                           std::string* last_stdout) -> absl::StatusOr<bool> {
    for (const FlowStep& step : steps) {
      last_stdout->clear();
      CHURN_RETURN_IF_ERROR(RunStep(step, run_id, attempt, last_stdout));
      if (attempt.cancelled || attempt.timed_out || !attempt.failure.empty()) {
        return false;
      }
    }
    return true;
  };
  std::string out;
  CHURN_ASSIGN_OR_RETURN(const bool ok, run_all(plan.steps, &out));
  if (!ok || plan.steps_if_drifted.empty()) {
    return ok;
  }
  absl::StatusOr<std::pair<bool, std::string>> verdict = DriftVerdict(out);
  if (!verdict.ok()) {
    attempt.failure = std::string(verdict.status().message());
    return false;
  }
  if (!verdict->first) {
    attempt.result = absl::StrCat("no retraining: the dataset did not drift: ", verdict->second);
    Log(run_id, attempt.result);
    return true;
  }
  Log(run_id, absl::StrCat("the dataset drifted (", verdict->second, "): retraining"));
  CHURN_ASSIGN_OR_RETURN(const bool trained, run_all(plan.steps_if_drifted, &out));
  if (trained) {
    attempt.result =
        absl::StrCat("retrained after drift (", verdict->second, "): ", attempt.result);
  }
  return trained;
}

absl::StatusOr<FlowRun> FlowRunner::Run(const FlowPlan& plan, const FlowRun& run) {
  const base::FlowSettings& f = plan.settings;
  for (int attempt_no = 1;; ++attempt_no) {
    if (Stopping()) {
      absl::MutexLock lock(&mu_);
      (void)store_->FinishRun(run.id, RunState::kCancelled, stop_reason_, RealNowMs());
      return store_->GetRun(run.id);
    }
    absl::StatusOr<FlowRun> started = store_->StartRun(run.id, options_.owner, RealNowMs());
    if (absl::IsFailedPrecondition(started.status())) {
      (void)store_->FinishRun(run.id, RunState::kCancelled, started.status().message(),
                              RealNowMs());
      return started.status();
    }
    CHURN_RETURN_IF_ERROR(started.status());
    Log(run.id, absl::StrCat("flow ", f.name, " (", f.kind, "): attempt ", attempt_no, " of ",
                             f.retries + 1, " by ", options_.owner));
    Attempt attempt;
    if (f.timeout_seconds > 0) {
      attempt.deadline = absl::Now() + absl::Seconds(f.timeout_seconds);
    }
    absl::StatusOr<bool> ok = RunSteps(plan, run.id, attempt);
    if (!ok.ok()) {
      attempt.failure = std::string(ok.status().message());
    }
    if (attempt.cancelled) {
      Log(run.id, absl::StrCat("cancelled: ", attempt.failure));
      CHURN_RETURN_IF_ERROR(
          store_->FinishRun(run.id, RunState::kCancelled, attempt.failure, RealNowMs()));
      return store_->GetRun(run.id);
    }
    if (attempt.timed_out) {
      attempt.failure = absl::StrCat("timed out after ", f.timeout_seconds, " s");
    }
    if (ok.ok() && *ok && !attempt.timed_out) {
      Log(run.id, absl::StrCat("completed: ", attempt.result));
      CHURN_RETURN_IF_ERROR(
          store_->FinishRun(run.id, RunState::kCompleted, attempt.result, RealNowMs()));
      return store_->GetRun(run.id);
    }
    if (attempt_no > f.retries) {
      Log(run.id, absl::StrCat("failed: ", attempt.failure));
      CHURN_RETURN_IF_ERROR(
          store_->FinishRun(run.id, RunState::kFailed, attempt.failure, RealNowMs()));
      return store_->GetRun(run.id);
    }
    const absl::Duration delay = absl::Seconds(f.retry_delay_seconds) *
                                 static_cast<double>(int64_t{1} << std::min(attempt_no - 1, 20));
    Log(run.id, absl::StrCat("attempt ", attempt_no, " failed: ", attempt.failure, "; retrying in ",
                             absl::FormatDuration(delay)));
    CHURN_RETURN_IF_ERROR(
        store_->RetryRun(run.id, absl::ToUnixMillis(absl::Now() + delay), attempt.failure));
    if (!WaitInterruptible(delay, run.id)) {
      std::string reason = "cancelled on request";
      if (Stopping()) {
        absl::MutexLock lock(&mu_);
        reason = stop_reason_;
      }
      Log(run.id, absl::StrCat("cancelled while waiting to retry: ", reason));
      CHURN_RETURN_IF_ERROR(store_->FinishRun(run.id, RunState::kCancelled, reason, RealNowMs()));
      return store_->GetRun(run.id);
    }
  }
}

Scheduler::Scheduler(std::vector<FlowPlan> plans, RunStore* store, SchedulerOptions options)
    : plans_(std::move(plans)),
      store_(store),
      options_(std::move(options)),
      runner_(store, options_.runner) {}

Scheduler::~Scheduler() {
  Shutdown("scheduler stopped");
}

std::vector<std::string> Scheduler::InFlight() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& entry : state_) {
    if (entry.second.in_flight) {
      out.push_back(entry.first);
    }
  }
  return out;
}

absl::StatusOr<int64_t> Scheduler::TakeOver() {
  const int64_t now_ms = RealNowMs();
  CHURN_ASSIGN_OR_RETURN(
      const int64_t crashed,
      store_->MarkOwnedCrashed("scheduler@",
                               "its scheduler stopped without ending it (killed or crashed); "
                               "marked by the next scheduler to lead",
                               now_ms));
  CHURN_ASSIGN_OR_RETURN(
      const int64_t stale,
      store_->MarkStaleCrashed(absl::ToInt64Milliseconds(options_.stale), now_ms));
  const absl::Time now = options_.now();
  absl::MutexLock lock(&mu_);
  for (const FlowPlan& plan : plans_) {
    CHURN_ASSIGN_OR_RETURN(const std::optional<int64_t> last,
                           store_->LastStartedDue(plan.settings.name));
    state_[plan.settings.name].last_due = last.has_value() ? absl::FromUnixMillis(*last) : now;
  }
  return crashed + stale;
}

void Scheduler::ReapFinished() {
  std::vector<std::thread> done;
  {
    absl::MutexLock lock(&mu_);
    for (const int64_t id : finished_) {
      auto it = threads_.find(id);
      if (it != threads_.end()) {
        done.push_back(std::move(it->second));
        threads_.erase(it);
      }
    }
    finished_.clear();
  }
  for (std::thread& t : done) {
    t.join();
  }
}

void Scheduler::StartRun(const FlowPlan& plan, FlowRun run) {
  const int64_t id = run.id;
  std::thread thread([this, &plan, id, run = std::move(run)] {
    absl::StatusOr<FlowRun> ended = runner_.Run(plan, run);
    if (!ended.ok()) {
      base::LogWarn(absl::StrCat("flow ", plan.settings.name, ": ", ended.status().ToString()));
    } else {
      base::LogInfo(absl::StrCat("flow ", plan.settings.name, " run ", ended->id, ": ",
                                 RunStateName(ended->state), ": ", ended->result));
    }
    absl::MutexLock lock(&mu_);
    state_[plan.settings.name].in_flight = false;
    finished_.push_back(id);
  });
  absl::MutexLock lock(&mu_);
  threads_.emplace(id, std::move(thread));
}

absl::StatusOr<TickResult> Scheduler::Tick() {
  ReapFinished();
  const absl::Time now = options_.now();
  TickResult result;
  for (const FlowPlan& plan : plans_) {
    if (!plan.settings.enabled) {
      continue;
    }
    DuePlan due;
    {
      absl::MutexLock lock(&mu_);
      FlowState& st = state_[plan.settings.name];
      if (st.last_due == absl::InfinitePast()) {
        st.last_due = now;  // never handled (no TakeOver): wait for the first due time
      }
      due = PlanDue(plan.schedule, st.last_due, now);
      result.next = std::min(result.next, due.next);
      if (st.in_flight || !due.run.has_value()) {
        continue;  // a run in flight: the due times pass, and are skipped at its end
      }
      st.last_due = *due.run;
      st.in_flight = true;
    }
    absl::StatusOr<FlowRun> run = store_->CreateRun(
        plan.settings.name, "schedule", absl::ToUnixMillis(*due.run), plan.parameters_json);
    if (!run.ok()) {
      absl::MutexLock lock(&mu_);
      state_[plan.settings.name].in_flight = false;
      return run.status();
    }
    if (due.skipped > 0) {
      (void)store_->AppendLog(
          run->id,
          LogLine(absl::StrCat("skipped ", due.skipped, due.skipped >= kMaxCountedMissed ? "+" : "",
                               " missed due time(s) before this one (missed runs are "
                               "not piled up)")));
    }
    result.skipped += due.skipped;
    result.started.push_back(run->id);
    StartRun(plan, *std::move(run));
  }
  return result;
}

absl::Status Scheduler::Maintain() {
  const int64_t now_ms = RealNowMs();
  CHURN_ASSIGN_OR_RETURN(
      const int64_t stale,
      store_->MarkStaleCrashed(absl::ToInt64Milliseconds(options_.stale), now_ms));
  if (stale > 0) {
    base::LogWarn(absl::StrCat(stale, " flow run(s) without a heartbeat for ",
                               absl::FormatDuration(options_.stale), " marked Crashed"));
  }
  CHURN_ASSIGN_OR_RETURN(
      const int64_t deleted,
      store_->DeleteEndedBefore(now_ms - absl::ToInt64Milliseconds(options_.retention),
                                options_.keep_runs));
  if (deleted > 0) {
    base::LogInfo(absl::StrCat("retention: ", deleted, " ended flow run(s) deleted"));
  }
  return absl::OkStatus();
}

void Scheduler::Shutdown(absl::string_view reason) {
  runner_.StopAll(reason);
  std::map<int64_t, std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    threads.swap(threads_);
    finished_.clear();
  }
  for (auto& entry : threads) {
    entry.second.join();
  }
}

bool Scheduler::TryLead(LeaderLock& lock) {
  absl::StatusOr<bool> got = lock.TryAcquire();
  if (!got.ok()) {
    base::LogWarn(absl::StrCat("leader lock: ", got.status().ToString()));
    return false;
  }
  if (!*got) {
    return false;
  }
  absl::StatusOr<int64_t> crashed = TakeOver();
  if (!crashed.ok()) {
    base::LogError(absl::StrCat("taking over: ", crashed.status().ToString()));
    lock.Release();
    return false;
  }
  runner_.Resume();
  base::LogInfo(absl::StrCat("leading the flows of ", store_->Describe(), " (", *crashed,
                             " run(s) left by a predecessor marked Crashed)"));
  return true;
}

absl::Status Scheduler::Serve(LeaderLock& lock, const std::atomic<bool>& stop) {
  const auto nap = [&stop](absl::Duration d) {
    const absl::Time until = absl::Now() + d;
    while (!stop.load() && absl::Now() < until) {
      absl::SleepFor(std::min(kPollStep, until - absl::Now()));
    }
  };
  bool leading = false;
  absl::Time next_check = absl::InfinitePast();
  absl::Time next_maintenance = absl::InfinitePast();
  while (!stop.load()) {
    if (!leading) {
      leading = TryLead(lock);
      if (!leading) {
        nap(options_.leader_poll);
      }
      continue;
    }
    if (absl::Now() >= next_check) {
      next_check = absl::Now() + absl::Seconds(2);
      if (!lock.StillHeld()) {
        base::LogError("lost the leader lock: stopping the runs in flight");
        Shutdown("the scheduler lost the leader lock");
        leading = false;
        continue;
      }
    }
    if (absl::Now() >= next_maintenance) {
      next_maintenance = absl::Now() + absl::Minutes(1);
      if (absl::Status s = Maintain(); !s.ok()) {
        base::LogWarn(absl::StrCat("flow-run housekeeping: ", s.ToString()));
      }
    }
    if (absl::StatusOr<TickResult> tick = Tick(); !tick.ok()) {
      base::LogWarn(absl::StrCat("scheduling: ", tick.status().ToString()));
    }
    nap(kPollStep);
  }
  Shutdown("the scheduler was stopped (SIGTERM)");
  lock.Release();
  return absl::OkStatus();
}

}  // namespace churn::flows
