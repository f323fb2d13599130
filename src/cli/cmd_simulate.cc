// churn simulate http: the business simulator over HTTP. Samples records (never the label) from
// the synthetic generator (optionally drifted) or a feature-store snapshot, sends them to a
// model server at a fixed rate, and reports what came back: answers by status, transport errors,
// latency percentiles, the rate achieved. The reference's sender ("one record every 60 s") is
// `--rate 1/60s`.
#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"
#include "churn/base/time.h"
#include "churn/data/csv_table.h"
#include "churn/data/synth.h"
#include "churn/features/feature_store.h"
#include "churn/http/client.h"
#include "churn/metrics/percentile.h"
#include "churn/serving/request_decoder.h"

namespace churn::cli {
namespace {

struct SimulateFlags {
  std::string url = "http://127.0.0.1:9696/predict";
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
  const size_t at = f.source.find('@');
  const std::string dataset = f.source.substr(0, at);
  const std::string snapshot = at == std::string::npos ? "" : f.source.substr(at + 1);
  CHURN_ASSIGN_OR_RETURN(auto store, features::FeatureStore::Open(config, base::SystemClock()));
  CHURN_ASSIGN_OR_RETURN(const features::SnapshotInfo snap,
                         store->Offline().GetSnapshot(dataset, snapshot));
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
}

}  // namespace churn::cli
