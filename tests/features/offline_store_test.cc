#include "churn/features/offline_store.h"

#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/base/sha256.h"

namespace churn::features {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;

constexpr char kOfflineSchema[] = R"yaml(
name: s
target: y
positive_value: "1"
entity_key: id
policy: {wrong_type: drop_row}
columns:
  - {name: id, type: string, role: entity_key}
  - {name: y, type: integer, role: target}
  - {name: x, type: float}
)yaml";

class OfflineStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto schema = data::ParseSchemaYaml(kOfflineSchema);
    ASSERT_THAT(schema, IsOk());
    schema_ = *schema;
  }

  IngestRequest Request(absl::string_view bytes) {
    return IngestRequest{.dataset = "d", .source = "test.csv", .bytes = bytes, .schema = schema_};
  }

  base::TempDir dir_;
  std::unique_ptr<base::ObjectStore> objects_ = base::NewLocalObjectStore(dir_.Path().string());
  base::FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  OfflineStore store_{objects_.get(), &clock_};
  data::Schema schema_;
};

TEST_F(OfflineStoreTest, IngestWritesASnapshotWithMetadataAndProfile) {
  CHURN_ASSERT_OK_AND_ASSIGN(const IngestResult r,
                             store_.Ingest(Request("id,y,x\na,1,2\nb,0,3\n")));
  EXPECT_TRUE(r.created);
  EXPECT_EQ(r.snapshot.rows, 2U);
  EXPECT_EQ(r.snapshot.positives, 1U);
  EXPECT_EQ(r.snapshot.id.size(), 16U);
  EXPECT_EQ(r.snapshot.created_at, "2023-11-14T22:13:20.000Z");
  CHURN_ASSERT_OK_AND_ASSIGN(const SnapshotInfo got, store_.GetSnapshot("d", r.snapshot.id));
  EXPECT_EQ(got.ToJson(), r.snapshot.ToJson());
  CHURN_ASSERT_OK_AND_ASSIGN(const data::DatasetProfile profile, store_.LoadProfile(got));
  EXPECT_DOUBLE_EQ(profile.Find("x")->mean, 2.5);
  CHURN_ASSERT_OK_AND_ASSIGN(const data::Table table, store_.LoadTable(got));
  EXPECT_EQ(table.NumRows(), 2U);
}

TEST_F(OfflineStoreTest, SameBytesGiveTheSameSnapshotAndWriteNothing) {
  CHURN_ASSERT_OK_AND_ASSIGN(const IngestResult a, store_.Ingest(Request("id,y,x\na,1,2\n")));
  clock_.Advance(absl::Hours(1));
  CHURN_ASSERT_OK_AND_ASSIGN(const IngestResult b, store_.Ingest(Request("id,y,x\na,1,2\n")));
  EXPECT_FALSE(b.created);
  EXPECT_EQ(a.snapshot.id, b.snapshot.id);
  EXPECT_EQ(b.snapshot.created_at, a.snapshot.created_at);
  CHURN_ASSERT_OK_AND_ASSIGN(const auto all, store_.ListSnapshots("d"));
  EXPECT_EQ(all.size(), 1U);
}

TEST_F(OfflineStoreTest, DifferentSchemaGivesADifferentSnapshot) {
  CHURN_ASSERT_OK_AND_ASSIGN(const IngestResult a, store_.Ingest(Request("id,y,x\na,1,2\n")));
  IngestRequest other = Request("id,y,x\na,1,2\n");
  other.schema.columns[2].max = 100;
  CHURN_ASSERT_OK_AND_ASSIGN(const IngestResult b, store_.Ingest(other));
  EXPECT_NE(a.snapshot.id, b.snapshot.id);
}

TEST_F(OfflineStoreTest, DroppedRowsAreLeftOutOfTheStoredData) {
  CHURN_ASSERT_OK_AND_ASSIGN(const IngestResult r,
                             store_.Ingest(Request("id,y,x\na,1,2\nb,0,oops\nc,0,4\n")));
  EXPECT_EQ(r.snapshot.rows, 2U);
  EXPECT_EQ(r.snapshot.rows_dropped, 1U);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string data,
                             objects_->Get("datasets/d/snapshots/" + r.snapshot.id + "/data.csv"));
  EXPECT_EQ(data, "id,y,x\na,1,2\nc,0,4\n");
  EXPECT_EQ(r.snapshot.data_sha256, base::Sha256Hex(data));
}

TEST_F(OfflineStoreTest, RejectedFileLeavesNothingBehind) {
  EXPECT_THAT(store_.Ingest(Request("id,y,x\na,1,2\nb,0\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, "has 2 fields"));
  CHURN_ASSERT_OK_AND_ASSIGN(const auto keys, objects_->List(""));
  EXPECT_TRUE(keys.empty());
  EXPECT_THAT(store_.ListSnapshots("d"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(OfflineStoreTest, LatestAndPrefixLookups) {
  CHURN_ASSERT_OK_AND_ASSIGN(const IngestResult a, store_.Ingest(Request("id,y,x\na,1,2\n")));
  clock_.Advance(absl::Seconds(5));
  CHURN_ASSERT_OK_AND_ASSIGN(const IngestResult b, store_.Ingest(Request("id,y,x\na,1,3\n")));
  CHURN_ASSERT_OK_AND_ASSIGN(const SnapshotInfo latest, store_.GetSnapshot("d", "latest"));
  EXPECT_EQ(latest.id, b.snapshot.id);
  CHURN_ASSERT_OK_AND_ASSIGN(const SnapshotInfo first,
                             store_.GetSnapshot("d", a.snapshot.id.substr(0, 6)));
  EXPECT_EQ(first.id, a.snapshot.id);
  EXPECT_THAT(store_.GetSnapshot("d", "ab"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_.GetSnapshot("d", "ffffffffff"), StatusIs(absl::StatusCode::kNotFound));
  CHURN_ASSERT_OK_AND_ASSIGN(const auto names, store_.ListDatasets());
  EXPECT_EQ(names, std::vector<std::string>{"d"});
}

TEST_F(OfflineStoreTest, CorruptedDataIsDataLoss) {
  CHURN_ASSERT_OK_AND_ASSIGN(const IngestResult r, store_.Ingest(Request("id,y,x\na,1,2\n")));
  ASSERT_THAT(
      objects_->Put("datasets/d/snapshots/" + r.snapshot.id + "/data.csv", "id,y,x\na,1,9\n"),
      IsOk());
  EXPECT_THAT(store_.LoadTable(r.snapshot), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(DatasetName, RefusesPathTricks) {
  EXPECT_THAT(ValidateDatasetName("bank_churners-v2.1"), IsOk());
  for (const char* bad : {"", "../x", "a/b", ".hidden", "sp ace"}) {
    EXPECT_THAT(ValidateDatasetName(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

}  // namespace
}  // namespace churn::features
