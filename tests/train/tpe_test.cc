#include "churn/train/tpe.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "testing/test_env.h"

namespace churn::train {
namespace {

using ::churn::testing::IsOk;

SearchSpace Space(const char* yaml) {
  auto space = SearchSpace::FromYaml(yaml);
  EXPECT_THAT(space, IsOk());
  return space.ok() ? *std::move(space) : SearchSpace::Default();
}

double AsDouble(const ParamValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) {
    return static_cast<double>(*i);
  }
  return std::get<double>(v);
}

// Test-side randomness independent of the samplers' (mt19937_64 + Box-Muller: the same on every
// standard library).
double Normal(uint64_t seed, int64_t index) {
  std::mt19937_64 engine(seed * 1000003ULL + static_cast<uint64_t>(index));
  const double u1 = 1.0 - static_cast<double>(engine() >> 11U) * 0x1.0p-53;
  const double u2 = static_cast<double>(engine() >> 11U) * 0x1.0p-53;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

using Objective = std::function<double(const Assignment&)>;

struct Outcome {
  double best = 0.0;        // true objective of the trial whose observed value was best
  double model_mean = 0.0;  // mean true objective of the trials after the start-up ones
};

// Runs `budget` trials sequentially, observing objective + Gaussian noise of sd `noise`.
Outcome RunTrials(Sampler& sampler, const Objective& f, int budget, int startup, double noise,
                  uint64_t noise_seed) {
  std::vector<Observation> history;
  double best_observed = -std::numeric_limits<double>::infinity();
  Outcome out;
  for (int t = 0; t < budget; ++t) {
    Assignment a = sampler.Suggest(t, history);
    const double truth = f(a);
    const double observed = truth + (noise > 0.0 ? noise * Normal(noise_seed, t) : 0.0);
    if (observed > best_observed) {
      best_observed = observed;
      out.best = truth;
    }
    out.model_mean += t >= startup ? truth / (budget - startup) : 0.0;
    history.push_back({std::move(a), observed, false});
  }
  return out;
}

// One-sided exact Wilcoxon signed-rank test of H1 "the differences tend to be positive":
// P(W+ >= observed W+) under H0 (zeros dropped, tied |d| given their average rank).
double WilcoxonSignedRankP(const std::vector<double>& differences) {
  std::vector<double> d;
  for (const double x : differences) {
    if (x != 0.0) {
      d.push_back(x);
    }
  }
  const size_t n = d.size();
  if (n == 0) {
    return 1.0;
  }
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) {
    order[i] = i;
  }
  std::sort(order.begin(), order.end(),
            [&d](size_t a, size_t b) { return std::fabs(d[a]) < std::fabs(d[b]); });
  // Doubled ranks keep average ranks of ties integral.
  std::vector<int> rank2(n);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && std::fabs(d[order[j + 1]]) == std::fabs(d[order[i]])) {
      ++j;
    }
    for (size_t k = i; k <= j; ++k) {
      rank2[order[k]] = static_cast<int>(i + j + 2);  // 2 * average of ranks i+1..j+1
    }
    i = j + 1;
  }
  int w2 = 0;
  int total = 0;
  for (size_t i = 0; i < n; ++i) {
    total += rank2[i];
    w2 += d[i] > 0.0 ? rank2[i] : 0;
  }
  // counts[s]: number of the 2^n sign patterns whose positive doubled ranks sum to s.
  std::vector<double> counts(static_cast<size_t>(total) + 1, 0.0);
  counts[0] = 1.0;
  int reach = 0;
  for (size_t i = 0; i < n; ++i) {
    reach += rank2[i];
    for (int s = reach; s >= rank2[i]; --s) {
      counts[static_cast<size_t>(s)] += counts[static_cast<size_t>(s - rank2[i])];
    }
  }
  double tail = 0.0;
  for (int s = w2; s <= total; ++s) {
    tail += counts[static_cast<size_t>(s)];
  }
  return tail / std::pow(2.0, static_cast<double>(n));
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

