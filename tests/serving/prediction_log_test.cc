// The prediction log: group commit into the journal, callbacks after the journal write, the
// loader into the store, recovery of what a killed log left, push-back when full, and the same
// behaviour on SQLite and (with CHURN_TEST_POSTGRES_URL) PostgreSQL.
#include "churn/serving/prediction_log.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "registry/sql_db.h"
#include "serving/prediction_journal.h"
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

// SQLite with its default journal beside the file; PostgreSQL (when given) with one in `dir`.
std::vector<PredictionLogOptions> Stores(const base::TempDir& dir) {
  std::vector<PredictionLogOptions> stores = {{.url = "sqlite:" + (dir.Path() / "p.db").string()}};
  const char* pg = std::getenv("CHURN_TEST_POSTGRES_URL");  // NOLINT(concurrency-mt-unsafe)
  if (pg != nullptr && *pg != '\0') {
    stores.push_back({.url = pg, .journal_dir = (dir.Path() / "pg.journal").string()});
  }
  return stores;
}

size_t JournalFiles(const std::filesystem::path& dir) {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    n += entry.path().extension() == ".journal" ? 1 : 0;
  }
  return n;
}

TEST(PredictionLog, EveryCallbackComesAfterItsRecordIsJournaledAndFlushLoadsThem) {
  base::TempDir dir;
  for (const PredictionLogOptions& store : Stores(dir)) {
    const std::string& url = store.url;
    auto log = PredictionLog::Open(store);
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
    EXPECT_EQ(stats.loaded, kThreads * kPerThread);
    EXPECT_EQ(stats.backlog_bytes, 0U);
    EXPECT_LT(stats.journal_writes, kThreads * kPerThread) << "records should share writes";
    EXPECT_LE(stats.commits, stats.journal_writes) << "a load gathers one or more writes";
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

// A record with a source key (a stream event) is stored once however often it is replayed;
// records without one (HTTP) never conflict.
TEST(PredictionLog, ASourceKeyIsStoredOnce) {
  base::TempDir dir;
  for (const PredictionLogOptions& store : Stores(dir)) {
    SCOPED_TRACE(store.url);
    auto log = PredictionLog::Open(store);
    ASSERT_TRUE(log.ok()) << log.status();
    const int64_t before = *(*log)->CountPredictions();
    const std::string key = absl::StrCat("s/", absl::ToUnixNanos(absl::Now()), "-0");
    std::vector<PredictionRecord> first = {Record(1), Record(2), Record(3)};
    first[0].source_key = key;
    first[0].source = "stream";
    std::vector<PredictionRecord> replay = {Record(1), Record(4)};
    replay[0].source_key = key;
    replay[0].source = "stream";
    ASSERT_TRUE((*log)->Append(first, nullptr).ok());
    ASSERT_TRUE((*log)->Append(replay, nullptr).ok());
    (*log)->Flush();
    EXPECT_EQ(*(*log)->CountPredictions() - before, 4);  // 1 (once), 2, 3, 4
    auto rows = (*log)->ReadPredictions(0, 1000000);
    ASSERT_TRUE(rows.ok());
    int keyed = 0;
    for (const auto& row : *rows) {
      keyed += row.record.source_key == key ? 1 : 0;
    }
    EXPECT_EQ(keyed, 1);
  }
}

// A store made before source keys existed gets the column when a log opens it.
TEST(PredictionLog, AnOldStoreGetsTheSourceKeyColumn) {
  base::TempDir dir;
  const std::string url = "sqlite:" + (dir.Path() / "old.db").string();
  {
    auto db = registry::internal::OpenSqlDb(url, 1000, "test");
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE(
        (*db)
            ->ExecScript("CREATE TABLE predictions (id INTEGER PRIMARY KEY, request_id TEXT NOT "
                         "NULL, time_us BIGINT NOT NULL, model_name TEXT NOT NULL, model_version "
                         "BIGINT NOT NULL, source TEXT NOT NULL, customer_id TEXT NOT NULL, inputs "
                         "TEXT NOT NULL, probability DOUBLE PRECISION NOT NULL, label INTEGER NOT "
                         "NULL, latency_us BIGINT NOT NULL);"
                         "INSERT INTO predictions VALUES (1,'old',1,'churn',1,'http','','{}',0.5,1,"
                         "3);")
            .ok());
  }
  auto log = PredictionLog::Open({.url = url});
  ASSERT_TRUE(log.ok()) << log.status();
  PredictionRecord r = Record(7);
  r.source_key = "s/1-0";
  ASSERT_TRUE((*log)->Append({r, r}, nullptr).ok());
  (*log)->Flush();
  auto rows = (*log)->ReadPredictions(0, 10);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2U);
  EXPECT_EQ((*rows)[0].record.request_id, "old");
  EXPECT_EQ((*rows)[0].record.source_key, "");
  EXPECT_EQ((*rows)[1].record.source_key, "s/1-0");
}

TEST(PredictionLog, BadUrlsAreRefused) {
  EXPECT_THAT(PredictionLog::Open({.url = "mysql://x"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "prediction store URL"));
  EXPECT_THAT(PredictionLog::Open({.url = ""}),
              StatusIs(absl::StatusCode::kInvalidArgument, "empty"));
  EXPECT_THAT(PredictionLog::Open({.url = "sqlite::memory:", .segment_bytes = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, "segment_bytes"));
}

// Close loads everything and leaves no journal behind; segments roll over at segment_bytes and
// each is deleted once loaded.
TEST(PredictionLog, SegmentsRollOverAndAreDeletedOnceLoaded) {
  base::TempDir dir;
  const std::string db = (dir.Path() / "p.db").string();
  auto log = PredictionLog::Open({.url = "sqlite:" + db, .segment_bytes = 4096});
  ASSERT_TRUE(log.ok()) << log.status();
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE((*log)->Append({Record(i)}, nullptr).ok());
  }
  (*log)->Flush();
  EXPECT_EQ(*(*log)->CountPredictions(), 500);
  EXPECT_LE(JournalFiles(db + ".journal"), 1U) << "loaded sealed segments are deleted";
  (*log)->Close();
  EXPECT_EQ(JournalFiles(db + ".journal"), 0U);
}

// What a log acknowledged but had not loaded when its process died is loaded by the next Open,
// from where the store says the segment stopped: nothing lost, nothing twice. A segment still
// locked by a live log is left alone, and an entry cut short at the end (never acknowledged) is
// dropped.
TEST(PredictionLog, OpenRecoversOrphanedSegmentsExactlyOnce) {
  base::TempDir dir;
  const std::string db = (dir.Path() / "p.db").string();
  const std::filesystem::path journal = db + ".journal";
  // A dead log's segment: 30 records, of which the store has the first 10, and half an entry.
  {
    auto setup = PredictionLog::Open({.url = "sqlite:" + db});
    ASSERT_TRUE(setup.ok()) << setup.status();
    std::vector<PredictionRecord> first(10);
    for (int i = 0; i < 10; ++i) {
      first[i] = Record(i);
    }
    ASSERT_TRUE((*setup)->Append(first, nullptr).ok());
    (*setup)->Close();
  }
  std::string bytes;
  for (int i = 0; i < 30; ++i) {
    internal::AppendJournalEntry(Record(i), &bytes);
  }
  const size_t loaded_part = [] {
    std::string ten;
    for (int i = 0; i < 10; ++i) {
      internal::AppendJournalEntry(Record(i), &ten);
    }
    return ten.size();
  }();
  std::string extra;
  internal::AppendJournalEntry(Record(99), &extra);
  bytes += extra.substr(0, extra.size() / 2);
  ASSERT_THAT(base::WriteFileAtomic(journal / "1-dead-1.journal", bytes), testing::IsOk());
  {
    auto state = registry::internal::OpenSqlDb("sqlite:" + db, 1000, "test");
    ASSERT_TRUE(state.ok());
    ASSERT_TRUE((*state)
                    ->Query("INSERT INTO prediction_journal (segment, loaded_bytes) VALUES (?, ?)",
                            {std::string("1-dead-1.journal"), static_cast<int64_t>(loaded_part)})
                    .ok());
  }
  // A live log's segment is not touched by another Open.
  auto live = PredictionLog::Open({.url = "sqlite:" + db});
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_EQ(*(*live)->CountPredictions(), 30) << "10 loaded before + the 20 recovered";
  EXPECT_FALSE(std::filesystem::exists(journal / "1-dead-1.journal"));
  ASSERT_TRUE((*live)->Append({Record(100)}, nullptr).ok());
  auto other = PredictionLog::Open({.url = "sqlite:" + db});
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(JournalFiles(journal), 2U) << "each live log has its own segment";
  (*other)->Close();
  (*live)->Close();
  auto check = PredictionLog::Open({.url = "sqlite:" + db});
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(*(*check)->CountPredictions(), 31);
  auto rows = (*check)->ReadPredictions(0, 100);
  ASSERT_TRUE(rows.ok());
  std::set<std::string> ids;
  for (const auto& row : *rows) {
    ids.insert(row.record.request_id);
  }
  EXPECT_EQ(ids.size(), 31U) << "no record loaded twice";
  EXPECT_EQ(ids.count("r99"), 0U) << "the half entry was never acknowledged";
}

// A corrupt segment loads up to the damage, is kept aside for inspection, and the log opens.
TEST(PredictionLog, ACorruptOrphanIsLoadedUpToTheDamageAndKept) {
  base::TempDir dir;
  const std::string db = (dir.Path() / "p.db").string();
  const std::filesystem::path journal = db + ".journal";
  ASSERT_THAT(base::MakeDirs(journal), testing::IsOk());
  std::string bytes;
  internal::AppendJournalEntry(Record(1), &bytes);
  internal::AppendJournalEntry(Record(2), &bytes);
  std::string bad;
  internal::AppendJournalEntry(Record(3), &bad);
  bad[4] = 'X';  // the kind byte
  bytes += bad;
  internal::AppendJournalEntry(Record(4), &bytes);
  ASSERT_THAT(base::WriteFileAtomic(journal / "1-dead-1.journal", bytes), testing::IsOk());
  auto log = PredictionLog::Open({.url = "sqlite:" + db});
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(*(*log)->CountPredictions(), 2);
  EXPECT_TRUE(std::filesystem::exists(journal / "1-dead-1.journal.corrupt"));
}

TEST(PredictionJournal, DecodesWhatItEncodesAndStopsAtAPartialEntry) {
  const PredictionRecord p = Record(7);
  const FeedbackRecord f{.customer_id = "c9", .churned = 1, .time_us = 5};
  std::string bytes;
  internal::AppendJournalEntry(p, &bytes);
  internal::AppendJournalEntry(f, &bytes);
  const size_t whole = bytes.size();
  internal::AppendJournalEntry(p, &bytes);
  bytes.resize(bytes.size() - 3);
  std::vector<internal::JournalEntry> out;
  EXPECT_THAT(internal::DecodeJournal(bytes, &out), testing::IsOkAndHolds(whole));
  ASSERT_EQ(out.size(), 2U);
  const auto& q = std::get<PredictionRecord>(out[0]);
  EXPECT_EQ(q.request_id, p.request_id);
  EXPECT_EQ(q.time_us, p.time_us);
  EXPECT_EQ(q.probability, p.probability);
  EXPECT_EQ(q.label, p.label);
  EXPECT_EQ(q.inputs_json, p.inputs_json);
  EXPECT_EQ(q.customer_id, p.customer_id);
  EXPECT_EQ(std::get<FeedbackRecord>(out[1]).customer_id, "c9");
  EXPECT_EQ(std::get<FeedbackRecord>(out[1]).churned, 1);
  EXPECT_EQ(q.source_key, "");
  // A keyed record (a stream event) keeps its key.
  PredictionRecord keyed = p;
  keyed.source_key = "churn:requests/1700-3";
  std::string keyed_bytes;
  internal::AppendJournalEntry(keyed, &keyed_bytes);
  std::vector<internal::JournalEntry> keyed_out;
  ASSERT_THAT(internal::DecodeJournal(keyed_bytes, &keyed_out),
              testing::IsOkAndHolds(keyed_bytes.size()));
  ASSERT_EQ(keyed_out.size(), 1U);
  EXPECT_EQ(std::get<PredictionRecord>(keyed_out[0]).source_key, keyed.source_key);
  EXPECT_EQ(std::get<PredictionRecord>(keyed_out[0]).request_id, p.request_id);
  // A length beyond the limit or a label that is not 0/1 is DataLoss, never a crash.
  std::string huge = bytes.substr(0, whole);
  huge += std::string("\xff\xff\xff\xff", 4);
  out.clear();
  EXPECT_THAT(internal::DecodeJournal(huge, &out),
              StatusIs(absl::StatusCode::kDataLoss, "has length"));
  EXPECT_EQ(out.size(), 2U);
  std::string bad_label;
  internal::AppendJournalEntry(PredictionRecord{.label = 2}, &bad_label);
  EXPECT_THAT(internal::DecodeJournal(bad_label, &out),
              StatusIs(absl::StatusCode::kDataLoss, "malformed"));
}

}  // namespace
}  // namespace churn::serving
