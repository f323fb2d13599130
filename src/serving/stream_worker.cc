#include "churn/serving/stream_worker.h"

#include <algorithm>
#include <functional>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "serving/drift_exporter.h"
#include "serving/scoring.h"

#include "churn/base/json_text.h"
#include "churn/base/logging.h"
#include "churn/base/status_macros.h"
#include "churn/http/server.h"
#include "churn/redis/client.h"

namespace churn::serving {
namespace {

using internal::LoadedModel;
using redis::RedisConnection;
using redis::RedisReply;

// Acknowledges each event and writes its result or dead letter only when the ack took it off
// the group's pending list, all in one atomic step.
// KEYS: results stream, dead-letter stream, then the input streams.
// ARGV: group, results MAXLEN (0: none), then per event 6 values: the input stream's KEYS
// index, entry id, kind ("r" result, "d" dead letter), data, customer id (r) or error (d),
// deliveries.
constexpr char kAckScript[] = R"lua(
local group = ARGV[1]
local maxlen = tonumber(ARGV[2])
local written, dead, skipped = 0, 0, 0
local function add(key, ...)
  if maxlen > 0 then
    return redis.call('XADD', key, 'MAXLEN', '~', maxlen, '*', ...)
  end
  return redis.call('XADD', key, '*', ...)
end
for i = 3, #ARGV, 6 do
  local src = KEYS[tonumber(ARGV[i])]
  local id = ARGV[i + 1]
  if redis.call('XACK', src, group, id) == 1 then
    if ARGV[i + 2] == 'r' then
      add(KEYS[1], 'data', ARGV[i + 3], 'source_stream', src, 'source_id', id,
          'customer_id', ARGV[i + 4])
      written = written + 1
    else
      redis.call('XADD', KEYS[2], '*', 'source_stream', src, 'source_id', id,
                 'error', ARGV[i + 4], 'data', ARGV[i + 3], 'deliveries', ARGV[i + 5])
      dead = dead + 1
    end
  else
    skipped = skipped + 1
  end
end
return {written, dead, skipped}
)lua";

// One event read from an input stream.
struct Event {
  size_t stream = 0;  // index into the worker's streams
  std::string id{};
  bool has_data = false;
  bool deleted = false;  // a pending entry whose stream entry was trimmed away
  std::string data{};
  std::string request_id{};
  std::string customer_id{};
  int64_t deliveries = 1;
};

// What the script is given for one event.
struct Outcome {
  bool result = false;   // else a dead letter
  std::string data{};    // the answer, or the event's data for a dead letter
  std::string detail{};  // customer id, or the error
};

// Entries [[id, [field, value, ...]], ...] of stream `stream` into `out`.
void ParseEntries(const RedisReply& entries, size_t stream, std::vector<Event>* out) {
  for (size_t e = 0; e < entries.Size(); ++e) {
    const RedisReply entry = entries.At(e);
    Event& ev = out->emplace_back(Event{.stream = stream, .id = std::string(entry.At(0).Str())});
    const RedisReply fields = entry.At(1);
    ev.deleted = fields.IsNil();
    for (size_t f = 0; f + 1 < fields.Size(); f += 2) {
      const absl::string_view name = fields.At(f).Str();
      const absl::string_view value = fields.At(f + 1).Str();
      if (name == "data") {
        ev.has_data = true;
        ev.data = std::string(value);
      } else if (name == "request_id") {
        ev.request_id = std::string(value);
      } else if (name == "customer_id") {
        ev.customer_id = std::string(value);
      }
    }
  }
}

// The Prometheus metrics of one worker.
class WorkerMetrics {
 public:
  WorkerMetrics()
      : scoring_(registry_),
        consumed_(Counter("churn_stream_consumed_total", "Events read (redeliveries included)")),
        produced_(Counter("churn_stream_produced_total", "Results written to the output stream")),
        acked_(
            Counter("churn_stream_acked_total", "Events acknowledged (results and dead letters)")),
        redelivered_(Counter("churn_stream_redelivered_total", "Events read more than once")),
        reclaimed_(Counter("churn_stream_reclaimed_total",
                           "Events taken over from idle consumers (XAUTOCLAIM)")),
        duplicates_(Counter("churn_stream_duplicates_total",
                            "Events another worker acknowledged first (no second result)")),
        redis_errors_(Counter("churn_stream_redis_errors_total",
                              "Redis calls that failed (the worker reconnects and retries)")),
        dead_(prometheus::BuildCounter()
                  .Name("churn_stream_dead_lettered_total")
                  .Help("Events sent to the dead-letter stream, by reason")
                  .Register(registry_)),
        pending_(prometheus::BuildGauge()
                     .Name("churn_stream_pending")
                     .Help("Events delivered to the group and not acknowledged, by stream")
                     .Register(registry_)),
        lag_(prometheus::BuildGauge()
                 .Name("churn_stream_lag")
                 .Help("Entries of the stream the group has not read yet, by stream")
                 .Register(registry_)),
        connected_(prometheus::BuildGauge()
                       .Name("churn_stream_redis_connected")
                       .Help("1 while the worker is connected to Redis")
                       .Register(registry_)
                       .Add({})),
        batch_seconds_(prometheus::BuildHistogram()
                           .Name("churn_stream_batch_duration_seconds")
                           .Help("Reading a batch to its results written and acknowledged")
                           .Register(registry_)
                           .Add({}, prometheus::Histogram::BucketBoundaries{
                                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5, 1, 2.5})) {}

