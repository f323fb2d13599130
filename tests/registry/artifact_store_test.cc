// The content-addressed ArtifactStore on a local folder, through the Registry, and on S3 when
// CHURN_TEST_S3_ENDPOINT names a server. Corruption is made by editing the stored file in place.
#include "churn/registry/artifact_store.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/base/object_store.h"
#include "churn/base/sha256.h"
#include "churn/base/time.h"
#include "churn/registry/registry.h"

namespace churn::registry {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::IsOkAndHolds;
using ::churn::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// SHA-256("abc"), FIPS 180-2 appendix B.1.
constexpr char kAbcDigest[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

// Inverts the byte at `offset` of the file at `path`, in place.
::testing::AssertionResult FlipByte(const std::filesystem::path& path, std::streamoff offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!file.is_open()) {
    return ::testing::AssertionFailure() << "cannot open " << path;
  }
  file.seekg(offset);
  char c = 0;
  file.get(c);
  file.seekp(offset);
  file.put(static_cast<char>(~c));
  file.close();
  if (file.fail()) {
    return ::testing::AssertionFailure() << "cannot rewrite byte " << offset << " of " << path;
  }
  return ::testing::AssertionSuccess();
}

// The regular files under `dir`, recursively.
size_t CountFiles(const std::filesystem::path& dir) {
  if (!std::filesystem::exists(dir)) {
    return 0;
  }
  return static_cast<size_t>(
      std::count_if(std::filesystem::recursive_directory_iterator(dir),
                    std::filesystem::recursive_directory_iterator(),
                    [](const std::filesystem::directory_entry& e) { return e.is_regular_file(); }));
}

// Binary bytes (NUL and high bytes included), distinct for each seed.
std::string Blob(int seed, size_t size = 300) {
  std::string bytes(size, '\0');
  uint32_t x = 2463534242U + static_cast<uint32_t>(seed);
  for (char& c : bytes) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xff);
  }
  return bytes;
}

class ArtifactStoreTest : public ::testing::Test {
 protected:
  std::filesystem::path Root() const { return dir_.Path() / "objects"; }

  // Where the local store keeps a digest's bytes: root/artifacts/sha256/<2 hex>/<64 hex>.
  std::filesystem::path BlobPath(const std::string& digest) const {
    return Root() / "artifacts" / "sha256" / digest.substr(0, 2) / digest;
  }

  base::TempDir dir_;
  ArtifactStore store_{base::NewLocalObjectStore(Root().string())};
};

TEST_F(ArtifactStoreTest, PutReturnsTheSha256OfTheBytes) {
  EXPECT_THAT(store_.Put("abc"), IsOkAndHolds(std::string(kAbcDigest)));
  const std::string bytes = Blob(1);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string digest, store_.Put(bytes));
  EXPECT_EQ(digest, base::Sha256Hex(bytes));
  EXPECT_THAT(ValidateDigest(digest), IsOk());
  EXPECT_TRUE(std::filesystem::is_regular_file(BlobPath(digest))) << BlobPath(digest);
}

TEST_F(ArtifactStoreTest, KeyOfShardsByTheFirstTwoHexDigits) {
  EXPECT_EQ(ArtifactStore::KeyOf(kAbcDigest), absl::StrCat("artifacts/sha256/ba/", kAbcDigest));
}

TEST_F(ArtifactStoreTest, SameBytesGiveTheSameDigestAndOneStoredObject) {
  const std::string bytes = Blob(2);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string first, store_.Put(bytes));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string second, store_.Put(bytes));
  EXPECT_EQ(first, second);
  EXPECT_THAT(store_.List(), IsOkAndHolds(ElementsAre(first)));
  EXPECT_EQ(CountFiles(Root()), 1U);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string other, store_.Put(Blob(3)));
  EXPECT_NE(other, first);
  EXPECT_EQ(CountFiles(Root()), 2U);
}

