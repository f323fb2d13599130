#include "churn/drift/stats.h"

#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nlohmann/json.hpp"
#include "testing/test_env.h"

#include "churn/base/file.h"

namespace churn::drift {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;
using ::nlohmann::json;

// Every expected number comes from SciPy 1.10.1 / numpy 1.24.2
// (tests/fixtures/drift/make_fixtures.py wrote fixtures.json).
constexpr double kTol = 1e-6;

// Absolute 1e-6, relative 1e-6 below 1e-6 (tiny p-values); infinities must match.
void ExpectClose(double actual, double expected, const std::string& what) {
  if (std::isinf(expected)) {
    EXPECT_EQ(actual, expected) << what;
    return;
  }
  const double tol = std::abs(expected) < kTol ? kTol * std::abs(expected) : kTol;
  EXPECT_NEAR(actual, expected, tol) << what;
}

// A fixture number; the string "inf" stands for infinity (JSON has none).
double Num(const json& j) {
  return j.is_string() && j.get<std::string>() == "inf" ? HUGE_VAL : j.get<double>();
}

json LoadFixtures() {
  const std::filesystem::path path =
      std::filesystem::path(testing::SourceDir()) / "tests/fixtures/drift/fixtures.json";
  const absl::StatusOr<std::string> text = base::ReadFile(path);
  EXPECT_THAT(text, IsOk());
  if (!text.ok()) {
    return json::object();
  }
  json doc = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(doc.is_object()) << path;
  return doc.is_object() ? doc : json::object();
}

const json& Fixtures() {
  static const json* const kDoc = new json(LoadFixtures());
  return *kDoc;
}

std::vector<json> Cases(const char* kind) {
  std::vector<json> out;
  if (Fixtures().contains(kind)) {
    for (const json& c : Fixtures()[kind]) {
      out.push_back(c);
    }
  }
  EXPECT_FALSE(out.empty()) << kind;
  return out;
}

TEST(DriftFixtures, KsMatchesScipyKs2samp) {
  for (const json& c : Cases("numeric")) {
    const auto ref = c["reference"].get<std::vector<double>>();
    const auto cur = c["current"].get<std::vector<double>>();
    const std::string name = c["name"].get<std::string>();
    const absl::StatusOr<TestStatistic> ks = KsTwoSample(ref, cur);
    ASSERT_THAT(ks, IsOk()) << name;
    ExpectClose(ks->statistic, c["ks"]["statistic"].get<double>(), name + " D");
    ExpectClose(ks->p_value, c["ks"]["p_value"].get<double>(), name + " p");
  }
}

TEST(DriftFixtures, WassersteinMatchesScipy) {
  for (const json& c : Cases("numeric")) {
    const auto ref = c["reference"].get<std::vector<double>>();
    const auto cur = c["current"].get<std::vector<double>>();
    const std::string name = c["name"].get<std::string>();
    const absl::StatusOr<double> w = WassersteinDistance(ref, cur);
    ASSERT_THAT(w, IsOk()) << name;
    ExpectClose(*w, c["wasserstein"].get<double>(), name);
    const absl::StatusOr<double> wn = WassersteinNormed(ref, cur);
    ASSERT_THAT(wn, IsOk()) << name;
    ExpectClose(*wn, c["wasserstein_norm"].get<double>(), name + " normed");
  }
}

TEST(DriftFixtures, NumericBinningJensenShannonAndPsiMatchEvidently) {
  for (const json& c : Cases("numeric")) {
    const auto ref = c["reference"].get<std::vector<double>>();
    const auto cur = c["current"].get<std::vector<double>>();
    const std::string name = c["name"].get<std::string>();
    absl::StatusOr<Binned> b = BinNumeric(ref, cur);
    ASSERT_THAT(b, IsOk()) << name;
    const auto want_ref = c["binned_reference"].get<std::vector<double>>();
    const auto want_cur = c["binned_current"].get<std::vector<double>>();
    ASSERT_EQ(b->reference.size(), want_ref.size()) << name;
    for (size_t i = 0; i < want_ref.size(); ++i) {
      ExpectClose(b->reference[i], want_ref[i], name + " ref bin " + std::to_string(i));
      ExpectClose(b->current[i], want_cur[i], name + " cur bin " + std::to_string(i));
    }
    ExpectClose(JensenShannonDistance(b->reference, b->current).value(),
                c["jensenshannon"].get<double>(), name + " js");
    ExpectClose(JensenShannonDistance(b->reference, b->current, 2.0).value(),
                c["jensenshannon_base2"].get<double>(), name + " js base 2");
    FillEmptyBins(b->reference);
    FillEmptyBins(b->current);
    ExpectClose(PopulationStabilityIndex(b->reference, b->current).value(), c["psi"].get<double>(),
                name + " psi");
  }
}

TEST(DriftFixtures, CategoricalTestsMatchEvidently) {
  for (const json& c : Cases("categorical")) {
    const auto ref = c["reference"].get<std::vector<std::string>>();
    const auto cur = c["current"].get<std::vector<std::string>>();
    const std::string name = c["name"].get<std::string>();
    const CategoryCounts counts = CountCategories(ref, cur);
    const absl::StatusOr<TestStatistic> chi = ChiSquareTest(counts.reference, counts.current);
    ASSERT_THAT(chi, IsOk()) << name;
    ExpectClose(chi->statistic, Num(c["chisquare"]["statistic"]), name + " chi2");
    ExpectClose(chi->p_value, c["chisquare"]["p_value"].get<double>(), name + " chi2 p");
    for (const auto& [test, key] :
         {std::pair{DriftTest::kZ, "z"}, std::pair{DriftTest::kJensenShannon, "jensenshannon"},
          std::pair{DriftTest::kPsi, "psi"}}) {
      const absl::StatusOr<DriftResult> r =
          RunTest(ref, cur, {.test = test, .threshold = std::nullopt});
      ASSERT_THAT(r, IsOk()) << name << " " << key;
      const json& want = c[key];
      ExpectClose(r->score, want.is_object() ? want["p_value"].get<double>() : want.get<double>(),
                  name + " " + key);
    }
  }
}

TEST(ZTestProportions, MatchesFixtureStatistic) {
  for (const json& c : Cases("categorical")) {
    const auto ref = c["reference"].get<std::vector<std::string>>();
    const auto cur = c["current"].get<std::vector<std::string>>();
    const CategoryCounts counts = CountCategories(ref, cur);
    const auto n1 = static_cast<double>(ref.size());
    const auto n2 = static_cast<double>(cur.size());
    const absl::StatusOr<TestStatistic> z =
        ZTestProportions(n1 - counts.reference[0], n1, n2 - counts.current[0], n2);
    ASSERT_THAT(z, IsOk());
    ExpectClose(z->statistic, c["z"]["statistic"].get<double>(), c["name"].get<std::string>());
  }
}

TEST(RunTest, NumericScoresAreTheFixtureNumbers) {
  for (const json& c : Cases("numeric")) {
    const auto ref = c["reference"].get<std::vector<double>>();
    const auto cur = c["current"].get<std::vector<double>>();
    const std::string name = c["name"].get<std::string>();
    const absl::StatusOr<DriftResult> ks =
        RunTest(ref, cur, {.test = DriftTest::kKs, .threshold = std::nullopt});
    ASSERT_THAT(ks, IsOk());
    ExpectClose(ks->score, c["ks"]["p_value"].get<double>(), name);
    EXPECT_EQ(ks->drifted, ks->score <= 0.05) << name;
    const absl::StatusOr<DriftResult> w =
        RunTest(ref, cur, {.test = DriftTest::kWasserstein, .threshold = 0.2});
    ASSERT_THAT(w, IsOk());
    EXPECT_EQ(w->threshold, 0.2);
    EXPECT_EQ(w->drifted, c["wasserstein_norm"].get<double>() >= 0.2) << name;
  }
}

struct ChoiceRow {
  ColumnKind kind;
  size_t reference_rows;
  size_t n_unique;
  DriftTest want;
};

TEST(ChooseTest, FollowsEvidentlyDefaults) {
  const ChoiceRow rows[] = {
      {ColumnKind::kNumeric, 1000, 6, DriftTest::kKs},
      {ColumnKind::kNumeric, 10, 500, DriftTest::kKs},
      {ColumnKind::kNumeric, 1000, 5, DriftTest::kChiSquare},
      {ColumnKind::kNumeric, 1000, 3, DriftTest::kChiSquare},
      {ColumnKind::kNumeric, 1000, 2, DriftTest::kZ},
      {ColumnKind::kNumeric, 1000, 1, DriftTest::kZ},
      {ColumnKind::kNumeric, 1001, 6, DriftTest::kWasserstein},
      {ColumnKind::kNumeric, 10127, 5, DriftTest::kJensenShannon},
      {ColumnKind::kNumeric, 1001, 2, DriftTest::kJensenShannon},
      {ColumnKind::kCategorical, 1000, 7, DriftTest::kChiSquare},
      {ColumnKind::kCategorical, 1000, 3, DriftTest::kChiSquare},
      {ColumnKind::kCategorical, 500, 2, DriftTest::kZ},
      {ColumnKind::kCategorical, 1001, 2, DriftTest::kJensenShannon},
      {ColumnKind::kCategorical, 1001, 40, DriftTest::kJensenShannon},
  };
  for (const ChoiceRow& r : rows) {
    EXPECT_EQ(ChooseTest(r.kind, r.reference_rows, r.n_unique), r.want)
        << r.reference_rows << " rows, " << r.n_unique << " unique";
  }
}

TEST(DriftTestNames, NamesThresholdsAndDirections) {
  const std::pair<DriftTest, double> defaults[] = {
      {DriftTest::kKs, 0.05},         {DriftTest::kChiSquare, 0.05},    {DriftTest::kZ, 0.05},
      {DriftTest::kWasserstein, 0.1}, {DriftTest::kJensenShannon, 0.1}, {DriftTest::kPsi, 0.1}};
  for (const auto& [test, threshold] : defaults) {
    EXPECT_EQ(DefaultThreshold(test), threshold);
    const absl::StatusOr<DriftTest> back = DriftTestFromName(DriftTestName(test));
    ASSERT_THAT(back, IsOk());
    EXPECT_EQ(*back, test);
  }
  EXPECT_THAT(DriftTestFromName("anderson"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RunTest, ChoosesAutomaticallyAndOverrides) {
  std::vector<double> ref;
  std::vector<double> cur;
  for (int i = 0; i < 200; ++i) {
    ref.push_back(i);
    cur.push_back(i + 100);
  }
  absl::StatusOr<DriftResult> r = RunTest(ref, cur);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->test_name, "ks");
  EXPECT_EQ(r->threshold, 0.05);
  EXPECT_TRUE(r->drifted);
  r = RunTest(ref, cur, {.test = DriftTest::kPsi, .threshold = 100.0});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->test_name, "psi");
  EXPECT_FALSE(r->drifted);

  const std::vector<std::string> a = {"x", "y", "x", "y"};
  r = RunTest(a, a);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->test_name, "z");
  EXPECT_EQ(r->score, 1.0);
  EXPECT_FALSE(r->drifted);
  EXPECT_THAT(RunTest(a, a, {.test = DriftTest::kKs, .threshold = std::nullopt}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(DriftInput, EmptyAndNonFiniteAreInvalid) {
  const std::vector<double> empty;
  const std::vector<double> one = {1.0};
  const std::vector<double> nan = {1.0, std::nan("")};
  EXPECT_THAT(KsTwoSample(empty, one), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(KsTwoSample(one, nan), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(WassersteinDistance(one, empty), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RunTest(empty, one), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ChiSquareTest(std::vector<double>{1, 2}, std::vector<double>{1}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ZTestProportions(5, 4, 1, 2), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(JensenShannonDistance(std::vector<double>{0, 0}, std::vector<double>{1, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PopulationStabilityIndex(std::vector<double>{0.5, 0.5}, std::vector<double>{1, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FillEmptyBins, FollowsEvidentlyEpsilon) {
  std::vector<double> p = {0.5, 0.0, 0.5};
  FillEmptyBins(p);
  EXPECT_EQ(p[1], 1e-4);
  std::vector<double> q = {0.99995, 0.0, 0.00005};
  FillEmptyBins(q);
  EXPECT_DOUBLE_EQ(q[1], 0.00005 / 1e6);
}

TEST(DatasetDrift, ShareAtThreshold) {
  std::vector<DriftResult> cols(4);
  cols[0].drifted = true;
  cols[1].drifted = true;
  absl::StatusOr<DatasetDriftResult> d = DatasetDrift(cols);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->drifted_columns, 2U);
  EXPECT_EQ(d->share, 0.5);
  EXPECT_TRUE(d->drifted);
  d = DatasetDrift(cols, 0.75);
  ASSERT_THAT(d, IsOk());
  EXPECT_FALSE(d->drifted);
  EXPECT_THAT(DatasetDrift({}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DatasetDrift(cols, 1.5), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace churn::drift