TEST(Wilcoxon, MatchesKnownValues) {
  // All 5 positive: P = 1 / 32.
  EXPECT_DOUBLE_EQ(WilcoxonSignedRankP({1, 2, 3, 4, 5}), 1.0 / 32.0);
  // All negative: P = 1.
  EXPECT_DOUBLE_EQ(WilcoxonSignedRankP({-1, -2, -3}), 1.0);
  // n = 4, W+ = 1 + 2 + 4 = 7 (rank 3 negative): patterns with W+ >= 7 out of 16:
  // {4,3}, {4,3,1}, {4,3,2}, {4,3,2,1}, {4,2,1} => 5 / 16.
  EXPECT_DOUBLE_EQ(WilcoxonSignedRankP({0.1, 0.2, -0.3, 0.4}), 5.0 / 16.0);
  // Zeros dropped; ties share a rank (|d| = 1, 1 -> ranks 1.5, 1.5): W+ = 3 of 3 => 1 / 4.
  EXPECT_DOUBLE_EQ(WilcoxonSignedRankP({0.0, 1.0, 1.0}), 0.25);
}

// ---------------------------------------------------------------------------------------------
// Reproducibility, ranges, conditions.

constexpr char kMixed[] = R"yaml(
params:
  booster: {type: choice, choices: [gbtree, dart, gblinear]}
  depth:   {type: int, low: 2, high: 10, when: {booster: [gbtree, dart]}}
  rate:    {type: loguniform, low: 0.001, high: 0.5}
  frac:    {type: uniform, low: 0.5, high: 1}
  bins:    {type: quniform, low: 32, high: 256, q: 32}
  tenths:  {type: quniform, low: 0.05, high: 1, q: 0.1}
  drop:    {type: uniform, low: 0, high: 0.5, when: {booster: [dart]}}
  one:     {type: int, low: 3, high: 3}
  point:   {type: loguniform, low: 2, high: 2}
)yaml";

// A made-up objective over kMixed with a clear optimum (dart, depth 6, rate 0.05, ...).
double MixedObjective(const Assignment& a) {
  double v = 0.0;
  const auto& booster = std::get<std::string>(a.at("booster"));
  v += booster == "dart" ? 1.0 : booster == "gbtree" ? 0.5 : 0.0;
  if (a.contains("depth")) {
    v -= 0.05 * std::fabs(AsDouble(a.at("depth")) - 6.0);
  }
  v -= 0.3 * std::fabs(std::log10(AsDouble(a.at("rate"))) - std::log10(0.05));
  v -= std::fabs(AsDouble(a.at("frac")) - 0.8);
  v -= std::fabs(AsDouble(a.at("bins")) - 128.0) / 256.0;
  if (a.contains("drop")) {
    v -= std::fabs(AsDouble(a.at("drop")) - 0.1);
  }
  return v;
}

std::vector<Observation> RunStudy(Sampler& sampler, int trials,
                                  const Objective& f = MixedObjective) {
  std::vector<Observation> history;
  for (int t = 0; t < trials; ++t) {
    Assignment a = sampler.Suggest(t, history);
    const double value = f(a);
    history.push_back({std::move(a), value, t % 7 == 3});
  }
  return history;
}

TpeOptions Options(uint64_t seed, int startup = 10) {
  TpeOptions o;
  o.seed = seed;
  o.startup_trials = startup;
  return o;
}

TEST(TpeSampler, SameSeedAndHistoryGiveTheSameSuggestion) {
  const SearchSpace space = Space(kMixed);
  TpeSampler a(space, Options(7));
  const std::vector<Observation> history = RunStudy(a, 40);
  TpeSampler b(space, Options(7));
  EXPECT_EQ(RunStudy(b, 40).back().params, history.back().params);  // a whole study repeats
  for (const int64_t trial : {3, 40, 41, 100}) {
    TpeSampler fresh(space, Options(7));
    // Pure in (seed, trial, history): asking twice, or after other calls, changes nothing.
    EXPECT_EQ(fresh.Suggest(trial, history), a.Suggest(trial, history)) << trial;
    EXPECT_EQ(fresh.Suggest(trial, history), fresh.Suggest(trial, history)) << trial;
  }
  TpeSampler other(space, Options(8));
  EXPECT_NE(other.Suggest(40, history), a.Suggest(40, history));
  EXPECT_NE(a.Suggest(41, history), a.Suggest(40, history));
  EXPECT_NE(other.Suggest(3, history), a.Suggest(3, history));  // start-up trials too
}

