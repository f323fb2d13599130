#include "testing/test_env.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdlib>
#include <filesystem>

#include "absl/time/clock.h"
#include <sys/wait.h>

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace churn::testing {
namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

// posix_spawnp of `argv` with this process's environment plus `env`; returns its error code.
int Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
          const posix_spawn_file_actions_t* actions, pid_t* pid) {
  std::vector<std::string> env_strings;
  env_strings.reserve(env.size() + 64);
  for (char** e = environ; *e != nullptr; ++e) {
    env_strings.emplace_back(*e);
  }
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> c_env;
  c_env.reserve(env_strings.size() + 1);
  for (auto& e : env_strings) {
    c_env.push_back(e.data());
  }
  c_env.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> c_args;
  c_args.reserve(args.size() + 1);
  for (auto& a : args) {
    c_args.push_back(a.data());
  }
  c_args.push_back(nullptr);
  return posix_spawnp(pid, c_args[0], actions, nullptr, c_args.data(), c_env.data());
}

}  // namespace

std::string SourceDir() {
  return EnvOr("CHURN_SOURCE_DIR", CHURN_DEFAULT_SOURCE_DIR);
}

std::string ChurnBinary() {
  return EnvOr("CHURN_BINARY", CHURN_DEFAULT_BINARY);
}

std::optional<std::string> BankChurnersPath() {
  std::vector<std::filesystem::path> candidates;
  const std::string explicit_path = EnvOr("CHURN_BANK_CHURNERS", "");
  if (!explicit_path.empty()) {
    candidates.emplace_back(explicit_path);
  }
  candidates.push_back(std::filesystem::path(SourceDir()) / ".." / "shared" / "data" /
                       "BankChurners.csv");
  for (const auto& candidate : candidates) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec)) {
      return std::filesystem::weakly_canonical(candidate, ec).string();
    }
  }
  return std::nullopt;
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& env) {
  CommandResult result;
  std::array<int, 2> out_pipe{};
  std::array<int, 2> err_pipe{};
  if (pipe2(out_pipe.data(), O_CLOEXEC) != 0 || pipe2(err_pipe.data(), O_CLOEXEC) != 0) {
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  pid_t pid = 0;
  const int rc = Spawn(argv, env, &actions, &pid);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc == 0) {
    std::array<pollfd, 2> fds = {pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0}};
    std::array<std::string*, 2> sinks = {&result.out, &result.err};
    int open_fds = 2;
    std::array<char, 65536> buf{};
    while (open_fds > 0) {
      if (poll(fds.data(), fds.size(), -1) < 0) {
        break;
      }
      for (size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) {
          continue;
        }
        const ssize_t n = read(fds[i].fd, buf.data(), buf.size());
        if (n <= 0) {
          fds[i].fd = -1;
          --open_fds;
        } else {
          sinks[i]->append(buf.data(), static_cast<size_t>(n));
        }
      }
    }
    int status = 0;
    waitpid(pid, &status, 0);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  close(out_pipe[0]);
  close(err_pipe[0]);
  return result;
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  std::array<int, 2> out_pipe{};
  if (pipe2(out_pipe.data(), O_CLOEXEC) != 0) {
    return absl::InternalError("pipe2 failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  pid_t pid = 0;
  const int rc = Spawn(argv, env, &actions, &pid);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    return absl::InternalError("cannot start " + argv[0]);
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, out_pipe[0]));
}

ChildProcess::~ChildProcess() {
  if (!exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  close(out_fd_);
}

absl::StatusOr<std::string> ChildProcess::ReadLine(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) {
      return absl::DeadlineExceededError("no line from the child process in time");
    }
    pollfd fd{out_fd_, POLLIN, 0};
    if (poll(&fd, 1, static_cast<int>(left)) <= 0) {
      continue;
    }
    std::array<char, 4096> buf{};
    const ssize_t n = read(out_fd_, buf.data(), buf.size());
    if (n <= 0) {
      return absl::OutOfRangeError("the child process closed its stdout");
    }
    buffer_.append(buf.data(), static_cast<size_t>(n));
  }
}

void ChildProcess::Signal(int signal) const {
  if (!exited_) {
    kill(pid_, signal);
  }
}

int ChildProcess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (absl::Now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));  // polling a child's exit, not timing a result
  }
  exited_ = true;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace churn::testing