  internal::ScoringMetrics& Scoring() { return scoring_; }

  prometheus::Counter& Consumed() { return consumed_; }

  prometheus::Counter& Produced() { return produced_; }

  prometheus::Counter& Acked() { return acked_; }

  prometheus::Counter& Redelivered() { return redelivered_; }

  prometheus::Counter& Reclaimed() { return reclaimed_; }

  prometheus::Counter& Duplicates() { return duplicates_; }

  prometheus::Counter& RedisErrors() { return redis_errors_; }

  prometheus::Gauge& Connected() { return connected_; }

  prometheus::Histogram& BatchSeconds() { return batch_seconds_; }

  void DeadLettered(const std::string& reason) { dead_.Add({{"reason", reason}}).Increment(); }

  void StreamState(const std::string& stream, int64_t pending, int64_t lag) {
    pending_.Add({{"stream", stream}}).Set(static_cast<double>(pending));
    lag_.Add({{"stream", stream}}).Set(static_cast<double>(lag));
  }

  std::string Text(const PredictionLog* log) { return scoring_.Text(log); }

 private:
  prometheus::Counter& Counter(const char* name, const char* help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(registry_).Add({});
  }

  prometheus::Registry registry_;
  internal::ScoringMetrics scoring_;
  prometheus::Counter& consumed_;
  prometheus::Counter& produced_;
  prometheus::Counter& acked_;
  prometheus::Counter& redelivered_;
  prometheus::Counter& reclaimed_;
  prometheus::Counter& duplicates_;
  prometheus::Counter& redis_errors_;
  prometheus::Family<prometheus::Counter>& dead_;
  prometheus::Family<prometheus::Gauge>& pending_;
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Gauge& connected_;
  prometheus::Histogram& batch_seconds_;
};

class StreamWorkerImpl final : public StreamWorker {
 public:
  StreamWorkerImpl(StreamWorkerOptions options, redis::RedisUrl url, registry::Registry* registry,
                   PredictionLog* log)
      : options_(std::move(options)),
        url_(std::move(url)),
        log_(log),
        follower_({.model = options_.model,
                   .unknown_category = options_.unknown_category,
                   .poll_interval = options_.poll_interval,
                   .who = "stream",
                   .drift = options_.drift},
                  registry, &metrics_.Scoring()),
        drift_(metrics_.Scoring().Registry(), &follower_, options_.drift_interval) {
    if (options_.dead_stream.empty()) {
      options_.dead_stream = absl::StrCat(options_.streams.front(), ":dead");
    }
  }

  ~StreamWorkerImpl() override { Stop(); }

  StreamWorkerImpl(const StreamWorkerImpl&) = delete;
  StreamWorkerImpl& operator=(const StreamWorkerImpl&) = delete;

  absl::Status Start() {
    CHURN_RETURN_IF_ERROR(follower_.Start());
    drift_.Start();
    if (options_.metrics_port >= 0) {
      CHURN_RETURN_IF_ERROR(StartMetricsServer());
    }
    thread_ = std::thread([this] { Run(); });
    return absl::OkStatus();
  }

