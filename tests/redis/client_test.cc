// The Redis client: URL parsing, and commands, pipelines, errors and a dead server against a
// real redis-server (CHURN_TEST_REDIS_URL, which scripts/test starts).
#include "churn/redis/client.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "testing/test_env.h"

namespace churn::redis {
namespace {

using testing::StatusIs;

TEST(ParseRedisUrl, ReadsHostPortDbAndCredentials) {
  auto u = ParseRedisUrl("redis://10.0.0.5:6380/2");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "10.0.0.5");
  EXPECT_EQ(u->port, 6380);
  EXPECT_EQ(u->db, 2);
  EXPECT_EQ(u->password, "");
  u = ParseRedisUrl("redis://:s3cret@cache");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "cache");
  EXPECT_EQ(u->port, 6379);
  EXPECT_EQ(u->user, "");
  EXPECT_EQ(u->password, "s3cret");
  EXPECT_EQ(u->ToString(), "redis://cache:6379/0");  // never the password
  u = ParseRedisUrl("redis://scorer:pw@h:1/0");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->user, "scorer");
  EXPECT_EQ(u->password, "pw");
}

TEST(ParseRedisUrl, NamesWhatIsWrong) {
  EXPECT_THAT(ParseRedisUrl("http://h:1"),
              StatusIs(absl::StatusCode::kInvalidArgument, "redis://"));
  EXPECT_THAT(ParseRedisUrl("redis://h:port"),
              StatusIs(absl::StatusCode::kInvalidArgument, "bad Redis port"));
  EXPECT_THAT(ParseRedisUrl("redis://h:70000"),
              StatusIs(absl::StatusCode::kInvalidArgument, "bad Redis port"));
  EXPECT_THAT(ParseRedisUrl("redis://h/x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "database number"));
  EXPECT_THAT(ParseRedisUrl("redis://nopassword@h"),
              StatusIs(absl::StatusCode::kInvalidArgument, "PASSWORD"));
}

TEST(RedisConnection, UnreachableIsUnavailable) {
  // Port 1 on loopback: nothing listens there.
  EXPECT_THAT(RedisConnection::Open({.host = "127.0.0.1", .port = 1}),
              StatusIs(absl::StatusCode::kUnavailable, "unreachable"));
}

TEST(RedisConnection, CommandsPipelinesAndErrors) {
  const char* env = std::getenv("CHURN_TEST_REDIS_URL");  // NOLINT(concurrency-mt-unsafe)
  if (env == nullptr) {
    GTEST_SKIP() << "CHURN_TEST_REDIS_URL is not set (scripts/test starts redis-server)";
  }
  auto url = ParseRedisUrl(env);
  ASSERT_TRUE(url.ok());
  auto c = RedisConnection::Open(*url);
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string key = absl::StrCat("test:client:", getpid());
  // Binary-safe arguments: a NUL and spaces survive.
  const std::string value("a b\0c", 5);
  ASSERT_TRUE((*c)->Command({"SET", key, value}).ok());
  auto got = (*c)->Command({"GET", key});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->Str(), value);
  auto replies =
      (*c)->Pipeline({{"INCR", key + ":n"}, {"INCR", key + ":n"}, {"GET", "nil:" + key}});
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 3U);
  EXPECT_EQ((*replies)[1].Integer(), 2);
  EXPECT_TRUE((*replies)[2].IsNil());
  // An error reply is FailedPrecondition with Redis' text; the connection stays usable.
  auto wrong = (*c)->Command({"INCR", key});
  EXPECT_THAT(wrong, StatusIs(absl::StatusCode::kFailedPrecondition, "not an integer"));
  EXPECT_TRUE(IsRedisError(wrong.status(), "ERR"));
  EXPECT_FALSE(IsRedisError(wrong.status(), "NOGROUP"));
  EXPECT_FALSE((*c)->IsBroken());
  EXPECT_THAT((*c)->Command({"XREADGROUP", "GROUP", "g", "c", "STREAMS", key + ":none", ">"}),
              StatusIs(absl::StatusCode::kFailedPrecondition, "NOGROUP"));
  auto arr = (*c)->Command({"MGET", key, "nil:" + key});
  ASSERT_TRUE(arr.ok());
  ASSERT_TRUE(arr->IsArray());
  EXPECT_EQ(arr->Size(), 2U);
  EXPECT_EQ(arr->At(0).Str(), value);
  EXPECT_TRUE(arr->At(1).IsNil());
  EXPECT_TRUE(arr->At(7).IsNil());  // out of range is nil, never a crash
  ASSERT_TRUE((*c)->Command({"DEL", key, key + ":n"}).ok());
}

}  // namespace
}  // namespace churn::redis
