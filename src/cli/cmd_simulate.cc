// The business simulators. Both sample records (never the label) from the synthetic generator
// (optionally drifted) or a feature-store snapshot and send them at a fixed rate.
// churn simulate http: POSTs them to a model server and reports what came back: answers by
// status, transport errors, latency percentiles, the rate achieved. The reference's sender ("one
// record every 60 s") is `--rate 1/60s`.
// churn simulate stream: XADDs them as events (data, request_id, customer_id) to a stream, or to
// partitions by hash of the customer id, pipelined; it reconnects when Redis goes away.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"
#include "churn/base/time.h"
#include "churn/data/csv_table.h"
#include "churn/data/synth.h"
#include "churn/features/feature_store.h"
#include "churn/http/client.h"
#include "churn/metrics/percentile.h"
#include "churn/redis/client.h"
#include "churn/serving/request_decoder.h"
#include "churn/serving/stream_worker.h"

namespace churn::cli {
namespace {

struct SimulateFlags {
  std::string url = "http://127.0.0.1:9696/predict";
  // simulate stream
  std::string redis = "redis://127.0.0.1:6379";
  std::string stream = "churn:requests";
  int partitions = 1;
  int64_t maxlen = 0;
  std::string rate = "10";
  std::string source = "synth";
  std::vector<std::string> drift;
  std::string duration = "60s";
  int64_t max = 0;
  uint64_t seed = 42;
  bool json = false;
};

// "50" or "50/s" (per second), "1/60s", "5/1m": records per second.
absl::StatusOr<double> ParseRate(const std::string& text) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "--rate '", text, "': expected records per second (10) or N/DURATION (1/60s, 5/1m)"));
  };
  const size_t slash = text.find('/');
  double n = 0;
  if (!absl::SimpleAtod(text.substr(0, slash), &n) || !(n > 0) || !std::isfinite(n)) {
    return bad();
  }
  if (slash == std::string::npos) {
    return n;
  }
  std::string per = text.substr(slash + 1);
  if (per == "s") {
    per = "1s";
  }
  absl::Duration d;
  if (!absl::ParseDuration(per, &d) || d <= absl::ZeroDuration()) {
    return bad();
  }
  return n / absl::ToDoubleSeconds(d);
}

// The rows to sample from, with their schema.
absl::StatusOr<std::pair<data::Schema, data::Table>> SimulationRows(const base::Config& config,
                                                                    const SimulateFlags& f) {
  if (f.source == "synth") {
    data::SynthOptions options{.rows = 10000, .seed = f.seed};
    for (const std::string& spec : f.drift) {
      CHURN_ASSIGN_OR_RETURN(data::SynthDrift drift, data::ParseSynthDrift(spec));
      options.drift.push_back(std::move(drift));
    }
    CHURN_ASSIGN_OR_RETURN(const std::string csv, data::GenerateSynthCsv(options));
    CHURN_ASSIGN_OR_RETURN(data::Schema schema, features::BuiltinSchema("bank_churners"));
    CHURN_ASSIGN_OR_RETURN(data::ReadTableResult read,
                           data::ReadCsvTable(csv, schema, data::ReadTableOptions{}));
    return std::make_pair(std::move(schema), std::move(read.table));
  }
  if (!f.drift.empty()) {
    return absl::InvalidArgumentError("--drift applies to --source synth only");
  }
  CHURN_ASSIGN_OR_RETURN(auto store, features::FeatureStore::Open(config, base::SystemClock()));
  CHURN_ASSIGN_OR_RETURN(const features::SnapshotInfo snap,
                         store->Offline().GetSnapshotRef(f.source));
  CHURN_ASSIGN_OR_RETURN(data::Schema schema, store->Offline().LoadSchema(snap));
  CHURN_ASSIGN_OR_RETURN(data::Table table, store->Offline().LoadTable(snap));
  return std::make_pair(std::move(schema), std::move(table));
}

struct SimulationReport {
  int64_t sent = 0;
  int64_t transport_errors = 0;
  int64_t behind_schedule = 0;
  std::map<int, int64_t> statuses;
  std::vector<double> latencies_ms;
  double seconds = 0;
  std::string last_error;
};