TEST(TpeSampler, StartupTrialsFollowTheTrialNumberAndEqualRandomSearch) {
  const SearchSpace space = Space(kMixed);
  TpeSampler tpe(space, Options(11, 10));
  RandomSampler random(space, 11);
  const std::vector<Observation> history = RunStudy(tpe, 30);
  for (int t = 0; t < 10; ++t) {
    EXPECT_EQ(history[static_cast<size_t>(t)].params, random.Suggest(t, {})) << t;
    // A start-up trial ignores the history, however long it is.
    EXPECT_EQ(tpe.Suggest(t, history), random.Suggest(t, {})) << t;
  }
  EXPECT_NE(tpe.Suggest(10, history), random.Suggest(10, history));
  // Random search is a pure function of (seed, trial) as well.
  RandomSampler again(space, 11);
  EXPECT_EQ(again.Suggest(25, history), random.Suggest(25, {}));
  EXPECT_NE(RandomSampler(space, 12).Suggest(25, {}), random.Suggest(25, {}));
}

TEST(TpeSampler, SuggestionsAreValidAssignments) {
  const SearchSpace space = Space(kMixed);
  for (const uint64_t seed : {1ULL, 2ULL, 3ULL}) {
    TpeSampler tpe(space, Options(seed, 5));
    RandomSampler random(space, seed);
    for (Sampler* sampler : {static_cast<Sampler*>(&tpe), static_cast<Sampler*>(&random)}) {
      const std::vector<Observation> history = RunStudy(*sampler, 60);
      for (const auto& h : history) {
        ASSERT_THAT(space.Check(h.params), IsOk());  // ranges, quantisation, conditions
        const double bins = AsDouble(h.params.at("bins"));
        EXPECT_EQ(std::fmod(bins, 32.0), 0.0) << bins;
        EXPECT_EQ(std::get<int64_t>(h.params.at("one")), 3);
        EXPECT_EQ(std::get<double>(h.params.at("point")), 2.0);
        // 0.1 * k printed without floating-point noise (or the clamped low bound).
        const std::string tenths = FormatParamValue(h.params.at("tenths"));
        EXPECT_LE(tenths.size(), 4U) << tenths;
      }
    }
  }
}

TEST(TpeSampler, ConditionalParametersAreModelledWhereActive) {
  const SearchSpace space = Space(kMixed);
  TpeSampler tpe(space, Options(5, 10));
  const std::vector<Observation> history = RunStudy(tpe, 80);
  int dart = 0;
  std::vector<double> drops;
  for (size_t t = 40; t < history.size(); ++t) {
    const auto& p = history[t].params;
    if (std::get<std::string>(p.at("booster")) == "dart") {
      ++dart;
      drops.push_back(AsDouble(p.at("drop")));
    }
  }
  // The best booster dominates the later trials, and its child concentrates near 0.1.
  EXPECT_GE(dart, 25);
  EXPECT_LT(Median(drops), 0.2);
}

