#include "churn/train/pruner.h"

#include <cmath>
#include <memory>
#include <vector>

#include "testing/test_env.h"

namespace churn::train {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;

std::unique_ptr<Pruner> Make(const PrunerOptions& options) {
  auto pruner = MakePruner(options);
  EXPECT_THAT(pruner, IsOk());
  return pruner.ok() ? *std::move(pruner) : nullptr;
}

// A curve of `rounds` values: start + slope * round.
std::vector<double> Line(int rounds, double start, double slope) {
  std::vector<double> v;
  v.reserve(static_cast<size_t>(rounds));
  for (int r = 0; r < rounds; ++r) {
    v.push_back(start + slope * r);
  }
  return v;
}

std::vector<double> Prefix(const std::vector<double>& v, size_t n) {
  return {v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n)};
}

PrunerOptions Median(int startup, int warmup, int interval) {
  PrunerOptions o;
  o.kind = "median";
  o.startup_trials = startup;
  o.warmup_rounds = warmup;
  o.interval_rounds = interval;
  return o;
}

// Finished trials with values 0.5, 0.6, 0.7 at every round (median 0.6).
std::vector<TrialCurve> ThreeFlat() {
  return {{0, Line(30, 0.5, 0)}, {1, Line(30, 0.6, 0)}, {2, Line(30, 0.7, 0)}};
}

TEST(MedianPruner, PrunesBelowTheMedianOnceStartupAndWarmupHavePassed) {
  const auto pruner = Make(Median(3, 5, 1));
  const std::vector<TrialCurve> finished = ThreeFlat();
  const std::vector<double> bad = Line(30, 0.55, 0);
  const std::vector<double> good = Line(30, 0.65, 0);
  for (size_t rounds = 1; rounds <= 5; ++rounds) {  // rounds 0..4: warm-up
    EXPECT_FALSE(pruner->ShouldPrune(3, Prefix(bad, rounds), finished)) << rounds;
  }
  EXPECT_TRUE(pruner->ShouldPrune(3, Prefix(bad, 6), finished));  // round 5
  EXPECT_FALSE(pruner->ShouldPrune(3, Prefix(good, 6), finished));
  EXPECT_FALSE(pruner->ShouldPrune(3, Line(6, 0.6, 0), finished));  // equal to the median
  // Start-up: with two finished trials there is no decision.
  EXPECT_FALSE(pruner->ShouldPrune(3, Prefix(bad, 6), {finished[0], finished[1]}));
  EXPECT_FALSE(pruner->ShouldPrune(3, {}, finished));
}

TEST(MedianPruner, UsesTheBestValueSoFarAndTheMedianAtThatRound) {
  const auto pruner = Make(Median(2, 0, 1));
  // Finished: one rising 0 -> 0.9, one flat at 0.4: median at round r = (0.1 r + 0.4) / 2.
  const std::vector<TrialCurve> finished = {{0, Line(10, 0.0, 0.1)}, {1, Line(10, 0.4, 0)}};
  // Peaked early at 0.5 then fell: best so far 0.5 vs median at round 5 of 0.45 -> keep;
  // at round 7 the median is 0.55 -> prune.
  std::vector<double> peaked = {0.2, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3};
  EXPECT_FALSE(pruner->ShouldPrune(2, Prefix(peaked, 6), finished));
  EXPECT_TRUE(pruner->ShouldPrune(2, Prefix(peaked, 8), finished));
  // Even count: the median averages the middle two.
  EXPECT_FALSE(pruner->ShouldPrune(2, {0.2}, finished));  // median 0.2 at round 0
  EXPECT_TRUE(pruner->ShouldPrune(2, {0.19}, finished));
}

TEST(MedianPruner, FinishedTrialsThatStoppedEarlyCountWithTheirLastValue) {
  const auto pruner = Make(Median(3, 0, 1));
  // Two stopped at round 4 with 0.9; one ran on at 0.1: median at round 20 is 0.9.
  const std::vector<TrialCurve> finished = {
      {0, Line(5, 0.9, 0)}, {1, Line(5, 0.9, 0)}, {2, Line(30, 0.1, 0)}, {3, {}}};
  EXPECT_TRUE(pruner->ShouldPrune(4, Line(21, 0.5, 0), finished));
  EXPECT_FALSE(pruner->ShouldPrune(4, Line(21, 0.95, 0), finished));
}

TEST(MedianPruner, DecidesOnlyEveryIntervalRoundsAfterWarmup) {
  const auto pruner = Make(Median(3, 4, 3));
  const std::vector<TrialCurve> finished = ThreeFlat();
  const std::vector<double> bad = Line(20, 0.1, 0);
  std::vector<size_t> decided;
  for (size_t rounds = 1; rounds <= bad.size(); ++rounds) {
    if (pruner->ShouldPrune(3, Prefix(bad, rounds), finished)) {
      decided.push_back(rounds - 1);
    }
  }
  EXPECT_EQ(decided, (std::vector<size_t>{4, 7, 10, 13, 16, 19}));
}

