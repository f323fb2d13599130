// TPE as Hyperopt implements it (tpe.py: adaptive_parzen_normal, GMM1 / LGMM1 / categorical
// posteriors, ap_split_trials), written from the algorithm's description:
//
// * Observations are ranked best first: completed before pruned; within each, larger value
//   first, NaN last, then earlier trial; the best n_good = min(ceil(gamma * sqrt(n)), gamma_cap) of
//   all n form the "good" set, the rest the "bad" set (one split for all parameters, as Hyperopt
//   does). For each parameter only the observations where it is present (it was active) enter its
//   models.
// * Numeric parameters live in a model space: the value itself (uniform, quniform), its log
//   (loguniform), or the integer on [low - 0.5, high + 0.5] (int: a quantised uniform with q = 1,
//   every integer getting an equal share of the prior). The prior component sits at the middle of
//   the model-space interval with sigma = its width and weight `prior_weight`; every observation
//   adds a component of weight 1 (or its linear-forgetting weight) with sigma = the larger gap to
//   its sorted neighbours (the prior counted among them), clipped to [prior_sigma / min(100,
//   1 + components incl. the prior), prior_sigma]. The mixture is truncated to the interval
//   (normalised by its total mass inside, as Hyperopt's GMM1 does) and sampled by rejection.
// * Quantised kinds (quniform, int) sample a continuous point, then round (and clamp). Their
//   likelihood is the mixture's mass on the value's quantisation interval (Hyperopt's choice for
//   q != None), not the density at the point, so l/g compares the probabilities of the values
//   that can actually be proposed.
// * Choice parameters: P(c) proportional to (weighted) count(c) + prior_weight.
// * `ei_candidates` values are drawn from l(x); the one maximising log l(x) - log g(x) wins
//   (the first on ties).
//
// Randomness: one std::mt19937_64 per (seed, trial number, parameter name), seeded through
// SplitMix64, with our own uniform and normal transforms (the std:: distributions differ between
// standard libraries), so a suggestion is the same on any machine and adding a parameter to the
// space does not change the draws of the others.
#include "churn/train/tpe.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>
#include <numeric>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"

namespace churn::train {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27U)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31U);
}

uint64_t Fnv1a(absl::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : s) {
    h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  }
  return h;
}

class Rng {
 public:
  Rng(uint64_t seed, int64_t trial_number, absl::string_view param)
      : engine_(SplitMix64(SplitMix64(SplitMix64(seed) ^ static_cast<uint64_t>(trial_number)) ^
                           Fnv1a(param))) {}

  // [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(engine_() >> 11U) * 0x1.0p-53; }

  // Standard normal (Box-Muller, one of the pair).
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

  // An index i in [0, n) with probability (cumulative[i] - cumulative[i - 1]) / cumulative.back()
  // for nondecreasing partial sums `cumulative` of the weights.
  size_t Pick(const std::vector<double>& cumulative) {
    const double u = Uniform() * cumulative.back();
    const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
    return std::min(cumulative.size() - 1, static_cast<size_t>(it - cumulative.begin()));
  }

 private:
  std::mt19937_64 engine_;
};

// round(x / q) * q with the product's floating-point noise removed (3 * 0.1 -> 0.3: 12
// significant digits), clamped to [low, high].
double Quantise(const ParamSpec& spec, double x) {
  const double v = std::round(x / spec.q) * spec.q;
  std::array<char, 40> buf{};
  const auto printed =
      std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::general, 12);
  double snapped = v;
  std::from_chars(buf.data(), printed.ptr, snapped);
  return std::clamp(snapped, spec.low, spec.high);
}

// One uniform draw of `spec` (the random sampler and TPE's start-up trials).
ParamValue SampleUniform(const ParamSpec& spec, Rng& rng) {
  const double u = rng.Uniform();
  switch (spec.kind) {
    case ParamKind::kUniform:
      return std::clamp(spec.low + u * (spec.high - spec.low), spec.low, spec.high);
    case ParamKind::kLogUniform: {
      const double lo = std::log(spec.low);
      return std::clamp(std::exp(lo + u * (std::log(spec.high) - lo)), spec.low, spec.high);
    }
    case ParamKind::kQUniform:
      return Quantise(spec, spec.low + u * (spec.high - spec.low));
    case ParamKind::kInt: {
      const double v = spec.low + std::floor(u * (spec.high - spec.low + 1.0));
      return static_cast<int64_t>(std::clamp(v, spec.low, spec.high));
    }
    case ParamKind::kChoice:
      return spec
          .choices[std::min(spec.choices.size() - 1,
                            static_cast<size_t>(u * static_cast<double>(spec.choices.size())))];
  }
  return spec.low;
}

