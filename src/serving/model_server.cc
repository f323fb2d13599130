#include "churn/serving/model_server.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <csignal>
#include <limits>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
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
#include "churn/base/time.h"
#include "churn/http/server.h"

namespace churn::serving {
namespace {

using http::Request;
using http::Responder;
using http::Response;
using Json = nlohmann::json;

using internal::LoadedModel;
using internal::NowMicros;
using internal::UsableRequestId;

// The Prometheus metrics of one server: the HTTP ones and the scoring ones.
class Metrics {
 public:
  Metrics()
      : requests_(prometheus::BuildCounter()
                      .Name("churn_http_requests_total")
                      .Help("HTTP requests answered, by route and status code")
                      .Register(registry_)),
        latency_(prometheus::BuildHistogram()
                     .Name("churn_http_request_duration_seconds")
                     .Help("Time from reading a request to handing its answer to the socket")
                     .Register(registry_)),
        scoring_(registry_) {}

  void Answered(const std::string& route, int code, double seconds) {
    prometheus::Counter* counter = nullptr;
    prometheus::Histogram* histogram = nullptr;
    {
      absl::MutexLock lock(&mu_);
      auto& c = counters_[std::make_pair(route, code)];
      if (c == nullptr) {
        c = &requests_.Add({{"route", route}, {"code", absl::StrCat(code)}});
      }
      counter = c;
      auto& h = histograms_[route];
      if (h == nullptr) {
        h = &latency_.Add({{"route", route}}, prometheus::Histogram::BucketBoundaries{
                                                  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                  0.01, 0.025, 0.05, 0.1, 0.25, 1});
      }
      histogram = h;
    }
    counter->Increment();
    histogram->Observe(seconds);
  }

  internal::ScoringMetrics& Scoring() { return scoring_; }

  std::string Text(const PredictionLog* log) { return scoring_.Text(log); }

 private:
  prometheus::Registry registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  internal::ScoringMetrics scoring_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::pair<std::string, int>, prometheus::Counter*> counters_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Histogram*> histograms_ ABSL_GUARDED_BY(mu_);
};

// Request ids: a random per-process prefix and a counter ("5f3a9c1e-000000000000002a").
class RequestIds {
 public:
  RequestIds() : prefix_(absl::StrCat(absl::Hex(std::random_device()(), absl::kZeroPad8), "-")) {}

  std::string Next() {
    return absl::StrCat(prefix_, absl::Hex(counter_.fetch_add(1), absl::kZeroPad12));
  }

