#include "churn/base/sha256.h"

#include "testing/test_env.h"

namespace churn::base {
namespace {

// FIPS 180-2 test vectors.
TEST(Sha256, MatchesPublishedVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  const std::string text(100000, 'x');
  Sha256 hasher;
  for (size_t i = 0; i < text.size(); i += 777) {
    hasher.Update(absl::string_view(text).substr(i, 777));
  }
  EXPECT_EQ(hasher.FinishHex(), Sha256Hex(text));
}

}  // namespace
}  // namespace churn::base