  Stats GetStats() const override {
    absl::MutexLock lock(&mu_);
    return stats_;
  }

  uint16_t MetricsPort() const override { return server_ == nullptr ? 0 : server_->Port(); }

  int64_t ServingVersion() const override { return follower_.ServingVersion(); }

  absl::StatusOr<int64_t> Reload() override { return follower_.Reload(); }

  void Stop() override {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) {
        return;
      }
      stopping_ = true;
    }
    if (thread_.joinable()) {
      thread_.join();
    }
    drift_.Stop();
    follower_.Stop();
    if (log_ != nullptr) {
      log_->Flush();
    }
    if (server_ != nullptr) {
      server_->Drain(absl::Seconds(2));
      server_.reset();
    }
  }

 private:
  absl::Status StartMetricsServer();
  void Run();
  // Waits `d` or until Stop; false when stopping.
  bool Sleep(absl::Duration d);

  bool Stopping() const {
    absl::MutexLock lock(&mu_);
    return stopping_;
  }

  absl::Status Connect();
  absl::Status EnsureGroups();
  absl::Status LoadScript();
  // One round: own pending events first (after a connect or a failure), reclaiming and
  // refreshing the stream state when due, then a blocking read of new events.
  absl::Status Step();
  absl::Status ReadGroup(absl::string_view start, bool block, std::vector<Event>* events);
  absl::Status FillDeliveries(std::vector<Event>* events);
  absl::Status Reclaim();
  absl::Status RefreshStreamState();
  // Scores, logs, and acknowledges `events` with their results or dead letters.
  absl::Status Process(std::vector<Event> events);
  Outcome Judge(const LoadedModel& loaded, Event& event, std::vector<PredictionRecord>* records);
  absl::Status WritePredictions(std::vector<PredictionRecord> records);
  absl::Status Acknowledge(const std::vector<Event>& events, const std::vector<Outcome>& outcomes);
  absl::StatusOr<RedisReply> EvalAck(const std::vector<std::string>& args);

  void Count(const std::function<void(Stats&)>& update) {
    absl::MutexLock lock(&mu_);
    update(stats_);
  }

  StreamWorkerOptions options_;
  const redis::RedisUrl url_;
  PredictionLog* const log_;
  WorkerMetrics metrics_;
  internal::ModelFollower follower_;
  internal::DriftExporter drift_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;

  // The worker thread's own.
  std::unique_ptr<RedisConnection> redis_;
  std::string script_sha_;
  bool own_pending_ = true;  // re-read this consumer's pending events before new ones
  absl::Time next_claim_ = absl::InfinitePast();
  absl::Time next_state_ = absl::InfinitePast();

  mutable absl::Mutex mu_;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

absl::Status StreamWorkerImpl::StartMetricsServer() {
  auto router = std::make_shared<http::Router>();
  router->Handle("GET", "/metrics", [this](const http::Request&) {
    return http::Response{.status = 200,
                          .content_type = "text/plain; version=0.0.4; charset=utf-8",
                          .body = metrics_.Text(log_)};
  });
  router->Handle("GET", "/drift", [this](const http::Request&) {
    drift_.UpdateIfOlder(drift_.FreshFor());
    return http::Response::Json(200, drift_.LastJson());
  });
  router->Handle("GET", "/health", [this](const http::Request&) {
    const std::shared_ptr<const LoadedModel> loaded = follower_.Current();
    const Stats stats = GetStats();
    const bool ok = loaded != nullptr && stats.connected;
    std::string body = absl::StrCat(R"({"status":")", ok ? "ok" : "unready", R"(","redis":")",
                                    stats.connected ? "connected" : "disconnected", R"(","model":)",
                                    loaded ? loaded->model_json : "null", R"(,"consumer":)");
    base::AppendJsonString(options_.consumer, &body);
    body.push_back('}');
    return http::Response::Json(ok ? 200 : 503, std::move(body));
  });
  CHURN_ASSIGN_OR_RETURN(
      server_, http::Server::Start({.host = options_.metrics_host,
                                    .port = static_cast<uint16_t>(options_.metrics_port),
                                    .threads = 1,
                                    .server_name = "churn-stream"},
                                   [router](http::Request request, http::Responder respond) {
                                     router->DispatchAsync(std::move(request), std::move(respond));
                                   }));
  return absl::OkStatus();
}

