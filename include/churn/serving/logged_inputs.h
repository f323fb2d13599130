// File: churn/serving/logged_inputs.h
//
// A window of the prediction log as a table: the inputs of the predictions scored in a time
// range, read back under the model's schema (the inverse of what the servers log), with their
// probabilities. What `churn drift --current log:1h` compares with a reference, and what the
// report flow reads.
//
//   CHURN_ASSIGN_OR_RETURN(LoggedInputs in,
//                          ReadLoggedInputs(*log, schema, {.since = now - absl::Hours(3)}));
#ifndef CHURN_SERVING_LOGGED_INPUTS_H_
#define CHURN_SERVING_LOGGED_INPUTS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "churn/data/schema.h"
#include "churn/data/table.h"
#include "churn/serving/prediction_log.h"

namespace churn::serving {

struct LogWindow {
  absl::Time since = absl::InfinitePast();
  absl::Time until = absl::InfiniteFuture();
  // Only this model's predictions (empty: any model's).
  std::string model_name{};
  // The newest rows kept at most.
  size_t max_rows = 100000;
  // Also join the feedback (LoggedInputs::labels).
  bool with_labels = false;
};

struct LoggedInputs {
  data::Table table{};                 // one row per prediction, oldest first; the target missing
  std::vector<float> probabilities{};  // per row
  // Logged records in the window that do not fit the schema (another model's inputs), left out.
  size_t skipped = 0;
  // Rows in the window beyond max_rows (the oldest), left out.
  size_t dropped = 0;
  // With LogWindow::with_labels: per row, the outcome feedback reported for it (1 churned, 0
  // stayed; NaN: none yet). A row's outcome is the last feedback naming its request id, else
  // the first feedback for its customer observed at or after the prediction (a customer's
  // feedback labels the customer's predictions up to its time). Empty without with_labels.
  std::vector<float> labels{};
  // Rows with an outcome.
  size_t labeled = 0;
};

// InvalidArgument when since >= until or max_rows is 0; the log's error when reading fails.
absl::StatusOr<LoggedInputs> ReadLoggedInputs(PredictionLog& log, const data::Schema& schema,
                                              const LogWindow& window);

// "1h" / "30m" / "90s" (the last DURATION before `now`), "SINCE..UNTIL" (RFC 3339, either side
// may be empty), or "" (the whole log). InvalidArgument naming the text otherwise.
absl::StatusOr<LogWindow> ParseLogWindow(absl::string_view text, absl::Time now);

}  // namespace churn::serving

#endif  // CHURN_SERVING_LOGGED_INPUTS_H_
