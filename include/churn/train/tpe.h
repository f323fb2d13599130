// File: churn/train/tpe.h
//
// Samplers for a SearchSpace: the Tree-structured Parzen Estimator (Bergstra et al. 2011, as
// Hyperopt implements it) and uniform random search as the control. Both maximise.
//
// TPE, per parameter independently: the first `startup_trials` suggestions are random; after
// that the observed trials are split into the best n_good = min(ceil(gamma * sqrt(n)),
// gamma_cap) ("good", l(x)) and the rest ("bad", g(x)); a Parzen mixture is fitted to each
// (one truncated Gaussian per observation plus a prior component of weight `prior_weight`,
// bandwidths from the distances to neighbours, as Hyperopt's adaptive_parzen_normal; for choice
// parameters, smoothed category counts); `ei_candidates` candidates are drawn from l(x) and the
// one maximising l(x) / g(x) is returned. Conditional parameters are modelled only on the
// trials where they were active. Pruned trials count as observations with the value they
// reached (ranked below every completed trial).
//
// Suggestions are a pure function of (seed, trial number, observations): the same history
// gives the same trial on any machine, so a study is reproducible and a resumed study
// continues exactly where it stopped. Each parameter draws from its own generator, seeded from
// (seed, trial number, parameter name). The history is expected in trial order (linear
// forgetting down-weights the oldest observations). An observation whose value for a parameter
// is of the wrong type or out of range is left out of that parameter's model; NaN values rank
// last. Start-up trials (trial_number < startup_trials) are exactly RandomSampler's with the
// same seed. Details of the model (quantised kinds, int, choice): src/train/tpe.cc.
#ifndef CHURN_TRAIN_TPE_H_
#define CHURN_TRAIN_TPE_H_

#include <cstdint>
#include <vector>

#include "churn/train/search_space.h"

namespace churn::train {

struct Observation {
  Assignment params{};
  double value = 0.0;  // larger is better
  bool pruned = false;
};

struct TpeOptions {
  int startup_trials = 20;  // Hyperopt's n_startup_jobs
  double gamma = 0.25;      // n_good = min(ceil(gamma * sqrt(n)), gamma_cap)
  int gamma_cap = 25;
  int ei_candidates = 24;  // Hyperopt's n_EI_candidates
  double prior_weight = 1.0;
  uint64_t seed = 0;
  // Hyperopt's linear forgetting (LF): with more than this many observations in a mixture, the
  // oldest get weights ramping linearly from 1/n up to 1; the newest `linear_forgetting` weigh
  // 1. 0 disables it.
  int linear_forgetting = 25;
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  // The assignment for trial `trial_number` (0-based) given the observations visible to it.
  virtual Assignment Suggest(int64_t trial_number, const std::vector<Observation>& history) = 0;
};

class TpeSampler : public Sampler {
 public:
  TpeSampler(SearchSpace space, TpeOptions options);
  Assignment Suggest(int64_t trial_number, const std::vector<Observation>& history) override;

 private:
  SearchSpace space_;
  TpeOptions options_;
};

class RandomSampler : public Sampler {
 public:
  RandomSampler(SearchSpace space, uint64_t seed);
  Assignment Suggest(int64_t trial_number, const std::vector<Observation>& history) override;

 private:
  SearchSpace space_;
  uint64_t seed_;
};

}  // namespace churn::train

#endif  // CHURN_TRAIN_TPE_H_
