#include "churn/serving/model_server.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <csignal>
#include <limits>
#include <random>
#include <sstream>
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
#include "prometheus/text_serializer.h"

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

std::atomic<int> reload_requests{0};

int64_t NowMicros() {
  return absl::ToUnixMicros(absl::Now());
}

// What one loaded version needs on the request path.
struct Loaded {
  std::shared_ptr<const ServedModel> model;
  RequestDecoder decoder;
  std::vector<std::string> feature_names;  // lowercase, per pipeline feature
  std::string model_json;                  // {"name":...,"version":...,"run_id":...}
};

// The Prometheus metrics of one server.
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
        predictions_(prometheus::BuildCounter()
                         .Name("churn_predictions_total")
                         .Help("Records scored, by predicted label")
                         .Register(registry_)),
        scores_(prometheus::BuildHistogram()
                    .Name("churn_prediction_score")
                    .Help("Churn probabilities answered")
                    .Register(registry_)),
        model_info_(prometheus::BuildGauge()
                        .Name("churn_model_info")
                        .Help("The model version being served (value 1)")
                        .Register(registry_)),
        reloads_(prometheus::BuildCounter()
                     .Name("churn_model_reloads_total")
                     .Help("Model loads, by result (ok, refused)")
                     .Register(registry_)),
        unknown_(prometheus::BuildCounter()
                     .Name("churn_unknown_category_total")
                     .Help("Categorical values outside the declared levels, by field")
                     .Register(registry_)),
        log_depth_(prometheus::BuildGauge()
                       .Name("churn_prediction_log_queue_depth")
                       .Help("Records waiting for the prediction log")
                       .Register(registry_)
                       .Add({})),
        log_written_(prometheus::BuildGauge()
                         .Name("churn_prediction_log_written")
                         .Help("Records in the prediction log's journal since start (answered)")
                         .Register(registry_)
                         .Add({})),
        log_loaded_(
            prometheus::BuildGauge()
                .Name("churn_prediction_log_loaded")
                .Help("Records loaded from the journal into the prediction store since start")
                .Register(registry_)
                .Add({})),
        log_backlog_(prometheus::BuildGauge()
                         .Name("churn_prediction_log_backlog_bytes")
                         .Help("Journal bytes not loaded into the prediction store yet")
                         .Register(registry_)
                         .Add({})),
        log_failures_(prometheus::BuildGauge()
                          .Name("churn_prediction_log_failures")
                          .Help("Records whose prediction-log journal write failed since start")
                          .Register(registry_)
                          .Add({})),
        score_0_(predictions_.Add({{"label", "0"}})),
        score_1_(predictions_.Add({{"label", "1"}})),
        score_hist_(
            scores_.Add({}, prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.2, 0.3, 0.4, 0.5,
                                                                    0.6, 0.7, 0.8, 0.9, 0.95})) {}

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

  void Scored(double probability, int label) {
    (label == 1 ? score_1_ : score_0_).Increment();
    score_hist_.Observe(probability);
  }

  void UnknownCategory(const std::string& field) {
    absl::MutexLock lock(&mu_);
    auto& c = unknown_counters_[field];
    if (c == nullptr) {
      c = &unknown_.Add({{"field", field}});
    }
    c->Increment();
  }

  void Reloaded(bool ok) { reloads_.Add({{"result", ok ? "ok" : "refused"}}).Increment(); }

  void Serving(const ServedModel& m) {
    absl::MutexLock lock(&mu_);
    if (info_ != nullptr) {
      model_info_.Remove(info_);
    }
    info_ = &model_info_.Add(
        {{"name", m.Name()}, {"version", absl::StrCat(m.Version())}, {"run_id", m.RunId()}});
    info_->Set(1);
  }

  std::string Text(const PredictionLog* log) {
    if (log != nullptr) {
      const PredictionLog::Stats stats = log->GetStats();
      log_depth_.Set(static_cast<double>(stats.queue_depth));
      log_written_.Set(static_cast<double>(stats.written));
      log_failures_.Set(static_cast<double>(stats.failures));
      log_loaded_.Set(static_cast<double>(stats.loaded));
      log_backlog_.Set(static_cast<double>(stats.backlog_bytes));
    }
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry_.Collect());
    return out.str();
  }

 private:
  prometheus::Registry registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Counter>& predictions_;
  prometheus::Family<prometheus::Histogram>& scores_;
  prometheus::Family<prometheus::Gauge>& model_info_;
  prometheus::Family<prometheus::Counter>& reloads_;
  prometheus::Family<prometheus::Counter>& unknown_;
  prometheus::Gauge& log_depth_;
  prometheus::Gauge& log_written_;
  prometheus::Gauge& log_loaded_;
  prometheus::Gauge& log_backlog_;
  prometheus::Gauge& log_failures_;
  prometheus::Counter& score_0_;
  prometheus::Counter& score_1_;
  prometheus::Histogram& score_hist_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::pair<std::string, int>, prometheus::Counter*> counters_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Histogram*> histograms_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Counter*> unknown_counters_ ABSL_GUARDED_BY(mu_);
  prometheus::Gauge* info_ ABSL_GUARDED_BY(mu_) = nullptr;
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

