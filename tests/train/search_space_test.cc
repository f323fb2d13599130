#include "churn/train/search_space.h"

#include <filesystem>
#include <string>

#include "testing/test_env.h"

#include "churn/base/file.h"

namespace churn::train {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Pair;

constexpr char kEveryKind[] = R"yaml(
params:
  max_depth:   {type: int, low: 2, high: 10}
  eta:         {type: loguniform, low: 0.01, high: 0.3}
  subsample:   {type: uniform, low: 0.5, high: 1.0}
  max_bin:     {type: quniform, low: 32, high: 256, q: 32}
  grow_policy: {type: choice, choices: [depthwise, lossguide]}
  max_leaves:  {type: int, low: 8, high: 128, when: {grow_policy: [lossguide]}}
fixed:
  max_delta_step: 0
  tree_method: hist
)yaml";

TEST(SearchSpace, ParsesEveryKind) {
  CHURN_ASSERT_OK_AND_ASSIGN(const SearchSpace s, SearchSpace::FromYaml(kEveryKind));
  ASSERT_EQ(s.Params().size(), 6U);
  const ParamSpec* depth = s.Find("max_depth");
  ASSERT_NE(depth, nullptr);
  EXPECT_EQ(depth->kind, ParamKind::kInt);
  EXPECT_EQ(depth->low, 2.0);
  EXPECT_EQ(depth->high, 10.0);
  EXPECT_EQ(s.Find("eta")->kind, ParamKind::kLogUniform);
  EXPECT_EQ(s.Find("eta")->low, 0.01);
  EXPECT_EQ(s.Find("subsample")->kind, ParamKind::kUniform);
  EXPECT_EQ(s.Find("max_bin")->kind, ParamKind::kQUniform);
  EXPECT_EQ(s.Find("max_bin")->q, 32.0);
  EXPECT_EQ(s.Find("grow_policy")->kind, ParamKind::kChoice);
  EXPECT_THAT(s.Find("grow_policy")->choices, ElementsAre("depthwise", "lossguide"));
  EXPECT_TRUE(s.Find("subsample")->when.empty());
  EXPECT_THAT(s.Find("max_leaves")->when,
              ElementsAre(Pair("grow_policy", ElementsAre("lossguide"))));
  EXPECT_EQ(s.Find("nope"), nullptr);
  // Declaration order is kept: samplers draw parents before children.
  EXPECT_EQ(s.Params()[4].name, "grow_policy");
  EXPECT_EQ(s.Params()[5].name, "max_leaves");
  EXPECT_THAT(s.Fixed(), ElementsAre(Pair("max_delta_step", "0"), Pair("tree_method", "hist")));
}

TEST(SearchSpace, KindNames) {
  EXPECT_EQ(ParamKindName(ParamKind::kUniform), "uniform");
  EXPECT_EQ(ParamKindName(ParamKind::kLogUniform), "loguniform");
  EXPECT_EQ(ParamKindName(ParamKind::kQUniform), "quniform");
  EXPECT_EQ(ParamKindName(ParamKind::kInt), "int");
  EXPECT_EQ(ParamKindName(ParamKind::kChoice), "choice");
}

