// The MLflow REST API against a real registry over loopback HTTP: SQLite in a TempDir and, when
// CHURN_TEST_POSTGRES_URL is set, PostgreSQL in a fresh schema per test. Requests are the JSON
// bodies of MLflow's REST documentation; answers are checked for MLflow's shape (field names,
// versions as strings, empty fields left out) and MLflow's error codes and HTTP statuses.
#include "churn/registry/rest_api.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "registry/pg_test_util.h"
#include "testing/http_client.h"
#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/base/time.h"
#include "churn/http/server.h"
#include "churn/registry/registry.h"

namespace churn::registry {
namespace {

using ::churn::testing::FreshPostgresSchema;
using ::churn::testing::HttpConnection;
using ::churn::testing::HttpFetch;
using ::churn::testing::HttpResponse;
using ::churn::testing::kNoPostgresUrl;
using ::churn::testing::PostgresUrlOrSkip;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;
using ::testing::StartsWith;
using Json = nlohmann::json;

enum class Backend { kSqlite, kPostgres };

constexpr int64_t kStartMs = 1700000000000;

// One answer of the server: its status and the rest.
struct Answer {
  int status = -1;
  HttpResponse raw;

  // The body as JSON (discarded when it is not JSON).
  Json Body() const { return Json::parse(raw.body, nullptr, false); }
};

// `text` percent-encoded for a query string.
std::string Escape(absl::string_view text) {
  std::string out;
  for (const char c : text) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') {
      out.push_back(c);
    } else {
      absl::StrAppendFormat(&out, "%%%02X", static_cast<unsigned char>(c));
    }
  }
  return out;
}

// The answer is an MLflow error with this HTTP status and error_code.
::testing::AssertionResult IsError(const Answer& answer, int status, const std::string& code) {
  const Json body = answer.Body();
  if (answer.status == status && body.is_object() && body.contains("message") &&
      body.value("error_code", "") == code) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "expected " << status << " " << code << ", got "
                                       << answer.status << " " << answer.raw.body;
}

class RestApiTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string url = "sqlite:" + (dir_.Path() / "r.db").string();
    if (GetParam() == Backend::kPostgres) {
      const std::optional<std::string> base_url = PostgresUrlOrSkip();
      if (!base_url) {
        GTEST_SKIP() << kNoPostgresUrl;
      }
      CHURN_ASSERT_OK_AND_ASSIGN(schema_, FreshPostgresSchema::Create(*base_url));
      url = schema_->Url();
    }
    CHURN_ASSERT_OK_AND_ASSIGN(
        registry_, OpenRegistry({.url = url,
                                 .artifact_store_uri = (dir_.Path() / "artifacts").string(),
                                 .clock = &clock_}));
    StartServer({});
  }

  void TearDown() override {
    if (server_ != nullptr) {
      server_->Stop();
    }
  }

  // (Re)starts the server with a new router carrying the routes for `options`.
  void StartServer(RestOptions options) {
    server_.reset();
    router_ = std::make_unique<http::Router>();
    options.clock = &clock_;
    AddRestRoutes(*registry_, options, *router_);
    http::Router* router = router_.get();
    CHURN_ASSERT_OK_AND_ASSIGN(
        server_, http::Server::Start({.port = 0, .threads = 2}, [router](const http::Request& r) {
          return router->Dispatch(r);
        }));
  }

  std::string Url(absl::string_view path) const {
    return absl::StrCat("http://127.0.0.1:", server_->Port(), path);
  }

  // `method` on /api/2.0/mlflow/`path` (which may carry a query string) with a raw body.
  Answer Call(absl::string_view method, absl::string_view path, absl::string_view body = "",
              std::vector<std::string> headers = {}) {
    headers.emplace_back("Content-Type: application/json");
    Answer answer;
    answer.raw = HttpFetch(method, Url(absl::StrCat("/api/2.0/mlflow/", path)), body, headers);
    answer.status = answer.raw.status;
    return answer;
  }

  Answer Send(absl::string_view method, absl::string_view path, const Json& body) {
    return Call(method, path, body.dump());
  }

  Answer Post(absl::string_view path, const Json& body) { return Send("POST", path, body); }

  Answer Get(absl::string_view path_and_query) { return Call("GET", path_and_query); }

  // The body of a 200 answer (a failed expectation and null otherwise).
  static Json Ok(const Answer& answer) {
    EXPECT_EQ(answer.status, 200) << answer.raw.body;
    return answer.status == 200 ? answer.Body() : Json();
  }

  std::string CreateExperiment(const std::string& name) {
    return Ok(Post("experiments/create", {{"name", name}})).value("experiment_id", "");
  }

  std::string CreateRun(const std::string& experiment_id, const std::string& name) {
    const Json run =
        Ok(Post("runs/create",
                {{"experiment_id", experiment_id}, {"run_name", name}, {"start_time", kStartMs}}));
    return run.is_object() ? run["run"]["info"].value("run_id", "") : "";
  }

  // A finished run of `experiment_id` with a valid_auc history ending at `auc`, the param
  // max_depth and the tag flow; "" (and a failed expectation) when a call fails.
  std::string LogTrainingRun(const std::string& experiment_id, double auc,
                             const std::string& max_depth, const std::string& flow) {
    std::string run = CreateRun(experiment_id, absl::StrCat("run-", ++runs_created_));
    Ok(Post("runs/log-batch",
            {{"run_id", run},
             {"metrics",
              {{{"key", "valid_auc"}, {"value", 0.5}, {"timestamp", 1552550804}, {"step", 0}},
               {{"key", "valid_auc"}, {"value", auc}, {"timestamp", 1552550805}, {"step", 1}}}},
             {"params", {{{"key", "max_depth"}, {"value", max_depth}}}},
             {"tags", {{{"key", "flow"}, {"value", flow}}}}}));
    clock_.Advance(absl::Seconds(1));
    const int64_t end = absl::ToUnixMillis(clock_.Now());
    const Json updated =
        Ok(Post("runs/update", {{"run_id", run}, {"status", "FINISHED"}, {"end_time", end}}));
    EXPECT_EQ(updated["run_info"]["status"], "FINISHED");
    EXPECT_EQ(updated["run_info"]["end_time"], end);
    return run;
  }

  // The run ids of every page of runs/search `request`, following next_page_token until it is
  // absent (at most 10 pages).
  std::vector<std::string> SearchAllPages(Json request) {
    std::vector<std::string> found;
    for (int page = 0; page < 10; ++page) {
      const Json answer = Ok(Post("runs/search", request));
      EXPECT_TRUE(answer.contains("runs")) << answer;
      for (const Json& run : answer.value("runs", Json::array())) {
        found.push_back(run["info"]["run_id"]);
      }
      if (!answer.contains("next_page_token")) {
        break;
      }
      request["page_token"] = answer["next_page_token"];
    }
    return found;
  }

  base::TempDir dir_;
  base::FakeClock clock_{absl::FromUnixMillis(kStartMs)};
  std::unique_ptr<FreshPostgresSchema> schema_;  // before registry_: dropped after it closes
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<http::Router> router_;
  std::unique_ptr<http::Server> server_;  // last: stopped before what its handlers use
  int runs_created_ = 0;
};