TEST(TpeSampler, PrunedTrialsRankBelowCompletedOnes) {
  const SearchSpace space = Space("params: {x: {type: uniform, low: 0, high: 10}}");
  // Three completed trials near x = 1 with low values; six pruned ones near x = 9 that reached
  // higher values before they were stopped.
  std::vector<Observation> history;
  history.reserve(9);
  for (int i = 0; i < 3; ++i) {
    history.push_back({{{"x", 0.8 + 0.2 * i}}, 0.1 * i, false});
  }
  for (int i = 0; i < 6; ++i) {
    history.push_back({{{"x", 8.5 + 0.2 * i}}, 100.0, true});
  }
  TpeOptions options = Options(3, 0);
  options.gamma = 1.0;  // n = 9: n_good = ceil(1.0 * 3) = 3
  TpeSampler tpe(space, options);
  const auto median_x = [&tpe](const std::vector<Observation>& h) {
    std::vector<double> xs;
    xs.reserve(40);
    for (int t = 0; t < 40; ++t) {
      xs.push_back(AsDouble(tpe.Suggest(t, h).at("x")));
    }
    return Median(xs);
  };
  EXPECT_LT(median_x(history), 3.0);  // the good set is the three completed trials
  // Were the same trials completed, the good set would be three of the high ones near x = 9.
  for (auto& h : history) {
    h.pruned = false;
  }
  EXPECT_GT(median_x(history), 5.0);
}

TEST(TpeSampler, ToleratesForeignAndBrokenObservations) {
  const SearchSpace space = Space(kMixed);
  TpeSampler tpe(space, Options(9, 0));
  std::vector<Observation> history = {
      {{{"booster", std::string("xgb")}, {"rate", 7.0}, {"frac", int64_t{1}}}, 1.0, false},
      {{{"booster", int64_t{3}}, {"depth", std::string("deep")}, {"unknown", 1.0}}, 2.0, false},
      {{{"bins", -5.0}, {"rate", -1.0}}, std::nan(""), false},
      {{}, -std::numeric_limits<double>::infinity(), true},
  };
  for (int t = 0; t < 10; ++t) {
    EXPECT_THAT(space.Check(tpe.Suggest(t, history)), IsOk());
    EXPECT_THAT(space.Check(tpe.Suggest(t, {})), IsOk());
  }
}

TEST(TpeSampler, FavoursTheBestCategory) {
  const SearchSpace space = Space("params: {c: {type: choice, choices: [a, b, c, d, e]}}");
  TpeSampler tpe(space, Options(4, 10));
  const std::vector<Observation> history = RunStudy(tpe, 60, [](const Assignment& a) {
    const auto& c = std::get<std::string>(a.at("c"));
    return c == "d" ? 1.0 : c == "b" ? 0.5 : 0.0;
  });
  int d = 0;
  for (size_t t = 20; t < history.size(); ++t) {
    d += std::get<std::string>(history[t].params.at("c")) == "d" ? 1 : 0;
  }
  // Of 40: random search gives 8 on average. TPE settles near 17 (seeds 0..11 all gave 17-19):
  // with ties in value its good set keeps the first "d" trials only, and the later ones raise
  // g("d"), which keeps it exploring (Hyperopt behaves the same).
  EXPECT_GE(d, 14);
}

// ---------------------------------------------------------------------------------------------
// TPE against random search on standard test functions.
//
// For each function and each of the 20 seeds 0..19 (fixed, not chosen), TPE (Hyperopt's
// defaults: 20 start-up trials, gamma 0.25, 24 candidates) and random search with the same seed
// run `budget` trials. Both draw the same 20 start-up trials (TPE's start-up is the random
// sampler), so each paired difference is what the model-based trials add. Two one-sided exact
// Wilcoxon signed-rank tests over the 20 pairs:
//
// * sampling: the mean true objective of the trials after start-up. TPE must propose better
//   points than random search on every function (p < 0.01, better median).
// * best found: the true objective of the trial with the best observed value. Asserted
//   (p < 0.01, better median) where TPE's advantage at this budget is large enough to show over
//   20 seeds: the 8-D mixed-kind noisy quadratic (a hyperparameter-search-like problem, 60
//   trials) and Hartmann-6 (80 trials). On Branin and Hartmann-3 it is only printed: in 2-3
//   dimensions random search is hard to beat at 60 trials, and Hyperopt's TPE, whose kernels
//   stay broad while the good set has 2 trials, is only slightly better there.
//
// Measured on six disjoint seed sets (0..19, 100..119, ..., 500..519) before fixing 0..19:
// sampling p <= 3.5e-4 on every function; best-found p 1.9e-6..1.2e-3 (quadratic) and
// 1.1e-5..4.7e-3 (Hartmann-6), but 0.009..0.38 (Branin) and 7.6e-5..0.062 (Hartmann-3).

