// The stream worker against a real redis-server on loopback: 100,000 events shared by two
// workers give exactly 100,000 distinct results (by source id) and as many stored predictions; the
// same with a worker process killed by SIGKILL mid-run and another worker reclaiming its pending
// events; the same with Redis restarted mid-run; poison events land in the dead-letter stream with
// the reason, and the worker keeps going. The shared server is CHURN_TEST_REDIS_URL (scripts/test
// starts one); the restart test starts its own redis-server.
#include "churn/serving/stream_worker.h"

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "serving/serving_fixture.h"
#include "testing/http_client.h"
#include "testing/test_env.h"

#include "churn/redis/client.h"

namespace churn::serving {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;
using redis::RedisConnection;
using redis::RedisReply;

constexpr int kEvents = 100000;

std::unique_ptr<RedisConnection> Connect(const std::string& url) {
  auto parsed = redis::ParseRedisUrl(url);
  if (!parsed.ok()) {
    return nullptr;
  }
  auto c = RedisConnection::Open(*parsed);
  return c.ok() ? *std::move(c) : nullptr;
}

int FreePort() {
  // Bind port 0 through a throwaway server: the kernel's choice is free right after.
  auto r = testing::RunCommand({"python3", "-c",
                                "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); "
                                "print(s.getsockname()[1])"});
  int port = 0;
  return absl::SimpleAtoi(absl::StripAsciiWhitespace(r.out), &port) ? port : 0;
}

class StreamWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("CHURN_TEST_REDIS_URL");
    if (url == nullptr) {
      GTEST_SKIP() << "CHURN_TEST_REDIS_URL is not set (scripts/test starts redis-server)";
    }
    redis_url_ = url;
    auto f = testing::ServingFixture::Create();
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = *std::move(f);
    auto p = fixture_->Train(20, 3);
    ASSERT_TRUE(p.ok()) << p.status();
    ASSERT_TRUE(fixture_->Register(*p, "production").ok());
    prefix_ = absl::StrCat("test:", ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                           ":", getpid(), ":");
    redis_ = Connect(redis_url_);
    ASSERT_NE(redis_, nullptr) << "cannot reach " << redis_url_;
  }

  void TearDown() override {
    workers_.clear();
    log_.reset();
    if (redis_ != nullptr) {
      (void)redis_->Command({"DEL", In(), Out(), Dead()});
    }
  }

  std::string In() const { return prefix_ + "in"; }

  std::string Out() const { return prefix_ + "out"; }

  std::string Dead() const { return prefix_ + "dead"; }

  std::string PredictionsUrl() const { return "sqlite:" + fixture_->DataDir() + "/predictions.db"; }

  void OpenLog() {
    auto log = PredictionLog::Open({.url = PredictionsUrl()});
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }

  StreamWorkerOptions Options(const std::string& consumer) const {
    return {.model = {.name = "churn", .alias = "production"},
            .redis_url = redis_url_,
            .streams = {In()},
            .out_stream = Out(),
            .dead_stream = Dead(),
            .group = "scorers",
            .consumer = consumer,
            .batch = 500,
            .block = absl::Milliseconds(50),
            .claim_idle = absl::Seconds(1),
            .reasons = 0,
            .poll_interval = absl::ZeroDuration(),
            .metrics_port = 0,
            .max_backoff = absl::Milliseconds(200)};
  }

  StreamWorker* StartWorker(const StreamWorkerOptions& options) {
    auto w = StreamWorker::Start(options, &fixture_->Registry(), log_.get());
    EXPECT_TRUE(w.ok()) << w.status();
    if (!w.ok()) {
      return nullptr;
    }
    workers_.push_back(*std::move(w));
    return workers_.back().get();
  }

  // Adds `n` events (rows of the fixture, round robin), pipelined; returns their entry ids.
  std::vector<std::string> Produce(RedisConnection& redis, int n) const {
    std::vector<std::string> ids;
    for (int start = 0; start < n; start += 1000) {
      std::vector<std::vector<std::string>> commands;
      for (int i = start; i < std::min(n, start + 1000); ++i) {
        const size_t row = static_cast<size_t>(i) % fixture_->Rows().NumRows();
        commands.push_back({"XADD", In(), "*", "data",
                            testing::RowJson(fixture_->Rows(), fixture_->Schema(), row, true),
                            "request_id", absl::StrCat("req-", i)});
      }
      auto replies = redis.Pipeline(commands);
      EXPECT_TRUE(replies.ok()) << replies.status();
      if (!replies.ok()) {
        return ids;
      }
      for (const RedisReply& r : *replies) {
        ids.emplace_back(r.Str());
      }
    }
    return ids;
  }

  int64_t Len(RedisConnection& redis, const std::string& stream) const {
    auto r = redis.Command({"XLEN", stream});
    return r.ok() ? r->Integer() : -1;
  }

  // Waits until `stream` has `n` entries (or the deadline); returns its length.
  int64_t WaitForLen(const std::string& stream, int64_t n, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    int64_t len = 0;
    while (absl::Now() < deadline) {
      std::unique_ptr<RedisConnection> c = Connect(redis_url_);
      len = c == nullptr ? 0 : Len(*c, stream);
      if (len >= n) {
        return len;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return len;
  }

  // Every entry of `stream`, field -> value, in order.
  std::vector<std::map<std::string, std::string>> ReadAll(RedisConnection& redis,
                                                          const std::string& stream) const {
    std::vector<std::map<std::string, std::string>> out;
    std::string from = "-";
    for (;;) {
      auto r = redis.Command({"XRANGE", stream, from, "+", "COUNT", "10000"});
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok() || r->Size() == 0) {
        return out;
      }
      for (size_t e = 0; e < r->Size(); ++e) {
        std::map<std::string, std::string>& entry = out.emplace_back();
        entry["id"] = std::string(r->At(e).At(0).Str());
        const RedisReply fields = r->At(e).At(1);
        for (size_t f = 0; f + 1 < fields.Size(); f += 2) {
          entry[std::string(fields.At(f).Str())] = std::string(fields.At(f + 1).Str());
        }
      }
      from = absl::StrCat("(", out.back()["id"]);
    }
  }

  // The results: exactly one per event id in `ids`, each naming its source.
  void ExpectOneResultPerEvent(RedisConnection& redis, const std::vector<std::string>& ids) {
    const auto results = ReadAll(redis, Out());
    std::set<std::string> sources;
    for (const auto& r : results) {
      sources.insert(r.at("source_id"));
    }
    EXPECT_EQ(results.size(), ids.size()) << "results, duplicates included";
    EXPECT_EQ(sources, std::set<std::string>(ids.begin(), ids.end()));
  }

  int64_t GroupPending(RedisConnection& redis) const {
    auto r = redis.Command({"XPENDING", In(), "scorers"});
    return r.ok() ? r->At(0).Integer() : -1;
  }

  std::string redis_url_;
  std::string prefix_;
  std::unique_ptr<testing::ServingFixture> fixture_;
  std::unique_ptr<RedisConnection> redis_;
  std::unique_ptr<PredictionLog> log_;
  std::vector<std::unique_ptr<StreamWorker>> workers_;
};