TEST_F(ArtifactStoreTest, GetReturnsTheBytesPut) {
  for (const std::string& bytes : {std::string(), std::string("a\0b\xff", 4), Blob(4, 1 << 20)}) {
    CHURN_ASSERT_OK_AND_ASSIGN(const std::string digest, store_.Put(bytes));
    EXPECT_THAT(store_.Get(digest), IsOkAndHolds(bytes)) << bytes.size() << " bytes";
    EXPECT_THAT(store_.Contains(digest), IsOkAndHolds(true));
  }
}

TEST_F(ArtifactStoreTest, FlippedByteIsDataLossNamingTheDigest) {
  const std::string bytes = Blob(5);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string digest, store_.Put(bytes));
  ASSERT_THAT(store_.Get(digest), IsOkAndHolds(bytes));
  ASSERT_TRUE(FlipByte(BlobPath(digest), static_cast<std::streamoff>(bytes.size() / 2)));
  ASSERT_EQ(std::filesystem::file_size(BlobPath(digest)), bytes.size());  // same size, one byte
  EXPECT_THAT(store_.Get(digest), StatusIs(absl::StatusCode::kDataLoss, digest));
  EXPECT_THAT(store_.Get(digest), StatusIs(absl::StatusCode::kDataLoss, "corrupted"));
  // The first and the last byte are checked as well.
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string edge, store_.Put(Blob(6)));
  ASSERT_TRUE(FlipByte(BlobPath(edge), 0));
  EXPECT_THAT(store_.Get(edge), StatusIs(absl::StatusCode::kDataLoss, edge));
  ASSERT_TRUE(FlipByte(BlobPath(edge), 0));  // restored
  EXPECT_THAT(store_.Get(edge), IsOk());
  ASSERT_TRUE(FlipByte(BlobPath(edge), 299));
  EXPECT_THAT(store_.Get(edge), StatusIs(absl::StatusCode::kDataLoss, edge));
}

TEST_F(ArtifactStoreTest, TruncatedFileIsDataLoss) {
  const std::string bytes = Blob(7);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string digest, store_.Put(bytes));
  std::filesystem::resize_file(BlobPath(digest), bytes.size() - 1);
  EXPECT_THAT(store_.Get(digest), StatusIs(absl::StatusCode::kDataLoss, digest));
  std::filesystem::resize_file(BlobPath(digest), 0);
  EXPECT_THAT(store_.Get(digest), StatusIs(absl::StatusCode::kDataLoss, digest));
}

TEST_F(ArtifactStoreTest, MissingBlobIsNotFound) {
  const std::string digest = base::Sha256Hex("never stored");
  EXPECT_THAT(store_.Get(digest), StatusIs(absl::StatusCode::kNotFound, digest));
  EXPECT_THAT(store_.Contains(digest), IsOkAndHolds(false));
  EXPECT_THAT(store_.List(), IsOkAndHolds(IsEmpty()));
}

TEST_F(ArtifactStoreTest, MalformedDigestIsInvalidArgument) {
  const std::string good = base::Sha256Hex("x");
  const std::vector<std::string> bad = {"",
                                        "abc",
                                        good.substr(0, 63),
                                        good + "0",
                                        absl::AsciiStrToUpper(good),
                                        std::string(63, 'a') + "g",
                                        "../../../../../../etc/passwd",
                                        std::string(62, 'a') + "/a",
                                        std::string(63, 'a') + std::string(1, '\0')};
  for (const std::string& digest : bad) {
    EXPECT_THAT(store_.Get(digest), StatusIs(absl::StatusCode::kInvalidArgument, "SHA-256"))
        << digest;
    EXPECT_THAT(store_.Contains(digest), StatusIs(absl::StatusCode::kInvalidArgument)) << digest;
    EXPECT_THAT(store_.Delete(digest), StatusIs(absl::StatusCode::kInvalidArgument)) << digest;
  }
}

