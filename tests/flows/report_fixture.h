// Test-only: what a report needs, for real: a model trained in-process on the synthetic
// generator and registered as churn@production (with its drift reference, as the training flow
// stores it), a SQLite prediction log in the same data dir, and synthetic traffic scored by that
// model and logged as the servers log it (inputs, probability, label, request and customer ids,
// at chosen times), with feedback for some of it.
#ifndef CHURN_TESTS_FLOWS_REPORT_FIXTURE_H_
#define CHURN_TESTS_FLOWS_REPORT_FIXTURE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "serving/serving_fixture.h"

#include "churn/data/synth.h"
#include "churn/serving/prediction_log.h"
#include "churn/serving/served_model.h"

namespace churn::testing {

struct Traffic {
  int64_t rows = 1000;
  uint64_t seed = 11;
  std::vector<data::SynthDrift> drift{};
  // The predictions are spread evenly over [since, until).
  absl::Time since = absl::InfinitePast();
  absl::Time until = absl::InfinitePast();
  // Request ids are "<prefix>-<i>"; customer ids are distinct per prefix.
  std::string prefix = "r";
};

// What was logged, row by row: the ids and the true outcome (the generator's label).
struct LoggedTraffic {
  std::vector<std::string> request_ids{};
  std::vector<std::string> customer_ids{};
  std::vector<int64_t> times_us{};
  std::vector<int> churned{};
  std::vector<float> probabilities{};
};

class ReportFixture {
 public:
  // Trains (20 rounds, depth 3) and registers churn version 1 as production; opens the log at
  // <data dir>/predictions.db.
  static absl::StatusOr<std::unique_ptr<ReportFixture>> Create();

  ServingFixture& Serving() { return *serving_; }

  registry::Registry& Registry() { return serving_->Registry(); }

  serving::PredictionLog& Log() { return *log_; }

  const serving::ServedModel& Model() const { return *model_; }

  std::string ReportsDir() const { return serving_->DataDir() + "/reports"; }

  // Scores and logs the traffic (flushed: readable on return).
  absl::StatusOr<LoggedTraffic> Log(const Traffic& traffic);

  // Feedback for rows [0, count) of `logged`: by request id, observed a minute after each
  // prediction, with the true outcome (flushed).
  absl::Status FeedbackByRequest(const LoggedTraffic& logged, size_t count);

 private:
  ReportFixture() = default;

  std::unique_ptr<ServingFixture> serving_;
  std::unique_ptr<serving::PredictionLog> log_;
  std::shared_ptr<const serving::ServedModel> model_;
};

}  // namespace churn::testing

#endif  // CHURN_TESTS_FLOWS_REPORT_FIXTURE_H_