TEST(StreamPartitionTest, IsFnv1aModuloPartitions) {
  // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (the published test vector).
  EXPECT_EQ(StreamPartition("a", 7), 0xaf63dc4c8601ec8cULL % 7);
  EXPECT_EQ(StreamPartition("a", 1000), 996U);
  EXPECT_EQ(StreamPartition("768805383", 4), 1U);
  EXPECT_EQ(StreamPartition("anything", 1), 0U);
  EXPECT_EQ(PartitionStreams("s", 1), std::vector<std::string>{"s"});
  EXPECT_EQ(PartitionStreams("s", 3), (std::vector<std::string>{"s:0", "s:1", "s:2"}));
}

TEST_F(StreamWorkerTest, EveryEventGetsExactlyOneResultAndOnePrediction) {
  OpenLog();
  const std::vector<std::string> ids = Produce(*redis_, kEvents);
  ASSERT_EQ(ids.size(), static_cast<size_t>(kEvents));
  // Two workers of one group share the stream.
  StreamWorker* w1 = StartWorker(Options("w1"));
  StreamWorker* w2 = StartWorker(Options("w2"));
  ASSERT_NE(w1, nullptr);
  ASSERT_NE(w2, nullptr);
  EXPECT_EQ(WaitForLen(Out(), kEvents, absl::Seconds(120)), kEvents);
  w1->Stop();
  w2->Stop();
  ExpectOneResultPerEvent(*redis_, ids);
  EXPECT_EQ(GroupPending(*redis_), 0);
  const StreamWorker::Stats a = w1->GetStats();
  const StreamWorker::Stats b = w2->GetStats();
  EXPECT_GT(a.produced, 0);
  EXPECT_GT(b.produced, 0);
  EXPECT_EQ(a.produced + b.produced, kEvents);
  EXPECT_EQ(a.acked + b.acked, kEvents);
  EXPECT_EQ(a.dead_lettered + b.dead_lettered, 0);
  EXPECT_EQ(a.duplicates + b.duplicates, 0);
  EXPECT_THAT(log_->CountPredictions(), testing::IsOkAndHolds(kEvents));
  // A result is the answer /predict gives, for the request id the event carried. (Two workers
  // write results and rows in whichever order their batches finish: look the first event up.)
  const auto results = ReadAll(*redis_, Out());
  const auto result = std::find_if(results.begin(), results.end(),
                                   [&](const auto& r) { return r.at("source_id") == ids.front(); });
  ASSERT_NE(result, results.end());
  const Json first = Json::parse(result->at("data"));
  EXPECT_EQ(first["request_id"], "req-0");
  EXPECT_EQ(first["model"]["version"], 1);
  EXPECT_GE(first["churn_probability"].get<double>(), 0.0);
  EXPECT_TRUE(first.contains("churn"));
  EXPECT_EQ(result->at("source_stream"), In());
  auto stored = log_->ReadPredictions(0, static_cast<size_t>(kEvents));
  ASSERT_TRUE(stored.ok());
  const auto row = std::find_if(stored->begin(), stored->end(), [](const PredictionLog::Row& r) {
    return r.record.request_id == "req-0";
  });
  ASSERT_NE(row, stored->end());
  EXPECT_EQ(row->record.source, "stream");
  EXPECT_EQ(row->record.source_key, In() + "/" + ids.front());
}

