#include "absl/strings/cord.h"

#include "churn/cli/cli.h"

namespace churn::cli {
namespace {

// The payload GateFailedError puts on its status (a type URL, as absl recommends).
constexpr char kGateFailedPayload[] = "type.churn.dev/churn.cli.GateFailed";

}  // namespace

absl::Status GateFailedError(absl::string_view message) {
  absl::Status status = absl::FailedPreconditionError(message);
  status.SetPayload(kGateFailedPayload, absl::Cord("gate failed"));
  return status;
}

int ExitCodeFor(const absl::Status& status) {
  if (status.GetPayload(kGateFailedPayload).has_value()) {
    return kExitGateFailed;
  }
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 2;
    default:
      return 1;
  }
}

}  // namespace churn::cli
