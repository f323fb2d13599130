// The `churn` command: everything happens in churn::cli.
#include "churn/cli/cli.h"

int main(int argc, char** argv) {
  return churn::cli::RunCli(argc, argv);
}