Assignment RandomAssignment(const SearchSpace& space, uint64_t seed, int64_t trial_number) {
  Assignment out;
  for (const auto& spec : space.Params()) {
    if (SearchSpace::IsActive(spec, out)) {
      Rng rng(seed, trial_number, spec.name);
      out.emplace(spec.name, SampleUniform(spec, rng));
    }
  }
  return out;
}

// Hyperopt's linear_forgetting_weights: n weights in time order, the newest `lf` equal to 1, the
// older ones ramping linearly from 1/n.
std::vector<double> ForgettingWeights(size_t n, int lf) {
  std::vector<double> w(n, 1.0);
  if (lf <= 0 || n <= static_cast<size_t>(lf)) {
    return w;
  }
  const size_t ramp = n - static_cast<size_t>(lf);
  const double first = 1.0 / static_cast<double>(n);
  for (size_t i = 0; i < ramp; ++i) {
    w[i] = ramp == 1
               ? first
               : first + (1.0 - first) * static_cast<double>(i) / static_cast<double>(ramp - 1);
  }
  return w;
}

// The numeric model space of one parameter.
struct Domain {
  double low = 0.0;  // truncation interval in model space
  double high = 1.0;
  bool quantised = false;
};

Domain DomainOf(const ParamSpec& spec) {
  switch (spec.kind) {
    case ParamKind::kLogUniform:
      return {std::log(spec.low), std::log(spec.high), false};
    case ParamKind::kQUniform:
      return {spec.low, spec.high, true};
    case ParamKind::kInt:
      return {spec.low - 0.5, spec.high + 0.5, true};
    default:
      return {spec.low, spec.high, false};
  }
}

struct Mixture {
  std::vector<double> weights{};  // normalised
  std::vector<double> mus{};
  std::vector<double> sigmas{};
  std::vector<double> cumulative{};  // partial sums of the weights, for sampling
  std::vector<double> log_coef{};    // log(weight / (sigma * sqrt(2 pi)))
  double log_accept = 0.0;           // log of the mixture's mass inside the domain
};

std::vector<double> PartialSums(const std::vector<double>& weights) {
  std::vector<double> out(weights.size());
  std::partial_sum(weights.begin(), weights.end(), out.begin());
  return out;
}

double NormalCdf(double z) {
  return 0.5 * std::erfc(-z / std::numbers::sqrt2);
}

// Hyperopt's adaptive_parzen_normal: `obs` in time order.
Mixture AdaptiveParzen(const std::vector<double>& obs, const Domain& d, const TpeOptions& o) {
  const double prior_mu = 0.5 * (d.low + d.high);
  const double prior_sigma = d.high - d.low;
  const std::vector<double> obs_weights = ForgettingWeights(obs.size(), o.linear_forgetting);
  std::vector<size_t> order(obs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return obs[a] < obs[b]; });
  size_t prior_pos = 0;  // searchsorted(side='left'): before the first observation >= prior_mu
  while (prior_pos < order.size() && obs[order[prior_pos]] < prior_mu) {
    ++prior_pos;
  }
  Mixture m;
  for (size_t i = 0; i <= order.size(); ++i) {
    if (i == prior_pos) {
      m.mus.push_back(prior_mu);
      m.weights.push_back(o.prior_weight);
    }
    if (i < order.size()) {
      m.mus.push_back(obs[order[i]]);
      m.weights.push_back(obs_weights[order[i]]);
    }
  }
  const size_t k = m.mus.size();
  m.sigmas.assign(k, prior_sigma);
  if (k == 2) {
    m.sigmas[1 - prior_pos] = 0.5 * prior_sigma;
  } else if (k > 2) {
    for (size_t i = 0; i < k; ++i) {
      const double left = i > 0 ? m.mus[i] - m.mus[i - 1] : 0.0;
      const double right = i + 1 < k ? m.mus[i + 1] - m.mus[i] : 0.0;
      m.sigmas[i] = std::max(left, right);
    }
  }
  const double min_sigma = prior_sigma / std::min(100.0, 1.0 + static_cast<double>(k));
  for (double& s : m.sigmas) {
    s = std::clamp(s, min_sigma, prior_sigma);
  }
  m.sigmas[prior_pos] = prior_sigma;
  const double total = std::accumulate(m.weights.begin(), m.weights.end(), 0.0);
  double accept = 0.0;
  for (size_t i = 0; i < k; ++i) {
    m.weights[i] /= total;
    accept += m.weights[i] * (NormalCdf((d.high - m.mus[i]) / m.sigmas[i]) -
                              NormalCdf((d.low - m.mus[i]) / m.sigmas[i]));
  }
  m.log_accept = std::log(std::max(accept, 1e-300));
  m.cumulative = PartialSums(m.weights);
  for (size_t i = 0; i < k; ++i) {
    m.log_coef.push_back(
        std::log(m.weights[i] / (m.sigmas[i] * std::sqrt(2.0 * std::numbers::pi))));
  }
  return m;
}