struct Benchmark {
  const char* name;
  const char* space;
  Objective objective;
  double noise;
  int budget;
  bool assert_best;  // whether best-found must be significantly better too
};

double Branin(const Assignment& a) {
  const double x1 = AsDouble(a.at("x1"));
  const double x2 = AsDouble(a.at("x2"));
  constexpr double kPi = std::numbers::pi;
  const double b = 5.1 / (4.0 * kPi * kPi);
  const double c = 5.0 / kPi;
  const double t = 1.0 / (8.0 * kPi);
  const double r = x2 - b * x1 * x1 + c * x1 - 6.0;
  return -(r * r + 10.0 * (1.0 - t) * std::cos(x1) + 10.0);  // maximise -branin (max -0.398)
}

double Hartmann3(const Assignment& a) {
  constexpr double kAlpha[4] = {1.0, 1.2, 3.0, 3.2};
  constexpr double kA[4][3] = {{3.0, 10, 30}, {0.1, 10, 35}, {3.0, 10, 30}, {0.1, 10, 35}};
  constexpr double kP[4][3] = {{0.3689, 0.1170, 0.2673},
                               {0.4699, 0.4387, 0.7470},
                               {0.1091, 0.8732, 0.5547},
                               {0.0381, 0.5743, 0.8828}};
  const double x[3] = {AsDouble(a.at("x0")), AsDouble(a.at("x1")), AsDouble(a.at("x2"))};
  double v = 0.0;
  for (int i = 0; i < 4; ++i) {
    double e = 0.0;
    for (int j = 0; j < 3; ++j) {
      e += kA[i][j] * (x[j] - kP[i][j]) * (x[j] - kP[i][j]);
    }
    v += kAlpha[i] * std::exp(-e);
  }
  return v;  // max 3.86278
}

