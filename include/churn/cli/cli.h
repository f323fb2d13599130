// File: churn/cli/cli.h
//
// The `churn` command line: `churn <verb> [options]`, one file per verb under src/cli/.
// Exit codes: 0 ok, 2 usage or bad input, 3 a deployment gate failed (`churn deploy` refused the
// candidate, or a dry run found a failing gate), 1 any other failure (see ExitCodeFor).
#ifndef CHURN_CLI_CLI_H_
#define CHURN_CLI_CLI_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace churn::cli {

// Parses argv, runs the verb, prints results to stdout and errors to stderr; returns the exit
// code.
int RunCli(int argc, char** argv);

// The exit code of `churn deploy` when a gate failed and the alias did not move.
inline constexpr int kExitGateFailed = 3;

// The exit code for a status: 0 for OK; kExitGateFailed for a status made by GateFailedError;
// 2 for InvalidArgument, NotFound, AlreadyExists, FailedPrecondition and OutOfRange (the input
// was wrong); 1 otherwise.
int ExitCodeFor(const absl::Status& status);

// A FailedPrecondition with `message` that ExitCodeFor maps to kExitGateFailed (it carries a
// payload saying so).
absl::Status GateFailedError(absl::string_view message);

}  // namespace churn::cli

#endif  // CHURN_CLI_CLI_H_
