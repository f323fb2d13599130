// The prediction log: group commit, callbacks after the commit, push-back when full, and the same
// behaviour on SQLite and (with CHURN_TEST_POSTGRES_URL) PostgreSQL.
#include "churn/serving/prediction_log.h"

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "testing/test_env.h"

#include "churn/base/file.h"

namespace churn::serving {
namespace {

using testing::StatusIs;

PredictionRecord Record(int i) {
  return {.request_id = absl::StrCat("r", i),
          .time_us = 1700000000000000 + i,
          .model_name = "churn",
          .model_version = 3,
          .customer_id = absl::StrCat("c", i % 7),
          .inputs_json = R"({"customer_age":45})",
          .probability = i / 1000.0,
          .label = i % 2,
          .latency_us = 12};
}

std::vector<std::string> Urls(const base::TempDir& dir) {
  std::vector<std::string> urls = {"sqlite:" + (dir.Path() / "p.db").string()};
  const char* pg = std::getenv("CHURN_TEST_POSTGRES_URL");  // NOLINT(concurrency-mt-unsafe)
  if (pg != nullptr && *pg != '\0') {
    urls.emplace_back(pg);
  }
  return urls;
}

TEST(PredictionLog, EveryCallbackComesAfterItsRecordIsCommitted) {
  base::TempDir dir;
  for (const std::string& url : Urls(dir)) {
    auto log = PredictionLog::Open({.url = url});
    ASSERT_TRUE(log.ok()) << log.status();
    auto before = (*log)->CountPredictions();
    ASSERT_TRUE(before.ok()) << before.status();
    constexpr int kThreads = 4;
    constexpr int kPerThread = 250;
    std::atomic<int> acked{0};
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          ASSERT_TRUE(
              (*log)
                  ->Append({Record(t * kPerThread + i)},
                           [&](const absl::Status& s) { (s.ok() ? acked : errors).fetch_add(1); })
                  .ok());
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    (*log)->Flush();
    EXPECT_EQ(acked.load(), kThreads * kPerThread) << url;
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(*(*log)->CountPredictions(), *before + int64_t{kThreads} * kPerThread);
    const PredictionLog::Stats stats = (*log)->GetStats();
    EXPECT_EQ(stats.written, kThreads * kPerThread);
    EXPECT_LT(stats.commits, kThreads * kPerThread) << "records should share transactions";
    auto rows = (*log)->ReadPredictions(0, 1 << 20);
    ASSERT_TRUE(rows.ok());
    bool found = false;
    for (const auto& row : *rows) {
      if (row.record.request_id == "r17") {
        found = true;
        EXPECT_EQ(row.record.probability, 17 / 1000.0);
        EXPECT_EQ(row.record.label, 1);
        EXPECT_EQ(row.record.inputs_json, R"({"customer_age":45})");
        EXPECT_EQ(row.record.model_version, 3);
      }
    }
    EXPECT_TRUE(found);
  }
}

TEST(PredictionLog, AFullQueuePushesBackInsteadOfDropping) {
  base::TempDir dir;
  auto log =
      PredictionLog::Open({.url = "sqlite:" + (dir.Path() / "p.db").string(), .max_queue = 10});
  ASSERT_TRUE(log.ok());
  // Hold the writer in a callback so that the queue cannot drain.
  absl::Notification release;
  absl::Notification holding;
  ASSERT_TRUE((*log)
                  ->Append({Record(0)},
                           [&](const absl::Status&) {
                             holding.Notify();
                             release.WaitForNotification();
                           })
                  .ok());
  holding.WaitForNotification();
  std::vector<PredictionRecord> ten(10, Record(1));
  ASSERT_TRUE((*log)->Append(ten, nullptr).ok());
  EXPECT_THAT((*log)->Append({Record(2)}, nullptr),
              StatusIs(absl::StatusCode::kResourceExhausted, "queue is full"));
  release.Notify();
  (*log)->Flush();
  EXPECT_EQ(*(*log)->CountPredictions(), 11);
  EXPECT_TRUE((*log)->Append({Record(3)}, nullptr).ok());
  (*log)->Close();
  EXPECT_EQ(*(*log)->CountPredictions(), 12) << "Close writes what is queued";
  EXPECT_THAT((*log)->Append({Record(4)}, nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition, "closed"));
}

TEST(PredictionLog, FeedbackIsCheckedAndStored) {
  base::TempDir dir;
  auto log = PredictionLog::Open({.url = "sqlite:" + (dir.Path() / "p.db").string()});
  ASSERT_TRUE(log.ok());
  EXPECT_THAT((*log)->AddFeedback({.churned = 1}, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, "exactly one"));
  EXPECT_THAT((*log)->AddFeedback({.request_id = "r1", .churned = 2}, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, "0 or 1"));
  ASSERT_TRUE((*log)->AddFeedback({.request_id = "r1", .churned = 1}, nullptr).ok());
  ASSERT_TRUE((*log)->AddFeedback({.customer_id = "c1", .churned = 0}, nullptr).ok());
  (*log)->Flush();
  EXPECT_EQ(*(*log)->CountFeedback(), 2);
}

TEST(PredictionLog, BadUrlsAreRefused) {
  EXPECT_THAT(PredictionLog::Open({.url = "mysql://x"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "prediction store URL"));
  EXPECT_THAT(PredictionLog::Open({.url = ""}),
              StatusIs(absl::StatusCode::kInvalidArgument, "empty"));
}

}  // namespace
}  // namespace churn::serving
