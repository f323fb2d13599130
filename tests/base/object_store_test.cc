#include "churn/base/object_store.h"

#include "testing/test_env.h"

#include "churn/base/file.h"

namespace churn::base {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;
using ::testing::ElementsAre;

TEST(ObjectKey, RejectsEscapesAndEmptySegments) {
  EXPECT_THAT(ValidateObjectKey("a/b.json"), IsOk());
  for (const char* bad : {"", "/a", "a//b", "a/../b", "..", "./a", "a/"}) {
    EXPECT_THAT(ValidateObjectKey(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_THAT(ValidateObjectKey(std::string("a\0b", 3)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(LocalObjectStore, PutGetExistsListDelete) {
  TempDir dir;
  auto store = NewLocalObjectStore((dir.Path() / "objects").string());
  ASSERT_THAT(store->Put("datasets/a/1.json", "one"), IsOk());
  ASSERT_THAT(store->Put("datasets/a/2.json", "two"), IsOk());
  ASSERT_THAT(store->Put("datasets/b/1.json", "three"), IsOk());
  ASSERT_THAT(store->Put("other", "x"), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string got, store->Get("datasets/a/2.json"));
  EXPECT_EQ(got, "two");
  CHURN_ASSERT_OK_AND_ASSIGN(const bool exists, store->Exists("datasets/a/1.json"));
  EXPECT_TRUE(exists);
  CHURN_ASSERT_OK_AND_ASSIGN(const bool absent, store->Exists("datasets/a/9.json"));
  EXPECT_FALSE(absent);
  CHURN_ASSERT_OK_AND_ASSIGN(const auto keys, store->List("datasets/a/"));
  EXPECT_THAT(keys, ElementsAre("datasets/a/1.json", "datasets/a/2.json"));
  CHURN_ASSERT_OK_AND_ASSIGN(const auto all, store->List(""));
  EXPECT_EQ(all.size(), 4U);
  CHURN_ASSERT_OK_AND_ASSIGN(const auto partial, store->List("datasets/a/1"));
  EXPECT_THAT(partial, ElementsAre("datasets/a/1.json"));
  ASSERT_THAT(store->Delete("datasets/a/1.json"), IsOk());
  ASSERT_THAT(store->Delete("datasets/a/1.json"), IsOk());
  EXPECT_THAT(store->Get("datasets/a/1.json"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(LocalObjectStore, RefusesKeysThatEscapeTheRoot) {
  TempDir dir;
  auto store = NewLocalObjectStore(dir.Path().string());
  EXPECT_THAT(store->Put("../escape", "x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(std::filesystem::exists(dir.Path().parent_path() / "escape"));
}

TEST(OpenObjectStore, ChoosesBackendByUri) {
  TempDir dir;
  CHURN_ASSERT_OK_AND_ASSIGN(auto local, OpenObjectStore(dir.Path().string(), S3Options{}));
  EXPECT_EQ(local->Uri().rfind("file://", 0), 0U);
  CHURN_ASSERT_OK_AND_ASSIGN(auto s3, OpenObjectStore("s3://bucket/some/prefix", S3Options{}));
  EXPECT_EQ(s3->Uri(), "s3://bucket/some/prefix");
  EXPECT_THAT(OpenObjectStore("ftp://x/y", S3Options{}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(OpenObjectStore("s3:///key", S3Options{}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ReadUri, ReadsLocalPathsAndFileUris) {
  TempDir dir;
  ASSERT_THAT(WriteFileAtomic(dir.Path() / "x.csv", "a,b\n"), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const auto plain, ReadUri((dir.Path() / "x.csv").string(), {}));
  EXPECT_EQ(plain.View(), "a,b\n");
  CHURN_ASSERT_OK_AND_ASSIGN(const auto uri,
                             ReadUri("file://" + (dir.Path() / "x.csv").string(), {}));
  EXPECT_EQ(uri.View(), "a,b\n");
  EXPECT_THAT(ReadUri((dir.Path() / "y.csv").string(), {}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ReadUri(dir.Path().string(), {}), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(WriteFileAtomic(dir.Path() / "empty.csv", ""), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const auto empty, ReadUri((dir.Path() / "empty.csv").string(), {}));
  EXPECT_TRUE(empty.View().empty());
}

}  // namespace
}  // namespace churn::base