TEST_F(StreamWorkerTest, PoisonEventsGoToDeadLettersAndTheWorkerGoesOn) {
  OpenLog();
  StreamWorkerOptions options = Options("w1");
  options.reasons = 3;
  options.out_maxlen = 1000;  // results capped (XADD MAXLEN ~ in the script)
  StreamWorker* worker = StartWorker(options);
  ASSERT_NE(worker, nullptr);
  std::string good = testing::RowJson(fixture_->Rows(), fixture_->Schema(), 0);
  std::string bad_type = good;
  const size_t age = bad_type.find("\"customer_age\":");
  ASSERT_NE(age, std::string::npos);
  bad_type.insert(age + 15, "\"old\",\"x\":");  // customer_age becomes a string
  auto replies = redis_->Pipeline({{"XADD", In(), "*", "data", good},
                                   {"XADD", In(), "*", "data", "{not json"},
                                   {"XADD", In(), "*", "request_id", "no-data"},
                                   {"XADD", In(), "*", "data", bad_type},
                                   {"XADD", In(), "*", "data", good}});
  ASSERT_TRUE(replies.ok()) << replies.status();
  EXPECT_EQ(WaitForLen(Out(), 2, absl::Seconds(30)), 2);
  EXPECT_EQ(WaitForLen(Dead(), 3, absl::Seconds(30)), 3);
  const auto dead = ReadAll(*redis_, Dead());
  ASSERT_EQ(dead.size(), 3U);
  EXPECT_EQ(dead[0].at("source_id"), std::string((*replies)[1].Str()));
  EXPECT_EQ(dead[0].at("data"), "{not json");
  EXPECT_FALSE(dead[0].at("error").empty());
  EXPECT_THAT(dead[1].at("error"), HasSubstr("no 'data' field"));
  EXPECT_THAT(dead[2].at("error"), HasSubstr("customer_age"));
  EXPECT_EQ(dead[2].at("source_stream"), In());
  const auto results = ReadAll(*redis_, Out());
  ASSERT_EQ(results.size(), 2U);
  const Json answer = Json::parse(results[1].at("data"));
  EXPECT_EQ(answer["reasons"].size(), 3U);
  EXPECT_EQ(GroupPending(*redis_), 0);
  // The metrics port says so too.
  const testing::HttpResponse metrics = testing::HttpFetch(
      "GET", absl::StrCat("http://127.0.0.1:", worker->MetricsPort(), "/metrics"));
  ASSERT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, HasSubstr("churn_stream_dead_lettered_total{reason=\"invalid\"} 3"));
  EXPECT_THAT(metrics.body, HasSubstr("churn_stream_produced_total 2"));
  const testing::HttpResponse health = testing::HttpFetch(
      "GET", absl::StrCat("http://127.0.0.1:", worker->MetricsPort(), "/health"));
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_THAT(health.body, HasSubstr("\"redis\":\"connected\""));
}

