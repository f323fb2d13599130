#include "churn/base/file.h"

#include "testing/test_env.h"

namespace churn::base {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;

TEST(File, WriteAtomicThenReadReturnsSameBytes) {
  TempDir dir;
  const std::string bytes("a\0b\xff\n", 5);
  ASSERT_THAT(WriteFileAtomic(dir.Path() / "sub" / "x.bin", bytes), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string read, ReadFile(dir.Path() / "sub" / "x.bin"));
  EXPECT_EQ(read, bytes);
}

TEST(File, WriteAtomicReplacesAndLeavesNoTemporaryFile) {
  TempDir dir;
  ASSERT_THAT(WriteFileAtomic(dir.Path() / "x", "old"), IsOk());
  ASSERT_THAT(WriteFileAtomic(dir.Path() / "x", "new"), IsOk());
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string read, ReadFile(dir.Path() / "x"));
  EXPECT_EQ(read, "new");
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.Path())) {
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(File, ReadMissingFileIsNotFoundNamingThePath) {
  TempDir dir;
  EXPECT_THAT(ReadFile(dir.Path() / "nope.csv"), StatusIs(absl::StatusCode::kNotFound, "nope.csv"));
}

TEST(File, ReadDirectoryIsInvalidArgument) {
  TempDir dir;
  EXPECT_THAT(ReadFile(dir.Path()), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(File, TempDirIsRemovedWithItsContents) {
  std::filesystem::path path;
  {
    TempDir dir;
    path = dir.Path();
    ASSERT_THAT(WriteFileAtomic(path / "a" / "b", "x"), IsOk());
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace churn::base
