// The S3 object store against a real S3 server (s3rver from npm) on loopback. Skipped unless
// CHURN_TEST_S3_ENDPOINT is set; scripts/test starts s3rver with the bucket churn-test and sets it.
#include "base/s3_object_store.h"

#include <cstdlib>

#include "testing/test_env.h"

#include "churn/base/object_store.h"

namespace churn::base {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::SizeIs;

class S3ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* endpoint = std::getenv("CHURN_TEST_S3_ENDPOINT");  // NOLINT(concurrency-mt-unsafe)
    if (endpoint == nullptr || *endpoint == '\0') {
      GTEST_SKIP() << "CHURN_TEST_S3_ENDPOINT is not set (scripts/services start s3rver sets it)";
    }
    options_.endpoint = endpoint;
    options_.access_key_id = "S3RVER";  // s3rver's built-in credentials
    options_.secret_access_key = "S3RVER";
    // A prefix per test run keeps runs apart in the shared bucket.
    prefix_ = "t" + std::to_string(absl::ToUnixNanos(absl::Now()));
    store_ = NewS3ObjectStore("churn-test", prefix_, options_);
  }

  void TearDown() override { internal::SetS3ListPageSizeForTesting(1000); }

  S3Options options_;
  std::string prefix_;
  std::unique_ptr<ObjectStore> store_;
};

TEST_F(S3ObjectStoreTest, PutThenGetReturnsTheSameBinaryBytes) {
  const std::string bytes("a\0b\xff\n,\"x\"", 9);
  ASSERT_THAT(store_->Put("dir/blob.bin", bytes), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string got, store_->Get("dir/blob.bin"));
  EXPECT_EQ(got, bytes);
  ASSERT_THAT(store_->Put("dir/blob.bin", "second"), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string again, store_->Get("dir/blob.bin"));
  EXPECT_EQ(again, "second");
}

TEST_F(S3ObjectStoreTest, KeysWithSpacesAndSymbolsRoundTrip) {
  ASSERT_THAT(store_->Put("a b/c+d=e&f.json", "{}"), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string got, store_->Get("a b/c+d=e&f.json"));
  EXPECT_EQ(got, "{}");
  CHURN_ASSERT_OK_AND_ASSIGN(const auto keys, store_->List("a b/"));
  EXPECT_THAT(keys, ElementsAre("a b/c+d=e&f.json"));
}

TEST_F(S3ObjectStoreTest, ExistsListAndDelete) {
  ASSERT_THAT(store_->Put("x/1", "1"), IsOk());
  ASSERT_THAT(store_->Put("x/2", "2"), IsOk());
  ASSERT_THAT(store_->Put("y/1", "3"), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const bool yes, store_->Exists("x/1"));
  EXPECT_TRUE(yes);
  CHURN_ASSERT_OK_AND_ASSIGN(const bool no, store_->Exists("x/9"));
  EXPECT_FALSE(no);
  CHURN_ASSERT_OK_AND_ASSIGN(const auto xs, store_->List("x/"));
  EXPECT_THAT(xs, ElementsAre("x/1", "x/2"));
  CHURN_ASSERT_OK_AND_ASSIGN(const auto all, store_->List(""));
  EXPECT_THAT(all, SizeIs(3));
  ASSERT_THAT(store_->Delete("x/1"), IsOk());
  ASSERT_THAT(store_->Delete("x/1"), IsOk());  // deleting nothing is fine
  EXPECT_THAT(store_->Get("x/1"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(S3ObjectStoreTest, ListFollowsContinuationTokens) {
  internal::SetS3ListPageSizeForTesting(4);
  for (int i = 0; i < 11; ++i) {
    ASSERT_THAT(store_->Put("page/" + std::to_string(100 + i), "x"), IsOk());
  }
  CHURN_ASSERT_OK_AND_ASSIGN(const auto keys, store_->List("page/"));
  ASSERT_THAT(keys, SizeIs(11));
  EXPECT_EQ(keys.front(), "page/100");
  EXPECT_EQ(keys.back(), "page/110");
}

TEST_F(S3ObjectStoreTest, ReadUriReadsAnS3Object) {
  ASSERT_THAT(store_->Put("data.csv", "a,b\n1,2\n"), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const UriBytes got,
                             ReadUri("s3://churn-test/" + prefix_ + "/data.csv", options_));
  EXPECT_EQ(got.View(), "a,b\n1,2\n");
  EXPECT_THAT(ReadUri("s3://churn-test/" + prefix_ + "/none.csv", options_),
              StatusIs(absl::StatusCode::kNotFound, "none.csv"));
}

// s3rver checks the access key of a SigV4 request but not the signature bytes (its source says
// "Signature version 4 calculation is unimplemented"), so the test uses an unknown key. The
// signature itself is libcurl's (CURLOPT_AWS_SIGV4).
TEST_F(S3ObjectStoreTest, UnknownAccessKeyIsPermissionDenied) {
  S3Options wrong = options_;
  wrong.access_key_id = "NOT-A-KEY";
  auto store = NewS3ObjectStore("churn-test", prefix_, wrong);
  EXPECT_THAT(store->Put("k", "v"), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(S3ObjectStoreTest, MissingBucketIsNotFound) {
  auto store = NewS3ObjectStore("no-such-bucket", "", options_);
  EXPECT_THAT(store->Get("k"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(S3ObjectStore, UnreachableEndpointIsUnavailable) {
  S3Options options;
  options.endpoint = "http://127.0.0.1:1";
  options.access_key_id = "a";
  options.secret_access_key = "b";
  auto store = NewS3ObjectStore("bucket", "", options);
  EXPECT_THAT(store->Get("k"), StatusIs(absl::StatusCode::kUnavailable, "127.0.0.1:1"));
}

}  // namespace
}  // namespace churn::base