// A request id the client sent (X-Request-Id) is kept when it is short and printable.
bool UsableRequestId(absl::string_view id) {
  return !id.empty() && id.size() <= 128 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string ModelJson(const ServedModel& m) {
  std::string out = "{\"name\":";
  base::AppendJsonString(m.Name(), &out);
  absl::StrAppend(&out, ",\"version\":", m.Version(), ",\"run_id\":");
  base::AppendJsonString(m.RunId(), &out);
  out.push_back('}');
  return out;
}

absl::StatusOr<std::shared_ptr<const Loaded>> Prepare(std::shared_ptr<const ServedModel> model,
                                                      UnknownCategoryPolicy policy) {
  CHURN_ASSIGN_OR_RETURN(RequestDecoder decoder,
                         RequestDecoder::Create(model->Schema(), model->Pipeline(), policy));
  std::vector<std::string> names;
  for (const auto& f : model->Pipeline().Features()) {
    names.push_back(absl::AsciiStrToLower(f.name));
  }
  std::string model_json = ModelJson(*model);
  return std::make_shared<const Loaded>(
      Loaded{std::move(model), std::move(decoder), std::move(names), std::move(model_json)});
}

Response Unavailable(absl::string_view message) {
  Response r = Response::Error(503, message);
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

class ModelServerImpl final : public ModelServer {
 public:
  ModelServerImpl(ModelServerOptions options, registry::Registry* registry, PredictionLog* log)
      : options_(std::move(options)), registry_(registry), log_(log) {}

  ~ModelServerImpl() override { Drain(); }

  ModelServerImpl(const ModelServerImpl&) = delete;
  ModelServerImpl& operator=(const ModelServerImpl&) = delete;

  absl::Status Start() {
    absl::StatusOr<registry::ModelVersion> version = ResolveModelRef(*registry_, options_.model);
    if (version.ok()) {
      CHURN_RETURN_IF_ERROR(Load(*version));
    } else if (absl::IsNotFound(version.status())) {
      base::LogWarn(absl::StrCat("serve: ", options_.model.ToString(), " does not resolve yet (",
                                 version.status().message(), "); serving unready"));
    } else {
      return version.status();
    }
    AddRoutes();
    CHURN_ASSIGN_OR_RETURN(server_, http::Server::Start({.host = options_.host,
                                                         .port = options_.port,
                                                         .threads = options_.threads,
                                                         .max_body_bytes = options_.max_body_bytes,
                                                         .server_name = "churn-serve"},
                                                        [this](Request request, Responder respond) {
                                                          Handle(std::move(request),
                                                                 std::move(respond));
                                                        }));
    reloader_ = std::thread([this] { ReloadLoop(); });
    return absl::OkStatus();
  }

  uint16_t Port() const override { return server_->Port(); }

  int64_t ServingVersion() const override {
    const std::shared_ptr<const Loaded> loaded = Current();
    return loaded == nullptr ? 0 : loaded->model->Version();
  }

  absl::StatusOr<int64_t> Reload() override {
    absl::MutexLock reload_lock(&reload_mu_);
    CHURN_ASSIGN_OR_RETURN(const registry::ModelVersion version,
                           ResolveModelRef(*registry_, options_.model));
    if (version.version != ServingVersion()) {
      CHURN_RETURN_IF_ERROR(Load(version));
    }
    return ServingVersion();
  }

  int64_t Drain() override {
    {
      absl::MutexLock lock(&mu_);
      if (drained_) {
        return 0;
      }
      drained_ = true;
    }
    if (reloader_.joinable()) {
      reloader_.join();
    }
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
  std::shared_ptr<const Loaded> Current() const {
    absl::MutexLock lock(&mu_);
    return loaded_;
  }

  absl::Status Load(const registry::ModelVersion& version) {
    const absl::Time start = absl::Now();
    absl::StatusOr<std::shared_ptr<const ServedModel>> model =
        LoadServedModel(*registry_, ModelRef{.name = version.name, .version = version.version});
    absl::StatusOr<std::shared_ptr<const Loaded>> loaded =
        model.ok() ? Prepare(*std::move(model), options_.unknown_category)
                   : absl::StatusOr<std::shared_ptr<const Loaded>>(model.status());
    metrics_.Reloaded(loaded.ok());
    if (!loaded.ok()) {
      base::LogError(absl::StrCat("serve: refused ", version.name, " version ", version.version,
                                  ": ", loaded.status().message()));
      return loaded.status();
    }
    metrics_.Serving(*(*loaded)->model);
    {
      absl::MutexLock lock(&mu_);
      loaded_ = *std::move(loaded);
    }
    base::LogInfo(absl::StrCat("serve: serving ", version.name, " version ", version.version,
                               " (loaded and verified in ",
                               absl::FormatDuration(absl::Now() - start), ")"));
    return absl::OkStatus();
  }

  void ReloadLoop() {
    absl::Time next_poll = absl::Now() + options_.poll_interval;
    int seen_requests = reload_requests.load();
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        if (mu_.AwaitWithTimeout(absl::Condition(&drained_), absl::Milliseconds(100))) {
          return;
        }
      }
      const int requests = reload_requests.load();
      const bool poll = options_.poll_interval > absl::ZeroDuration() && absl::Now() >= next_poll;
      if (requests == seen_requests && !poll) {
        continue;
      }
      seen_requests = requests;
      next_poll = absl::Now() + options_.poll_interval;
      absl::StatusOr<int64_t> served = Reload();
      if (!served.ok() && !absl::IsNotFound(served.status())) {
        base::LogWarn(absl::StrCat("serve: reload: ", served.status().message()));
      }
    }
  }

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

  void Score(const Loaded& loaded, ScoreCall call, const std::shared_ptr<Responder>& respond);
  std::string Reasons(const Loaded& loaded, const std::vector<float>& features) const;
  Response ModelInfo() const;
  Response V2Metadata() const;

  const ModelServerOptions options_;
  registry::Registry* const registry_;
  PredictionLog* const log_;
  Metrics metrics_;
  RequestIds ids_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  std::thread reloader_;
  absl::Mutex reload_mu_;  // one Reload at a time

  mutable absl::Mutex mu_;
  std::shared_ptr<const Loaded> loaded_ ABSL_GUARDED_BY(mu_);
  bool drained_ ABSL_GUARDED_BY(mu_) = false;
};

void ModelServerImpl::Handle(Request request, Responder respond) {
  // The route label of the metrics: the path of a fixed route, else a bounded family name.
  static const auto* const kRoutes = new absl::flat_hash_set<std::string>{
      "/predict", "/predict/batch", "/v2/health/live", "/v2/health/ready", "/health",
      "/model",   "/metrics",       "/feedback",       "/admin/reload"};
  std::string route = kRoutes->contains(request.path)                 ? request.path
                      : absl::StartsWith(request.path, "/v2/models/") ? "/v2/models"
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
    const std::shared_ptr<const Loaded> loaded = Current();
    if (loaded == nullptr) {
      return Response::Json(503, absl::StrCat(R"({"status":"unready","model":null,"reference":)",
                                              Json(options_.model.ToString()).dump(), "}"));
    }
    return Response::Json(200, absl::StrCat(R"({"status":"ok","model":)", loaded->model_json, "}"));
  });
  router_.Handle("GET", "/model", [this](const Request&) { return ModelInfo(); });
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

