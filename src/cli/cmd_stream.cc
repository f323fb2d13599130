// churn serve stream: the stream worker (serving/stream_worker.h) until SIGINT or SIGTERM, which
// finish the batch in hand; SIGHUP re-resolves the model reference now.
// churn stream tail: prints the entries of a stream as JSON lines.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "nlohmann/json.hpp"

#include "churn/base/json_text.h"
#include "churn/base/logging.h"
#include "churn/base/status_macros.h"
#include "churn/redis/client.h"
#include "churn/serving/prediction_log.h"
#include "churn/serving/stream_worker.h"

namespace churn::cli {
namespace {

struct ServeStreamFlags {
  std::string redis = "redis://127.0.0.1:6379";
  std::string in = "churn:requests";
  int partitions = 1;
  std::string out = "churn:predictions";
  std::string dead;
  std::string group = "scorers";
  std::string consumer;
  std::string start = "earliest";
  int batch = 512;
  int block_ms = 200;
  double claim_idle_seconds = 30;
  int max_deliveries = 5;
  int64_t out_maxlen = 0;
  std::string metrics_host = "127.0.0.1";
  int metrics_port = 9697;
  std::optional<std::string> model;
  std::optional<std::string> predictions;
  std::optional<int> reasons;
  std::optional<std::string> unknown_category;
  std::optional<double> poll_seconds;
  bool no_log = false;
};

std::string DefaultConsumer() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) {
    host[0] = '\0';
  }
  return absl::StrCat(host[0] != '\0' ? host : "worker", "-", getpid());
}

absl::StatusOr<serving::StreamWorkerOptions> WorkerOptions(const base::ServeSettings& s,
                                                           const ServeStreamFlags& f) {
  if (f.partitions < 1 || f.batch < 1 || f.block_ms < 1 || f.max_deliveries < 1 ||
      f.claim_idle_seconds <= 0 || f.out_maxlen < 0 || s.reasons < 0 || s.poll_seconds < 0) {
    return absl::InvalidArgumentError(
        "serve stream: --partitions, --batch, --block-ms, --max-deliveries and --claim-idle must "
        "be positive; --out-maxlen, --reasons and --poll >= 0");
  }
  if (f.metrics_port < -1 || f.metrics_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-port ", f.metrics_port, " is not a port (-1: none)"));
  }
  if (f.start != "earliest" && f.start != "latest") {
    return absl::InvalidArgumentError(
        absl::StrCat("--start '", f.start, "': expected earliest or latest"));
  }
  CHURN_ASSIGN_OR_RETURN(serving::ModelRef ref, serving::ParseModelRef(s.model));
  CHURN_ASSIGN_OR_RETURN(serving::UnknownCategoryPolicy policy,
                         serving::UnknownCategoryPolicyFromString(s.unknown_category));
  return serving::StreamWorkerOptions{
      .model = std::move(ref),
      .redis_url = f.redis,
      .streams = serving::PartitionStreams(f.in, static_cast<uint32_t>(f.partitions)),
      .out_stream = f.out,
      .dead_stream = f.dead.empty() ? absl::StrCat(f.in, ":dead") : f.dead,
      .group = f.group,
      .consumer = f.consumer.empty() ? DefaultConsumer() : f.consumer,
      .group_start = f.start == "earliest" ? "0" : "$",
      .batch = static_cast<size_t>(f.batch),
      .block = absl::Milliseconds(f.block_ms),
      .claim_idle = absl::Seconds(f.claim_idle_seconds),
      .max_deliveries = f.max_deliveries,
      .out_maxlen = static_cast<size_t>(f.out_maxlen),
      .reasons = static_cast<size_t>(s.reasons),
      .unknown_category = policy,
      .poll_interval = absl::Seconds(s.poll_seconds),
      .metrics_host = f.metrics_host,
      .metrics_port = f.metrics_port,
      .log_predictions = !f.no_log};
}

