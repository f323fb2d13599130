// File: churn/base/logging.h
//
// Process-wide logging setup (spdlog underneath, to stderr): text lines or JSON lines.
// Library code logs through the LogDebug/LogInfo/LogWarn/LogError helpers below.
#ifndef CHURN_BASE_LOGGING_H_
#define CHURN_BASE_LOGGING_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace churn::base {

// Sets level ("trace".."off") and format ("text" or "json"). InvalidArgument for unknown values.
// Call once at start-up, before other threads log.
absl::Status InitLogging(absl::string_view level, absl::string_view format);

void LogDebug(absl::string_view message);
void LogInfo(absl::string_view message);
void LogWarn(absl::string_view message);
void LogError(absl::string_view message);

}  // namespace churn::base

#endif  // CHURN_BASE_LOGGING_H_