std::string ReportText(const SimulationReport& r, const SimulateFlags& f) {
  std::string statuses;
  for (const auto& [status, n] : r.statuses) {
    absl::StrAppend(&statuses, statuses.empty() ? "" : ", ", status, ": ", n);
  }
  return absl::StrFormat(
      "sent %d records to %s in %.1f s (%.2f/s, asked %s)\n"
      "answers by status: %s\ntransport errors: %d%s\n"
      "latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\nbehind schedule: %d\n",
      r.sent, f.url, r.seconds, r.seconds > 0 ? static_cast<double>(r.sent) / r.seconds : 0.0,
      f.rate, statuses.empty() ? "none" : statuses, r.transport_errors,
      r.last_error.empty() ? "" : absl::StrCat(" (last: ", r.last_error, ")"),
      metrics::NearestRankPercentile(r.latencies_ms, 0.5),
      metrics::NearestRankPercentile(r.latencies_ms, 0.9),
      metrics::NearestRankPercentile(r.latencies_ms, 0.99),
      metrics::NearestRankPercentile(r.latencies_ms, 1.0), r.behind_schedule);
}

std::string ReportJson(const SimulationReport& r, const SimulateFlags& f) {
  nlohmann::json statuses = nlohmann::json::object();
  for (const auto& [status, n] : r.statuses) {
    statuses[std::to_string(status)] = n;
  }
  return nlohmann::json{{"url", f.url},
                        {"sent", r.sent},
                        {"seconds", r.seconds},
                        {"statuses", statuses},
                        {"transport_errors", r.transport_errors},
                        {"behind_schedule", r.behind_schedule},
                        {"latency_ms",
                         {{"p50", metrics::NearestRankPercentile(r.latencies_ms, 0.5)},
                          {"p90", metrics::NearestRankPercentile(r.latencies_ms, 0.9)},
                          {"p99", metrics::NearestRankPercentile(r.latencies_ms, 0.99)},
                          {"max", metrics::NearestRankPercentile(r.latencies_ms, 1.0)}}}}
             .dump(2) +
         "\n";
}

absl::Status Simulate(const base::Config& config, const SimulateFlags& f) {
  CHURN_ASSIGN_OR_RETURN(const double rate, ParseRate(f.rate));
  absl::Duration duration;
  if (!absl::ParseDuration(f.duration, &duration) || duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--duration '", f.duration, "': expected a duration such as 30s or 5m"));
  }
  if (f.max < 0) {
    return absl::InvalidArgumentError("--max must be >= 0");
  }
  CHURN_ASSIGN_OR_RETURN(const http::Url url, http::ParseUrl(f.url));
  CHURN_ASSIGN_OR_RETURN(const auto rows, SimulationRows(config, f));
  const data::Table& table = rows.second;
  if (table.NumRows() == 0) {
    return absl::InvalidArgumentError("the source has no rows");
  }
  http::Client client(url, absl::Seconds(10));
  std::mt19937_64 rng(f.seed);
  std::uniform_int_distribution<size_t> pick(0, table.NumRows() - 1);
  SimulationReport report;
  const absl::Time start = absl::Now();
  const absl::Duration interval = absl::Seconds(1.0 / rate);
  for (int64_t i = 0; f.max == 0 || i < f.max; ++i) {
    const absl::Time due = start + interval * static_cast<double>(i);
    if (due - start >= duration) {
      break;
    }
    if (absl::Now() > due + interval) {
      ++report.behind_schedule;
    }
    absl::SleepFor(due - absl::Now());
    const std::string body = serving::RecordJson(rows.first, table, pick(rng), true);
    const absl::Time sent = absl::Now();
    absl::StatusOr<http::ClientResponse> answer = client.Post(url.target, body);
    ++report.sent;
    if (!answer.ok()) {
      ++report.transport_errors;
      report.last_error = std::string(answer.status().message());
      continue;
    }
    report.latencies_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - sent));
    ++report.statuses[answer->status];
  }
  report.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  Print(f.json ? ReportJson(report, f) : ReportText(report, f));
  return absl::OkStatus();
}