double Hartmann6(const Assignment& a) {
  constexpr double kAlpha[4] = {1.0, 1.2, 3.0, 3.2};
  constexpr double kA[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                               {0.05, 10, 17, 0.1, 8, 14},
                               {3, 3.5, 1.7, 10, 17, 8},
                               {17, 8, 0.05, 10, 0.1, 14}};
  constexpr double kP[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                               {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                               {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                               {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
  double v = 0.0;
  for (int i = 0; i < 4; ++i) {
    double e = 0.0;
    for (int j = 0; j < 6; ++j) {
      const double x = AsDouble(a.at("x" + std::to_string(j)));
      e += kA[i][j] * (x - kP[i][j]) * (x - kP[i][j]);
    }
    v += kAlpha[i] * std::exp(-e);
  }
  return v;  // max 3.32237
}

// A quadratic bowl over two dimensions of each numeric kind (uniform, loguniform, int,
// quniform), each term scaled by its range.
double Quadratic(const Assignment& a) {
  const auto sq = [](double z) { return z * z; };
  return -(sq((AsDouble(a.at("u0")) - 1.5) / 10.0) + sq((AsDouble(a.at("u1")) + 3.0) / 10.0) +
           sq((std::log10(AsDouble(a.at("l0"))) + 2.0) / 4.0) +
           sq((std::log10(AsDouble(a.at("l1"))) + 3.5) / 4.0) +
           sq((AsDouble(a.at("n0")) - 17.0) / 49.0) + sq((AsDouble(a.at("n1")) - 4.0) / 9.0) +
           sq((AsDouble(a.at("q0")) - 7.0) / 10.0) + sq((AsDouble(a.at("q1")) - 160.0) / 224.0));
}

const Benchmark kBenchmarks[] = {
    {"branin",
     "params: {x1: {type: uniform, low: -5, high: 10}, x2: {type: uniform, low: 0, high: 15}}",
     Branin, 0.0, 60, false},
    {"hartmann3",
     "params: {x0: {type: uniform, low: 0, high: 1}, x1: {type: uniform, low: 0, high: 1}, "
     "x2: {type: uniform, low: 0, high: 1}}",
     Hartmann3, 0.0, 60, false},
    {"noisy_quadratic_8d",
     "params: {u0: {type: uniform, low: -5, high: 5}, u1: {type: uniform, low: -5, high: 5}, "
     "l0: {type: loguniform, low: 0.0001, high: 1}, l1: {type: loguniform, low: 0.0001, high: 1}, "
     "n0: {type: int, low: 1, high: 50}, n1: {type: int, low: 1, high: 10}, "
     "q0: {type: quniform, low: 0, high: 10, q: 0.5}, "
     "q1: {type: quniform, low: 32, high: 256, q: 32}}",
     Quadratic, 0.01, 60, true},
    {"hartmann6",
     "params: {x0: {type: uniform, low: 0, high: 1}, x1: {type: uniform, low: 0, high: 1}, "
     "x2: {type: uniform, low: 0, high: 1}, x3: {type: uniform, low: 0, high: 1}, "
     "x4: {type: uniform, low: 0, high: 1}, x5: {type: uniform, low: 0, high: 1}}",
     Hartmann6, 0.0, 80, true},
};

class TpeBeatsRandomTest : public ::testing::TestWithParam<Benchmark> {};

TEST_P(TpeBeatsRandomTest, OnTwentySeeds) {
  const Benchmark& bench = GetParam();
  const SearchSpace space = Space(bench.space);
  constexpr int kSeeds = 20;
  constexpr int kStartup = 20;
  std::vector<double> tpe_best;
  std::vector<double> random_best;
  std::vector<double> best_diff;
  std::vector<double> tpe_mean;
  std::vector<double> random_mean;
  std::vector<double> mean_diff;
  for (uint64_t seed = 0; seed < kSeeds; ++seed) {
    TpeSampler tpe(space, Options(seed, kStartup));
    RandomSampler random(space, seed);
    const Outcome t = RunTrials(tpe, bench.objective, bench.budget, kStartup, bench.noise, seed);
    const Outcome r = RunTrials(random, bench.objective, bench.budget, kStartup, bench.noise, seed);
    tpe_best.push_back(t.best);
    random_best.push_back(r.best);
    best_diff.push_back(t.best - r.best);
    tpe_mean.push_back(t.model_mean);
    random_mean.push_back(r.model_mean);
    mean_diff.push_back(t.model_mean - r.model_mean);
  }
  const double p_best = WilcoxonSignedRankP(best_diff);
  const double p_mean = WilcoxonSignedRankP(mean_diff);
  const auto wins = [](const std::vector<double>& d) {
    return std::count_if(d.begin(), d.end(), [](double x) { return x > 0.0; });
  };
  std::printf(
      "[  stats   ] %s, %d trials: best found: TPE median %.5g, random %.5g, TPE better on "
      "%d/%d, p = %.2g%s; sampling: TPE median %.5g, random %.5g, better on %d/%d, p = %.2g\n",
      bench.name, bench.budget, Median(tpe_best), Median(random_best),
      static_cast<int>(wins(best_diff)), kSeeds, p_best, bench.assert_best ? "" : " (not asserted)",
      Median(tpe_mean), Median(random_mean), static_cast<int>(wins(mean_diff)), kSeeds, p_mean);
  EXPECT_LT(p_mean, 0.01);
  EXPECT_GT(Median(tpe_mean), Median(random_mean));
  if (bench.assert_best) {
    EXPECT_LT(p_best, 0.01);
    EXPECT_GT(Median(tpe_best), Median(random_best));
  }
}

INSTANTIATE_TEST_SUITE_P(StandardFunctions, TpeBeatsRandomTest, ::testing::ValuesIn(kBenchmarks),
                         [](const ::testing::TestParamInfo<Benchmark>& param_info) {
                           return std::string(param_info.param.name);
                         });

}  // namespace
}  // namespace churn::train
