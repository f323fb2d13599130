// Test-only helpers: status matchers, where the source tree, the churn binary and the real data
// set are, and running a command.
#ifndef CHURN_TESTING_TEST_ENV_H_
#define CHURN_TESTING_TEST_ENV_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace churn::testing {

// The repository root: CHURN_SOURCE_DIR, else the one this test was built from.
std::string SourceDir();
// The churn binary: CHURN_BINARY, else the one built beside this test.
std::string ChurnBinary();
// ../shared/data/BankChurners.csv beside the repository when present (or CHURN_BANK_CHURNERS).
std::optional<std::string> BankChurnersPath();
// The message a test skipped for want of the real data prints.
inline constexpr char kNoBankChurners[] =
    "BankChurners.csv not found (looked in CHURN_BANK_CHURNERS and ../shared/data next to the "
    "repository); this test needs the real Kaggle file and is skipped without it";

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `argv` (no shell), with `env` added to the environment, and collects its output.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& env = {});

// A process started in the background (no shell), its stdout readable line by line; killed
// with SIGKILL and reaped by the destructor if still running. Only the started PID is signalled.
class ChildProcess {
 public:
  // Starts `argv` with `env` added to the environment. Internal when it cannot start.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The next line of stdout (without '\n'); DeadlineExceeded after `timeout`, OutOfRange at EOF.
  absl::StatusOr<std::string> ReadLine(absl::Duration timeout);
  // Sends `signal` to the process.
  void Signal(int signal) const;
  // Waits for the exit (at most `timeout`, then SIGKILL) and returns its exit code
  // (128 + signal when killed).
  int Wait(absl::Duration timeout);

  int Pid() const { return pid_; }

 private:
  ChildProcess(int pid, int out_fd) : pid_(pid), out_fd_(out_fd) {}

  int pid_;
  int out_fd_;
  std::string buffer_;
  bool exited_ = false;
};

inline const absl::Status& InternalStatus(const absl::Status& status) {
  return status;
}

template <typename T>
const absl::Status& InternalStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = InternalStatus(arg);
  if (status.ok()) {
    return true;
  }
  *result_listener << status.ToString();
  return false;
}

MATCHER_P(StatusIs, code, "has status code " + absl::StatusCodeToString(code)) {
  const absl::Status& status = InternalStatus(arg);
  *result_listener << status.ToString();
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, substring,
           "has status code " + absl::StatusCodeToString(code) + " and a message with \"" +
               std::string(substring) + "\"") {
  const absl::Status& status = InternalStatus(arg);
  *result_listener << status.ToString();
  return status.code() == code && status.message().find(substring) != std::string::npos;
}

// A StatusOr that is OK and whose value matches `matcher` (a value or a gmock matcher).
MATCHER_P(IsOkAndHolds, matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << arg.status().ToString();
    return false;
  }
  return ::testing::ExplainMatchResult(matcher, *arg, result_listener);
}

}  // namespace churn::testing

#define CHURN_ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  CHURN_ASSERT_OK_AND_ASSIGN_IMPL_(CHURN_TEST_CONCAT_(churn_test_so_, __LINE__), lhs, rexpr)
#define CHURN_TEST_CONCAT_INNER_(a, b) a##b
#define CHURN_TEST_CONCAT_(a, b) CHURN_TEST_CONCAT_INNER_(a, b)
// NOLINTBEGIN(bugprone-macro-parentheses)
#define CHURN_ASSERT_OK_AND_ASSIGN_IMPL_(so, lhs, rexpr) \
  auto so = (rexpr);                                     \
  ASSERT_TRUE(so.ok()) << so.status().ToString();        \
  lhs = *std::move(so)
// NOLINTEND(bugprone-macro-parentheses)

#endif  // CHURN_TESTING_TEST_ENV_H_