 private:
  const std::string prefix_;
  std::atomic<uint64_t> counter_{1};
};

Response Unavailable(absl::string_view message) {
  Response r = Response::Error(503, message);
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

class ModelServerImpl final : public ModelServer {
 public:
  ModelServerImpl(ModelServerOptions options, registry::Registry* registry, PredictionLog* log)
      : options_(std::move(options)),
        log_(log),
        follower_({.model = options_.model,
                   .unknown_category = options_.unknown_category,
                   .poll_interval = options_.poll_interval,
                   .who = "serve",
                   .drift = options_.drift},
                  registry, &metrics_.Scoring()),
        drift_(metrics_.Scoring().Registry(), &follower_, options_.drift_interval) {}

  ~ModelServerImpl() override { Drain(); }

  ModelServerImpl(const ModelServerImpl&) = delete;
  ModelServerImpl& operator=(const ModelServerImpl&) = delete;

  absl::Status Start() {
    CHURN_RETURN_IF_ERROR(follower_.Start());
    drift_.Start();
    AddRoutes();
    if (options_.extra_routes) {
      options_.extra_routes(router_, *this);
    }
    CHURN_ASSIGN_OR_RETURN(server_, http::Server::Start({.host = options_.host,
                                                         .port = options_.port,
                                                         .threads = options_.threads,
                                                         .max_body_bytes = options_.max_body_bytes,
                                                         .server_name = "churn-serve"},
                                                        [this](Request request, Responder respond) {
                                                          Handle(std::move(request),
                                                                 std::move(respond));
                                                        }));
    return absl::OkStatus();
  }

  uint16_t Port() const override { return server_->Port(); }

  int64_t ServingVersion() const override { return follower_.ServingVersion(); }

  std::string DriftJson() const override { return drift_.LastJson(); }

  absl::StatusOr<int64_t> Reload() override { return follower_.Reload(); }

  int64_t Drain() override {
    {
      absl::MutexLock lock(&mu_);
      if (drained_) {
        return 0;
      }
      drained_ = true;
    }
    drift_.Stop();
    follower_.Stop();
    int64_t left = 0;
    if (server_ != nullptr) {
      // The server waits for requests in flight; their log records commit meanwhile (the log's
      // callbacks answer them), so once it returns every answered record is in the log.
      left = server_->Drain(options_.drain_timeout);
    }
    if (log_ != nullptr) {
      log_->Flush();
    }
    server_.reset();
    return left;
  }

 private:
  std::shared_ptr<const LoadedModel> Current() const { return follower_.Current(); }

  void AddRoutes();
  void Handle(Request request, Responder respond);
  void Predict(const Request& request, const std::shared_ptr<Responder>& respond, bool batch);
  void Infer(const Request& request, const std::shared_ptr<Responder>& respond);
  void Feedback(const Request& request, const std::shared_ptr<Responder>& respond);

  // One scoring call: what was decoded, and how its answer is written.
  struct ScoreCall {
    std::string source{};
    std::vector<DecodedRecord> records{};
    int64_t received_us = 0;
    std::string request_id{};
    std::function<std::string(const std::vector<PredictionRecord>&,
                              const std::vector<std::string>&)>
        render{};
  };

  void Score(const LoadedModel& loaded, ScoreCall call, const std::shared_ptr<Responder>& respond);
  Response ModelInfo() const;
  Response V2Metadata() const;

  const ModelServerOptions options_;
  PredictionLog* const log_;
  Metrics metrics_;
  internal::ModelFollower follower_;
  internal::DriftExporter drift_;
  RequestIds ids_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;

  mutable absl::Mutex mu_;
  bool drained_ ABSL_GUARDED_BY(mu_) = false;
};

void ModelServerImpl::Handle(Request request, Responder respond) {
  // The route label of the metrics: the path of a fixed route, else a bounded family name.
  static const auto* const kRoutes = new absl::flat_hash_set<std::string>{
      "/predict", "/predict/batch", "/v2/health/live", "/v2/health/ready", "/health",
      "/model",   "/metrics",       "/feedback",       "/admin/reload",    "/drift"};
  std::string route = kRoutes->contains(request.path)                 ? request.path
                      : absl::StartsWith(request.path, "/v2/models/") ? "/v2/models"
                      : absl::StartsWith(request.path, "/reports")    ? "/reports"
                      : absl::StartsWith(request.path, "/ui")         ? "/ui"
                                                                      : "other";
  const absl::Time start = absl::Now();
  // Counts the answer, whichever thread gives it.
  auto inner = std::make_shared<Responder>(std::move(respond));
  Responder counted([this, inner, route = std::move(route), start](Response response) {
    metrics_.Answered(route, response.status, absl::ToDoubleSeconds(absl::Now() - start));
    (*inner)(std::move(response));
  });
  router_.DispatchAsync(std::move(request), std::move(counted));
}

void ModelServerImpl::AddRoutes() {
  router_.HandleAsync("POST", "/predict", [this](const Request& request, Responder respond) {
    Predict(request, std::make_shared<Responder>(std::move(respond)), false);
  });
  router_.HandleAsync("POST", "/predict/batch", [this](const Request& request, Responder respond) {
    Predict(request, std::make_shared<Responder>(std::move(respond)), true);
  });
  router_.HandleAsync("POST", "/feedback", [this](const Request& request, Responder respond) {
    Feedback(request, std::make_shared<Responder>(std::move(respond)));
  });
  router_.Handle("GET", "/v2/health/live",
                 [](const Request&) { return Response::Json(200, R"({"live":true})"); });
  const auto ready = [this](const Request&) {
    return Current() != nullptr ? Response::Json(200, R"({"ready":true})")
                                : Response::Json(503, R"({"ready":false})");
  };
  router_.Handle("GET", "/v2/health/ready", ready);
  router_.Handle("GET", "/health", [this](const Request&) {
    const std::shared_ptr<const LoadedModel> loaded = Current();
    if (loaded == nullptr) {
      return Response::Json(503, absl::StrCat(R"({"status":"unready","model":null,"reference":)",
                                              Json(options_.model.ToString()).dump(), "}"));
    }
    return Response::Json(200, absl::StrCat(R"({"status":"ok","model":)", loaded->model_json, "}"));
  });
  router_.Handle("GET", "/model", [this](const Request&) { return ModelInfo(); });
  // The served version's live drift, computed now unless it is fresh (the gauges are set
  // too).
  router_.Handle("GET", "/drift", [this](const Request&) {
    drift_.UpdateIfOlder(drift_.FreshFor());
    return Response::Json(200, drift_.LastJson());
  });
  router_.Handle("GET", "/metrics", [this](const Request&) {
    return Response{.status = 200,
                    .content_type = "text/plain; version=0.0.4; charset=utf-8",
                    .body = metrics_.Text(log_)};
  });
  const std::string v2 = absl::StrCat("/v2/models/", options_.model.name);
  router_.Handle("GET", v2, [this](const Request&) { return V2Metadata(); });
  router_.Handle("GET", absl::StrCat(v2, "/ready"), ready);
  router_.HandleAsync("POST", absl::StrCat(v2, "/infer"),
                      [this](const Request& request, Responder respond) {
                        Infer(request, std::make_shared<Responder>(std::move(respond)));
                      });
  router_.Handle("POST", "/admin/reload", [this](const Request& request) {
    if (!options_.admin_token.empty() &&
        request.Header("authorization") != absl::StrCat("Bearer ", options_.admin_token)) {
      return Response::Error(401, "reload needs the admin token (Authorization: Bearer ...)");
    }
    absl::StatusOr<int64_t> served = Reload();
    if (!served.ok()) {
      return Response::Error(absl::IsNotFound(served.status()) ? 404 : 409,
                             served.status().message());
    }
    return Response::Json(200, absl::StrCat(R"({"version":)", *served, "}"));
  });
}

// Scores `records`, logs them, and answers with render(scored, reasons) once they are
// committed.
void ModelServerImpl::Score(const LoadedModel& loaded, ScoreCall call,
                            const std::shared_ptr<Responder>& respond) {
  std::vector<DecodedRecord>& records = call.records;
  std::vector<PredictionRecord> scored;
  scored.reserve(records.size());
  std::vector<std::string> reasons(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    DecodedRecord& r = records[i];
    PredictionRecord& p = scored.emplace_back(internal::ScoreRecord(loaded, r, call.received_us));
    p.request_id = records.size() == 1 ? call.request_id : absl::StrCat(call.request_id, "-", i);
    p.source = call.source;
    metrics_.Scoring().Scored(loaded, p, r);
    if (options_.reasons > 0) {
      reasons[i] = internal::ReasonsJson(loaded, r.features, options_.reasons);
    }
  }
  std::string body = call.render(scored, reasons);
  if (!options_.log_predictions || log_ == nullptr) {
    (*respond)(Response::Json(200, std::move(body)));
    return;
  }
  absl::Status queued = log_->Append(std::move(scored), [respond, body = std::move(body)](
                                                            const absl::Status& logged) mutable {
    (*respond)(logged.ok()
                   ? Response::Json(200, std::move(body))
                   : Unavailable(absl::StrCat("prediction log write failed: ", logged.message())));
  });
  if (!queued.ok()) {
    (*respond)(Unavailable(queued.message()));
  }
}

void ModelServerImpl::Predict(const Request& request, const std::shared_ptr<Responder>& respond,
                              bool batch) {
  const int64_t received_us = NowMicros();
  const std::shared_ptr<const LoadedModel> loaded = Current();
  if (loaded == nullptr) {
    (*respond)(Unavailable(absl::StrCat("no model loaded yet for ", options_.model.ToString())));
    return;
  }
  std::vector<DecodedRecord> records(batch ? 0 : 1);
  const absl::Status decoded =
      batch ? loaded->decoder.DecodeBatch(request.body, options_.max_batch_records, &records)
            : loaded->decoder.DecodeOne(request.body, records.data());
  if (!decoded.ok()) {
    (*respond)(Response::Error(400, decoded.message()));
    return;
  }
  const std::optional<std::string> given = request.Header("x-request-id");
  const std::string request_id = given && UsableRequestId(*given) ? *given : ids_.Next();
  const auto one = [&loaded](const PredictionRecord& p, const std::string& why) {
    return internal::AnswerJson(*loaded, p, why);
  };
  const auto render = [batch, &one, &request_id](const std::vector<PredictionRecord>& scored,
                                                 const std::vector<std::string>& reasons) {
    if (!batch) {
      return one(scored[0], reasons[0]);
    }
    std::string out = R"({"request_id":)";
    base::AppendJsonString(request_id, &out);
    out.append(R"(,"predictions":[)");
    for (size_t i = 0; i < scored.size(); ++i) {
      absl::StrAppend(&out, i == 0 ? "" : ",", one(scored[i], reasons[i]));
    }
    out.append("]}");
    return out;
  };
  Score(*loaded,
        {.source = batch ? "http-batch" : "http",
         .records = std::move(records),
         .received_us = received_us,
         .request_id = request_id,
         .render = render},
        respond);
}

void ModelServerImpl::Infer(const Request& request, const std::shared_ptr<Responder>& respond) {
  const int64_t received_us = NowMicros();
  const std::shared_ptr<const LoadedModel> loaded = Current();
  if (loaded == nullptr) {
    (*respond)(Unavailable(absl::StrCat("no model loaded yet for ", options_.model.ToString())));
    return;
  }
  std::string id;
  std::vector<DecodedRecord> records;
  if (absl::Status s = loaded->decoder.DecodeInferRequest(request.body, options_.max_batch_records,
                                                          &id, &records);
      !s.ok()) {
    (*respond)(Response::Error(400, s.message()));
    return;
  }
  const std::string request_id = UsableRequestId(id) ? id : ids_.Next();
  const ServedModel& m = *loaded->model;
  const auto render = [&m, &request_id](const std::vector<PredictionRecord>& scored,
                                        const std::vector<std::string>& /*reasons*/) {
    std::string out = R"({"model_name":)";
    base::AppendJsonString(m.Name(), &out);
    absl::StrAppend(&out, R"(,"model_version":")", m.Version(), R"(","id":)");
    base::AppendJsonString(request_id, &out);
    absl::StrAppend(&out, R"(,"outputs":[{"name":"churn_probability","datatype":"FP32","shape":[)",
                    scored.size(), R"(],"data":[)");
    for (size_t i = 0; i < scored.size(); ++i) {
      out.append(i == 0 ? "" : ",");
      base::AppendJsonNumber(static_cast<float>(scored[i].probability), &out);
    }
    absl::StrAppend(&out, R"(]},{"name":"churn","datatype":"INT32","shape":[)", scored.size(),
                    R"(],"data":[)");
    for (size_t i = 0; i < scored.size(); ++i) {
      absl::StrAppend(&out, i == 0 ? "" : ",", scored[i].label);
    }
    out.append("]}]}");
    return out;
  };
  Score(*loaded,
        {.source = "v2",
         .records = std::move(records),
         .received_us = received_us,
         .request_id = request_id,
         .render = render},
        respond);
}

void ModelServerImpl::Feedback(const Request& request, const std::shared_ptr<Responder>& respond) {
  const Json body = Json::parse(request.body, nullptr, false);
  if (!body.is_object()) {
    (*respond)(Response::Error(400, "feedback: expected a JSON object"));
    return;
  }
  FeedbackRecord f;
  const auto text = [&body](const char* key) {
    const auto it = body.find(key);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  f.request_id = text("request_id");
  f.customer_id = text("customer_id");
  const auto churned = body.find("churned");
  if (churned == body.end() || !(churned->is_number_integer() || churned->is_boolean())) {
    (*respond)(Response::Error(400, "feedback: 'churned' (0 or 1) is required"));
    return;
  }
  f.churned = churned->is_boolean() ? static_cast<int>(churned->get<bool>())
                                    : static_cast<int>(churned->get<int64_t>());
  f.time_us = NowMicros();
  if (const std::string time = text("time"); !time.empty()) {
    absl::Time t;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, time, &t, &error)) {
      (*respond)(Response::Error(400, absl::StrCat("feedback: 'time' is not RFC 3339: ", error)));
      return;
    }
    f.time_us = absl::ToUnixMicros(t);
  }
  if (log_ == nullptr) {
    (*respond)(Response::Error(503, "no prediction store"));
    return;
  }
  // Only feedback the log will take labels a prediction (AddFeedback refuses the rest).
  const std::shared_ptr<const LoadedModel> loaded = Current();
  const bool matched = f.Validate().ok() && loaded != nullptr && loaded->monitor != nullptr &&
                       loaded->monitor->Label(f.request_id, f.customer_id, f.churned);
  absl::Status queued = log_->AddFeedback(f, [respond, matched](const absl::Status& logged) {
    (*respond)(logged.ok() ? Response::Json(200, matched ? R"({"stored":true,"matched":true})"
                                                         : R"({"stored":true,"matched":false})")
                           : Unavailable(logged.message()));
  });
  if (!queued.ok()) {
    (*respond)(absl::IsInvalidArgument(queued) ? Response::Error(400, queued.message())
                                               : Unavailable(queued.message()));
  }
}

Response ModelServerImpl::ModelInfo() const {
  const std::shared_ptr<const LoadedModel> loaded = Current();
  if (loaded == nullptr) {
    return Response::Error(503,
                           absl::StrCat("no model loaded yet for ", options_.model.ToString()));
  }
  const ServedModel& m = *loaded->model;
  Json metrics = Json::object();
  for (const auto& [key, value] : m.VersionInfo().metrics) {
    metrics[key] = value;
  }
  Json fields = Json::array();
  for (size_t f = 0; f < loaded->decoder.Fields().size(); ++f) {
    fields.push_back({{"name", loaded->decoder.Fields()[f]},
                      {"datatype", loaded->decoder.FieldDatatype(f)},
                      {"optional", loaded->decoder.FieldAllowsMissing(f)}});
  }
  const Json out = {{"name", m.Name()},
                    {"version", m.Version()},
                    {"run_id", m.RunId()},
                    {"reference", options_.model.ToString()},
                    {"threshold", m.Threshold()},
                    {"metrics", metrics},
                    {"aliases", m.VersionInfo().aliases},
                    {"inputs", fields},
                    {"features", loaded->feature_names},
                    {"trees", m.Trees().NumTrees()},
                    {"nodes", m.Trees().NumNodes()},
                    {"manifest", Json::parse(m.Manifest(), nullptr, false)}};
  return Response::Json(200, out.dump());
}

Response ModelServerImpl::V2Metadata() const {
  const std::shared_ptr<const LoadedModel> loaded = Current();
  if (loaded == nullptr) {
    return Response::Error(503,
                           absl::StrCat("no model loaded yet for ", options_.model.ToString()));
  }
  Json inputs = Json::array();
  for (size_t f = 0; f < loaded->decoder.Fields().size(); ++f) {
    inputs.push_back({{"name", loaded->decoder.Fields()[f]},
                      {"datatype", loaded->decoder.FieldDatatype(f)},
                      {"shape", {-1}}});
  }
  const Json out = {{"name", loaded->model->Name()},
                    {"versions", {absl::StrCat(loaded->model->Version())}},
                    {"platform", "churn-compiled-xgboost"},
                    {"inputs", inputs},
                    {"outputs",
                     {{{"name", "churn_probability"}, {"datatype", "FP32"}, {"shape", {-1}}},
                      {{"name", "churn"}, {"datatype", "INT32"}, {"shape", {-1}}}}}};
  return Response::Json(200, out.dump());
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelServer>> ModelServer::Start(const ModelServerOptions& options,
                                                                registry::Registry* registry,
                                                                PredictionLog* log) {
  if (registry == nullptr || options.model.name.empty()) {
    return absl::InvalidArgumentError("model server: a registry and a model reference are needed");
  }
  auto server = std::make_unique<ModelServerImpl>(options, registry, log);
  CHURN_RETURN_IF_ERROR(server->Start());
  return std::unique_ptr<ModelServer>(std::move(server));
}

}  // namespace churn::serving
