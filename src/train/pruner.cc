#include "churn/train/pruner.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace churn::train {
namespace {

// The largest non-NaN value of history[0..n), NaN when there is none.
double BestSoFar(const std::vector<double>& history) {
  double best = std::numeric_limits<double>::quiet_NaN();
  for (const double v : history) {
    if (!std::isnan(v) && (std::isnan(best) || v > best)) {
      best = v;
    }
  }
  return best;
}

class NonePruner final : public Pruner {
 public:
  bool ShouldPrune(int64_t /*trial_number*/, const std::vector<double>& /*history*/,
                   const std::vector<TrialCurve>& /*finished*/) const override {
    return false;
  }
};

// Optuna's MedianPruner, comparing the trial's best value so far with the median of the finished
// trials' values at the same round (a trial that stopped earlier counts with its last value;
// NaN values are left out). A trial whose values are all NaN is pruned once a decision is due.
class MedianPruner final : public Pruner {
 public:
  explicit MedianPruner(const PrunerOptions& o)
      : startup_(o.startup_trials), warmup_(o.warmup_rounds), interval_(o.interval_rounds) {}

  bool ShouldPrune(int64_t /*trial_number*/, const std::vector<double>& history,
                   const std::vector<TrialCurve>& finished) const override {
    if (history.empty() || static_cast<int64_t>(finished.size()) < startup_) {
      return false;
    }
    const auto round = static_cast<int64_t>(history.size()) - 1;
    if (round < warmup_ || (round - warmup_) % interval_ != 0) {
      return false;
    }
    std::vector<double> others;
    for (const auto& curve : finished) {
      if (curve.values.empty()) {
        continue;
      }
      const size_t at = std::min(curve.values.size() - 1, static_cast<size_t>(round));
      if (!std::isnan(curve.values[at])) {
        others.push_back(curve.values[at]);
      }
    }
    if (others.empty()) {
      return false;
    }
    std::sort(others.begin(), others.end());
    const size_t mid = others.size() / 2;
    const double median =
        others.size() % 2 == 1 ? others[mid] : 0.5 * (others[mid - 1] + others[mid]);
    const double best = BestSoFar(history);
    return std::isnan(best) || best < median;
  }

 private:
  int64_t startup_;
  int64_t warmup_;
  int64_t interval_;
};

// Asynchronous successive halving on rungs min_rounds * eta^k (in rounds completed). At a rung,
// the trial's value there joins the values the considered finished trials had there; with at
// least eta of those, the trial goes on only when its value is >= the (m / eta)-th best of the
// m values (itself included), i.e. it is in the top 1/eta.
class HalvingRule {
 public:
  HalvingRule(int64_t min_rounds, int64_t eta) : min_rounds_(min_rounds), eta_(eta) {}

  bool ShouldPrune(const std::vector<double>& history, const std::vector<TrialCurve>& finished,
                   const std::function<bool(const TrialCurve&)>& considered) const {
    const auto rounds = static_cast<int64_t>(history.size());
    int64_t rung = min_rounds_;
    while (rung < rounds) {
      rung *= eta_;
    }
    if (rung != rounds) {
      return false;  // not at a rung
    }
    const double value = history.back();
    if (std::isnan(value)) {
      return true;
    }
    std::vector<double> values;
    for (const auto& curve : finished) {
      if (considered(curve) && static_cast<int64_t>(curve.values.size()) >= rung) {
        const double v = curve.values[static_cast<size_t>(rung - 1)];
        values.push_back(std::isnan(v) ? -std::numeric_limits<double>::infinity() : v);
      }
    }
    if (static_cast<int64_t>(values.size()) < eta_) {
      return false;
    }
    values.push_back(value);
    std::sort(values.begin(), values.end(), std::greater<>());
    const auto promoted = static_cast<size_t>(static_cast<int64_t>(values.size()) / eta_);
    return value < values[promoted - 1];
  }

 private:
  int64_t min_rounds_;
  int64_t eta_;
};

class HalvingPruner final : public Pruner {
 public:
  explicit HalvingPruner(const PrunerOptions& o) : rule_(o.min_rounds, o.eta) {}

  bool ShouldPrune(int64_t /*trial_number*/, const std::vector<double>& history,
                   const std::vector<TrialCurve>& finished) const override {
    return rule_.ShouldPrune(history, finished, [](const TrialCurve&) { return true; });
  }

 private:
  HalvingRule rule_;
};

// Hyperband: bracket s = trial_number mod brackets runs halving from min_rounds * eta^s, its
// trials compared only with the finished trials of the same bracket.
class HyperbandPruner final : public Pruner {
 public:
  explicit HyperbandPruner(const PrunerOptions& o) : brackets_(o.brackets) {
    int64_t min_rounds = o.min_rounds;
    for (int s = 0; s < o.brackets; ++s) {
      rules_.emplace_back(min_rounds, o.eta);
      min_rounds *= o.eta;
    }
  }

  bool ShouldPrune(int64_t trial_number, const std::vector<double>& history,
                   const std::vector<TrialCurve>& finished) const override {
    const int64_t bracket = Bracket(trial_number);
    return rules_[static_cast<size_t>(bracket)].ShouldPrune(
        history, finished,
        [this, bracket](const TrialCurve& c) { return Bracket(c.trial_number) == bracket; });
  }

 private:
  int64_t Bracket(int64_t trial_number) const {
    const int64_t b = trial_number % brackets_;
    return b < 0 ? b + brackets_ : b;
  }

  int64_t brackets_;
  std::vector<HalvingRule> rules_;
};

absl::Status AtLeast(absl::string_view field, int value, int minimum) {
  if (value < minimum) {
    return absl::InvalidArgumentError(
        absl::StrCat("pruner ", field, " must be >= ", minimum, ", got ", value));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Pruner>> MakePruner(const PrunerOptions& options) {
  const PrunerOptions& o = options;
  if (o.kind == "none") {
    return std::make_unique<NonePruner>();
  }
  if (o.kind == "median") {
    for (const auto& status : {AtLeast("startup_trials", o.startup_trials, 0),
                               AtLeast("warmup_rounds", o.warmup_rounds, 0),
                               AtLeast("interval_rounds", o.interval_rounds, 1)}) {
      if (!status.ok()) {
        return status;
      }
    }
    return std::make_unique<MedianPruner>(o);
  }
  if (o.kind == "halving" || o.kind == "hyperband") {
    for (const auto& status : {AtLeast("min_rounds", o.min_rounds, 1), AtLeast("eta", o.eta, 2),
                               AtLeast("brackets", o.brackets, 1)}) {
      if (!status.ok()) {
        return status;
      }
    }
    // Hyperband's largest bracket starts at min_rounds * eta^(brackets - 1) rounds.
    double largest = o.min_rounds;
    for (int s = 1; o.kind == "hyperband" && s < o.brackets; ++s) {
      largest *= o.eta;
    }
    if (largest > 1e9) {
      return absl::InvalidArgumentError(
          "pruner brackets: min_rounds * eta^(brackets - 1) exceeds 1e9 rounds");
    }
    if (o.kind == "halving") {
      return std::make_unique<HalvingPruner>(o);
    }
    return std::make_unique<HyperbandPruner>(o);
  }
  return absl::InvalidArgumentError(absl::StrCat("pruner kind: unknown kind '", o.kind,
                                                 "' (one of: median, halving, hyperband, none)"));
}

}  // namespace churn::train