// A draw from the mixture truncated to the domain (rejection, as Hyperopt's GMM1).
double SampleMixture(const Mixture& m, const Domain& d, Rng& rng) {
  double x = 0.5 * (d.low + d.high);
  for (int attempt = 0; attempt < 10000; ++attempt) {
    const size_t i = rng.Pick(m.cumulative);
    x = m.mus[i] + m.sigmas[i] * rng.Normal();
    if (x >= d.low && x <= d.high) {
      return x;
    }
  }
  return std::clamp(x, d.low, d.high);
}

// log density at x (continuous) or log mass on [lo, hi] (quantised) of the truncated mixture.
double LogDensity(const Mixture& m, double x) {
  // log-sum-exp in one pass, rescaling whenever a larger term appears
  double top = -std::numeric_limits<double>::infinity();
  double sum = 0.0;
  for (size_t i = 0; i < m.mus.size(); ++i) {
    const double z = (x - m.mus[i]) / m.sigmas[i];
    const double t = m.log_coef[i] - 0.5 * z * z;
    if (t > top) {
      sum = sum * std::exp(top - t) + 1.0;
      top = t;
    } else {
      sum += std::exp(t - top);
    }
  }
  return top + std::log(sum) - m.log_accept;
}

double LogMass(const Mixture& m, double lo, double hi) {
  double mass = 0.0;
  for (size_t i = 0; i < m.mus.size(); ++i) {
    mass += m.weights[i] *
            (NormalCdf((hi - m.mus[i]) / m.sigmas[i]) - NormalCdf((lo - m.mus[i]) / m.sigmas[i]));
  }
  return std::log(std::max(mass, 1e-300)) - m.log_accept;
}

// The model-space interval of continuous points a quantised value comes from.
std::pair<double, double> QuantisationBin(const ParamSpec& spec, const Domain& d, double v) {
  if (spec.kind == ParamKind::kInt) {
    return {std::max(d.low, v - 0.5), std::min(d.high, v + 0.5)};
  }
  const double k = std::round(v / spec.q);
  const double lo = v == spec.low ? spec.low : (k - 0.5) * spec.q;
  const double hi = v == spec.high ? spec.high : (k + 0.5) * spec.q;
  return {std::clamp(lo, d.low, d.high), std::clamp(hi, d.low, d.high)};
}

// A model-space point back to the parameter's value.
ParamValue ToValue(const ParamSpec& spec, double x) {
  switch (spec.kind) {
    case ParamKind::kLogUniform:
      return std::clamp(std::exp(x), spec.low, spec.high);
    case ParamKind::kQUniform:
      return Quantise(spec, x);
    case ParamKind::kInt:
      return static_cast<int64_t>(std::clamp(std::round(x), spec.low, spec.high));
    default:
      return std::clamp(x, spec.low, spec.high);
  }
}

// The observation's value in model space (or, for choice, the choice index); false when it is
// not a value of `spec` (wrong type, out of range), which then does not enter the model.
bool ModelValue(const ParamSpec& spec, const ParamValue& value, double* out) {
  if (spec.kind == ParamKind::kChoice) {
    const auto* s = std::get_if<std::string>(&value);
    const auto it =
        s == nullptr ? spec.choices.end() : std::find(spec.choices.begin(), spec.choices.end(), *s);
    *out = static_cast<double>(it - spec.choices.begin());
    return it != spec.choices.end();
  }
  double v = 0.0;
  if (spec.kind == ParamKind::kInt) {
    const auto* i = std::get_if<int64_t>(&value);
    if (i == nullptr) {
      return false;
    }
    v = static_cast<double>(*i);
  } else {
    const auto* d = std::get_if<double>(&value);
    if (d == nullptr) {
      return false;
    }
    v = *d;
  }
  if (!(v >= spec.low && v <= spec.high)) {
    return false;
  }
  *out = spec.kind == ParamKind::kLogUniform ? std::log(v) : v;
  return true;
}