bool StreamWorkerImpl::Sleep(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  return !mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
}

void StreamWorkerImpl::Run() {
  absl::Duration backoff = absl::Milliseconds(50);
  std::string last_error;
  while (!Stopping()) {
    absl::Status s = redis_ == nullptr ? Connect() : Step();
    if (s.ok()) {
      if (!last_error.empty()) {
        base::LogInfo(absl::StrCat("stream: ", options_.consumer, " back on ", url_.ToString()));
        last_error.clear();
      }
      backoff = absl::Milliseconds(50);
      continue;
    }
    metrics_.RedisErrors().Increment();
    Count([](Stats& st) { ++st.redis_errors; });
    if (redis_ != nullptr && redis_->IsBroken()) {
      redis_.reset();
      metrics_.Connected().Set(0);
      Count([](Stats& st) { st.connected = false; });
    }
    own_pending_ = true;  // whatever was in hand is still pending: retry it first
    if (std::string(s.message()) != last_error) {
      base::LogWarn(absl::StrCat("stream: ", s.message(), " (retrying with backoff)"));
      last_error = std::string(s.message());
    }
    if (!Sleep(backoff)) {
      break;
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  redis_.reset();
}

absl::Status StreamWorkerImpl::Connect() {
  CHURN_ASSIGN_OR_RETURN(
      redis_, RedisConnection::Open(url_, {.command_timeout = options_.block + absl::Seconds(5)}));
  absl::Status s = EnsureGroups();
  if (s.ok()) {
    s = LoadScript();
  }
  if (!s.ok()) {
    redis_.reset();
    return s;
  }
  own_pending_ = true;
  next_claim_ = absl::InfinitePast();
  metrics_.Connected().Set(1);
  Count([](Stats& st) { st.connected = true; });
  return absl::OkStatus();
}

absl::Status StreamWorkerImpl::EnsureGroups() {
  for (const std::string& stream : options_.streams) {
    absl::StatusOr<RedisReply> r = redis_->Command(
        {"XGROUP", "CREATE", stream, options_.group, options_.group_start, "MKSTREAM"});
    if (!r.ok() && !redis::IsRedisError(r.status(), "BUSYGROUP")) {
      return r.status();
    }
  }
  return absl::OkStatus();
}

absl::Status StreamWorkerImpl::LoadScript() {
  CHURN_ASSIGN_OR_RETURN(const RedisReply sha, redis_->Command({"SCRIPT", "LOAD", kAckScript}));
  script_sha_ = std::string(sha.Str());
  return absl::OkStatus();
}

absl::Status StreamWorkerImpl::Step() {
  if (follower_.Current() == nullptr) {
    Sleep(absl::Milliseconds(100));  // no model yet: read nothing
    return absl::OkStatus();
  }
  std::vector<Event> events;
  if (own_pending_) {
    CHURN_RETURN_IF_ERROR(ReadGroup("0", false, &events));
    if (events.empty()) {
      own_pending_ = false;
      return absl::OkStatus();
    }
    CHURN_RETURN_IF_ERROR(FillDeliveries(&events));
    return Process(std::move(events));
  }
  const absl::Time now = absl::Now();
  if (now >= next_claim_) {
    CHURN_RETURN_IF_ERROR(Reclaim());
    next_claim_ =
        now + std::clamp(options_.claim_idle / 2, absl::Milliseconds(100), absl::Seconds(5));
  }
  if (now >= next_state_) {
    CHURN_RETURN_IF_ERROR(RefreshStreamState());
    next_state_ = now + absl::Seconds(1);
  }
  CHURN_RETURN_IF_ERROR(ReadGroup(">", true, &events));
  if (events.empty()) {
    return absl::OkStatus();
  }
  return Process(std::move(events));
}

absl::Status StreamWorkerImpl::ReadGroup(absl::string_view start, bool block,
                                         std::vector<Event>* events) {
  std::vector<std::string> args = {"XREADGROUP",      "GROUP", options_.group,
                                   options_.consumer, "COUNT", absl::StrCat(options_.batch)};
  if (block) {
    args.insert(args.end(), {"BLOCK", absl::StrCat(absl::ToInt64Milliseconds(options_.block))});
  }
  args.emplace_back("STREAMS");
  args.insert(args.end(), options_.streams.begin(), options_.streams.end());
  for (size_t i = 0; i < options_.streams.size(); ++i) {
    args.emplace_back(start);
  }
  absl::StatusOr<RedisReply> reply = redis_->Command(args);
  if (redis::IsRedisError(reply.status(), "NOGROUP")) {
    // The stream or the group went away (deleted, or Redis restarted empty): make them again.
    return EnsureGroups();
  }
  CHURN_RETURN_IF_ERROR(reply.status());
  absl::flat_hash_map<absl::string_view, size_t> index;
  for (size_t i = 0; i < options_.streams.size(); ++i) {
    index.emplace(options_.streams[i], i);
  }
  for (size_t s = 0; s < reply->Size(); ++s) {
    const RedisReply stream = reply->At(s);
    const auto it = index.find(stream.At(0).Str());
    if (it != index.end()) {
      ParseEntries(stream.At(1), it->second, events);
    }
  }
  return absl::OkStatus();
}

// The delivery counts of events read again (own pending, reclaimed), from XPENDING.
absl::Status StreamWorkerImpl::FillDeliveries(std::vector<Event>* events) {
  for (size_t s = 0; s < options_.streams.size(); ++s) {
    std::vector<size_t> of_stream;
    for (size_t i = 0; i < events->size(); ++i) {
      if ((*events)[i].stream == s) {
        of_stream.push_back(i);
      }
    }
    if (of_stream.empty()) {
      continue;
    }
    CHURN_ASSIGN_OR_RETURN(
        const RedisReply pending,
        redis_->Command({"XPENDING", options_.streams[s], options_.group,
                         (*events)[of_stream.front()].id, (*events)[of_stream.back()].id,
                         absl::StrCat(of_stream.size() + options_.batch), options_.consumer}));
    absl::flat_hash_map<absl::string_view, int64_t> count;
    for (size_t p = 0; p < pending.Size(); ++p) {
      count.emplace(pending.At(p).At(0).Str(), pending.At(p).At(3).Integer());
    }
    for (const size_t i : of_stream) {
      const auto it = count.find((*events)[i].id);
      (*events)[i].deliveries = it == count.end() ? 2 : it->second;
    }
  }
  return absl::OkStatus();
}

absl::Status StreamWorkerImpl::Reclaim() {
  const std::string idle = absl::StrCat(absl::ToInt64Milliseconds(options_.claim_idle));
  for (size_t s = 0; s < options_.streams.size(); ++s) {
    std::string cursor = "0-0";
    do {
      CHURN_ASSIGN_OR_RETURN(
          const RedisReply reply,
          redis_->Command({"XAUTOCLAIM", options_.streams[s], options_.group, options_.consumer,
                           idle, cursor, "COUNT", absl::StrCat(options_.batch)}));
      cursor = std::string(reply.At(0).Str());
      std::vector<Event> events;
      ParseEntries(reply.At(1), s, &events);
      if (events.empty()) {
        continue;
      }
      metrics_.Reclaimed().Increment(static_cast<double>(events.size()));
      Count([n = events.size()](Stats& st) { st.reclaimed += static_cast<int64_t>(n); });
      base::LogInfo(absl::StrCat("stream: ", options_.consumer, " reclaimed ", events.size(),
                                 " idle events of ", options_.streams[s]));
      CHURN_RETURN_IF_ERROR(FillDeliveries(&events));
      CHURN_RETURN_IF_ERROR(Process(std::move(events)));
    } while (cursor != "0-0" && !Stopping());
  }
  return absl::OkStatus();
}

absl::Status StreamWorkerImpl::RefreshStreamState() {
  int64_t pending = 0;
  int64_t lag = 0;
  for (const std::string& stream : options_.streams) {
    CHURN_ASSIGN_OR_RETURN(const RedisReply groups, redis_->Command({"XINFO", "GROUPS", stream}));
    for (size_t g = 0; g < groups.Size(); ++g) {
      const RedisReply group = groups.At(g);
      absl::flat_hash_map<absl::string_view, RedisReply> field;
      for (size_t f = 0; f + 1 < group.Size(); f += 2) {
        field.emplace(group.At(f).Str(), group.At(f + 1));
      }
      if (field["name"].Str() != options_.group) {
        continue;
      }
      const int64_t p = field["pending"].Integer();
      const int64_t l = field["lag"].Integer();  // nil (unknown) counts as 0
      metrics_.StreamState(stream, p, l);
      pending += p;
      lag += l;
    }
  }
  Count([pending, lag](Stats& st) {
    st.pending = pending;
    st.lag = lag;
  });
  return absl::OkStatus();
}

Outcome StreamWorkerImpl::Judge(const LoadedModel& loaded, Event& event,
                                std::vector<PredictionRecord>* records) {
  const std::string& stream = options_.streams[event.stream];
  if (event.deliveries > options_.max_deliveries) {
    metrics_.DeadLettered("max_deliveries");
    return {.data = std::move(event.data),
            .detail = absl::StrCat("delivered ", event.deliveries, " times (the limit is ",
                                   options_.max_deliveries, ")")};
  }
  if (event.deleted || !event.has_data) {
    metrics_.DeadLettered(event.deleted ? "deleted" : "invalid");
    return {.detail = event.deleted ? "the entry was deleted from the stream before it was scored"
                                    : "the event has no 'data' field"};
  }
  const int64_t received_us = internal::NowMicros();
  DecodedRecord decoded;
  if (absl::Status s = loaded.decoder.DecodeOne(event.data, &decoded); !s.ok()) {
    metrics_.DeadLettered("invalid");
    return {.data = std::move(event.data), .detail = std::string(s.message())};
  }
  if (decoded.customer_id.empty()) {
    decoded.customer_id = event.customer_id;
  }
  PredictionRecord record = internal::ScoreRecord(loaded, decoded, received_us);
  const std::string key = absl::StrCat(stream, "/", event.id);
  record.request_id = internal::UsableRequestId(event.request_id) ? event.request_id : key;
  record.source = "stream";
  record.source_key = key;
  metrics_.Scoring().Scored(loaded, record, decoded);
  const std::string reasons =
      options_.reasons > 0 ? internal::ReasonsJson(loaded, decoded.features, options_.reasons) : "";
  Outcome out{.result = true,
              .data = internal::AnswerJson(loaded, record, reasons),
              .detail = record.customer_id};
  records->push_back(std::move(record));
  return out;
}

absl::Status StreamWorkerImpl::Process(std::vector<Event> events) {
  const absl::Time start = absl::Now();
  const std::shared_ptr<const LoadedModel> loaded = follower_.Current();
  std::vector<Outcome> outcomes;
  outcomes.reserve(events.size());
  std::vector<PredictionRecord> records;
  records.reserve(events.size());
  int64_t redelivered = 0;
  for (Event& event : events) {
    redelivered += event.deliveries > 1 ? 1 : 0;
    outcomes.push_back(Judge(*loaded, event, &records));
  }
  metrics_.Consumed().Increment(static_cast<double>(events.size()));
  metrics_.Redelivered().Increment(static_cast<double>(redelivered));
  Count([&](Stats& st) {
    st.consumed += static_cast<int64_t>(events.size());
    st.redelivered += redelivered;
  });
  // The predictions are in the log before any event is acknowledged.
  CHURN_RETURN_IF_ERROR(WritePredictions(std::move(records)));
  CHURN_RETURN_IF_ERROR(Acknowledge(events, outcomes));
  metrics_.BatchSeconds().Observe(absl::ToDoubleSeconds(absl::Now() - start));
  return absl::OkStatus();
}

absl::Status StreamWorkerImpl::WritePredictions(std::vector<PredictionRecord> records) {
  if (records.empty() || log_ == nullptr || !options_.log_predictions) {
    return absl::OkStatus();
  }
  absl::Notification logged;
  absl::Status result;
  CHURN_RETURN_IF_ERROR(log_->Append(std::move(records), [&](const absl::Status& s) {
    result = s;
    logged.Notify();
  }));
  logged.WaitForNotification();
  return result;
}

absl::StatusOr<RedisReply> StreamWorkerImpl::EvalAck(const std::vector<std::string>& args) {
  absl::StatusOr<RedisReply> reply = redis_->Command(args);
  if (!redis::IsRedisError(reply.status(), "NOSCRIPT")) {
    return reply;
  }
  // Redis restarted and forgot the script: load it again and retry once.
  CHURN_RETURN_IF_ERROR(LoadScript());
  std::vector<std::string> again = args;
  again[1] = script_sha_;
  return redis_->Command(again);
}

absl::Status StreamWorkerImpl::Acknowledge(const std::vector<Event>& events,
                                           const std::vector<Outcome>& outcomes) {
  std::vector<std::string> args = {"EVALSHA", script_sha_,
                                   absl::StrCat(2 + options_.streams.size()), options_.out_stream,
                                   options_.dead_stream};
  args.insert(args.end(), options_.streams.begin(), options_.streams.end());
  args.insert(args.end(), {options_.group, absl::StrCat(options_.out_maxlen)});
  args.reserve(args.size() + 6 * events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    args.push_back(absl::StrCat(events[i].stream + 3));  // KEYS are 1-based, inputs from 3
    args.push_back(events[i].id);
    args.emplace_back(outcomes[i].result ? "r" : "d");
    args.push_back(outcomes[i].data);
    args.push_back(outcomes[i].detail);
    args.push_back(absl::StrCat(events[i].deliveries));
  }
  CHURN_ASSIGN_OR_RETURN(const RedisReply reply, EvalAck(args));
  const int64_t written = reply.At(0).Integer();
  const int64_t dead = reply.At(1).Integer();
  const int64_t skipped = reply.At(2).Integer();
  metrics_.Produced().Increment(static_cast<double>(written));
  metrics_.Acked().Increment(static_cast<double>(written + dead));
  metrics_.Duplicates().Increment(static_cast<double>(skipped));
  Count([&](Stats& st) {
    st.produced += written;
    st.dead_lettered += dead;
    st.acked += written + dead;
    st.duplicates += skipped;
    ++st.batches;
  });
  return absl::OkStatus();
}

}  // namespace

uint32_t StreamPartition(absl::string_view customer_id, uint32_t partitions) {
  if (partitions <= 1) {
    return 0;
  }
  uint64_t h = 14695981039346656037ULL;  // FNV-1a 64
  for (const char c : customer_id) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return static_cast<uint32_t>(h % partitions);
}

std::vector<std::string> PartitionStreams(absl::string_view base, uint32_t partitions) {
  if (partitions <= 1) {
    return {std::string(base)};
  }
  std::vector<std::string> out;
  out.reserve(partitions);
  for (uint32_t p = 0; p < partitions; ++p) {
    out.push_back(absl::StrCat(base, ":", p));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<StreamWorker>> StreamWorker::Start(
    const StreamWorkerOptions& options, registry::Registry* registry, PredictionLog* log) {
  if (registry == nullptr || options.model.name.empty()) {
    return absl::InvalidArgumentError("stream worker: a registry and a model reference are needed");
  }
  if (options.consumer.empty()) {
    return absl::InvalidArgumentError("stream worker: a consumer name is needed (--consumer)");
  }
  if (options.streams.empty() || options.out_stream.empty() || options.group.empty()) {
    return absl::InvalidArgumentError(
        "stream worker: input streams, an output stream and a group are needed");
  }
  if (options.batch == 0 || options.max_deliveries < 1) {
    return absl::InvalidArgumentError("stream worker: batch and max deliveries must be positive");
  }
  if (options.group_start != "0" && options.group_start != "$") {
    return absl::InvalidArgumentError(absl::StrCat(
        "stream worker: a group starts at '0' or '$', not '", options.group_start, "'"));
  }
  CHURN_ASSIGN_OR_RETURN(redis::RedisUrl url, redis::ParseRedisUrl(options.redis_url));
  auto worker = std::make_unique<StreamWorkerImpl>(options, std::move(url), registry, log);
  CHURN_RETURN_IF_ERROR(worker->Start());
  return std::unique_ptr<StreamWorker>(std::move(worker));
}

}  // namespace churn::serving
