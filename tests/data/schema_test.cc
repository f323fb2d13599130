#include "churn/data/schema.h"

#include <filesystem>

#include "testing/test_env.h"

namespace churn::data {
namespace {

using ::churn::testing::StatusIs;

std::string BankChurnersSchemaPath() {
  return (std::filesystem::path(testing::SourceDir()) / "configs" / "bank_churners.yaml").string();
}

constexpr char kMinimal[] = R"yaml(
name: tiny
target: y
positive_value: "yes"
entity_key: id
columns:
  - {name: id, type: string, role: entity_key}
  - {name: y, type: categorical, role: target, levels: ["no", "yes"]}
  - {name: x, type: float, min: 0, max: 10}
  - {name: c, type: categorical, levels: [a, b]}
)yaml";

TEST(Schema, BankChurnersDescribesTheKaggleFile) {
  CHURN_ASSERT_OK_AND_ASSIGN(const Schema s, LoadSchemaFile(BankChurnersSchemaPath()));
  EXPECT_EQ(s.columns.size(), 23U);
  EXPECT_EQ(s.Features().size(), 19U);
  EXPECT_EQ(s.target, "Attrition_Flag");
  EXPECT_EQ(s.positive_value, "Attrited Customer");
  EXPECT_EQ(s.Find("CLIENTNUM")->role, ColumnRole::kEntityKey);
  int dropped = 0;
  int categorical = 0;
  for (const auto& c : s.columns) {
    dropped += c.role == ColumnRole::kDropped ? 1 : 0;
    categorical += c.role == ColumnRole::kFeature && c.type == ColumnType::kCategorical ? 1 : 0;
  }
  EXPECT_EQ(dropped, 2);
  EXPECT_EQ(categorical, 5);
  EXPECT_GE(s.Find("Education_Level")->LevelIndex("Unknown"), 0);
}

TEST(Schema, CanonicalYamlRoundTripsWithTheSameHash) {
  CHURN_ASSERT_OK_AND_ASSIGN(const Schema s, LoadSchemaFile(BankChurnersSchemaPath()));
  CHURN_ASSERT_OK_AND_ASSIGN(const Schema again, ParseSchemaYaml(s.ToYaml()));
  EXPECT_EQ(again.ToYaml(), s.ToYaml());
  EXPECT_EQ(again.Hash(), s.Hash());
  EXPECT_EQ(again.derived.size(), 1U);
}

TEST(Schema, HashIgnoresFormattingButNotContent) {
  CHURN_ASSERT_OK_AND_ASSIGN(const Schema a, ParseSchemaYaml(kMinimal));
  CHURN_ASSERT_OK_AND_ASSIGN(const Schema b, ParseSchemaYaml(std::string(kMinimal) + "\n\n"));
  EXPECT_EQ(a.Hash(), b.Hash());
  Schema c = a;
  c.columns[2].max = 11;
  EXPECT_NE(a.Hash(), c.Hash());
}

struct BadSchema {
  const char* what;
  std::string from;
  std::string to;
  const char* message;
};

class SchemaContradictionTest : public ::testing::TestWithParam<BadSchema> {};

TEST_P(SchemaContradictionTest, IsRejectedWithAMessageNamingTheProblem) {
  std::string yaml = kMinimal;
  const BadSchema& bad = GetParam();
  const size_t at = yaml.find(bad.from);
  ASSERT_NE(at, std::string::npos) << bad.from;
  yaml.replace(at, bad.from.size(), bad.to);
  EXPECT_THAT(ParseSchemaYaml(yaml), StatusIs(absl::StatusCode::kInvalidArgument, bad.message))
      << bad.what;
}

INSTANTIATE_TEST_SUITE_P(
    Contradictions, SchemaContradictionTest,
    ::testing::Values(
        BadSchema{"min above max", "min: 0, max: 10", "min: 11, max: 10", "greater than max"},
        BadSchema{"duplicate column", "name: c,", "name: x,", "declared twice"},
        BadSchema{"duplicate level", "levels: [a, b]", "levels: [a, a]", "twice"},
        BadSchema{"no levels", "levels: [a, b]", "levels: []", "no levels"},
        BadSchema{"positive not a level", "positive_value: \"yes\"", "positive_value: maybe",
                  "positive_value"},
        BadSchema{"target missing", "target: y", "target: z", "not a declared column"},
        BadSchema{"key missing", "entity_key: id", "entity_key: nope", "entity_key"},
        BadSchema{"dropped without reason", "type: float,", "type: float, role: dropped,",
                  "drop_reason"},
        BadSchema{"levels on a number", "type: float,", "type: float, levels: [q],", "has levels"},
        BadSchema{"unknown type", "type: float", "type: decimal", "type 'decimal'"},
        BadSchema{"unknown key", "name: tiny", "name: tiny\ncolour: red", "unknown key"},
        BadSchema{"ragged as missing", "name: tiny",
                  "name: tiny\npolicy: {ragged_row: treat_as_missing}", "ragged_row"},
        BadSchema{"bad policy", "name: tiny", "name: tiny\npolicy: {wrong_type: ignore}",
                  "unknown policy"},
        BadSchema{"derived over category", "name: tiny",
                  "name: tiny\nderived: [{name: r, numerator: c, denominator: x}]",
                  "not a numeric feature"},
        BadSchema{"not yaml", "columns:", "columns: [", "YAML"}));

}  // namespace
}  // namespace churn::data