TEST_F(ArtifactStoreTest, ListIsSortedAndSkipsFilesThatAreNotDigests) {
  std::vector<std::string> digests;
  for (int i = 0; i < 20; ++i) {
    CHURN_ASSERT_OK_AND_ASSIGN(const std::string digest, store_.Put(Blob(100 + i)));
    digests.push_back(digest);
  }
  // Strays in the tree: not 64 lowercase hex digits, so not blobs.
  const std::filesystem::path shard = Root() / "artifacts" / "sha256" / "ab";
  std::filesystem::create_directories(shard);
  std::ofstream(shard / "notes.txt") << "x";
  std::ofstream(shard / absl::AsciiStrToUpper(digests[0])) << "x";
  std::sort(digests.begin(), digests.end());
  CHURN_ASSERT_OK_AND_ASSIGN(const std::vector<std::string> listed, store_.List());
  EXPECT_EQ(listed, digests);
}

TEST_F(ArtifactStoreTest, DeleteRemovesOnlyThatBlob) {
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string gone, store_.Put(Blob(8)));
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string kept, store_.Put(Blob(9)));
  ASSERT_THAT(store_.Delete(gone), IsOk());
  EXPECT_FALSE(std::filesystem::exists(BlobPath(gone)));
  EXPECT_THAT(store_.Contains(gone), IsOkAndHolds(false));
  EXPECT_THAT(store_.Get(gone), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_.List(), IsOkAndHolds(ElementsAre(kept)));
  EXPECT_THAT(store_.Delete(gone), IsOk());  // deleting nothing is fine
  EXPECT_THAT(store_.Get(kept), IsOkAndHolds(Blob(9)));
  // A deleted blob can be stored again.
  EXPECT_THAT(store_.Put(Blob(8)), IsOkAndHolds(gone));
  EXPECT_THAT(store_.Get(gone), IsOkAndHolds(Blob(8)));
}

// --- Through the Registry ------------------------------------------------------------------

class ArtifactStoreRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CHURN_ASSERT_OK_AND_ASSIGN(
        reg_, OpenRegistry({.url = "sqlite:" + (dir_.Path() / "registry.db").string(),
                            .artifact_store_uri = Artifacts().string(),
                            .clock = &clock_}));
    CHURN_ASSERT_OK_AND_ASSIGN(const std::string experiment,
                               reg_->CreateExperiment("artifacts", "", {}));
    CHURN_ASSERT_OK_AND_ASSIGN(const registry::Run run,
                               reg_->CreateRun({.experiment_id = experiment}));
    run_id_ = run.info.run_id;
  }

  std::filesystem::path Artifacts() const { return dir_.Path() / "artifacts-root"; }

  std::filesystem::path BlobPath(const std::string& digest) const {
    return Artifacts() / "artifacts" / "sha256" / digest.substr(0, 2) / digest;
  }

  base::TempDir dir_;
  base::FakeClock clock_{absl::FromUnixMillis(1764547200000)};
  std::unique_ptr<Registry> reg_;
  std::string run_id_;
};

TEST_F(ArtifactStoreRegistryTest, LogArtifactStoresTheBytesUnderTheirDigest) {
  const std::string bytes = Blob(10);
  CHURN_ASSERT_OK_AND_ASSIGN(const ArtifactRef ref,
                             reg_->LogArtifact(run_id_, "model/model.json", bytes));
  EXPECT_EQ(ref, (ArtifactRef{"model/model.json", base::Sha256Hex(bytes),
                              static_cast<int64_t>(bytes.size())}));
  EXPECT_TRUE(std::filesystem::is_regular_file(BlobPath(ref.sha256)));
  EXPECT_THAT(reg_->ReadArtifact(run_id_, "model/model.json"), IsOkAndHolds(bytes));
  // A second path with the same bytes shares the blob.
  ASSERT_THAT(reg_->LogArtifact(run_id_, "copy/model.json", bytes), IsOk());
  EXPECT_EQ(CountFiles(Artifacts()), 1U);
  EXPECT_THAT(reg_->ListArtifacts(run_id_, ""), IsOkAndHolds(SizeIs(2)));
}

