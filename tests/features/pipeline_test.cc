#include "churn/features/pipeline.h"

#include <cmath>

#include "testing/test_env.h"

#include "churn/data/csv_table.h"

namespace churn::features {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;

constexpr char kSchema[] = R"yaml(
name: p
target: y
positive_value: churned
entity_key: id
columns:
  - {name: id, type: string, role: entity_key}
  - {name: y, type: categorical, role: target, levels: [stayed, churned]}
  - {name: amount, type: float}
  - {name: count, type: integer, allow_missing: true}
  - {name: card, type: categorical, levels: [blue, silver, gold], allow_missing: true}
derived:
  - {name: avg, numerator: amount, denominator: count}
)yaml";

struct Fixture {
  data::Schema schema;
  data::Table train;
};

Fixture Make(absl::string_view csv) {
  auto schema = data::ParseSchemaYaml(kSchema);
  EXPECT_THAT(schema, IsOk());
  auto read = data::ReadCsvTable(csv, *schema, {});
  EXPECT_THAT(read, IsOk());
  return {*schema, std::move(read->table)};
}

constexpr char kTrain[] =
    "id,y,amount,count,card\n"
    "a,stayed,10,2,blue\n"
    "b,churned,3.5,0,silver\n"
    "c,stayed,8,,\n";

TEST(FeaturePipeline, EncodesNumericCategoricalAndDerivedFeatures) {
  Fixture f = Make(kTrain);
  CHURN_ASSERT_OK_AND_ASSIGN(const FeaturePipeline p, FeaturePipeline::Fit(f.train, f.schema));
  EXPECT_EQ(p.FeatureNames(), (std::vector<std::string>{"amount", "count", "card", "avg"}));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<float> m, p.Transform(f.train));
  ASSERT_EQ(m.size(), 12U);
  EXPECT_FLOAT_EQ(m[0], 10.0F);
  EXPECT_FLOAT_EQ(m[1], 2.0F);
  EXPECT_FLOAT_EQ(m[2], 0.0F);     // blue
  EXPECT_FLOAT_EQ(m[3], 5.0F);     // 10 / 2
  EXPECT_FLOAT_EQ(m[6], 1.0F);     // silver
  EXPECT_TRUE(std::isnan(m[7]));   // division by zero
  EXPECT_TRUE(std::isnan(m[9]));   // missing count
  EXPECT_TRUE(std::isnan(m[10]));  // missing card
  EXPECT_TRUE(std::isnan(m[11]));
}

TEST(FeaturePipeline, LevelUnseenInTrainingGoesToTheUnknownBucket) {
  Fixture f = Make(kTrain);
  CHURN_ASSERT_OK_AND_ASSIGN(const FeaturePipeline p, FeaturePipeline::Fit(f.train, f.schema));
  // gold is declared but was not in training: code 2 = number of seen levels.
  CHURN_ASSERT_OK_AND_ASSIGN(
      const auto v, p.TransformRecord({{"amount", "1"}, {"count", "4"}, {"card", "gold"}}));
  EXPECT_FLOAT_EQ(v[2], 2.0F);
  EXPECT_FLOAT_EQ(v[3], 0.25F);
  Fixture g = Make("id,y,amount,count,card\nz,stayed,1,1,gold\n");
  CHURN_ASSERT_OK_AND_ASSIGN(const auto m, p.Transform(g.train));
  EXPECT_FLOAT_EQ(m[2], 2.0F);
}

TEST(FeaturePipeline, RecordErrorsNameTheField) {
  Fixture f = Make(kTrain);
  CHURN_ASSERT_OK_AND_ASSIGN(const FeaturePipeline p, FeaturePipeline::Fit(f.train, f.schema));
  EXPECT_THAT(p.TransformRecord({{"count", "1"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "'amount' is required"));
  EXPECT_THAT(p.TransformRecord({{"amount", "x"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "'amount': 'x' is not a finite number"));
  EXPECT_THAT(p.TransformRecord({{"amount", "1"}, {"card", "purple"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "unknown category 'purple'"));
  // Optional fields may be absent.
  CHURN_ASSERT_OK_AND_ASSIGN(const auto v, p.TransformRecord({{"amount", "1"}}));
  EXPECT_TRUE(std::isnan(v[1]));
}

TEST(FeaturePipeline, JsonRoundTripTransformsIdentically) {
  Fixture f = Make(kTrain);
  CHURN_ASSERT_OK_AND_ASSIGN(const FeaturePipeline p, FeaturePipeline::Fit(f.train, f.schema));
  CHURN_ASSERT_OK_AND_ASSIGN(const FeaturePipeline q, FeaturePipeline::FromJson(p.ToJson()));
  EXPECT_EQ(q.ToJson(), p.ToJson());
  EXPECT_EQ(q.SchemaHash(), f.schema.Hash());
  CHURN_ASSERT_OK_AND_ASSIGN(const auto a, p.Transform(f.train));
  CHURN_ASSERT_OK_AND_ASSIGN(const auto b, q.Transform(f.train));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]))) << i;
  }
  // The record path and the table path agree.
  CHURN_ASSERT_OK_AND_ASSIGN(
      const auto r, q.TransformRecord({{"amount", "10"}, {"count", "2"}, {"card", "blue"}}));
  EXPECT_EQ(r, std::vector<float>(a.begin(), a.begin() + 4));
}

TEST(FeaturePipeline, FromJsonRejectsMalformedInput) {
  EXPECT_THAT(FeaturePipeline::FromJson("[]"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(FeaturePipeline::FromJson(R"({"format":"churn.feature_pipeline","version":9})"),
              StatusIs(absl::StatusCode::kInvalidArgument, "unsupported"));
  EXPECT_THAT(FeaturePipeline::FromJson(
                  R"({"format":"churn.feature_pipeline","version":1,"schema_hash":"x",)"
                  R"("features":[{"name":"a","kind":"weird","allow_missing":false}]})"),
              StatusIs(absl::StatusCode::kInvalidArgument, "weird"));
}

TEST(Labels, AreOneForThePositiveValue) {
  Fixture f = Make(kTrain);
  CHURN_ASSERT_OK_AND_ASSIGN(const auto y, Labels(f.train, f.schema));
  EXPECT_EQ(y, (std::vector<float>{0, 1, 0}));
}

}  // namespace
}  // namespace churn::features