std::string ModelServerImpl::Reasons(const Loaded& loaded,
                                     const std::vector<float>& features) const {
  const std::vector<float> contributions = loaded.model->Trees().Contributions(features);
  const std::vector<model::Reason> top = model::TopReasons(contributions, options_.reasons);
  const auto& specs = loaded.model->Pipeline().Features();
  std::string out = "[";
  for (size_t i = 0; i < top.size(); ++i) {
    const size_t f = top[i].feature;
    absl::StrAppend(&out, i == 0 ? "" : ",", R"({"feature":)");
    base::AppendJsonString(loaded.feature_names[f], &out);
    out.append(R"(,"value":)");
    const float v = features[f];
    if (specs[f].kind == features::EncodedFeature::Kind::kCategorical && !std::isnan(v)) {
      const auto code = static_cast<size_t>(v);
      base::AppendJsonString(code < specs[f].levels.size() ? specs[f].levels[code] : "(unknown)",
                             &out);
    } else {
      base::AppendJsonNumber(v, &out);
    }
    out.append(R"(,"contribution":)");
    base::AppendJsonNumber(top[i].contribution, &out);
    out.push_back('}');
  }
  out.push_back(']');
  return out;
}

// Scores `records`, logs them, and answers with render(scored, reasons) once they are
// committed.
void ModelServerImpl::Score(const Loaded& loaded, ScoreCall call,
                            const std::shared_ptr<Responder>& respond) {
  const ServedModel& m = *loaded.model;
  std::vector<DecodedRecord>& records = call.records;
  std::vector<PredictionRecord> scored(records.size());
  std::vector<std::string> reasons(records.size());
  const int64_t scored_us = NowMicros();
  for (size_t i = 0; i < records.size(); ++i) {
    DecodedRecord& r = records[i];
    const float p = m.Trees().Predict(r.features);
    const int label = p >= m.Threshold() ? 1 : 0;
    metrics_.Scored(p, label);
    for (const int f : r.unknown_fields) {
      metrics_.UnknownCategory(loaded.decoder.Fields()[static_cast<size_t>(f)]);
    }
    if (options_.reasons > 0) {
      reasons[i] = Reasons(loaded, r.features);
    }
    scored[i] = PredictionRecord{
        .request_id = records.size() == 1 ? call.request_id : absl::StrCat(call.request_id, "-", i),
        .time_us = scored_us,
        .model_name = m.Name(),
        .model_version = m.Version(),
        .source = call.source,
        .customer_id = std::move(r.customer_id),
        .inputs_json = std::move(r.inputs_json),
        .probability = p,
        .label = label,
        .latency_us = scored_us - call.received_us};
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
  const std::shared_ptr<const Loaded> loaded = Current();
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
  const double threshold = loaded->model->Threshold();
  const std::string& model_json = loaded->model_json;
  const auto one = [threshold, &model_json](const PredictionRecord& p, const std::string& why) {
    std::string out = R"({"churn_probability":)";
    base::AppendJsonNumber(static_cast<float>(p.probability), &out);
    absl::StrAppend(&out, R"(,"churn":)", p.label, R"(,"threshold":)");
    base::AppendJsonNumber(threshold, &out);
    absl::StrAppend(&out, R"(,"model":)", model_json, R"(,"request_id":)");
    base::AppendJsonString(p.request_id, &out);
    if (!why.empty()) {
      absl::StrAppend(&out, R"(,"reasons":)", why);
    }
    out.push_back('}');
    return out;
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
  const std::shared_ptr<const Loaded> loaded = Current();
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
  absl::Status queued = log_->AddFeedback(f, [respond](const absl::Status& logged) {
    (*respond)(logged.ok() ? Response::Json(200, R"({"stored":true})")
                           : Unavailable(logged.message()));
  });
  if (!queued.ok()) {
    (*respond)(absl::IsInvalidArgument(queued) ? Response::Error(400, queued.message())
                                               : Unavailable(queued.message()));
  }
}

Response ModelServerImpl::ModelInfo() const {
  const std::shared_ptr<const Loaded> loaded = Current();
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
  const std::shared_ptr<const Loaded> loaded = Current();
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

void RequestReload() {
  reload_requests.fetch_add(1);
}

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
