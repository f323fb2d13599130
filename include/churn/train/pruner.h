// File: churn/train/pruner.h
//
// Pruners stop hopeless trials early from the validation metric reported after every boosting
// round (larger is better). A pruner sees the finished trials visible to the current one (the
// same set its sampler saw, so decisions are reproducible) and the current trial's history.
//
//   median   (Optuna's MedianPruner): after `startup_trials` finished trials and
//            `warmup_rounds` rounds, at every `interval_rounds`-th round, prune when the
//            trial's best value so far is below the median of the finished trials' values at
//            that round (a finished trial that stopped earlier counts with its last value).
//   halving  (asynchronous successive halving): rungs at min_rounds * eta^k rounds; at a rung
//            the trial goes on only when its value there is in the top 1/eta of the values
//            finished trials had at that rung (no decision while fewer than eta have one).
//   hyperband: several halving brackets with min_rounds * eta^s for s = 0..brackets-1; a trial
//            goes to bracket (trial number mod brackets) and is compared only with the finished
//            trials of its bracket.
//
// Halving's "top 1/eta": with m values at the rung (the trial's own included), the trial goes
// on when its value is >= the floor(m / eta)-th best. A NaN value at a decision point prunes.
//   none:    never prunes.
#ifndef CHURN_TRAIN_PRUNER_H_
#define CHURN_TRAIN_PRUNER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace churn::train {

struct PrunerOptions {
  std::string kind = "median";  // median | halving | hyperband | none
  int startup_trials = 5;
  int warmup_rounds = 10;
  int interval_rounds = 1;
  int min_rounds = 10;  // halving / hyperband
  int eta = 3;          // reduction factor
  int brackets = 3;     // hyperband
};

// The per-round validation metric of one finished (completed or pruned) trial.
struct TrialCurve {
  int64_t trial_number = 0;
  std::vector<double> values{};
};

class Pruner {
 public:
  virtual ~Pruner() = default;
  // Whether trial `trial_number`, whose metric after rounds 0..round is `history`
  // (history.size() == round + 1), should stop now.
  virtual bool ShouldPrune(int64_t trial_number, const std::vector<double>& history,
                           const std::vector<TrialCurve>& finished) const = 0;
};

// InvalidArgument naming the field for an unknown kind or a setting out of range: only the
// fields the kind uses are checked: startup_trials and warmup_rounds >= 0, interval_rounds,
// min_rounds and brackets >= 1, eta >= 2, and min_rounds * eta^(brackets - 1) <= 1e9.
absl::StatusOr<std::unique_ptr<Pruner>> MakePruner(const PrunerOptions& options);

}  // namespace churn::train

#endif  // CHURN_TRAIN_PRUNER_H_