ParamValue SuggestNumeric(const ParamSpec& spec, const std::vector<double>& good,
                          const std::vector<double>& bad, const TpeOptions& o, Rng& rng) {
  if (spec.low == spec.high) {
    return ToValue(spec, DomainOf(spec).low);  // clamped to the single value
  }
  const Domain d = DomainOf(spec);
  const Mixture l = AdaptiveParzen(good, d, o);
  const Mixture g = AdaptiveParzen(bad, d, o);
  double best_x = 0.0;
  double best_score = -std::numeric_limits<double>::infinity();
  for (int c = 0; c < std::max(1, o.ei_candidates); ++c) {
    double x = SampleMixture(l, d, rng);
    double score = 0.0;
    if (d.quantised) {
      const ParamValue v = ToValue(spec, x);
      x = spec.kind == ParamKind::kInt ? static_cast<double>(std::get<int64_t>(v))
                                       : std::get<double>(v);
      const auto [lo, hi] = QuantisationBin(spec, d, x);
      score = LogMass(l, lo, hi) - LogMass(g, lo, hi);
    } else {
      score = LogDensity(l, x) - LogDensity(g, x);
    }
    if (c == 0 || score > best_score) {
      best_score = score;
      best_x = x;
    }
  }
  return ToValue(spec, best_x);
}

std::vector<double> CategoryProbabilities(const std::vector<double>& obs, size_t n,
                                          const TpeOptions& o) {
  const std::vector<double> w = ForgettingWeights(obs.size(), o.linear_forgetting);
  std::vector<double> p(n, o.prior_weight);
  for (size_t i = 0; i < obs.size(); ++i) {
    p[static_cast<size_t>(obs[i])] += w[i];
  }
  const double total = std::accumulate(p.begin(), p.end(), 0.0);
  for (double& x : p) {
    x = total > 0.0 ? x / total : 1.0 / static_cast<double>(n);
  }
  return p;
}

ParamValue SuggestChoice(const ParamSpec& spec, const std::vector<double>& good,
                         const std::vector<double>& bad, const TpeOptions& o, Rng& rng) {
  const std::vector<double> l = CategoryProbabilities(good, spec.choices.size(), o);
  const std::vector<double> g = CategoryProbabilities(bad, spec.choices.size(), o);
  const std::vector<double> l_cumulative = PartialSums(l);
  size_t best = 0;
  double best_score = -std::numeric_limits<double>::infinity();
  for (int c = 0; c < std::max(1, o.ei_candidates); ++c) {
    const size_t i = rng.Pick(l_cumulative);
    const double score = std::log(std::max(l[i], 1e-300)) - std::log(std::max(g[i], 1e-300));
    if (c == 0 || score > best_score) {
      best_score = score;
      best = i;
    }
  }
  return spec.choices[best];
}

// Which observations are "good": the best n_good by (completed first, value, NaN last).
std::vector<bool> GoodSet(const std::vector<Observation>& history, const TpeOptions& o) {
  const size_t n = history.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  const auto key = [&](size_t i) {
    const Observation& h = history[i];
    return std::tuple(h.pruned, std::isnan(h.value), -h.value);
  };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
  const double wanted = std::ceil(o.gamma * std::sqrt(static_cast<double>(n)));
  const size_t n_good = std::min({n, static_cast<size_t>(std::max(0.0, wanted)),
                                  static_cast<size_t>(std::max(0, o.gamma_cap))});
  std::vector<bool> good(n, false);
  for (size_t i = 0; i < n_good; ++i) {
    good[order[i]] = true;
  }
  return good;
}

}  // namespace

TpeSampler::TpeSampler(SearchSpace space, TpeOptions options)
    : space_(std::move(space)), options_(options) {}

Assignment TpeSampler::Suggest(int64_t trial_number, const std::vector<Observation>& history) {
  if (trial_number < options_.startup_trials) {
    return RandomAssignment(space_, options_.seed, trial_number);
  }
  const std::vector<bool> good_set = GoodSet(history, options_);
  Assignment out;
  for (const auto& spec : space_.Params()) {
    if (!SearchSpace::IsActive(spec, out)) {
      continue;
    }
    std::vector<double> good;
    std::vector<double> bad;
    for (size_t i = 0; i < history.size(); ++i) {
      const auto it = history[i].params.find(spec.name);
      double x = 0.0;
      if (it != history[i].params.end() && ModelValue(spec, it->second, &x)) {
        (good_set[i] ? good : bad).push_back(x);
      }
    }
    Rng rng(options_.seed, trial_number, spec.name);
    out.emplace(spec.name, spec.kind == ParamKind::kChoice
                               ? SuggestChoice(spec, good, bad, options_, rng)
                               : SuggestNumeric(spec, good, bad, options_, rng));
  }
  return out;
}

RandomSampler::RandomSampler(SearchSpace space, uint64_t seed)
    : space_(std::move(space)), seed_(seed) {}

Assignment RandomSampler::Suggest(int64_t trial_number,
                                  const std::vector<Observation>& /*history*/) {
  return RandomAssignment(space_, seed_, trial_number);
}

}  // namespace churn::train