// The worker follows churn@production: a new version is loaded between batches, and the
// results say which version scored them. The stream state (pending, lag) reaches the metrics.
TEST_F(StreamWorkerTest, FollowsTheAliasAndReportsLagAndPending) {
  OpenLog();
  StreamWorker* worker = StartWorker(Options("w1"));
  ASSERT_NE(worker, nullptr);
  EXPECT_EQ(worker->ServingVersion(), 1);
  Produce(*redis_, 10);
  EXPECT_EQ(WaitForLen(Out(), 10, absl::Seconds(30)), 10);
  auto p = fixture_->Train(10, 2);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(fixture_->Register(*p, "production").ok());
  EXPECT_THAT(worker->Reload(), testing::IsOkAndHolds(2));
  Produce(*redis_, 10);
  EXPECT_EQ(WaitForLen(Out(), 20, absl::Seconds(30)), 20);
  const auto results = ReadAll(*redis_, Out());
  ASSERT_EQ(results.size(), 20U);
  EXPECT_EQ(Json::parse(results[9].at("data"))["model"]["version"], 1);
  EXPECT_EQ(Json::parse(results[19].at("data"))["model"]["version"], 2);
  absl::SleepFor(absl::Milliseconds(1500));  // a refresh of the stream state
  const StreamWorker::Stats st = worker->GetStats();
  EXPECT_EQ(st.pending, 0);
  EXPECT_EQ(st.lag, 0);
  EXPECT_TRUE(st.connected);
  const testing::HttpResponse metrics = testing::HttpFetch(
      "GET", absl::StrCat("http://127.0.0.1:", worker->MetricsPort(), "/metrics"));
  EXPECT_THAT(metrics.body, HasSubstr(absl::StrCat("churn_stream_lag{stream=\"", In(), "\"} 0")));
  EXPECT_THAT(metrics.body, HasSubstr("churn_model_info{"));
  EXPECT_THAT(metrics.body, HasSubstr("version=\"2\""));
}

// An event that keeps coming back (its worker dies on it, or never acks it) is dead-lettered
// after max_deliveries.
TEST_F(StreamWorkerTest, AnEventDeliveredTooOftenIsDeadLettered) {
  OpenLog();
  ASSERT_TRUE(redis_->Command({"XGROUP", "CREATE", In(), "scorers", "0", "MKSTREAM"}).ok());
  const std::string good = testing::RowJson(fixture_->Rows(), fixture_->Schema(), 0);
  auto id = redis_->Command({"XADD", In(), "*", "data", good});
  ASSERT_TRUE(id.ok());
  // A consumer that has had it three times and never acknowledged it.
  ASSERT_TRUE(
      redis_->Command({"XREADGROUP", "GROUP", "scorers", "ghost", "STREAMS", In(), ">"}).ok());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        redis_->Command({"XCLAIM", In(), "scorers", "ghost", "0", std::string(id->Str())}).ok());
  }
  StreamWorkerOptions options = Options("w1");
  options.max_deliveries = 3;
  options.claim_idle = absl::Milliseconds(10);
  StreamWorker* worker = StartWorker(options);
  ASSERT_NE(worker, nullptr);
  EXPECT_EQ(WaitForLen(Dead(), 1, absl::Seconds(30)), 1);
  const auto dead = ReadAll(*redis_, Dead());
  ASSERT_EQ(dead.size(), 1U);
  EXPECT_THAT(dead[0].at("error"), HasSubstr("delivered 4 times (the limit is 3)"));
  EXPECT_EQ(dead[0].at("deliveries"), "4");
  EXPECT_EQ(Len(*redis_, Out()), 0);
  EXPECT_EQ(GroupPending(*redis_), 0);
}

