#include "churn/data/profile.h"

#include <algorithm>

#include "testing/test_env.h"

#include "churn/data/csv_table.h"

namespace churn::data {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

constexpr char kProfileSchema[] = R"yaml(
name: p
target: y
positive_value: "1"
entity_key: id
columns:
  - {name: id, type: string, role: entity_key}
  - {name: y, type: integer, role: target}
  - {name: v, type: float, allow_missing: true}
  - {name: c, type: categorical, levels: [a, b, c]}
)yaml";

// Expected numbers from numpy 1.24 on v = [3,1,4,1,5,9,2,6,5,3,5,8.5]:
// mean, std (ddof=0), quantile (linear), histogram(bins=20).
TEST(Profile, NumericColumnMatchesNumpy) {
  CHURN_ASSERT_OK_AND_ASSIGN(const Schema schema, ParseSchemaYaml(kProfileSchema));
  std::string csv = "id,y,v,c\n";
  const char* values[] = {"3", "1", "4", "1", "5", "9", "2", "6", "5", "3", "5", "8.5", ""};
  int i = 0;
  for (const char* v : values) {
    csv += "e" + std::to_string(i) + "," + (i % 4 == 0 ? "1" : "0") + "," + v + "," +
           (i % 3 == 0 ? "a" : "c") + "\n";
    ++i;
  }
  CHURN_ASSERT_OK_AND_ASSIGN(const ReadTableResult read, ReadCsvTable(csv, schema, {}));
  const DatasetProfile profile = ComputeProfile(read.table, schema);
  EXPECT_EQ(profile.rows, 13U);
  EXPECT_EQ(profile.positives, 4U);
  const ColumnProfile* v = profile.Find("v");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->count, 12U);
  EXPECT_EQ(v->missing, 1U);
  EXPECT_NEAR(v->mean, 4.375, 1e-12);
  EXPECT_NEAR(v->std, 2.4926976685243374, 1e-12);
  EXPECT_EQ(v->distinct, 8U);
  const std::vector<double> quantiles = {1.0, 1.0, 2.75, 4.5, 5.25, 8.725, 8.945};
  ASSERT_EQ(v->quantiles.size(), quantiles.size());
  for (size_t q = 0; q < quantiles.size(); ++q) {
    EXPECT_NEAR(v->quantiles[q], quantiles[q], 1e-12) << q;
  }
  EXPECT_THAT(v->bin_counts, ElementsAreArray<uint64_t>(
                                 {2, 0, 1, 0, 0, 2, 0, 1, 0, 0, 3, 0, 1, 0, 0, 0, 0, 0, 1, 1}));
  EXPECT_DOUBLE_EQ(v->bin_edges.front(), 1.0);
  EXPECT_DOUBLE_EQ(v->bin_edges.back(), 9.0);
  const ColumnProfile* c = profile.Find("c");
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(c->level_counts, ElementsAre(5U, 0U, 8U));
  EXPECT_EQ(profile.Find("id"), nullptr);
}

// Selection-based quantiles on a larger column agree with a full sort (numpy's linear rule).
TEST(Profile, QuantilesOfALargeColumnMatchAFullSort) {
  CHURN_ASSERT_OK_AND_ASSIGN(const Schema schema, ParseSchemaYaml(kProfileSchema));
  std::string csv = "id,y,v,c\n";
  std::vector<double> values;
  uint64_t state = 12345;
  for (int i = 0; i < 10001; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const double v = static_cast<double>(state >> 40) / 1000.0;
    values.push_back(v);
    csv += "e,0," + std::to_string(v) + ",a\n";
  }
  CHURN_ASSERT_OK_AND_ASSIGN(const ReadTableResult read, ReadCsvTable(csv, schema, {}));
  const DatasetProfile profile = ComputeProfile(read.table, schema);
  const ColumnProfile* v = profile.Find("v");
  ASSERT_NE(v, nullptr);
  std::vector<double> sorted;
  for (size_t r = 0; r < read.table.NumRows(); ++r) {
    sorted.push_back(read.table.Find("v")->floats[r]);
  }
  std::sort(sorted.begin(), sorted.end());
  size_t i = 0;
  for (const double q : kProfileQuantiles) {
    const double pos = q * static_cast<double>(sorted.size() - 1);
    const auto lo = static_cast<size_t>(pos);
    const double want =
        sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
    EXPECT_DOUBLE_EQ(v->quantiles[i++], want) << q;
  }
  EXPECT_EQ(v->distinct,
            static_cast<uint64_t>(std::unique(sorted.begin(), sorted.end()) - sorted.begin()));
}

TEST(Profile, JsonRoundTrips) {
  CHURN_ASSERT_OK_AND_ASSIGN(const Schema schema, ParseSchemaYaml(kProfileSchema));
  CHURN_ASSERT_OK_AND_ASSIGN(const ReadTableResult read,
                             ReadCsvTable("id,y,v,c\na,1,2.5,b\nb,0,,a\n", schema, {}));
  const DatasetProfile profile = ComputeProfile(read.table, schema);
  CHURN_ASSERT_OK_AND_ASSIGN(const DatasetProfile again, ProfileFromJson(ProfileToJson(profile)));
  EXPECT_EQ(ProfileToJson(again), ProfileToJson(profile));
  EXPECT_THAT(ProfileFromJson("{\"rows\": 1}"),
              testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace churn::data