TEST_F(ArtifactStoreRegistryTest, FlippedByteInTheBlobMakesReadArtifactDataLoss) {
  const std::string bytes = Blob(11);
  CHURN_ASSERT_OK_AND_ASSIGN(const ArtifactRef ref,
                             reg_->LogArtifact(run_id_, "model/model.json", bytes));
  ASSERT_THAT(reg_->ReadArtifact(run_id_, "model/model.json"), IsOkAndHolds(bytes));
  ASSERT_TRUE(FlipByte(BlobPath(ref.sha256), 17));
  EXPECT_THAT(reg_->ReadArtifact(run_id_, "model/model.json"),
              StatusIs(absl::StatusCode::kDataLoss, ref.sha256));
  EXPECT_THAT(reg_->Artifacts().Get(ref.sha256), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(ArtifactStoreRegistryTest, MissingBlobMakesReadArtifactNotFound) {
  CHURN_ASSERT_OK_AND_ASSIGN(const ArtifactRef ref,
                             reg_->LogArtifact(run_id_, "data.bin", Blob(12)));
  ASSERT_TRUE(std::filesystem::remove(BlobPath(ref.sha256)));
  EXPECT_THAT(reg_->ReadArtifact(run_id_, "data.bin"),
              StatusIs(absl::StatusCode::kNotFound, ref.sha256));
}

// --- On S3 ---------------------------------------------------------------------------------

class ArtifactStoreS3Test : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* endpoint = std::getenv("CHURN_TEST_S3_ENDPOINT");  // NOLINT(concurrency-mt-unsafe)
    if (endpoint == nullptr || *endpoint == '\0') {
      GTEST_SKIP() << "CHURN_TEST_S3_ENDPOINT is not set (scripts/services start s3rver DIR "
                      "prints it; scripts/test sets it); this S3 test is skipped";
    }
    options_.endpoint = endpoint;
    options_.access_key_id = "S3RVER";  // s3rver's built-in credentials
    options_.secret_access_key = "S3RVER";
    // A prefix per test run keeps runs apart in the shared bucket.
    prefix_ = "artifacts-t" + std::to_string(absl::ToUnixNanos(absl::Now()));
    store_ =
        std::make_unique<ArtifactStore>(base::NewS3ObjectStore("churn-test", prefix_, options_));
  }

  base::S3Options options_;
  std::string prefix_;
  std::unique_ptr<ArtifactStore> store_;
};

TEST_F(ArtifactStoreS3Test, PutGetAndDedupe) {
  const std::string bytes = Blob(13);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string digest, store_->Put(bytes));
  EXPECT_EQ(digest, base::Sha256Hex(bytes));
  EXPECT_THAT(store_->Put(bytes), IsOkAndHolds(digest));
  EXPECT_THAT(store_->Get(digest), IsOkAndHolds(bytes));
  EXPECT_THAT(store_->List(), IsOkAndHolds(ElementsAre(digest)));
  CHURN_ASSERT_OK_AND_ASSIGN(const auto keys,
                             base::NewS3ObjectStore("churn-test", prefix_, options_)->List(""));
  EXPECT_THAT(keys, ElementsAre(ArtifactStore::KeyOf(digest)));
  EXPECT_THAT(store_->Get(base::Sha256Hex("absent")), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(store_->Delete(digest), IsOk());
  EXPECT_THAT(store_->Contains(digest), IsOkAndHolds(false));
}

TEST_F(ArtifactStoreS3Test, ObjectWithOtherBytesIsDataLoss) {
  const std::string bytes = Blob(14);
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string digest, store_->Put(bytes));
  std::string corrupted = bytes;
  corrupted[3] = static_cast<char>(~corrupted[3]);
  ASSERT_THAT(base::NewS3ObjectStore("churn-test", prefix_, options_)
                  ->Put(ArtifactStore::KeyOf(digest), corrupted),
              IsOk());
  EXPECT_THAT(store_->Get(digest), StatusIs(absl::StatusCode::kDataLoss, digest));
}

}  // namespace
}  // namespace churn::registry