TEST(SearchSpace, QDefaultsToOneAndWhenTakesAScalar) {
  CHURN_ASSERT_OK_AND_ASSIGN(const SearchSpace s, SearchSpace::FromYaml(R"yaml(
params:
  a: {type: choice, choices: [x, y, z]}
  b: {type: quniform, low: 0, high: 5, when: {a: y}}
  c: {type: uniform, low: 1, high: 1, when: {a: [x, z]}}
)yaml"));
  EXPECT_EQ(s.Find("b")->q, 1.0);
  EXPECT_THAT(s.Find("b")->when, ElementsAre(Pair("a", ElementsAre("y"))));
  EXPECT_THAT(s.Find("c")->when, ElementsAre(Pair("a", ElementsAre("x", "z"))));
}

TEST(SearchSpace, ConditionalActivity) {
  CHURN_ASSERT_OK_AND_ASSIGN(const SearchSpace s, SearchSpace::FromYaml(R"yaml(
params:
  booster: {type: choice, choices: [gbtree, dart]}
  grow:    {type: choice, choices: [depthwise, lossguide], when: {booster: [gbtree]}}
  leaves:  {type: int, low: 8, high: 64, when: {booster: [gbtree], grow: [lossguide]}}
)yaml"));
  const ParamSpec& leaves = *s.Find("leaves");
  EXPECT_FALSE(SearchSpace::IsActive(leaves, {}));
  EXPECT_FALSE(SearchSpace::IsActive(leaves, {{"booster", std::string("gbtree")}}));
  EXPECT_FALSE(SearchSpace::IsActive(
      leaves, {{"booster", std::string("gbtree")}, {"grow", std::string("depthwise")}}));
  EXPECT_TRUE(SearchSpace::IsActive(
      leaves, {{"booster", std::string("gbtree")}, {"grow", std::string("lossguide")}}));
  EXPECT_FALSE(SearchSpace::IsActive(
      leaves, {{"booster", std::string("dart")}, {"grow", std::string("lossguide")}}));
  EXPECT_TRUE(SearchSpace::IsActive(*s.Find("booster"), {}));

  EXPECT_THAT(s.Check({{"booster", std::string("dart")}}), IsOk());
  EXPECT_THAT(s.Check({{"booster", std::string("gbtree")}, {"grow", std::string("depthwise")}}),
              IsOk());
  EXPECT_THAT(s.Check({{"booster", std::string("gbtree")},
                       {"grow", std::string("lossguide")},
                       {"leaves", int64_t{16}}}),
              IsOk());
  EXPECT_THAT(s.Check({{"booster", std::string("gbtree")}, {"grow", std::string("lossguide")}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "'leaves' is active but missing"));
  EXPECT_THAT(s.Check({{"booster", std::string("dart")}, {"grow", std::string("lossguide")}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "'grow' is set but inactive"));
}

TEST(SearchSpace, CheckValidatesTypesRangesAndNames) {
  CHURN_ASSERT_OK_AND_ASSIGN(const SearchSpace s, SearchSpace::FromYaml(kEveryKind));
  Assignment a = {{"max_depth", int64_t{4}},
                  {"eta", 0.05},
                  {"subsample", 1.0},
                  {"max_bin", 64.0},
                  {"grow_policy", std::string("depthwise")}};
  EXPECT_THAT(s.Check(a), IsOk());
  const auto with = [&a](absl::string_view name, ParamValue v) {
    Assignment b = a;
    b[std::string(name)] = std::move(v);
    return b;
  };
  using absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(s.Check(with("max_depth", int64_t{11})),
              StatusIs(kInvalidArgument, "'max_depth': 11 is outside [2, 10]"));
  EXPECT_THAT(s.Check(with("max_depth", 4.0)),
              StatusIs(kInvalidArgument, "'max_depth': must be an integer"));
  EXPECT_THAT(s.Check(with("eta", 0.001)), StatusIs(kInvalidArgument, "'eta'"));
  EXPECT_THAT(s.Check(with("eta", std::nan(""))), StatusIs(kInvalidArgument, "'eta'"));
  EXPECT_THAT(s.Check(with("max_bin", 48.0)),
              StatusIs(kInvalidArgument, "'max_bin': 48 is not a multiple of q 32"));
  EXPECT_THAT(s.Check(with("grow_policy", std::string("oblivious"))),
              StatusIs(kInvalidArgument, "'grow_policy': 'oblivious' is not one of its choices"));
  EXPECT_THAT(s.Check(with("grow_policy", int64_t{1})),
              StatusIs(kInvalidArgument, "'grow_policy': must be a string"));
  EXPECT_THAT(s.Check(with("colsample", 0.5)),
              StatusIs(kInvalidArgument, "'colsample' is not in the search space"));
  Assignment missing = a;
  missing.erase("eta");
  EXPECT_THAT(s.Check(missing), StatusIs(kInvalidArgument, "'eta' is active but missing"));
  EXPECT_THAT(s.Check(with("max_leaves", int64_t{16})),
              StatusIs(kInvalidArgument, "'max_leaves' is set but inactive"));
  Assignment lossguide = with("grow_policy", std::string("lossguide"));
  lossguide["max_leaves"] = int64_t{128};
  EXPECT_THAT(s.Check(lossguide), IsOk());
}

TEST(SearchSpace, FormatParamValuePrintsWhatXgboostParses) {
  EXPECT_EQ(FormatParamValue(64.0), "64");  // max_bin: XGBoost rejects "64.0"
  EXPECT_EQ(FormatParamValue(256.0), "256");
  EXPECT_EQ(FormatParamValue(0.1), "0.1");
  EXPECT_EQ(FormatParamValue(0.30000000000000004), "0.30000000000000004");  // round-trips
  EXPECT_EQ(FormatParamValue(1e-4), "1e-04");  // shortest; strtod and XGBoost read it
  EXPECT_EQ(FormatParamValue(int64_t{-7}), "-7");
  EXPECT_EQ(FormatParamValue(std::string("lossguide")), "lossguide");
}

TEST(SearchSpace, ParseParamValueInvertsFormat) {
  CHURN_ASSERT_OK_AND_ASSIGN(const SearchSpace s, SearchSpace::FromYaml(kEveryKind));
  for (const ParamValue& v : {ParamValue(0.123456789012345678), ParamValue(int64_t{7}),
                              ParamValue(std::string("lossguide"))}) {
    const char* name = v.index() == 0 ? "eta" : v.index() == 1 ? "max_depth" : "grow_policy";
    EXPECT_THAT(ParseParamValue(*s.Find(name), FormatParamValue(v)),
                churn::testing::IsOkAndHolds(v));
  }
  EXPECT_THAT(ParseParamValue(*s.Find("max_depth"), "4.5"),
              StatusIs(absl::StatusCode::kInvalidArgument, "'max_depth': '4.5' is not an integer"));
  EXPECT_THAT(ParseParamValue(*s.Find("eta"), "fast"),
              StatusIs(absl::StatusCode::kInvalidArgument, "'eta'"));
  EXPECT_THAT(ParseParamValue(*s.Find("grow_policy"), "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "not one of its choices"));
}

TEST(SearchSpace, ToYamlRoundTrips) {
  CHURN_ASSERT_OK_AND_ASSIGN(const SearchSpace s, SearchSpace::FromYaml(kEveryKind));
  CHURN_ASSERT_OK_AND_ASSIGN(const SearchSpace again, SearchSpace::FromYaml(s.ToYaml()));
  EXPECT_EQ(again, s) << s.ToYaml();
  EXPECT_EQ(again.ToYaml(), s.ToYaml());
  const SearchSpace d = SearchSpace::Default();
  CHURN_ASSERT_OK_AND_ASSIGN(const SearchSpace d2, SearchSpace::FromYaml(d.ToYaml()));
  EXPECT_EQ(d2, d) << d.ToYaml();
  // Awkward choice strings and doubles survive too.
  CHURN_ASSERT_OK_AND_ASSIGN(const SearchSpace odd, SearchSpace::FromYaml(R"yaml(
params:
  c: {type: choice, choices: ["yes", "no", "a: b", "1.0", "[x]"]}
  u: {type: uniform, low: 0.1, high: 0.30000000000000004, when: {c: ["a: b"]}}
)yaml"));
  CHURN_ASSERT_OK_AND_ASSIGN(const SearchSpace odd2, SearchSpace::FromYaml(odd.ToYaml()));
  EXPECT_EQ(odd2, odd) << odd.ToYaml();
}

TEST(SearchSpace, DefaultIsTheXgboostSpaceAndEqualsTheConfigFile) {
  const SearchSpace d = SearchSpace::Default();
  std::vector<std::string> names;
  for (const auto& p : d.Params()) {
    names.push_back(p.name);
  }
  EXPECT_THAT(names, ElementsAre("max_depth", "eta", "min_child_weight", "subsample",
                                 "colsample_bytree", "lambda", "alpha", "gamma", "max_bin"));
  EXPECT_EQ(d.Find("max_bin")->kind, ParamKind::kQUniform);
  EXPECT_EQ(d.Find("max_depth")->kind, ParamKind::kInt);
  const std::string path =
      (std::filesystem::path(testing::SourceDir()) / "configs" / "search_space.yaml").string();
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string text, base::ReadFile(path));
  CHURN_ASSERT_OK_AND_ASSIGN(const SearchSpace from_file, SearchSpace::FromYaml(text));
  EXPECT_EQ(from_file, d) << from_file.ToYaml() << "\nvs\n" << d.ToYaml();
}

struct BadSpace {
  const char* what;
  const char* yaml;
  const char* message;
};

class SearchSpaceErrorTest : public ::testing::TestWithParam<BadSpace> {};

TEST_P(SearchSpaceErrorTest, IsRejectedNamingParameterAndField) {
  const BadSpace& bad = GetParam();
  EXPECT_THAT(SearchSpace::FromYaml(bad.yaml),
              StatusIs(absl::StatusCode::kInvalidArgument, bad.message))
      << bad.what;
}

INSTANTIATE_TEST_SUITE_P(
    Errors, SearchSpaceErrorTest,
    ::testing::Values(
        BadSpace{"empty text", "", "must be a mapping"},
        BadSpace{"no params", "fixed: {a: 1}", "has no parameters"},
        BadSpace{"empty params", "params: {}", "has no parameters"},
        BadSpace{"params a list", "params: [a, b]", "has no parameters"},
        BadSpace{"unknown top-level key", "params: {a: {type: uniform, low: 0, high: 1}}\nx: 1",
                 "unknown key 'x'"},
        BadSpace{"low > high", "params: {a: {type: uniform, low: 2, high: 1}}",
                 "parameter 'a': field 'low' (2) is greater than field 'high' (1)"},
        BadSpace{"unknown type", "params: {a: {type: normal, low: 0, high: 1}}",
                 "parameter 'a': field 'type': unknown type 'normal'"},
        BadSpace{"missing type", "params: {a: {low: 0, high: 1}}",
                 "parameter 'a': missing field 'type'"},
        BadSpace{"unknown key", "params: {a: {type: uniform, low: 0, high: 1, step: 2}}",
                 "parameter 'a': unknown key 'step'"},
        BadSpace{"key of another kind", "params: {a: {type: uniform, low: 0, high: 1, q: 2}}",
                 "parameter 'a': key 'q' does not apply to type uniform"},
        BadSpace{"choices on int", "params: {a: {type: int, low: 0, high: 1, choices: [x]}}",
                 "parameter 'a': key 'choices' does not apply to type int"},
        BadSpace{"missing high", "params: {a: {type: uniform, low: 0}}",
                 "parameter 'a': missing field 'high'"},
        BadSpace{"non-numeric low", "params: {a: {type: uniform, low: zero, high: 1}}",
                 "parameter 'a': field 'low' must be a finite number"},
        BadSpace{"loguniform low = 0", "params: {a: {type: loguniform, low: 0, high: 1}}",
                 "parameter 'a': field 'low' (0) must be > 0 for type loguniform"},
        BadSpace{"loguniform low < 0", "params: {a: {type: loguniform, low: -1, high: 1}}",
                 "parameter 'a': field 'low' (-1) must be > 0"},
        BadSpace{"q = 0", "params: {a: {type: quniform, low: 0, high: 1, q: 0}}",
                 "parameter 'a': field 'q' (0) must be > 0"},
        BadSpace{"q < 0", "params: {a: {type: quniform, low: 0, high: 1, q: -2}}",
                 "parameter 'a': field 'q' (-2) must be > 0"},
        BadSpace{"int with a fraction", "params: {a: {type: int, low: 0.5, high: 3}}",
                 "parameter 'a': field 'low' must be an integer"},
        BadSpace{"empty choices", "params: {a: {type: choice, choices: []}}",
                 "parameter 'a': field 'choices' is empty"},
        BadSpace{"missing choices", "params: {a: {type: choice}}",
                 "parameter 'a': missing field 'choices'"},
        BadSpace{"repeated choice", "params: {a: {type: choice, choices: [x, x]}}",
                 "parameter 'a': field 'choices' lists 'x' twice"},
        BadSpace{"param not a mapping", "params: {a: 3}", "parameter 'a': must be a mapping"},
        BadSpace{"duplicate name",
                 "params:\n  a: {type: uniform, low: 0, high: 1}\n"
                 "  a: {type: uniform, low: 0, high: 1}",
                 "parameter 'a' is declared twice"},
        BadSpace{"when names an unknown parameter",
                 "params: {a: {type: uniform, low: 0, high: 1, when: {b: [x]}}}",
                 "parameter 'a': field 'when' names 'b', not a choice parameter declared before"},
        BadSpace{"when names a later parameter",
                 "params:\n  a: {type: uniform, low: 0, high: 1, when: {b: [x]}}\n"
                 "  b: {type: choice, choices: [x]}",
                 "parameter 'a': field 'when' names 'b'"},
        BadSpace{"when names a numeric parameter",
                 "params:\n  b: {type: uniform, low: 0, high: 1}\n"
                 "  a: {type: uniform, low: 0, high: 1, when: {b: [x]}}",
                 "parameter 'a': field 'when' names 'b', not a choice parameter"},
        BadSpace{"when with a value the parent cannot take",
                 "params:\n  b: {type: choice, choices: [x, y]}\n"
                 "  a: {type: uniform, low: 0, high: 1, when: {b: [z]}}",
                 "parameter 'a': field 'when': 'b' cannot take 'z'"},
        BadSpace{"when with no values",
                 "params:\n  b: {type: choice, choices: [x, y]}\n"
                 "  a: {type: uniform, low: 0, high: 1, when: {b: []}}",
                 "parameter 'a': field 'when' lists no value for 'b'"},
        BadSpace{"when not a mapping",
                 "params:\n  b: {type: choice, choices: [x, y]}\n"
                 "  a: {type: uniform, low: 0, high: 1, when: [b]}",
                 "parameter 'a': field 'when' must be a non-empty mapping"},
        BadSpace{"fixed shadows a parameter",
                 "params: {a: {type: uniform, low: 0, high: 1}}\nfixed: {a: 2}",
                 "fixed 'a' is also a searched"},
        BadSpace{"malformed YAML", "params: {a: [", "search space YAML"}));

TEST(SearchSpace, StartPointsAreCheckedAndRoundTrip) {
  constexpr char kYaml[] = R"yaml(
params:
  max_depth: {type: int, low: 2, high: 8}
  eta: {type: loguniform, low: 0.01, high: 0.3}
start:
  - {max_depth: 6, eta: 0.3}
  - {max_depth: 3, eta: 0.05}
)yaml";
  CHURN_ASSERT_OK_AND_ASSIGN(const SearchSpace space, SearchSpace::FromYaml(kYaml));
  ASSERT_EQ(space.Start().size(), 2U);
  EXPECT_EQ(std::get<int64_t>(space.Start()[0].at("max_depth")), 6);
  EXPECT_EQ(std::get<double>(space.Start()[1].at("eta")), 0.05);
  CHURN_ASSERT_OK_AND_ASSIGN(const SearchSpace again, SearchSpace::FromYaml(space.ToYaml()));
  EXPECT_EQ(again, space);
  EXPECT_EQ(SearchSpace::Default().Start().size(), 1U);
  EXPECT_THAT(SearchSpace::Default().Check(SearchSpace::Default().Start()[0]), IsOk());

  const std::string params =
      "params:\n  max_depth: {type: int, low: 2, high: 8}\n  eta: {type: uniform, low: 0, "
      "high: 1}\n";
  EXPECT_THAT(SearchSpace::FromYaml(params + "start: [{max_depth: 6}]\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, "eta"));
  EXPECT_THAT(SearchSpace::FromYaml(params + "start: [{max_depth: 12, eta: 0.5}]\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, "max_depth"));
  EXPECT_THAT(SearchSpace::FromYaml(params + "start: [{max_depth: 6, eta: 0.5, nope: 1}]\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, "nope"));
  EXPECT_THAT(SearchSpace::FromYaml(params + "start: {max_depth: 6}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, "list"));
}

// Found by the space fuzzer: a name with a control character did not survive ToYaml.
TEST(SearchSpace, NamesAreIdentifiersAndValuesPrintable) {
  const std::string p = "params:\n  eta: {type: uniform, low: 0, high: 1}\n";
  EXPECT_THAT(SearchSpace::FromYaml(p + "fixed:\n  \"ml\\fx\": 0\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, "fixed"));
  EXPECT_THAT(SearchSpace::FromYaml(p + "fixed:\n  max_bin: \"1\\x01\"\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, "printable"));
  EXPECT_THAT(SearchSpace::FromYaml("params:\n  \"a b\": {type: uniform, low: 0, high: 1}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, "letters, digits"));
  EXPECT_THAT(SearchSpace::FromYaml("params:\n  g: {type: choice, choices: \"x\\ty\"}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, "not printable ASCII"));
  EXPECT_THAT(SearchSpace::FromYaml("params:\n  g: {type: choice, choices: [\"x\\ty\"]}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, "not printable ASCII"));
}

}  // namespace
}  // namespace churn::train
