// File: churn/cli/cli.h
//
// The `churn` command line: `churn <verb> [options]`, one file per verb under src/cli/.
// Exit codes: 0 ok, 2 usage or bad input, 1 any other failure (see ExitCodeFor).
#ifndef CHURN_CLI_CLI_H_
#define CHURN_CLI_CLI_H_

#include "absl/status/status.h"

namespace churn::cli {

// Parses argv, runs the verb, prints results to stdout and errors to stderr; returns the exit
// code.
int RunCli(int argc, char** argv);

// The exit code for a status: 0 for OK; 2 for InvalidArgument, NotFound, AlreadyExists,
// FailedPrecondition and OutOfRange (the input was wrong); 1 otherwise.
int ExitCodeFor(const absl::Status& status);

}  // namespace churn::cli

#endif  // CHURN_CLI_CLI_H_