// A worker process killed by SIGKILL leaves its batch pending; a second worker takes it over
// once idle. Every event ends with one result, and the prediction store (shared by both, the
// dead worker's journal recovered by the second) holds each prediction once.
TEST_F(StreamWorkerTest, AKilledWorkersEventsAreReclaimed) {
  const std::vector<std::string> ids = Produce(*redis_, kEvents);
  ASSERT_EQ(ids.size(), static_cast<size_t>(kEvents));
  auto child = testing::ChildProcess::Start({testing::ChurnBinary(),
                                             "--data-dir",
                                             fixture_->DataDir(),
                                             "serve",
                                             "stream",
                                             "--redis",
                                             redis_url_,
                                             "--in",
                                             In(),
                                             "--out",
                                             Out(),
                                             "--dead",
                                             Dead(),
                                             "--consumer",
                                             "doomed",
                                             "--batch",
                                             "500",
                                             "--reasons",
                                             "0",
                                             "--metrics-port",
                                             "-1",
                                             "--predictions",
                                             PredictionsUrl()});
  ASSERT_TRUE(child.ok()) << child.status();
  auto line = (*child)->ReadLine(absl::Seconds(60));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(*line, HasSubstr("churn stream worker doomed"));
  EXPECT_GE(WaitForLen(Out(), kEvents / 10, absl::Seconds(60)), kEvents / 10);
  (*child)->Signal(SIGKILL);
  EXPECT_EQ((*child)->Wait(absl::Seconds(10)), 128 + SIGKILL);
  auto doomed = redis_->Command({"XPENDING", In(), "scorers", "-", "+", "100000", "doomed"});
  ASSERT_TRUE(doomed.ok());
  const auto left_pending = static_cast<int64_t>(doomed->Size());
  const int64_t done_before = Len(*redis_, Out());
  EXPECT_LT(done_before, kEvents) << "the worker finished before it was killed";
  OpenLog();  // recovers the dead worker's journal
  StreamWorker* rescuer = StartWorker(Options("rescuer"));
  ASSERT_NE(rescuer, nullptr);
  EXPECT_EQ(WaitForLen(Out(), kEvents, absl::Seconds(120)), kEvents);
  rescuer->Stop();
  ExpectOneResultPerEvent(*redis_, ids);
  EXPECT_EQ(GroupPending(*redis_), 0);
  const StreamWorker::Stats st = rescuer->GetStats();
  EXPECT_EQ(st.reclaimed, left_pending) << "the killed worker's pending events";
  EXPECT_EQ(st.produced, kEvents - done_before);
  EXPECT_THAT(log_->CountPredictions(), testing::IsOkAndHolds(kEvents));
}