TEST(MedianPruner, NanValues) {
  const auto pruner = Make(Median(1, 0, 1));
  const std::vector<TrialCurve> finished = {{0, {std::nan(""), 0.5}}, {1, {0.4, 0.4}}};
  EXPECT_TRUE(pruner->ShouldPrune(2, {std::nan("")}, finished));       // a diverged trial
  EXPECT_FALSE(pruner->ShouldPrune(2, {0.45}, finished));              // NaN left out: median 0.4
  EXPECT_FALSE(pruner->ShouldPrune(2, {0.3}, {{0, {std::nan("")}}}));  // nothing to compare
}

PrunerOptions Halving(int min_rounds, int eta) {
  PrunerOptions o;
  o.kind = "halving";
  o.min_rounds = min_rounds;
  o.eta = eta;
  return o;
}

TEST(HalvingPruner, DecidesOnlyAtRungs) {
  const auto pruner = Make(Halving(2, 3));  // rungs at 2, 6, 18, 54 rounds
  std::vector<TrialCurve> finished;
  finished.reserve(9);
  for (int i = 0; i < 9; ++i) {
    finished.push_back({i, Line(60, 1.0 + i, 0)});
  }
  const std::vector<double> worst = Line(60, 0.0, 0);
  std::vector<size_t> decided;
  for (size_t rounds = 1; rounds <= worst.size(); ++rounds) {
    if (pruner->ShouldPrune(9, Prefix(worst, rounds), finished)) {
      decided.push_back(rounds);
    }
  }
  EXPECT_EQ(decided, (std::vector<size_t>{2, 6, 18, 54}));
}

TEST(HalvingPruner, PromotesTheTopOneOverEta) {
  const auto pruner = Make(Halving(10, 3));
  // Finished values at the 10-round rung: 1..8; with the trial, m = 9 values and the top
  // floor(9 / 3) = 3 go on: the trial needs >= the 3rd best of {1..8, v}.
  std::vector<TrialCurve> finished;
  for (int i = 1; i <= 8; ++i) {
    std::vector<double> curve = Line(10, 0.0, 0);
    curve.back() = i;
    finished.push_back({i, curve});
  }
  const auto at_rung = [](double v) {
    std::vector<double> h = Line(10, 0.0, 0);
    h.back() = v;
    return h;
  };
  EXPECT_FALSE(pruner->ShouldPrune(20, at_rung(9.0), finished));  // best
  EXPECT_FALSE(pruner->ShouldPrune(20, at_rung(6.5), finished));  // 3rd of {8, 7, 6.5, ...}
  EXPECT_FALSE(pruner->ShouldPrune(20, at_rung(6.0), finished));  // ties the 3rd: goes on
  EXPECT_TRUE(pruner->ShouldPrune(20, at_rung(5.9), finished));   // 4th
  EXPECT_TRUE(pruner->ShouldPrune(20, at_rung(std::nan("")), finished));
  // Only the value at the rung counts, not the best so far.
  std::vector<double> fell = at_rung(2.0);
  fell[3] = 100.0;
  EXPECT_TRUE(pruner->ShouldPrune(20, fell, finished));
}

TEST(HalvingPruner, NoDecisionWithFewerThanEtaAtTheRung) {
  const auto pruner = Make(Halving(5, 3));
  // Two finished trials reached the rung; a third stopped before it.
  const std::vector<TrialCurve> finished = {
      {0, Line(5, 0.9, 0)}, {1, Line(8, 0.8, 0)}, {2, Line(4, 0.99, 0)}};
  EXPECT_FALSE(pruner->ShouldPrune(3, Line(5, 0.1, 0), finished));
  std::vector<TrialCurve> more = finished;
  more.push_back({4, Line(5, 0.7, 0)});  // three at the rung now: m = 4, top 1 goes on
  EXPECT_TRUE(pruner->ShouldPrune(5, Line(5, 0.1, 0), more));
  EXPECT_FALSE(pruner->ShouldPrune(5, Line(5, 0.95, 0), more));
}

