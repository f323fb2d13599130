#include "churn/features/online_store.h"

#include <cstdlib>

#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/data/csv_table.h"
#include "churn/features/feature_store.h"

namespace churn::features {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;
using ::testing::Contains;
using ::testing::Not;
using ::testing::Pair;

constexpr char kOnlineSchema[] = R"yaml(
name: s
target: y
positive_value: "1"
entity_key: id
columns:
  - {name: id, type: integer, role: entity_key}
  - {name: y, type: integer, role: target}
  - {name: x, type: float, allow_missing: true}
  - {name: c, type: categorical, levels: [a, b]}
)yaml";

// The same suite runs against SQLite and, when CHURN_TEST_REDIS_URL is set, a real Redis.
class OnlineStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "redis") {
      const char* url = std::getenv("CHURN_TEST_REDIS_URL");  // NOLINT(concurrency-mt-unsafe)
      if (url == nullptr || *url == '\0') {
        GTEST_SKIP() << "CHURN_TEST_REDIS_URL is not set (scripts/services start redis sets it)";
      }
      auto store = OpenRedisOnlineStore(url);
      ASSERT_THAT(store, IsOk());
      store_ = *std::move(store);
      // Each test run uses its own dataset name so runs never see each other's keys.
      dataset_ = "t" + std::to_string(absl::ToUnixNanos(absl::Now()));
    } else {
      auto store = OpenSqliteOnlineStore((dir_.Path() / "online.sqlite").string());
      ASSERT_THAT(store, IsOk());
      store_ = *std::move(store);
      dataset_ = "d";
    }
    auto schema = data::ParseSchemaYaml(kOnlineSchema);
    ASSERT_THAT(schema, IsOk());
    schema_ = *schema;
  }

  data::Table Read(absl::string_view csv) {
    auto read = data::ReadCsvTable(csv, schema_, {});
    EXPECT_THAT(read, IsOk());
    return std::move(read->table);
  }

  base::TempDir dir_;
  std::unique_ptr<OnlineStore> store_;
  std::string dataset_;
  data::Schema schema_;
};

TEST_P(OnlineStoreTest, LastRowOfAnEntityWinsAndMissingValuesAreAbsent) {
  const data::Table t = Read("id,y,x,c\n1,0,1.5,a\n2,1,,b\n1,1,7,b\n");
  CHURN_ASSERT_OK_AND_ASSIGN(
      const size_t n,
      store_->Materialize(dataset_, "snap1", "2026-01-01T00:00:00.000Z", t, schema_));
  EXPECT_EQ(n, 2U);
  CHURN_ASSERT_OK_AND_ASSIGN(const auto one, store_->Get(dataset_, "1"));
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->snapshot_id, "snap1");
  EXPECT_THAT(one->values, Contains(Pair("x", "7")));
  EXPECT_THAT(one->values, Contains(Pair("c", "b")));
  EXPECT_THAT(one->values, Not(Contains(Pair("y", ::testing::_))));  // the label is not a feature
  CHURN_ASSERT_OK_AND_ASSIGN(const auto two, store_->Get(dataset_, "2"));
  ASSERT_TRUE(two.has_value());
  EXPECT_THAT(two->values, Not(Contains(Pair("x", ::testing::_))));
  CHURN_ASSERT_OK_AND_ASSIGN(const auto none, store_->Get(dataset_, "3"));
  EXPECT_FALSE(none.has_value());
}

TEST_P(OnlineStoreTest, NewerSnapshotOverwritesIncludingValuesThatBecameMissing) {
  ASSERT_THAT(store_->Materialize(dataset_, "s1", "t1", Read("id,y,x,c\n1,0,1.5,a\n"), schema_),
              IsOk());
  ASSERT_THAT(store_->Materialize(dataset_, "s2", "t2", Read("id,y,x,c\n1,0,,b\n"), schema_),
              IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const auto one, store_->Get(dataset_, "1"));
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->snapshot_id, "s2");
  EXPECT_EQ(one->updated_at, "t2");
  EXPECT_THAT(one->values, Not(Contains(Pair("x", ::testing::_))));
  EXPECT_THAT(one->values, Contains(Pair("c", "b")));
}

TEST_P(OnlineStoreTest, ManyEntitiesInOneMaterialisation) {
  std::string csv = "id,y,x,c\n";
  for (int i = 0; i < 5000; ++i) {
    csv += std::to_string(i) + ",0," + std::to_string(i) + ".5,a\n";
  }
  CHURN_ASSERT_OK_AND_ASSIGN(const size_t n,
                             store_->Materialize(dataset_, "s", "t", Read(csv), schema_));
  EXPECT_EQ(n, 5000U);
  CHURN_ASSERT_OK_AND_ASSIGN(const auto last, store_->Get(dataset_, "4999"));
  ASSERT_TRUE(last.has_value());
  EXPECT_THAT(last->values, Contains(Pair("x", "4999.5")));
}

INSTANTIATE_TEST_SUITE_P(Backends, OnlineStoreTest, ::testing::Values("sqlite", "redis"));

TEST(RedisOnlineStore, UnreachableServerIsUnavailable) {
  EXPECT_THAT(OpenRedisOnlineStore("redis://127.0.0.1:1"),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(OpenRedisOnlineStore("http://x"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace churn::features