absl::Status ServeStream(base::Config config, const ServeStreamFlags& f) {
  config.serve.model = f.model.value_or(config.serve.model);
  config.serve.predictions = f.predictions.value_or(config.serve.predictions);
  config.serve.reasons = f.reasons.value_or(config.serve.reasons);
  config.serve.unknown_category = f.unknown_category.value_or(config.serve.unknown_category);
  config.serve.poll_seconds = f.poll_seconds.value_or(config.serve.poll_seconds);
  CHURN_ASSIGN_OR_RETURN(serving::StreamWorkerOptions options, WorkerOptions(config.serve, f));
  CHURN_ASSIGN_OR_RETURN(options.drift, ConfiguredDriftOptions(config.drift));
  options.drift_interval = absl::Seconds(config.drift.interval_seconds);
  const sigset_t signals = BlockStopSignals();
  CHURN_ASSIGN_OR_RETURN(auto registry, OpenConfiguredRegistry(config));
  std::unique_ptr<serving::PredictionLog> log;
  if (options.log_predictions) {
    CHURN_ASSIGN_OR_RETURN(log, OpenConfiguredPredictionLog(config));
  }
  CHURN_ASSIGN_OR_RETURN(auto worker,
                         serving::StreamWorker::Start(options, registry.get(), log.get()));
  Print(absl::StrCat(
      "churn stream worker ", options.consumer, " (group ", options.group, ") scoring ",
      options.model.ToString(),
      worker->ServingVersion() > 0 ? absl::StrCat(" (version ", worker->ServingVersion(), ")")
                                   : std::string(" (not resolvable yet: waiting)"),
      " from ", absl::StrJoin(options.streams, ","), " to ", options.out_stream, " on ", f.redis,
      "; metrics on ",
      worker->MetricsPort() > 0
          ? absl::StrCat("http://", options.metrics_host, ":", worker->MetricsPort(), "/metrics")
          : std::string("nothing"),
      "; predictions to ", log != nullptr ? log->Describe() : "nowhere (--no-log)", "\n"));
  std::fflush(stdout);
  WaitForStopSignal(signals);
  worker->Stop();
  const serving::StreamWorker::Stats st = worker->GetStats();
  base::LogInfo(absl::StrCat("stream worker stopped: ", st.consumed, " consumed, ", st.produced,
                             " results, ", st.dead_lettered, " dead letters, ", st.reclaimed,
                             " reclaimed"));
  worker.reset();
  if (log != nullptr) {
    log->Close();
  }
  return absl::OkStatus();
}

struct TailFlags {
  std::string redis = "redis://127.0.0.1:6379";
  std::string stream = "churn:predictions";
  std::string from = "0";
  int64_t count = 0;
  bool follow = false;
  double wait_seconds = 0;
};

// One entry as a JSON line: {"id":..., "field": value, ...}; a `data` field that holds JSON is
// embedded as JSON, other values are strings.
std::string EntryLine(const redis::RedisReply& entry) {
  std::string line = R"({"id":)";
  base::AppendJsonString(entry.At(0).Str(), &line);
  const redis::RedisReply fields = entry.At(1);
  for (size_t f = 0; f + 1 < fields.Size(); f += 2) {
    line.push_back(',');
    base::AppendJsonString(fields.At(f).Str(), &line);
    line.push_back(':');
    const absl::string_view value = fields.At(f + 1).Str();
    if (fields.At(f).Str() == "data" &&
        nlohmann::json::accept(std::string_view(value.data(), value.size()))) {
      line.append(value.data(), value.size());
    } else {
      base::AppendJsonString(value, &line);
    }
  }
  line.append("}\n");
  return line;
}

absl::Status Tail(const TailFlags& f) {
  if (f.count < 0 || f.wait_seconds < 0) {
    return absl::InvalidArgumentError("stream tail: --count and --wait must be >= 0");
  }
  CHURN_ASSIGN_OR_RETURN(const redis::RedisUrl url, redis::ParseRedisUrl(f.redis));
  const absl::Duration block = absl::Milliseconds(500);
  CHURN_ASSIGN_OR_RETURN(
      auto redis, redis::RedisConnection::Open(url, {.command_timeout = block + absl::Seconds(5)}));
  std::string last = f.from == "latest" ? "$" : f.from;
  int64_t printed = 0;
  const absl::Time until = absl::Now() + absl::Seconds(f.wait_seconds);
  for (;;) {
    const int64_t want = f.count > 0 ? std::min<int64_t>(1000, f.count - printed) : 1000;
    std::vector<std::string> args = {"XREAD", "COUNT", absl::StrCat(want)};
    const bool block_now = f.follow || absl::Now() < until;
    if (block_now) {
      args.insert(args.end(), {"BLOCK", absl::StrCat(absl::ToInt64Milliseconds(block))});
    }
    args.insert(args.end(), {"STREAMS", f.stream, last});
    CHURN_ASSIGN_OR_RETURN(const redis::RedisReply reply, redis->Command(args));
    const redis::RedisReply entries = reply.At(0).At(1);
    std::string out;
    for (size_t e = 0; e < entries.Size(); ++e) {
      out.append(EntryLine(entries.At(e)));
      last = std::string(entries.At(e).At(0).Str());
    }
    Print(out);
    std::fflush(stdout);
    printed += static_cast<int64_t>(entries.Size());
    if (f.count > 0 && printed >= f.count) {
      return absl::OkStatus();
    }
    if (entries.Size() == 0 && !block_now) {
      return absl::OkStatus();
    }
  }
}

}  // namespace