// The simulator partitions by the customer id's hash; a worker reads every partition; the tail
// tool prints the results as JSON lines with the answer embedded as JSON.
TEST_F(StreamWorkerTest, SimulatorPartitionsWorkerReadsAllAndTailPrints) {
  OpenLog();
  const testing::CommandResult sim =
      testing::RunCommand({testing::ChurnBinary(), "--data-dir", fixture_->DataDir(), "simulate",
                           "stream", "--redis", redis_url_, "--stream", In(), "--partitions", "2",
                           "--rate", "max", "--max", "1000", "--json"});
  ASSERT_EQ(sim.exit_code, 0) << sim.err;
  const Json report = Json::parse(sim.out);
  EXPECT_EQ(report["sent"], 1000);
  const int64_t p0 = Len(*redis_, In() + ":0");
  const int64_t p1 = Len(*redis_, In() + ":1");
  EXPECT_EQ(report["per_partition"], Json::array({p0, p1}));
  EXPECT_EQ(p0 + p1, 1000);
  EXPECT_GT(p0, 300);  // 1,000 customers hash about evenly
  EXPECT_GT(p1, 300);
  // Never the label; the customer id is the record's key, and it decides the partition.
  const auto events = ReadAll(*redis_, In() + ":0");
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].at("data").find("attrition_flag"), std::string::npos);
  EXPECT_EQ(StreamPartition(events[0].at("customer_id"), 2), 0U);
  StreamWorkerOptions options = Options("w1");
  options.streams = PartitionStreams(In(), 2);
  StreamWorker* worker = StartWorker(options);
  ASSERT_NE(worker, nullptr);
  EXPECT_EQ(WaitForLen(Out(), 1000, absl::Seconds(60)), 1000);
  worker->Stop();
  const testing::CommandResult tail =
      testing::RunCommand({testing::ChurnBinary(), "stream", "tail", "--redis", redis_url_,
                           "--stream", Out(), "--count", "3"});
  ASSERT_EQ(tail.exit_code, 0) << tail.err;
  const std::vector<std::string> lines = absl::StrSplit(tail.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3U) << tail.out;
  const Json line = Json::parse(lines[0]);
  EXPECT_TRUE(line["data"].is_object()) << lines[0];
  EXPECT_TRUE(line["data"].contains("churn_probability"));
  EXPECT_FALSE(line["source_id"].get<std::string>().empty());
  EXPECT_FALSE(line["customer_id"].get<std::string>().empty()) << lines[0];
  (void)redis_->Command({"DEL", In() + ":0", In() + ":1"});
}

// Redis restarted (SIGTERM, then started again on its data) while the worker runs: the worker
// retries with backoff, reconnects, finishes its pending batch, and nothing is lost or doubled.
TEST_F(StreamWorkerTest, RedisRestartedMidRunLosesNothing) {
  base::TempDir dir;
  const int port = FreePort();
  ASSERT_GT(port, 0);
  const std::vector<std::string> server = {"redis-server",
                                           "--bind",
                                           "127.0.0.1",
                                           "--port",
                                           absl::StrCat(port),
                                           "--dir",
                                           dir.Path().string(),
                                           "--appendonly",
                                           "yes",
                                           "--save",
                                           ""};
  auto redis = testing::ChildProcess::Start(server);
  ASSERT_TRUE(redis.ok()) << redis.status();
  redis_url_ = absl::StrCat("redis://127.0.0.1:", port);
  std::unique_ptr<RedisConnection> c;
  for (int i = 0; i < 100 && c == nullptr; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    c = Connect(redis_url_);
  }
  ASSERT_NE(c, nullptr) << "redis-server did not start on port " << port;
  OpenLog();
  const std::vector<std::string> ids = Produce(*c, kEvents);
  ASSERT_EQ(ids.size(), static_cast<size_t>(kEvents));
  c.reset();
  StreamWorker* worker = StartWorker(Options("w1"));
  ASSERT_NE(worker, nullptr);
  EXPECT_GE(WaitForLen(Out(), kEvents / 5, absl::Seconds(60)), kEvents / 5);
  (*redis)->Signal(SIGTERM);  // a clean shutdown writes the append-only file
  EXPECT_EQ((*redis)->Wait(absl::Seconds(30)), 0);
  absl::SleepFor(absl::Milliseconds(500));  // the worker finds Redis gone
  redis = testing::ChildProcess::Start(server);
  ASSERT_TRUE(redis.ok()) << redis.status();
  EXPECT_EQ(WaitForLen(Out(), kEvents, absl::Seconds(120)), kEvents);
  worker->Stop();
  c = Connect(redis_url_);
  ASSERT_NE(c, nullptr);
  ExpectOneResultPerEvent(*c, ids);
  EXPECT_EQ(GroupPending(*c), 0);
  EXPECT_GT(worker->GetStats().redis_errors, 0) << "the worker never saw Redis go away";
  EXPECT_THAT(log_->CountPredictions(), testing::IsOkAndHolds(kEvents));
  workers_.clear();
  (*redis)->Signal(SIGTERM);
  (*redis)->Wait(absl::Seconds(30));
  redis_.reset();  // TearDown's DEL went to the other server
}

}  // namespace
}  // namespace churn::serving