// The events of one pipelined round: XADD commands, and how many go to each partition.
struct EventBatch {
  std::vector<std::vector<std::string>> commands;
  std::vector<uint32_t> partitions;
};

EventBatch MakeEvents(const SimulateFlags& f, const std::pair<data::Schema, data::Table>& rows,
                      const std::vector<std::string>& streams, int64_t first, int64_t n,
                      const std::function<size_t()>& pick) {
  const data::Column* entity = rows.second.Find(rows.first.entity_key);
  EventBatch batch;
  for (int64_t i = 0; i < n; ++i) {
    const size_t row = pick();
    const std::string customer = entity != nullptr ? entity->AsText(row) : "";
    const uint32_t partition =
        serving::StreamPartition(customer, static_cast<uint32_t>(streams.size()));
    std::vector<std::string> args = {"XADD", streams[partition]};
    if (f.maxlen > 0) {
      args.insert(args.end(), {"MAXLEN", "~", absl::StrCat(f.maxlen)});
    }
    args.insert(args.end(),
                {"*", "data", serving::RecordJson(rows.first, rows.second, row, true), "request_id",
                 absl::StrCat("sim-", f.seed, "-", first + i), "customer_id", customer});
    batch.commands.push_back(std::move(args));
    batch.partitions.push_back(partition);
  }
  return batch;
}

struct StreamReport {
  int64_t sent = 0;
  int64_t redis_errors = 0;
  std::vector<int64_t> per_partition;
  double seconds = 0;
  std::string last_error;
};

// Sends one round, reconnecting (with backoff, until `deadline`) when Redis is down.
absl::Status SendRound(const redis::RedisUrl& url, const EventBatch& batch, absl::Time deadline,
                       std::unique_ptr<redis::RedisConnection>* redis, StreamReport* report) {
  absl::Duration backoff = absl::Milliseconds(50);
  for (;;) {
    absl::Status s;
    if (*redis == nullptr) {
      absl::StatusOr<std::unique_ptr<redis::RedisConnection>> c = redis::RedisConnection::Open(url);
      s = c.status();
      if (c.ok()) {
        *redis = *std::move(c);
      }
    }
    if (s.ok()) {
      s = (*redis)->Pipeline(batch.commands).status();
    }
    if (s.ok()) {
      report->sent += static_cast<int64_t>(batch.commands.size());
      for (const uint32_t p : batch.partitions) {
        ++report->per_partition[p];
      }
      return absl::OkStatus();
    }
    ++report->redis_errors;
    report->last_error = std::string(s.message());
    if (!absl::IsUnavailable(s)) {
      return s;  // Redis refused the command: retrying would not help
    }
    redis->reset();
    if (absl::Now() + backoff > deadline) {
      return s;
    }
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
}

absl::Status SimulateStream(const base::Config& config, const SimulateFlags& f) {
  const bool unpaced = f.rate == "max";
  double rate = 0;
  if (!unpaced) {
    CHURN_ASSIGN_OR_RETURN(rate, ParseRate(f.rate));
  }
  absl::Duration duration;
  if (!absl::ParseDuration(f.duration, &duration) || duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--duration '", f.duration, "': expected a duration such as 30s or 5m"));
  }
  if (f.max < 0 || f.partitions < 1 || f.maxlen < 0) {
    return absl::InvalidArgumentError("--max and --maxlen must be >= 0, --partitions >= 1");
  }
  CHURN_ASSIGN_OR_RETURN(const redis::RedisUrl url, redis::ParseRedisUrl(f.redis));
  CHURN_ASSIGN_OR_RETURN(const auto rows, SimulationRows(config, f));
  if (rows.second.NumRows() == 0) {
    return absl::InvalidArgumentError("the source has no rows");
  }
  const std::vector<std::string> streams =
      serving::PartitionStreams(f.stream, static_cast<uint32_t>(f.partitions));
  std::mt19937_64 rng(f.seed);
  std::uniform_int_distribution<size_t> pick(0, rows.second.NumRows() - 1);
  std::unique_ptr<redis::RedisConnection> redis;
  StreamReport report;
  report.per_partition.resize(streams.size());
  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;
  constexpr int64_t kRound = 500;
  while ((f.max == 0 || report.sent < f.max) && absl::Now() < end) {
    const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
    int64_t n = unpaced ? kRound : static_cast<int64_t>(elapsed * rate) + 1 - report.sent;
    n = std::min({n, kRound, f.max == 0 ? kRound : f.max - report.sent});
    if (n <= 0) {
      absl::SleepFor(start + absl::Seconds(static_cast<double>(report.sent + 1) / rate) -
                     absl::Now());
      continue;
    }
    const EventBatch batch =
        MakeEvents(f, rows, streams, report.sent, n, [&] { return pick(rng); });
    CHURN_RETURN_IF_ERROR(SendRound(url, batch, end, &redis, &report));
  }
  report.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  nlohmann::json out{
      {"redis", url.ToString()},
      {"streams", streams},
      {"sent", report.sent},
      {"per_partition", report.per_partition},
      {"seconds", report.seconds},
      {"rate", report.seconds > 0 ? static_cast<double>(report.sent) / report.seconds : 0.0},
      {"redis_errors", report.redis_errors}};
  if (f.json) {
    Print(out.dump(2) + "\n");
    return absl::OkStatus();
  }
  Print(absl::StrFormat(
      "sent %d events to %s in %.1f s (%.0f/s, asked %s)\nredis errors: %d%s\n", report.sent,
      absl::StrJoin(streams, ","), report.seconds, out["rate"].get<double>(), f.rate,
      report.redis_errors,
      report.last_error.empty() ? "" : absl::StrCat(" (last: ", report.last_error, ")")));
  return absl::OkStatus();
}

}  // namespace

void AddSimulateCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("simulate", "Business simulators: send traffic to a server");
  cmd->require_subcommand(1);
  auto f = std::make_shared<SimulateFlags>();
  CLI::App* http = cmd->add_subcommand(
      "http", "POST sampled records (never the label) to a model server at a fixed rate");
  http->add_option("--url", f->url, "Where to send (default http://127.0.0.1:9696/predict)");
  http->add_option("--rate", f->rate,
                   "Records per second, or N/DURATION such as 1/60s (default 10)");
  http->add_option("--source", f->source,
                   "synth (the generator) or DATASET[@SNAPSHOT] from the feature store");
  http->add_option("--drift", f->drift, "Drift scenario for synth: shift:COL=D, scale:COL=F, ...");
  http->add_option("--duration", f->duration, "How long (default 60s)");
  http->add_option("--max", f->max, "Stop after this many records (default: the duration only)");
  http->add_option("--seed", f->seed, "Sampling and generator seed (default 42)");
  http->add_flag("--json", f->json, "Report as JSON");
  http->callback([&ctx, f] { ctx.action = [&ctx, f] { return Simulate(ctx.config, *f); }; });

  auto g = std::make_shared<SimulateFlags>();
  g->rate = "100";
  CLI::App* stream = cmd->add_subcommand(
      "stream", "XADD sampled records (never the label) to Redis Streams at a fixed rate");
  stream->add_option("--redis", g->redis, "Redis URL (default redis://127.0.0.1:6379)");
  stream->add_option("--stream", g->stream, "Stream, or the base name of partitioned ones");
  stream->add_option("--partitions", g->partitions,
                     "Send to STREAM:0 .. STREAM:N-1 by hash of the customer id (default 1)");
  stream->add_option("--rate", g->rate, "Events per second, N/DURATION, or max (default 100)");
  stream->add_option("--source", g->source,
                     "synth (the generator) or DATASET[@SNAPSHOT] from the feature store");
  stream->add_option("--drift", g->drift, "Drift scenario for synth: shift:COL=D, scale:COL=F");
  stream->add_option("--duration", g->duration, "How long (default 60s)");
  stream->add_option("--max", g->max, "Stop after this many events (default: the duration only)");
  stream->add_option("--maxlen", g->maxlen, "Cap each stream (~MAXLEN; default 0: none)");
  stream->add_option("--seed", g->seed, "Sampling and generator seed (default 42)");
  stream->add_flag("--json", g->json, "Report as JSON");
  stream->callback(
      [&ctx, g] { ctx.action = [&ctx, g] { return SimulateStream(ctx.config, *g); }; });
}

}  // namespace churn::cli