void AddServeStreamCommand(CLI::App& serve, Context& ctx) {
  auto f = std::make_shared<ServeStreamFlags>();
  CLI::App* cmd = serve.add_subcommand(
      "stream", "Score events from Redis Streams (consumer groups, at least once, dead letters)");
  cmd->add_option("--redis", f->redis, "Redis URL (default redis://127.0.0.1:6379)");
  cmd->add_option("--in", f->in, "Input stream, or the base name of partitioned ones");
  cmd->add_option("--partitions", f->partitions, "Read IN:0 .. IN:N-1 (default 1: IN itself)");
  cmd->add_option("--out", f->out, "Results stream (default churn:predictions)");
  cmd->add_option("--dead", f->dead, "Dead-letter stream (default IN:dead)");
  cmd->add_option("--group", f->group, "Consumer group (default scorers)");
  cmd->add_option("--consumer", f->consumer,
                  "This worker's name in the group, stable across restarts (default HOST-PID)");
  cmd->add_option("--start", f->start, "A new group reads from: earliest (default) or latest");
  cmd->add_option("--batch", f->batch, "Events per read (default 512)");
  cmd->add_option("--block-ms", f->block_ms, "How long a read waits for events (default 200)");
  cmd->add_option("--claim-idle", f->claim_idle_seconds,
                  "Seconds an event stays pending before another worker takes it (default 30)");
  cmd->add_option("--max-deliveries", f->max_deliveries,
                  "Deliveries before an event goes to the dead letters (default 5)");
  cmd->add_option("--out-maxlen", f->out_maxlen, "Cap the results stream (~MAXLEN; 0: none)");
  cmd->add_option("--metrics-host", f->metrics_host, "Metrics address (default 127.0.0.1)");
  cmd->add_option("--metrics-port", f->metrics_port,
                  "Port of /metrics and /health (default 9697; 0: a free one; -1: none)");
  cmd->add_option("--model", f->model, "NAME@ALIAS or NAME@VERSION (default serve.model)");
  cmd->add_option("--predictions", f->predictions, "Prediction store URL (default serve's)");
  cmd->add_option("--reasons", f->reasons, "Top features per result (default 3; 0: none)");
  cmd->add_option("--unknown-category", f->unknown_category, "reject or unknown_bucket");
  cmd->add_option("--poll", f->poll_seconds, "Seconds between model-reference checks");
  cmd->add_flag("--no-log", f->no_log, "Do not log predictions (only to measure the log)");
  cmd->callback([&ctx, f] { ctx.action = [&ctx, f] { return ServeStream(ctx.config, *f); }; });
}

void AddStreamCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("stream", "Redis Streams tools");
  cmd->require_subcommand(1);
  auto f = std::make_shared<TailFlags>();
  CLI::App* tail = cmd->add_subcommand("tail", "Print a stream's entries as JSON lines");
  tail->add_option("--redis", f->redis, "Redis URL (default redis://127.0.0.1:6379)");
  tail->add_option("--stream", f->stream, "Stream (default churn:predictions)");
  tail->add_option("--from", f->from, "Entries after this id: 0 (default: all) or latest");
  tail->add_option("--count", f->count, "Stop after this many entries (default: all there are)");
  tail->add_option("--wait", f->wait_seconds, "Keep waiting this many seconds for entries");
  tail->add_flag("--follow,-f", f->follow, "Keep printing new entries until interrupted");
  tail->callback([&ctx, f] { ctx.action = [f] { return Tail(*f); }; });
}

}  // namespace churn::cli