TEST(HyperbandPruner, AssignsBracketsByTrialNumber) {
  PrunerOptions o;
  o.kind = "hyperband";
  o.min_rounds = 2;
  o.eta = 2;
  o.brackets =
      3;  // bracket s: rungs at 2 * 2^s * 2^k rounds: {2, 4, 8, ...}, {4, 8, ...}, {8, ...}
  const auto pruner = Make(o);
  // Finished trials 0..11 with values 1..12 at every round: four per bracket.
  std::vector<TrialCurve> finished;
  finished.reserve(12);
  for (int i = 0; i < 12; ++i) {
    finished.push_back({i, Line(40, 1.0 + i, 0)});
  }
  const std::vector<double> worst = Line(40, 0.0, 0);
  const auto first_prune = [&](int64_t trial) {
    for (size_t rounds = 1; rounds <= worst.size(); ++rounds) {
      if (pruner->ShouldPrune(trial, Prefix(worst, rounds), finished)) {
        return static_cast<int>(rounds);
      }
    }
    return -1;
  };
  EXPECT_EQ(first_prune(12), 2);  // bracket 0
  EXPECT_EQ(first_prune(13), 4);  // bracket 1
  EXPECT_EQ(first_prune(14), 8);  // bracket 2
  EXPECT_EQ(first_prune(15), 2);  // bracket 0 again

  // Within a bracket only its own finished trials compete: trial 13 (bracket 1) with 7.5 at its
  // first rung (4 rounds) is not in the top half of bracket 1's {2, 5, 8, 11} plus itself, though
  // it would be among all twelve (floor(13 / 2) = 6 go on: 12, 11, 10, 9, 8, 7.5).
  const std::vector<double> mid = Line(4, 7.5, 0);
  EXPECT_TRUE(pruner->ShouldPrune(13, mid, finished));
  EXPECT_FALSE(Make(Halving(4, 2))->ShouldPrune(13, mid, finished));
}

TEST(HyperbandPruner, NoDecisionWhileABracketHasTooFewFinishedTrials) {
  PrunerOptions o;
  o.kind = "hyperband";
  o.min_rounds = 2;
  o.eta = 3;
  o.brackets = 2;
  const auto pruner = Make(o);
  // Three finished trials, but only two (0 and 2) in bracket 0: fewer than eta.
  const std::vector<TrialCurve> finished = {
      {0, Line(10, 1, 0)}, {1, Line(10, 1, 0)}, {2, Line(10, 1, 0)}};
  EXPECT_FALSE(pruner->ShouldPrune(4, Line(2, 0, 0), finished));
  std::vector<TrialCurve> more = finished;
  more.push_back({6, Line(10, 1, 0)});
  EXPECT_TRUE(pruner->ShouldPrune(4, Line(2, 0, 0), more));
}

TEST(NonePruner, NeverPrunes) {
  PrunerOptions o;
  o.kind = "none";
  const auto pruner = Make(o);
  EXPECT_FALSE(pruner->ShouldPrune(10, Line(50, -1e9, 0), {{0, Line(50, 1, 0)}}));
  EXPECT_FALSE(pruner->ShouldPrune(10, {std::nan("")}, {}));
}

TEST(MakePruner, DefaultsAreValid) {
  EXPECT_THAT(MakePruner(PrunerOptions{}), IsOk());
  for (const char* kind : {"median", "halving", "hyperband", "none"}) {
    PrunerOptions o;
    o.kind = kind;
    EXPECT_THAT(MakePruner(o), IsOk()) << kind;
  }
  EXPECT_THAT(MakePruner(Median(0, 0, 1)), IsOk());  // no start-up, no warm-up
}

TEST(MakePruner, RejectsBadSettingsNamingTheField) {
  using absl::StatusCode::kInvalidArgument;
  PrunerOptions o;
  o.kind = "asha";
  EXPECT_THAT(MakePruner(o), StatusIs(kInvalidArgument, "unknown kind 'asha'"));
  EXPECT_THAT(MakePruner(Median(-1, 0, 1)), StatusIs(kInvalidArgument, "startup_trials"));
  EXPECT_THAT(MakePruner(Median(1, -1, 1)), StatusIs(kInvalidArgument, "warmup_rounds"));
  EXPECT_THAT(MakePruner(Median(1, 1, 0)), StatusIs(kInvalidArgument, "interval_rounds"));
  EXPECT_THAT(MakePruner(Halving(0, 3)), StatusIs(kInvalidArgument, "min_rounds"));
  EXPECT_THAT(MakePruner(Halving(-3, 3)), StatusIs(kInvalidArgument, "min_rounds"));
  EXPECT_THAT(MakePruner(Halving(10, 1)), StatusIs(kInvalidArgument, "eta"));
  EXPECT_THAT(MakePruner(Halving(10, 0)), StatusIs(kInvalidArgument, "eta"));
  PrunerOptions h;
  h.kind = "hyperband";
  h.brackets = 0;
  EXPECT_THAT(MakePruner(h), StatusIs(kInvalidArgument, "brackets"));
  h.brackets = 40;
  EXPECT_THAT(MakePruner(h), StatusIs(kInvalidArgument, "brackets"));
  // Settings a kind does not use are not checked.
  PrunerOptions none;
  none.kind = "none";
  none.eta = 0;
  none.interval_rounds = 0;
  EXPECT_THAT(MakePruner(none), IsOk());
}

}  // namespace
}  // namespace churn::train
