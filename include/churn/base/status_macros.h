// File: churn/base/status_macros.h
//
// Propagation macros for absl::Status and absl::StatusOr<T>, with the semantics of recent
// abseil's ABSL_RETURN_IF_ERROR / ABSL_ASSIGN_OR_RETURN (Debian's abseil 20220623 lacks them).
//
//   CHURN_RETURN_IF_ERROR(WriteHeader(out));
//   CHURN_ASSIGN_OR_RETURN(Schema schema, LoadSchemaFile(path));
#ifndef CHURN_BASE_STATUS_MACROS_H_
#define CHURN_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace churn::base {

// `status` with "`context`: " in front of its message (same code); OK stays OK.
inline absl::Status WithContext(const absl::Status& status, absl::string_view context) {
  if (status.ok()) {
    return status;
  }
  return {status.code(), absl::StrCat(context, ": ", status.message())};
}

}  // namespace churn::base

#define CHURN_STATUS_CONCAT_INNER_(a, b) a##b
#define CHURN_STATUS_CONCAT_(a, b) CHURN_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function unless it is OK.
// The status variable is named after the line, so the macro nests (a lambda passed to it may
// use it again) without shadowing.
#define CHURN_RETURN_IF_ERROR(expr) \
  CHURN_RETURN_IF_ERROR_IMPL_(CHURN_STATUS_CONCAT_(churn_status_, __LINE__), expr)
// NOLINTBEGIN(bugprone-macro-parentheses): `status` is a declared name, not an expression
#define CHURN_RETURN_IF_ERROR_IMPL_(status, expr)       \
  do {                                                  \
    if (::absl::Status status = (expr); !status.ok()) { \
      return status;                                    \
    }                                                   \
  } while (false)
// NOLINTEND(bugprone-macro-parentheses)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status unless OK, else moves the value
// into `lhs`, which may be a declaration (`auto x`) or an existing variable.
#define CHURN_ASSIGN_OR_RETURN(lhs, rexpr) \
  CHURN_ASSIGN_OR_RETURN_IMPL_(CHURN_STATUS_CONCAT_(churn_statusor_, __LINE__), lhs, rexpr)

// NOLINTBEGIN(bugprone-macro-parentheses)
#define CHURN_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) {                                    \
    return std::move(statusor).status();                   \
  }                                                        \
  lhs = *std::move(statusor)
// NOLINTEND(bugprone-macro-parentheses)

#endif  // CHURN_BASE_STATUS_MACROS_H_