// --- Experiments --------------------------------------------------------------------------

TEST_P(RestApiTest, ExperimentCreateAndGetAnswerMlflowShapes) {
  const Json created = Ok(Post("experiments/create", Json::parse(R"({
      "name": "churn-experiment", "artifact_location": "s3://bucket/churn",
      "tags": [{"key": "team", "value": "risk"}]})")));
  ASSERT_TRUE(created["experiment_id"].is_string()) << created;
  const std::string id = created["experiment_id"];

  const Json got = Ok(Get("experiments/get?experiment_id=" + id));
  const Json expected = {{"experiment",
                          {{"experiment_id", id},
                           {"name", "churn-experiment"},
                           {"artifact_location", "s3://bucket/churn"},
                           {"lifecycle_stage", "active"},
                           {"last_update_time", kStartMs},
                           {"creation_time", kStartMs},
                           {"tags", {{{"key", "team"}, {"value", "risk"}}}}}}};
  EXPECT_EQ(got, expected);
  EXPECT_EQ(Ok(Get("experiments/get-by-name?experiment_name=churn-experiment")), expected);
}

TEST_P(RestApiTest, ExperimentWithoutTagsLeavesTagsOut) {
  const std::string id = CreateExperiment("plain");
  const Json got = Ok(Get("experiments/get?experiment_id=" + id));
  EXPECT_FALSE(got["experiment"].contains("tags")) << got;
  EXPECT_EQ(got["experiment"]["artifact_location"], "mlflow-artifacts:/" + id);
}

TEST_P(RestApiTest, DuplicateExperimentNameIsResourceAlreadyExists) {
  CreateExperiment("twice");
  EXPECT_TRUE(
      IsError(Post("experiments/create", {{"name", "twice"}}), 400, "RESOURCE_ALREADY_EXISTS"));
}

TEST_P(RestApiTest, UnknownExperimentIsResourceDoesNotExist) {
  EXPECT_TRUE(IsError(Get("experiments/get?experiment_id=424242"), 404, "RESOURCE_DOES_NOT_EXIST"));
  EXPECT_TRUE(
      IsError(Get("experiments/get-by-name?experiment_name=nope"), 404, "RESOURCE_DOES_NOT_EXIST"));
}

TEST_P(RestApiTest, NonNumericExperimentIdIsInvalidParameterValue) {
  EXPECT_TRUE(IsError(Get("experiments/get?experiment_id=abc"), 400, "INVALID_PARAMETER_VALUE"));
  EXPECT_TRUE(
      IsError(Post("runs/create", {{"experiment_id", "abc"}}), 400, "INVALID_PARAMETER_VALUE"));
}

TEST_P(RestApiTest, MissingRequiredParameterUsesMlflowsMessage) {
  const Answer answer = Post("runs/update", {{"status", "FINISHED"}});
  ASSERT_TRUE(IsError(answer, 400, "INVALID_PARAMETER_VALUE"));
  EXPECT_THAT(answer.Body()["message"].get<std::string>(),
              StartsWith("Missing value for required parameter 'run_id'."));
  const Answer empty_name = Post("experiments/create", {{"name", ""}});
  ASSERT_TRUE(IsError(empty_name, 400, "INVALID_PARAMETER_VALUE"));
  EXPECT_THAT(empty_name.Body()["message"].get<std::string>(), HasSubstr("'name'"));
  EXPECT_TRUE(IsError(Get("experiments/get"), 400, "INVALID_PARAMETER_VALUE"));
}

TEST_P(RestApiTest, WrongTypeIsInvalidParameterValueNamingTheField) {
  const auto message_of = [](const Answer& a) {
    EXPECT_TRUE(IsError(a, 400, "INVALID_PARAMETER_VALUE"));
    const Json body = a.Body();
    return body.is_object() ? body.value("message", "") : "";
  };
  EXPECT_THAT(message_of(Post("experiments/create", {{"name", 5}})), HasSubstr("parameter 'name'"));
  EXPECT_THAT(message_of(Post("experiments/create", {{"name", "x"}, {"tags", "t"}})),
              HasSubstr("parameter 'tags'"));
  EXPECT_THAT(message_of(Post("experiments/create", {{"name", "x"}, {"tags", {{{"value", "v"}}}}})),
              HasSubstr("'tags[0].key'"));
  const std::string exp = CreateExperiment("types");
  const std::string run = CreateRun(exp, "r");
  EXPECT_THAT(
      message_of(Post("runs/log-metric", {{"run_id", run}, {"key", "k"}, {"value", "abc"}})),
      HasSubstr("parameter 'value'"));
  EXPECT_THAT(message_of(Post("runs/log-metric",
                              {{"run_id", run}, {"key", "k"}, {"value", 1}, {"step", 1.5}})),
              HasSubstr("parameter 'step'"));
  EXPECT_THAT(message_of(Post("runs/log-batch", {{"run_id", run}, {"metrics", {{{"key", "k"}}}}})),
              HasSubstr("'metrics[0].value'"));
  EXPECT_THAT(message_of(Post("runs/search", {{"experiment_ids", exp}})),
              HasSubstr("parameter 'experiment_ids'"));
  EXPECT_THAT(message_of(Post("runs/update", {{"run_id", run}, {"status", "DONE"}})),
              HasSubstr("parameter 'status'"));
}

TEST_P(RestApiTest, SearchExperimentsByPostAndGetWithViewTypeAndPaging) {
  const std::string a = CreateExperiment("search-a");
  const std::string b = CreateExperiment("search-b");
  Ok(Post("experiments/set-experiment-tag", {{"experiment_id", a}, {"key", "k"}, {"value", "v"}}));
  Ok(Post("experiments/delete", {{"experiment_id", b}}));

  const Json active = Ok(Post("experiments/search", {{"filter", "name LIKE 'search-%'"}}));
  ASSERT_EQ(active["experiments"].size(), 1U) << active;
  EXPECT_EQ(active["experiments"][0]["experiment_id"], a);
  EXPECT_EQ(active["experiments"][0]["tags"], Json::parse(R"([{"key": "k", "value": "v"}])"));

  const Json deleted = Ok(Get("experiments/search?view_type=DELETED_ONLY"));
  ASSERT_EQ(deleted["experiments"].size(), 1U) << deleted;
  EXPECT_EQ(deleted["experiments"][0]["lifecycle_stage"], "deleted");

  Ok(Post("experiments/restore", {{"experiment_id", b}}));
  const Json page1 =
      Ok(Get("experiments/search?max_results=1&order_by=name+DESC&filter=name+LIKE+'search-%25'"));
  ASSERT_EQ(page1["experiments"].size(), 1U) << page1;
  EXPECT_EQ(page1["experiments"][0]["name"], "search-b");
  ASSERT_TRUE(page1.contains("next_page_token")) << page1;
  const Json page2 = Ok(Post("experiments/search", {{"max_results", "1"},
                                                    {"order_by", {"name DESC"}},
                                                    {"filter", "name LIKE 'search-%'"},
                                                    {"page_token", page1["next_page_token"]}}));
  ASSERT_EQ(page2["experiments"].size(), 1U) << page2;
  EXPECT_EQ(page2["experiments"][0]["name"], "search-a");
  EXPECT_FALSE(page2.contains("next_page_token")) << page2;
}

// --- Runs ---------------------------------------------------------------------------------

TEST_P(RestApiTest, RunCreateAnswersMlflowShape) {
  const std::string exp = CreateExperiment("runs");
  const Json created = Ok(Post(
      "runs/create", Json::parse(absl::StrCat(R"({
      "experiment_id": ")",
                                              exp, R"(", "user_id": "alice", "run_name": "first",
      "start_time": "1700000000123", "tags": [{"key": "flow", "value": "train"}]})"))));
  const Json& info = created["run"]["info"];
  ASSERT_TRUE(info.is_object()) << created;
  EXPECT_EQ(info["run_id"], info["run_uuid"]);
  EXPECT_EQ(info["run_name"], "first");
  EXPECT_EQ(info["experiment_id"], exp);
  EXPECT_EQ(info["user_id"], "alice");
  EXPECT_EQ(info["status"], "RUNNING");
  EXPECT_EQ(info["start_time"], 1700000000123);
  EXPECT_FALSE(info.contains("end_time"));
  EXPECT_EQ(info["lifecycle_stage"], "active");
  EXPECT_THAT(info["artifact_uri"].get<std::string>(), HasSubstr(info["run_id"]));
  EXPECT_EQ(created["run"]["inputs"], Json::object());
  const Json& data = created["run"]["data"];
  EXPECT_FALSE(data.contains("metrics"));
  EXPECT_FALSE(data.contains("params"));
  EXPECT_EQ(data["tags"], Json::parse(R"([{"key": "flow", "value": "train"},
                                          {"key": "mlflow.runName", "value": "first"}])"));
}

TEST_P(RestApiTest, LogMetricParamAndTagsShowInGetRun) {
  const std::string run = CreateRun(CreateExperiment("log"), "r");
  Ok(Post("runs/log-metric", {{"run_id", run}, {"key", "auc"}, {"value", 0.5}, {"step", "3"}}));
  Ok(Post("runs/log-parameter", {{"run_uuid", run}, {"key", "max_depth"}, {"value", "6"}}));
  Ok(Post("runs/set-tag", {{"run_id", run}, {"key", "flow"}, {"value", "train"}}));
  Ok(Post("runs/set-tag", {{"run_id", run}, {"key", "gone"}, {"value", "x"}}));
  EXPECT_EQ(Ok(Post("runs/delete-tag", {{"run_id", run}, {"key", "gone"}})), Json::object());

  const Json got = Ok(Get("runs/get?run_uuid=" + run));
  // Without a timestamp the metric is logged "now" (the fake clock).
  EXPECT_EQ(got["run"]["data"]["metrics"],
            Json::parse(absl::StrCat(R"([{"key": "auc", "value": 0.5, "timestamp": )", kStartMs,
                                     R"(, "step": 3}])")));
  EXPECT_EQ(got["run"]["data"]["params"], Json::parse(R"([{"key": "max_depth", "value": "6"}])"));
  EXPECT_EQ(got["run"]["data"]["tags"], Json::parse(R"([{"key": "flow", "value": "train"},
                                                        {"key": "mlflow.runName", "value": "r"}])"));
}

TEST_P(RestApiTest, NonFiniteMetricValuesRoundTripAsStrings) {
  const std::string run = CreateRun(CreateExperiment("nan"), "r");
  Ok(Post("runs/log-batch", Json::parse(absl::StrCat(R"({"run_id": ")", run, R"(", "metrics": [
      {"key": "loss", "value": "NaN", "timestamp": 1, "step": 0},
      {"key": "loss", "value": "Infinity", "timestamp": 2, "step": 1},
      {"key": "loss", "value": "-Infinity", "timestamp": 3, "step": 2},
      {"key": "loss", "value": "2.5", "timestamp": 4, "step": 3}]})"))));
  const Json history =
      Ok(Get(absl::StrCat("metrics/get-history?run_id=", run, "&metric_key=loss")));
  ASSERT_EQ(history["metrics"].size(), 4U) << history;
  EXPECT_EQ(history["metrics"][0]["value"], "NaN");
  EXPECT_EQ(history["metrics"][1]["value"], "Infinity");
  EXPECT_EQ(history["metrics"][2]["value"], "-Infinity");
  EXPECT_EQ(history["metrics"][3]["value"], 2.5);
  EXPECT_FALSE(history.contains("next_page_token"));
}

TEST_P(RestApiTest, LogBatchOverTheMetricLimitIsInvalidAndLogsNothing) {
  const std::string run = CreateRun(CreateExperiment("limits"), "r");
  Json metrics = Json::array();
  for (int i = 0; i < 1001; ++i) {
    metrics.push_back({{"key", "m"}, {"value", i}, {"timestamp", i}, {"step", i}});
  }
  EXPECT_TRUE(IsError(Post("runs/log-batch", {{"run_id", run}, {"metrics", metrics}}), 400,
                      "INVALID_PARAMETER_VALUE"));
  EXPECT_FALSE(Ok(Get("runs/get?run_id=" + run))["run"]["data"].contains("metrics"));
}

TEST_P(RestApiTest, ChangingAParamIsInvalidParameterValue) {
  const std::string run = CreateRun(CreateExperiment("params"), "r");
  Ok(Post("runs/log-parameter", {{"run_id", run}, {"key", "lr"}, {"value", "0.1"}}));
  Ok(Post("runs/log-parameter", {{"run_id", run}, {"key", "lr"}, {"value", "0.1"}}));
  EXPECT_TRUE(
      IsError(Post("runs/log-parameter", {{"run_id", run}, {"key", "lr"}, {"value", "0.2"}}), 400,
              "INVALID_PARAMETER_VALUE"));
}

TEST_P(RestApiTest, UnknownRunIsResourceDoesNotExist) {
  const std::string missing = "0123456789abcdef0123456789abcdef";
  EXPECT_TRUE(IsError(Get("runs/get?run_id=" + missing), 404, "RESOURCE_DOES_NOT_EXIST"));
  EXPECT_TRUE(IsError(Post("runs/log-metric", {{"run_id", missing}, {"key", "k"}, {"value", 1}}),
                      404, "RESOURCE_DOES_NOT_EXIST"));
  EXPECT_TRUE(IsError(Get(absl::StrCat("metrics/get-history?run_id=", missing, "&metric_key=k")),
                      404, "RESOURCE_DOES_NOT_EXIST"));
}

TEST_P(RestApiTest, LoggingToADeletedRunIsInvalidStateLikeMlflow) {
  const std::string run = CreateRun(CreateExperiment("deleted"), "r");
  EXPECT_EQ(Ok(Post("runs/delete", {{"run_id", run}})), Json::object());
  EXPECT_EQ(Ok(Get("runs/get?run_id=" + run))["run"]["info"]["lifecycle_stage"], "deleted");
  // MLflow answers INVALID_STATE with HTTP 500 (its ERROR_CODE_TO_HTTP_STATUS).
  EXPECT_TRUE(IsError(Post("runs/set-tag", {{"run_id", run}, {"key", "k"}, {"value", "v"}}), 500,
                      "INVALID_STATE"));
  Ok(Post("runs/restore", {{"run_id", run}}));
  Ok(Post("runs/set-tag", {{"run_id", run}, {"key", "k"}, {"value", "v"}}));
}

TEST_P(RestApiTest, SearchWithoutResultsAnswersAnEmptyObject) {
  const std::string exp = CreateExperiment("empty");
  const Answer answer = Post("runs/search", {{"experiment_ids", {exp}}});
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.raw.body, "{}");
  EXPECT_EQ(Ok(Get("registered-models/search")), Json::object());
  EXPECT_EQ(Ok(Get("model-versions/search")), Json::object());
}

TEST_P(RestApiTest, BadSearchArgumentsAreInvalidParameterValue) {
  const std::string exp = CreateExperiment("bad-search");
  EXPECT_TRUE(IsError(Post("runs/search", {{"experiment_ids", {exp}}, {"filter", "metrics.x >"}}),
                      400, "INVALID_PARAMETER_VALUE"));
  EXPECT_TRUE(IsError(Post("runs/search", {{"experiment_ids", {exp}}, {"page_token", "!!bad!!"}}),
                      400, "INVALID_PARAMETER_VALUE"));
  EXPECT_TRUE(IsError(Post("runs/search", {{"experiment_ids", {exp}}, {"max_results", 50001}}), 400,
                      "INVALID_PARAMETER_VALUE"));
  EXPECT_TRUE(IsError(Post("runs/search", {{"experiment_ids", {exp}}, {"order_by", {"nope ASC"}}}),
                      400, "INVALID_PARAMETER_VALUE"));
  EXPECT_TRUE(
      IsError(Get("registered-models/search?filter=name+%3D"), 400, "INVALID_PARAMETER_VALUE"));
}

// The whole path of a training run to a served alias, as a client would walk it.
TEST_P(RestApiTest, FullFlowFromExperimentToAlias) {
  const std::string exp = CreateExperiment("flow");
  // Five runs that match the filter, with AUCs in a known order, and three that do not.
  std::vector<std::string> runs;
  for (const double auc : {0.995, 0.999, 0.991, 0.9995, 0.993}) {
    runs.push_back(LogTrainingRun(exp, auc, "6", "train"));
  }
  LogTrainingRun(exp, 0.98, "6", "train");
  LogTrainingRun(exp, 0.9999, "8", "train");
  LogTrainingRun(exp, 0.9999, "6", "eval");
  Json request = {
      {"experiment_ids", {exp}},
      {"filter", "metrics.valid_auc > 0.99 and params.max_depth = '6' and tags.flow = 'train'"},
      {"run_view_type", "ACTIVE_ONLY"},
      {"max_results", 2},
      {"order_by", {"metrics.valid_auc DESC"}}};
  // 0.9995 (3), 0.999 (1), 0.995 (0), 0.993 (4), 0.991 (2), in pages of 2, 2 and 1.
  EXPECT_THAT(SearchAllPages(request), ElementsAre(runs[3], runs[1], runs[0], runs[4], runs[2]));

  const Json history =
      Ok(Get(absl::StrCat("metrics/get-history?run_id=", runs[3], "&metric_key=valid_auc")));
  EXPECT_EQ(history, Json::parse(R"({"metrics": [
      {"key": "valid_auc", "value": 0.5, "timestamp": 1552550804, "step": 0},
      {"key": "valid_auc", "value": 0.9995, "timestamp": 1552550805, "step": 1}]})"));
  const Json first_page = Ok(Get(
      absl::StrCat("metrics/get-history?run_id=", runs[3], "&metric_key=valid_auc&max_results=1")));
  ASSERT_EQ(first_page["metrics"].size(), 1U);
  const Json second_page = Ok(Get(absl::StrCat(
      "metrics/get-history?run_id=", runs[3], "&metric_key=valid_auc",
      "&max_results=1&page_token=", Escape(first_page["next_page_token"].get<std::string>()))));
  EXPECT_EQ(second_page["metrics"][0]["value"], 0.9995);

  // Register the best run's model and point an alias at it, then move the alias.
  ASSERT_TRUE(registry_->LogArtifact(runs[3], "model/model.json", R"({"trees": 1})").ok());
  Ok(Post("registered-models/create", {{"name", "churn-model"}}));
  const Json v1 = Ok(Post("model-versions/create",
                          {{"name", "churn-model"}, {"source", "runs:/" + runs[3] + "/model"}}));
  EXPECT_EQ(v1["model_version"]["version"], "1");
  EXPECT_EQ(v1["model_version"]["run_id"], runs[3]);
  EXPECT_EQ(v1["model_version"]["artifacts"][0]["path"], "model.json");
  const Json v2 = Ok(Post("model-versions/create",
                          {{"name", "churn-model"}, {"source", "runs:/" + runs[1] + "/model"}}));
  EXPECT_EQ(v2["model_version"]["version"], "2");

  const int64_t t_v1 = absl::ToUnixMillis(clock_.Now());
  EXPECT_EQ(Ok(Post("registered-models/alias",
                    {{"name", "churn-model"}, {"alias", "champion"}, {"version", "1"}})),
            Json::object());
  const Json by_alias = Ok(Get("registered-models/alias?name=churn-model&alias=champion"));
  EXPECT_EQ(by_alias["model_version"]["version"], "1");
  EXPECT_EQ(by_alias["model_version"]["aliases"], Json::array({"champion"}));

  clock_.Advance(absl::Minutes(5));
  const int64_t t_v2 = absl::ToUnixMillis(clock_.Now());
  Ok(Post("registered-models/alias", {{"name", "churn-model"},
                                      {"alias", "champion"},
                                      {"version", 2},
                                      {"actor", "ci"},
                                      {"reason", "better auc"}}));
  EXPECT_EQ(
      Ok(Get(
          "registered-models/alias?name=churn-model&alias=champion"))["model_version"]["version"],
      "2");
  const Json model = Ok(Get("registered-models/get?name=churn-model"));
  EXPECT_EQ(model["registered_model"]["aliases"],
            Json::parse(R"([{"alias": "champion", "version": "2"}])"));

  const Json events = Ok(Get("registered-models/alias/history?name=churn-model&alias=champion"));
  ASSERT_EQ(events["events"].size(), 2U) << events;
  EXPECT_EQ(events["events"][0]["version"], "1");
  EXPECT_EQ(events["events"][0]["previous_version"], nullptr);
  EXPECT_EQ(events["events"][0]["actor"], "rest");
  EXPECT_EQ(events["events"][0]["timestamp"], t_v1);
  EXPECT_EQ(events["events"][1]["version"], "2");
  EXPECT_EQ(events["events"][1]["previous_version"], "1");
  EXPECT_EQ(events["events"][1]["actor"], "ci");
  EXPECT_EQ(events["events"][1]["reason"], "better auc");
  const std::string at = "registered-models/alias/history?name=churn-model&alias=champion&at=";
  EXPECT_EQ(Ok(Get(absl::StrCat(at, t_v1 - 1))), Json::parse(R"({"version": null})"));
  EXPECT_EQ(Ok(Get(absl::StrCat(at, t_v1 + 1))), Json::parse(R"({"version": "1"})"));
  EXPECT_EQ(Ok(Get(absl::StrCat(at, t_v2))), Json::parse(R"({"version": "2"})"));

  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Ok(Call("DELETE", "registered-models/alias?name=churn-model&alias=champion")),
            Json::object());
  EXPECT_TRUE(IsError(Get("registered-models/alias?name=churn-model&alias=champion"), 404,
                      "RESOURCE_DOES_NOT_EXIST"));
  const Json after = Ok(Get("registered-models/alias/history?name=churn-model&alias=champion"));
  ASSERT_EQ(after["events"].size(), 3U) << after;
  EXPECT_EQ(after["events"][2]["version"], nullptr);
  EXPECT_EQ(after["events"][2]["previous_version"], "2");
  EXPECT_EQ(Ok(Get(absl::StrCat(at, t_v2))), Json::parse(R"({"version": "2"})"));
}

// --- Registered models and versions -------------------------------------------------------

TEST_P(RestApiTest, RegisteredModelLifecycle) {
  const Json created = Ok(Post("registered-models/create", Json::parse(R"({
      "name": "churn", "description": "attrition classifier",
      "tags": [{"key": "owner", "value": "risk"}]})")));
  EXPECT_EQ(created,
            Json::parse(absl::StrCat(R"({"registered_model": {"name": "churn",
      "creation_timestamp": )",
                                     kStartMs, R"(, "last_updated_timestamp": )", kStartMs, R"(,
      "description": "attrition classifier", "tags": [{"key": "owner", "value": "risk"}]}})")));
  EXPECT_TRUE(IsError(Post("registered-models/create", {{"name", "churn"}}), 400,
                      "RESOURCE_ALREADY_EXISTS"));

  clock_.Advance(absl::Seconds(10));
  const Json updated =
      Ok(Send("PATCH", "registered-models/update", {{"name", "churn"}, {"description", "v2"}}));
  EXPECT_EQ(updated["registered_model"]["description"], "v2");
  EXPECT_EQ(updated["registered_model"]["last_updated_timestamp"], kStartMs + 10000);
  Ok(Post("registered-models/set-tag", {{"name", "churn"}, {"key", "stage"}, {"value", "dev"}}));
  Ok(Send("DELETE", "registered-models/delete-tag", {{"name", "churn"}, {"key", "owner"}}));
  EXPECT_EQ(Ok(Get("registered-models/get?name=churn"))["registered_model"]["tags"],
            Json::parse(R"([{"key": "stage", "value": "dev"}])"));

  Ok(Post("registered-models/create", {{"name", "other"}}));
  const Json found = Ok(Get("registered-models/search?filter=name+%3D+'churn'"));
  ASSERT_EQ(found["registered_models"].size(), 1U) << found;
  EXPECT_EQ(found["registered_models"][0]["name"], "churn");
  const Json paged = Ok(Get("registered-models/search?max_results=1&order_by=name"));
  EXPECT_EQ(paged["registered_models"][0]["name"], "churn");
  EXPECT_TRUE(paged.contains("next_page_token"));

  EXPECT_EQ(Ok(Send("DELETE", "registered-models/delete", {{"name", "churn"}})), Json::object());
  EXPECT_TRUE(IsError(Get("registered-models/get?name=churn"), 404, "RESOURCE_DOES_NOT_EXIST"));
  EXPECT_EQ(Ok(Call("DELETE", "registered-models/delete?name=other")), Json::object());
}

TEST_P(RestApiTest, ModelVersionLifecycle) {
  const std::string run = CreateRun(CreateExperiment("versions"), "r");
  ASSERT_TRUE(registry_->LogArtifact(run, "model/model.json", "{}").ok());
  Ok(Post("registered-models/create", {{"name", "m"}}));
  const Json created = Ok(Post("model-versions/create",
                               Json::parse(absl::StrCat(R"({
      "name": "m", "source": "runs:/)",
                                                        run, R"(/model", "run_id": ")", run, R"(",
      "tags": [{"key": "t", "value": "1"}], "run_link": "http://ci/1", "description": "first",
      "signature": "{\"inputs\": []}", "metrics": [{"key": "test_auc", "value": 0.99}]})"))));
  const Json& v = created["model_version"];
  EXPECT_EQ(v["name"], "m");
  EXPECT_EQ(v["version"], "1");
  EXPECT_EQ(v["creation_timestamp"], kStartMs);
  EXPECT_EQ(v["current_stage"], "None");
  EXPECT_EQ(v["status"], "READY");
  EXPECT_EQ(v["source"], "runs:/" + run + "/model");
  EXPECT_EQ(v["run_id"], run);
  EXPECT_EQ(v["run_link"], "http://ci/1");
  EXPECT_EQ(v["description"], "first");
  EXPECT_EQ(v["tags"], Json::parse(R"([{"key": "t", "value": "1"}])"));
  EXPECT_EQ(v["signature"], R"({"inputs": []})");
  EXPECT_EQ(v["metrics"], Json::parse(R"([{"key": "test_auc", "value": 0.99}])"));
  ASSERT_EQ(v["artifacts"].size(), 1U);
  EXPECT_EQ(v["artifacts"][0]["path"], "model.json");
  EXPECT_EQ(v["artifacts"][0]["size"], 2);
  EXPECT_EQ(v["artifacts"][0]["sha256"].get<std::string>().size(), 64U);
  EXPECT_FALSE(v.contains("aliases"));

  const Json model = Ok(Get("registered-models/get?name=m"));
  EXPECT_EQ(model["registered_model"]["latest_versions"][0]["version"], "1");

  EXPECT_EQ(Ok(Get("model-versions/get?name=m&version=1")), created);
  const Json updated = Ok(Send("PATCH", "model-versions/update",
                               {{"name", "m"}, {"version", "1"}, {"description", "d"}}));
  EXPECT_EQ(updated["model_version"]["description"], "d");
  Ok(Post("model-versions/set-tag",
          {{"name", "m"}, {"version", "1"}, {"key", "k"}, {"value", "v"}}));
  Ok(Send("DELETE", "model-versions/delete-tag", {{"name", "m"}, {"version", 1}, {"key", "t"}}));
  EXPECT_EQ(Ok(Get("model-versions/get?name=m&version=1"))["model_version"]["tags"],
            Json::parse(R"([{"key": "k", "value": "v"}])"));
  const Json found = Ok(Get("model-versions/search?filter=name+%3D+'m'"));
  ASSERT_EQ(found["model_versions"].size(), 1U) << found;

  EXPECT_TRUE(IsError(Get("model-versions/get?name=m&version=7"), 404, "RESOURCE_DOES_NOT_EXIST"));
  EXPECT_TRUE(
      IsError(Get("model-versions/get?name=nope&version=1"), 404, "RESOURCE_DOES_NOT_EXIST"));
  EXPECT_TRUE(
      IsError(Get("model-versions/get?name=m&version=abc"), 400, "INVALID_PARAMETER_VALUE"));
  EXPECT_TRUE(IsError(Post("model-versions/create", {{"name", "nope"}, {"source", "s3://x"}}), 404,
                      "RESOURCE_DOES_NOT_EXIST"));
  EXPECT_EQ(Ok(Send("DELETE", "model-versions/delete", {{"name", "m"}, {"version", "1"}})),
            Json::object());
  EXPECT_TRUE(IsError(Get("model-versions/get?name=m&version=1"), 404, "RESOURCE_DOES_NOT_EXIST"));
}

TEST_P(RestApiTest, AliasErrors) {
  Ok(Post("registered-models/create", {{"name", "m"}}));
  Ok(Post("model-versions/create", {{"name", "m"}, {"source", "s3://bucket/model"}}));
  EXPECT_TRUE(IsError(
      Post("registered-models/alias", {{"name", "m"}, {"alias", "latest"}, {"version", "1"}}), 400,
      "INVALID_PARAMETER_VALUE"));
  EXPECT_TRUE(
      IsError(Post("registered-models/alias", {{"name", "m"}, {"alias", "prod"}, {"version", "9"}}),
              404, "RESOURCE_DOES_NOT_EXIST"));
  EXPECT_TRUE(IsError(Post("registered-models/alias", {{"name", "m"}, {"alias", "prod"}}), 400,
                      "INVALID_PARAMETER_VALUE"));
  EXPECT_TRUE(
      IsError(Get("registered-models/alias?name=m&alias=prod"), 404, "RESOURCE_DOES_NOT_EXIST"));
  EXPECT_TRUE(IsError(Send("DELETE", "registered-models/alias", {{"name", "m"}, {"alias", "prod"}}),
                      404, "RESOURCE_DOES_NOT_EXIST"));
  EXPECT_TRUE(
      IsError(Get("registered-models/alias?name=nope&alias=prod"), 404, "RESOURCE_DOES_NOT_EXIST"));
  EXPECT_EQ(Ok(Get("registered-models/alias/history?name=m")), Json::parse(R"({"events": []})"));
}

// --- The seam -----------------------------------------------------------------------------

TEST_P(RestApiTest, TokenGuardsMutatingCallsOnly) {
  StartServer({.token = "s3cret"});
  const Answer anonymous = Post("experiments/create", {{"name", "guarded"}});
  EXPECT_TRUE(IsError(anonymous, 401, "UNAUTHENTICATED"));
  EXPECT_THAT(anonymous.raw.Header("www-authenticate"), Optional(std::string("Bearer")));
  EXPECT_TRUE(IsError(
      Call("POST", "experiments/create", R"({"name": "guarded"})", {"Authorization: Bearer wrong"}),
      401, "UNAUTHENTICATED"));
  EXPECT_TRUE(IsError(Call("POST", "experiments/create", R"({"name": "guarded"})",
                           {"Authorization: Bearer s3cret-and-more"}),
                      401, "UNAUTHENTICATED"));
  EXPECT_TRUE(IsError(Call("DELETE", "registered-models/delete?name=x"), 401, "UNAUTHENTICATED"));
  const Answer allowed = Call("POST", "experiments/create", R"({"name": "guarded"})",
                              {"Authorization: Bearer s3cret"});
  ASSERT_EQ(allowed.status, 200) << allowed.raw.body;
  EXPECT_EQ(Get("experiments/get-by-name?experiment_name=guarded").status, 200);
  EXPECT_EQ(HttpFetch("GET", Url("/health")).status, 200);
}

TEST_P(RestApiTest, HealthNamesTheRegistryAndSchema) {
  const HttpResponse response = HttpFetch("GET", Url("/health"));
  ASSERT_EQ(response.status, 200);
  const Json health = Json::parse(response.body, nullptr, false);
  EXPECT_EQ(health["status"], "ok");
  EXPECT_EQ(health["registry"], registry_->Describe());
  const absl::StatusOr<int64_t> schema = registry_->SchemaVersion();
  ASSERT_TRUE(schema.ok());
  EXPECT_EQ(health["schema_version"], *schema);
}

TEST_P(RestApiTest, GarbageIsAnsweredAndTheServerKeepsServing) {
  EXPECT_TRUE(
      IsError(Call("POST", "experiments/create", "{\"name\": "), 400, "INVALID_PARAMETER_VALUE"));
  EXPECT_TRUE(IsError(Call("POST", "experiments/create", "[{\"name\": \"x\"}]"), 400,
                      "INVALID_PARAMETER_VALUE"));
  EXPECT_TRUE(IsError(Call("POST", "experiments/create", "\"not an object\""), 400,
                      "INVALID_PARAMETER_VALUE"));
  EXPECT_TRUE(IsError(Call("POST", "experiments/create", std::string("{\"name\": \"a\xff\"}")), 400,
                      "INVALID_PARAMETER_VALUE"));
  EXPECT_TRUE(IsError(Call("POST", "experiments/create", std::string(100000, '[')), 400,
                      "INVALID_PARAMETER_VALUE"));
  EXPECT_TRUE(
      IsError(Call("POST", "experiments/create", std::string(20000, '[') + std::string(20000, ']')),
              400, "INVALID_PARAMETER_VALUE"));
  const std::string run = CreateRun(CreateExperiment("garbage"), "r");
  for (const char* huge : {"1e400", "99999999999999999999", "-99999999999999999999", "1.5", "true",
                           "\"12abc\"", "{}", "[]"}) {
    EXPECT_TRUE(
        IsError(Call("POST", "runs/log-metric",
                     absl::StrCat(R"({"run_id": ")", run,
                                  R"(", "key": "k", "value": 1, "timestamp": )", huge, "}")),
                400, "INVALID_PARAMETER_VALUE"))
        << huge;
  }
  EXPECT_TRUE(
      IsError(Get("runs/get?run_id=" + std::string(10000, 'a')), 404, "RESOURCE_DOES_NOT_EXIST"));
  EXPECT_TRUE(IsError(Get("experiments/get?experiment_id=%FF%FE"), 400, "INVALID_PARAMETER_VALUE"));

  const Answer unknown = Get("runs/nope");
  EXPECT_TRUE(IsError(unknown, 404, "ENDPOINT_NOT_FOUND"));
  EXPECT_TRUE(IsError(Call("GET", "runs/create"), 405, "BAD_REQUEST"));
  EXPECT_THAT(Call("GET", "runs/create").raw.Header("allow"), Optional(HasSubstr("POST")));
  EXPECT_TRUE(IsError(Call("PUT", "registered-models/update", "{}"), 405, "BAD_REQUEST"));
  EXPECT_EQ(HttpFetch("GET", Url("/elsewhere")).status, 404);

  EXPECT_EQ(Ok(Get("runs/get?run_id=" + run))["run"]["info"]["run_id"], run);
  EXPECT_EQ(HttpFetch("GET", Url("/health")).status, 200);
}

TEST_P(RestApiTest, ConcurrentClientsOnKeepAliveConnectionsAreAllServed) {
  const std::string run = CreateRun(CreateExperiment("concurrent"), "r");
  constexpr int kClients = 4;
  constexpr int kCallsPerClient = 25;
  std::vector<std::thread> clients;
  clients.reserve(kClients);
  std::atomic<int> failures{0};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpConnection connection;
      for (int i = 0; i < kCallsPerClient; ++i) {
        const Json body = {{"run_id", run},
                           {"key", "loss"},
                           {"value", i},
                           {"timestamp", 1},
                           {"step", c * kCallsPerClient + i}};
        if (connection.Fetch("POST", Url("/api/2.0/mlflow/runs/log-metric"), body.dump()).status !=
            200) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& client : clients) {
    client.join();
  }
  EXPECT_EQ(failures.load(), 0);
  const Json history =
      Ok(Get(absl::StrCat("metrics/get-history?run_id=", run, "&metric_key=loss")));
  EXPECT_EQ(history["metrics"].size(), static_cast<size_t>(kClients * kCallsPerClient));
}

// max_results beyond int32 (MLflow's type for the field) is refused, at the REST edge and in
// the registry: INT64_MAX once overflowed `limit + 1` and aborted the sanitized server.
TEST_P(RestApiTest, HugeMaxResultsForMetricHistoryIsAnsweredNotFatal) {
  const std::string run = CreateRun(CreateExperiment("huge"), "r");
  Ok(Post("runs/log-metric", {{"run_id", run}, {"key", "k"}, {"value", 1}, {"timestamp", 1}}));
  const Answer answer = Get(absl::StrCat("metrics/get-history?run_id=", run,
                                         "&metric_key=k&max_results=9223372036854775807"));
  EXPECT_TRUE(IsError(answer, 400, "INVALID_PARAMETER_VALUE"));
  EXPECT_EQ(Ok(Get(absl::StrCat("metrics/get-history?run_id=", run,
                                "&metric_key=k&max_results=2147483647")))["metrics"]
                .size(),
            1U);
  EXPECT_EQ(HttpFetch("GET", Url("/health")).status, 200);
}

// A model version's NaN and infinite metrics survive the round trip (JSON numbers cannot hold
// them: the registry stores them as strings; they once came back missing).
TEST_P(RestApiTest, NonFiniteModelVersionMetricsAreKept) {
  Ok(Post("registered-models/create", {{"name", "m"}}));
  const Json created = Ok(Post("model-versions/create", Json::parse(R"({"name": "m",
      "source": "s3://b/m", "metrics": [{"key": "auc", "value": 0.9},
                                        {"key": "loss", "value": "NaN"}]})")));
  EXPECT_EQ(created["model_version"]["metrics"],
            Json::parse(R"([{"key": "auc", "value": 0.9}, {"key": "loss", "value": "NaN"}])"));
}

// MLflow's artifact proxy: an MLflow client uploads a run's files with PUT to
// /api/2.0/mlflow-artifacts/artifacts/<experiment>/<run>/artifacts/<path> and lists them with
// artifacts/list; the bytes come back as sent, and a corrupted blob is an error, not bytes.
TEST_P(RestApiTest, ArtifactProxyUploadsListsAndDownloads) {
  const std::string experiment = CreateExperiment("files");
  const std::string run = CreateRun(experiment, "r");
  const std::string base = Url(
      absl::StrCat("/api/2.0/mlflow-artifacts/artifacts/", experiment, "/", run, "/artifacts/"));
  const std::string model(3000, '\x7f');
  EXPECT_EQ(HttpFetch("PUT", base + "model/model.json", model).status, 200);
  EXPECT_EQ(HttpFetch("PUT", base + "model/pipeline.json", "{}").status, 200);
  EXPECT_EQ(HttpFetch("PUT", base + "notes.txt", "n").status, 200);
  const HttpResponse got = HttpFetch("GET", base + "model/model.json");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, model);

  const Json root = Ok(Get(absl::StrCat("artifacts/list?run_id=", run)));
  EXPECT_EQ(root["root_uri"],
            absl::StrCat("mlflow-artifacts:/", experiment, "/", run, "/artifacts"));
  EXPECT_EQ(root["files"], Json::parse(R"([{"path": "model", "is_dir": true},
      {"path": "notes.txt", "is_dir": false, "file_size": 1}])"));
  const Json folder = Ok(Get(absl::StrCat("artifacts/list?run_id=", run, "&path=model")));
  ASSERT_EQ(folder["files"].size(), 2U);
  EXPECT_EQ(folder["files"][0]["path"], "model/model.json");
  EXPECT_EQ(folder["files"][0]["file_size"], 3000);
  const HttpResponse proxied =
      HttpFetch("GET", Url(absl::StrCat("/api/2.0/mlflow-artifacts/artifacts?path=", experiment,
                                        "/", run, "/artifacts/model")));
  EXPECT_EQ(proxied.status, 200);
  EXPECT_EQ(Json::parse(proxied.body)["files"][1]["path"], "pipeline.json");

  EXPECT_EQ(HttpFetch("PUT", base + "../escape", "x").status, 400);
  EXPECT_EQ(HttpFetch("GET", base + "missing.bin").status, 404);
  EXPECT_EQ(HttpFetch("PUT", Url("/api/2.0/mlflow-artifacts/artifacts/nonsense"), "x").status, 400);
  // Flip a byte of the stored blob: the download is refused.
  CHURN_ASSERT_OK_AND_ASSIGN(const auto files, registry_->ListArtifacts(run, "notes"));
  ASSERT_EQ(files.size(), 1U);
  ASSERT_THAT(
      base::WriteFileAtomic(dir_.Path() / "artifacts" / ArtifactStore::KeyOf(files[0].sha256), "m"),
      ::churn::testing::IsOk());
  const HttpResponse corrupt = HttpFetch("GET", base + "notes.txt");
  EXPECT_EQ(corrupt.status, 500);
  EXPECT_THAT(corrupt.body, ::testing::HasSubstr("corrupted"));
}

INSTANTIATE_TEST_SUITE_P(Backends, RestApiTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const ::testing::TestParamInfo<Backend>& param) {
                           return param.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

// --- Error mapping ------------------------------------------------------------------------

TEST(MlflowErrors, CodesAndHttpStatusesFollowMlflow) {
  const std::vector<std::pair<absl::Status, std::pair<std::string, int>>> cases = {
      {absl::NotFoundError(""), {"RESOURCE_DOES_NOT_EXIST", 404}},
      {absl::InvalidArgumentError(""), {"INVALID_PARAMETER_VALUE", 400}},
      {absl::AlreadyExistsError(""), {"RESOURCE_ALREADY_EXISTS", 400}},
      {absl::FailedPreconditionError(""), {"INVALID_STATE", 500}},
      {absl::UnauthenticatedError(""), {"UNAUTHENTICATED", 401}},
      {absl::PermissionDeniedError(""), {"PERMISSION_DENIED", 403}},
      {absl::UnavailableError(""), {"TEMPORARILY_UNAVAILABLE", 503}},
      {absl::DeadlineExceededError(""), {"DEADLINE_EXCEEDED", 504}},
      {absl::DataLossError(""), {"INTERNAL_ERROR", 500}},
      {absl::InternalError(""), {"INTERNAL_ERROR", 500}},
      {absl::UnknownError(""), {"INTERNAL_ERROR", 500}},
  };
  for (const auto& [status, expected] : cases) {
    EXPECT_EQ(MlflowErrorCode(status), expected.first) << status;
    EXPECT_EQ(MlflowHttpStatus(status), expected.second) << status;
  }
}

}  // namespace
}  // namespace churn::registry
