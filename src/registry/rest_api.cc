// MLflow's REST API over a Registry. Each endpoint is a row of kRoutes and its handler does what
// an edge should and no more: read its parameters from a Params (the JSON body, or the query
// string of a GET), make one Registry call and write the result as MLflow's JSON. Serve() is the
// seam around every handler: the bearer token, parsing, Status -> MLflow error body, and the one
// place nlohmann exceptions could surface.
//
// MLflow's server writes proto messages with MessageToJson and then turns int64 strings back
// into numbers, so answers leave out empty fields, write int64 as numbers and doubles that are
// not finite as the strings "NaN", "Infinity" and "-Infinity"; model versions are strings.
#include "churn/registry/rest_api.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"

namespace churn::registry {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kApiPrefix[] = "/api/2.0/mlflow/";
constexpr char kSeeDocs[] = " See the API docs for more information about request parameters.";
// How much of an offending value an error message quotes.
constexpr size_t kQuotedValueChars = 200;

// --- Errors -------------------------------------------------------------------------------

absl::Status Missing(absl::string_view name) {
  return absl::InvalidArgumentError(
      absl::StrCat("Missing value for required parameter '", name, "'.", kSeeDocs));
}

// MLflow's message for a value of the wrong type or form.
absl::Status InvalidValue(absl::string_view name, const Json& value, absl::string_view hint) {
  std::string quoted = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (quoted.size() > kQuotedValueChars) {
    quoted.resize(kQuotedValueChars);
    quoted += "...";
  }
  return absl::InvalidArgumentError(absl::StrCat("Invalid value ", quoted, " for parameter '", name,
                                                 "' supplied: ", hint, kSeeDocs));
}

absl::Status WrongType(absl::string_view name, const Json& value, absl::string_view expected) {
  return InvalidValue(
      name, value,
      absl::StrCat("Hint: Value was of type '", value.type_name(), "', expected ", expected, "."));
}

http::Response JsonResponse(int status, const Json& body) {
  return http::Response::Json(status, body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

http::Response ErrorResponse(const absl::Status& status) {
  Json body = Json::object();
  body["error_code"] = MlflowErrorCode(status);
  body["message"] = std::string(status.message());
  http::Response response = JsonResponse(MlflowHttpStatus(status), body);
  if (absl::IsUnauthenticated(status)) {
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  return response;
}

// --- Reading parameters -------------------------------------------------------------------

// An int64 from a JSON number or a decimal string (proto3 JSON allows both).
absl::StatusOr<int64_t> IntOf(const Json& value, absl::string_view name) {
  int64_t out = 0;
  if (value.is_number_unsigned()) {
    if (value.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(value.get<uint64_t>());
    }
  } else if (value.is_number_integer()) {
    return value.get<int64_t>();
  } else if (value.is_string() && absl::SimpleAtoi(value.get_ref<const std::string&>(), &out)) {
    return out;
  }
  return WrongType(name, value, "a 64-bit integer");
}

// A double from a JSON number, "NaN", "Infinity", "-Infinity" or a decimal string.
absl::StatusOr<double> DoubleOf(const Json& value, absl::string_view name) {
  if (value.is_number()) {
    return value.get<double>();
  }
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text == "NaN") {
      return std::numeric_limits<double>::quiet_NaN();
    }
    if (text == "Infinity" || text == "-Infinity") {
      const double inf = std::numeric_limits<double>::infinity();
      return text[0] == '-' ? -inf : inf;
    }
    double out = 0;
    if (absl::SimpleAtod(text, &out)) {
      return out;
    }
  }
  return WrongType(name, value, "a number");
}

// The parameters of one request (or one entry of a list in it) as a JSON object, read with
// MLflow's rules: a required value that is absent, null or "" is missing; a value of the wrong
// type is invalid; null is absent. Values from a query string are all strings.
class Params {
 public:
  Params(Json object, std::string prefix, bool from_query)
      : object_(std::move(object)), prefix_(std::move(prefix)), from_query_(from_query) {}

  // For GET (and HEAD) the query string, unless it is empty and a body was sent (as MLflow);
  // otherwise the JSON body ({} when empty; a JSON string holding JSON is decoded again, as
  // MLflow does for old clients), to which a DELETE adds its query parameters.
  // InvalidArgument for malformed JSON or a body that is not an object.
  static absl::StatusOr<Params> FromRequest(const http::Request& request);

  // The value of `name`, nullptr when absent or null. A repeated query parameter read as a
  // single value is its first occurrence (as Flask's args.get).
  const Json* Find(absl::string_view name) const;

  // `name` as the caller should quote it: "metrics[2].value" inside a log-batch entry.
  std::string Path(absl::string_view name) const { return absl::StrCat(prefix_, name); }

  absl::StatusOr<std::string> String(absl::string_view name) const;
  absl::StatusOr<std::optional<std::string>> OptString(absl::string_view name) const;
  absl::StatusOr<std::string> StringOr(absl::string_view name) const;
  absl::StatusOr<int64_t> Int(absl::string_view name) const;
  absl::StatusOr<std::optional<int64_t>> OptInt(absl::string_view name) const;
  absl::StatusOr<double> Double(absl::string_view name) const;
  // A list of strings; in a query string also a single value.
  absl::StatusOr<std::vector<std::string>> Strings(absl::string_view name) const;
  // A list of objects, each as Params named "<name>[i].".
  absl::StatusOr<std::vector<Params>> Objects(absl::string_view name) const;
  // [{"key", "value"}] as tags.
  absl::StatusOr<std::vector<Tag>> Tags(absl::string_view name) const;

 private:
  Json object_;
  std::string prefix_;
  bool from_query_ = false;
};

Json QueryObject(const http::Request& request) {
  Json object = Json::object();
  for (const auto& [name, value] : request.query) {
    auto it = object.find(name);
    if (it == object.end()) {
      object[name] = value;
    } else if (it->is_array()) {
      it->push_back(value);
    } else {
      *it = Json::array({*it, value});
    }
  }
  return object;
}

absl::StatusOr<Json> BodyObject(absl::string_view body) {
  if (absl::StripAsciiWhitespace(body).empty()) {
    return Json::object();
  }
  Json parsed = Json::parse(body.begin(), body.end(), nullptr, false);
  if (parsed.is_string()) {
    const std::string inner = parsed.get<std::string>();
    parsed = Json::parse(inner, nullptr, false);
  }
  if (parsed.is_discarded()) {
    return absl::InvalidArgumentError("Malformed request body: it is not valid JSON.");
  }
  if (!parsed.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Invalid request body: expected a JSON object, got a JSON ", parsed.type_name(), "."));
  }
  return parsed;
}

absl::StatusOr<Params> Params::FromRequest(const http::Request& request) {
  const bool is_get = request.method == "GET" || request.method == "HEAD";
  if (is_get && (!request.query.empty() || request.body.empty())) {
    return Params(QueryObject(request), "", true);
  }
  CHURN_ASSIGN_OR_RETURN(Json object, BodyObject(request.body));
  if (request.method == "DELETE") {
    const Json query = QueryObject(request);
    for (auto it = query.begin(); it != query.end(); ++it) {
      if (!object.contains(it.key())) {
        object[it.key()] = *it;
      }
    }
  }
  return Params(std::move(object), "", false);
}

const Json* Params::Find(absl::string_view name) const {
  const auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) {
    return nullptr;
  }
  if (from_query_ && it->is_array()) {
    return &it->front();
  }
  return &*it;
}

absl::StatusOr<std::optional<std::string>> Params::OptString(absl::string_view name) const {
  const Json* value = Find(name);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_string()) {
    return WrongType(Path(name), *value, "a string");
  }
  return value->get<std::string>();
}

absl::StatusOr<std::string> Params::String(absl::string_view name) const {
  CHURN_ASSIGN_OR_RETURN(std::optional<std::string> value, OptString(name));
  if (!value.has_value() || value->empty()) {
    return Missing(Path(name));
  }
  return *std::move(value);
}

absl::StatusOr<std::string> Params::StringOr(absl::string_view name) const {
  CHURN_ASSIGN_OR_RETURN(std::optional<std::string> value, OptString(name));
  return std::move(value).value_or("");
}

absl::StatusOr<std::optional<int64_t>> Params::OptInt(absl::string_view name) const {
  const Json* value = Find(name);
  if (value == nullptr || (value->is_string() && value->get_ref<const std::string&>().empty())) {
    return std::nullopt;
  }
  CHURN_ASSIGN_OR_RETURN(const int64_t out, IntOf(*value, Path(name)));
  return out;
}

absl::StatusOr<int64_t> Params::Int(absl::string_view name) const {
  CHURN_ASSIGN_OR_RETURN(const std::optional<int64_t> value, OptInt(name));
  if (!value.has_value()) {
    return Missing(Path(name));
  }
  return *value;
}

absl::StatusOr<double> Params::Double(absl::string_view name) const {
  const Json* value = Find(name);
  if (value == nullptr || (value->is_string() && value->get_ref<const std::string&>().empty())) {
    return Missing(Path(name));
  }
  return DoubleOf(*value, Path(name));
}

absl::StatusOr<std::vector<std::string>> Params::Strings(absl::string_view name) const {
  const auto it = object_.find(name);
  std::vector<std::string> out;
  if (it == object_.end() || it->is_null()) {
    return out;
  }
  if (from_query_ && it->is_string()) {
    out.push_back(it->get<std::string>());
    return out;
  }
  if (!it->is_array()) {
    return WrongType(Path(name), *it, "a list of strings");
  }
  for (const Json& item : *it) {
    if (!item.is_string()) {
      return WrongType(Path(name), *it, "a list of strings");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

absl::StatusOr<std::vector<Params>> Params::Objects(absl::string_view name) const {
  const Json* list = Find(name);
  std::vector<Params> out;
  if (list == nullptr) {
    return out;
  }
  if (from_query_ || !list->is_array()) {
    return WrongType(Path(name), *list, "a list of objects");
  }
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string item = absl::StrCat(Path(name), "[", i, "]");
    if (!(*list)[i].is_object()) {
      return WrongType(item, (*list)[i], "an object");
    }
    out.emplace_back((*list)[i], absl::StrCat(item, "."), false);
  }
  return out;
}

absl::StatusOr<std::vector<Tag>> Params::Tags(absl::string_view name) const {
  CHURN_ASSIGN_OR_RETURN(const std::vector<Params> items, Objects(name));
  std::vector<Tag> tags;
  for (const Params& item : items) {
    Tag tag;
    CHURN_ASSIGN_OR_RETURN(tag.key, item.String("key"));
    CHURN_ASSIGN_OR_RETURN(tag.value, item.StringOr("value"));
    tags.push_back(std::move(tag));
  }
  return tags;
}

// The proto numbers of the enums MLflow clients may send instead of names.
constexpr std::array<ViewType, 3> kViewsByNumber = {ViewType::kActiveOnly, ViewType::kDeletedOnly,
                                                    ViewType::kAll};
constexpr std::array<RunStatus, 5> kRunStatusesByNumber = {
    RunStatus::kRunning, RunStatus::kScheduled, RunStatus::kFinished, RunStatus::kFailed,
    RunStatus::kKilled};

// An enum given by name or by its proto number (1 is by_number[0]); nullopt when absent.
template <typename Enum, size_t N>
absl::StatusOr<std::optional<Enum>> EnumParam(
    const Params& p, absl::string_view name, absl::StatusOr<Enum> (*from_string)(absl::string_view),
    const std::array<Enum, N>& by_number) {
  const Json* value = p.Find(name);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (value->is_number_integer()) {
    const int64_t n = value->get<int64_t>();
    if (n >= 1 && n <= static_cast<int64_t>(N)) {
      return by_number[static_cast<size_t>(n - 1)];
    }
  } else if (value->is_string()) {
    absl::StatusOr<Enum> parsed = from_string(value->get<std::string>());
    if (parsed.ok()) {
      return *parsed;
    }
    return InvalidValue(p.Path(name), *value, parsed.status().message());
  }
  return WrongType(p.Path(name), *value, "a name");
}

absl::StatusOr<ViewType> ViewParam(const Params& p, absl::string_view name) {
  CHURN_ASSIGN_OR_RETURN(const std::optional<ViewType> view,
                         EnumParam(p, name, &ViewTypeFromString, kViewsByNumber));
  return view.value_or(ViewType::kActiveOnly);
}

// The filter, order_by, page_token and max_results of a search.
absl::StatusOr<SearchQuery> SearchParams(const Params& p, int64_t default_max_results) {
  SearchQuery query;
  CHURN_ASSIGN_OR_RETURN(query.filter, p.StringOr("filter"));
  CHURN_ASSIGN_OR_RETURN(query.order_by, p.Strings("order_by"));
  CHURN_ASSIGN_OR_RETURN(query.page_token, p.StringOr("page_token"));
  CHURN_ASSIGN_OR_RETURN(const std::optional<int64_t> max_results, p.OptInt("max_results"));
  query.max_results = max_results.value_or(default_max_results);
  return query;
}

// MLflow sends run_id, older clients run_uuid.
absl::StatusOr<std::string> RunIdParam(const Params& p) {
  CHURN_ASSIGN_OR_RETURN(std::optional<std::string> id, p.OptString("run_id"));
  if (!id.has_value() || id->empty()) {
    CHURN_ASSIGN_OR_RETURN(id, p.OptString("run_uuid"));
  }
  if (!id.has_value() || id->empty()) {
    return Missing(p.Path("run_id"));
  }
  return *std::move(id);
}

// --- Writing answers ----------------------------------------------------------------------

Json DoubleJson(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "Infinity" : "-Infinity";
  }
  return value;
}

void PutString(Json& out, const char* key, const std::string& value) {
  if (!value.empty()) {
    out[key] = value;
  }
}

template <typename T, typename ToJson>
void PutList(Json& out, const char* key, const std::vector<T>& items, ToJson to_json) {
  if (items.empty()) {
    return;
  }
  Json list = Json::array();
  for (const T& item : items) {
    list.push_back(to_json(item));
  }
  out[key] = std::move(list);
}

template <typename KeyValue>
Json KeyValueJson(const KeyValue& kv) {
  return Json{{"key", kv.key}, {"value", kv.value}};
}

Json MetricJson(const Metric& m) {
  return Json{
      {"key", m.key}, {"value", DoubleJson(m.value)}, {"timestamp", m.timestamp}, {"step", m.step}};
}

Json ExperimentJson(const Experiment& e) {
  Json out = {
      {"experiment_id", e.experiment_id},         {"name", e.name},
      {"artifact_location", e.artifact_location}, {"lifecycle_stage", ToString(e.lifecycle_stage)},
      {"last_update_time", e.last_update_time},   {"creation_time", e.creation_time}};
  PutList(out, "tags", e.tags, KeyValueJson<Tag>);
  return out;
}

Json RunInfoJson(const RunInfo& info) {
  Json out = {{"run_id", info.run_id},        {"run_uuid", info.run_id},
              {"run_name", info.run_name},    {"experiment_id", info.experiment_id},
              {"user_id", info.user_id},      {"status", ToString(info.status)},
              {"start_time", info.start_time}};
  if (info.end_time.has_value()) {
    out["end_time"] = *info.end_time;
  }
  out["artifact_uri"] = info.artifact_uri;
  out["lifecycle_stage"] = ToString(info.lifecycle_stage);
  PutString(out, "dataset_snapshot", info.dataset_snapshot);
  return out;
}

Json RunJson(const Run& run) {
  Json data = Json::object();
  PutList(data, "metrics", run.metrics, MetricJson);
  PutList(data, "params", run.params, KeyValueJson<Param>);
  PutList(data, "tags", run.tags, KeyValueJson<Tag>);
  return Json{{"info", RunInfoJson(run.info)}, {"data", data}, {"inputs", Json::object()}};
}

Json VersionJson(std::optional<int64_t> version) {
  return version.has_value() ? Json(absl::StrCat(*version)) : Json(nullptr);
}

Json ModelVersionJson(const ModelVersion& v) {
  Json out = {{"name", v.name},
              {"version", absl::StrCat(v.version)},
              {"creation_timestamp", v.creation_timestamp},
              {"last_updated_timestamp", v.last_updated_timestamp}};
  PutString(out, "user_id", v.user_id);
  out["current_stage"] = "None";
  PutString(out, "description", v.description);
  out["source"] = v.source;
  PutString(out, "run_id", v.run_id);
  out["status"] = v.status;
  PutList(out, "tags", v.tags, KeyValueJson<Tag>);
  PutString(out, "run_link", v.run_link);
  PutList(out, "aliases", v.aliases, [](const std::string& a) { return Json(a); });
  PutString(out, "signature", v.signature);
  PutList(out, "metrics", v.metrics, [](const std::pair<std::string, double>& m) {
    return Json{{"key", m.first}, {"value", DoubleJson(m.second)}};
  });
  PutList(out, "artifacts", v.artifacts, [](const ArtifactRef& a) {
    return Json{{"path", a.path}, {"sha256", a.sha256}, {"size", a.size}};
  });
  return out;
}

Json RegisteredModelJson(const RegisteredModel& m) {
  Json out = {{"name", m.name},
              {"creation_timestamp", m.creation_timestamp},
              {"last_updated_timestamp", m.last_updated_timestamp}};
  PutString(out, "description", m.description);
  if (m.latest_version.has_value()) {
    // The registry keeps no stages: the newest version is the latest of stage "None".
    out["latest_versions"] = Json::array({Json{{"name", m.name},
                                               {"version", absl::StrCat(*m.latest_version)},
                                               {"current_stage", "None"},
                                               {"status", "READY"}}});
  }
  PutList(out, "tags", m.tags, KeyValueJson<Tag>);
  PutList(out, "aliases", m.aliases, [](const std::pair<std::string, int64_t>& a) {
    return Json{{"alias", a.first}, {"version", absl::StrCat(a.second)}};
  });
  return out;
}

Json AliasEventJson(const AliasEvent& e) {
  return Json{{"id", e.id},
              {"name", e.name},
              {"alias", e.alias},
              {"version", VersionJson(e.version)},
              {"previous_version", VersionJson(e.previous_version)},
              {"timestamp", e.timestamp},
              {"actor", e.actor},
              {"reason", e.reason}};
}

// {"<key>": [items...], "next_page_token": ...}, both left out when empty.
template <typename T, typename ToJson>
Json PageJson(const char* key, const Page<T>& page, ToJson to_json) {
  Json out = Json::object();
  PutList(out, key, page.items, to_json);
  PutString(out, "next_page_token", page.next_page_token);
  return out;
}

// --- Handlers -----------------------------------------------------------------------------

// What every handler works with.
struct Api {
  Registry& registry;
  RestOptions options;
  base::Clock* clock = nullptr;

  int64_t NowMs() const { return absl::ToUnixMillis(clock->Now()); }
};

using HandlerFn = absl::StatusOr<Json> (*)(const Api& api, const Params& p);

absl::StatusOr<Json> Empty(const absl::Status& status) {
  CHURN_RETURN_IF_ERROR(status);
  return Json::object();
}

// Experiments.

absl::StatusOr<Json> CreateExperiment(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string name, p.String("name"));
  CHURN_ASSIGN_OR_RETURN(const std::string location, p.StringOr("artifact_location"));
  CHURN_ASSIGN_OR_RETURN(const std::vector<Tag> tags, p.Tags("tags"));
  CHURN_ASSIGN_OR_RETURN(const std::string id, api.registry.CreateExperiment(name, location, tags));
  return Json{{"experiment_id", id}};
}

absl::StatusOr<Json> GetExperiment(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string id, p.String("experiment_id"));
  CHURN_ASSIGN_OR_RETURN(const Experiment e, api.registry.GetExperiment(id));
  return Json{{"experiment", ExperimentJson(e)}};
}

absl::StatusOr<Json> GetExperimentByName(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string name, p.String("experiment_name"));
  CHURN_ASSIGN_OR_RETURN(const Experiment e, api.registry.GetExperimentByName(name));
  return Json{{"experiment", ExperimentJson(e)}};
}

absl::StatusOr<Json> SearchExperiments(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(SearchQuery query, SearchParams(p, 1000));
  CHURN_ASSIGN_OR_RETURN(query.view, ViewParam(p, "view_type"));
  CHURN_ASSIGN_OR_RETURN(const Page<Experiment> page, api.registry.SearchExperiments(query));
  return PageJson("experiments", page, ExperimentJson);
}

absl::StatusOr<Json> DeleteExperiment(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string id, p.String("experiment_id"));
  return Empty(api.registry.DeleteExperiment(id));
}

absl::StatusOr<Json> RestoreExperiment(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string id, p.String("experiment_id"));
  return Empty(api.registry.RestoreExperiment(id));
}

absl::StatusOr<Json> SetExperimentTag(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string id, p.String("experiment_id"));
  Tag tag;
  CHURN_ASSIGN_OR_RETURN(tag.key, p.String("key"));
  CHURN_ASSIGN_OR_RETURN(tag.value, p.StringOr("value"));
  return Empty(api.registry.SetExperimentTag(id, tag));
}

// Runs.

absl::StatusOr<Json> CreateRun(const Api& api, const Params& p) {
  CreateRunRequest request;
  CHURN_ASSIGN_OR_RETURN(const std::optional<std::string> experiment, p.OptString("experiment_id"));
  request.experiment_id = experiment.value_or("0");  // MLflow's default experiment
  CHURN_ASSIGN_OR_RETURN(request.user_id, p.StringOr("user_id"));
  CHURN_ASSIGN_OR_RETURN(request.run_name, p.StringOr("run_name"));
  CHURN_ASSIGN_OR_RETURN(request.start_time, p.OptInt("start_time"));
  CHURN_ASSIGN_OR_RETURN(request.tags, p.Tags("tags"));
  CHURN_ASSIGN_OR_RETURN(request.dataset_snapshot, p.StringOr("dataset_snapshot"));
  CHURN_ASSIGN_OR_RETURN(const Run run, api.registry.CreateRun(request));
  return Json{{"run", RunJson(run)}};
}

absl::StatusOr<Json> UpdateRun(const Api& api, const Params& p) {
  UpdateRunRequest request;
  CHURN_ASSIGN_OR_RETURN(request.run_id, RunIdParam(p));
  CHURN_ASSIGN_OR_RETURN(request.status,
                         EnumParam(p, "status", &RunStatusFromString, kRunStatusesByNumber));
  CHURN_ASSIGN_OR_RETURN(request.end_time, p.OptInt("end_time"));
  CHURN_ASSIGN_OR_RETURN(request.run_name, p.OptString("run_name"));
  CHURN_ASSIGN_OR_RETURN(const RunInfo info, api.registry.UpdateRun(request));
  return Json{{"run_info", RunInfoJson(info)}};
}

absl::StatusOr<Json> GetRun(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string id, RunIdParam(p));
  CHURN_ASSIGN_OR_RETURN(const Run run, api.registry.GetRun(id));
  return Json{{"run", RunJson(run)}};
}

absl::StatusOr<Json> DeleteRun(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string id, RunIdParam(p));
  return Empty(api.registry.DeleteRun(id));
}

absl::StatusOr<Json> RestoreRun(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string id, RunIdParam(p));
  return Empty(api.registry.RestoreRun(id));
}

absl::StatusOr<Json> SearchRuns(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(SearchQuery query, SearchParams(p, 1000));
  CHURN_ASSIGN_OR_RETURN(query.experiment_ids, p.Strings("experiment_ids"));
  CHURN_ASSIGN_OR_RETURN(query.view, ViewParam(p, "run_view_type"));
  CHURN_ASSIGN_OR_RETURN(const Page<Run> page, api.registry.SearchRuns(query));
  return PageJson("runs", page, RunJson);
}

// One metric of log-metric or log-batch; without a timestamp it is logged now.
absl::StatusOr<Metric> MetricParam(const Api& api, const Params& p) {
  Metric metric;
  CHURN_ASSIGN_OR_RETURN(metric.key, p.String("key"));
  CHURN_ASSIGN_OR_RETURN(metric.value, p.Double("value"));
  CHURN_ASSIGN_OR_RETURN(const std::optional<int64_t> timestamp, p.OptInt("timestamp"));
  metric.timestamp = timestamp.has_value() ? *timestamp : api.NowMs();
  CHURN_ASSIGN_OR_RETURN(const std::optional<int64_t> step, p.OptInt("step"));
  metric.step = step.value_or(0);
  return metric;
}

absl::StatusOr<Json> LogMetric(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string id, RunIdParam(p));
  CHURN_ASSIGN_OR_RETURN(const Metric metric, MetricParam(api, p));
  return Empty(api.registry.LogBatch(id, {metric}, {}, {}));
}

absl::StatusOr<Json> LogParam(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string id, RunIdParam(p));
  Param param;
  CHURN_ASSIGN_OR_RETURN(param.key, p.String("key"));
  CHURN_ASSIGN_OR_RETURN(param.value, p.StringOr("value"));
  return Empty(api.registry.LogBatch(id, {}, {param}, {}));
}

absl::StatusOr<Json> LogBatch(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string id, RunIdParam(p));
  CHURN_ASSIGN_OR_RETURN(const std::vector<Params> metric_items, p.Objects("metrics"));
  std::vector<Metric> metrics;
  for (const Params& item : metric_items) {
    CHURN_ASSIGN_OR_RETURN(Metric metric, MetricParam(api, item));
    metrics.push_back(std::move(metric));
  }
  CHURN_ASSIGN_OR_RETURN(const std::vector<Tag> params_as_tags, p.Tags("params"));
  std::vector<Param> params;
  params.reserve(params_as_tags.size());
  for (const Tag& t : params_as_tags) {
    params.push_back({t.key, t.value});
  }
  CHURN_ASSIGN_OR_RETURN(const std::vector<Tag> tags, p.Tags("tags"));
  return Empty(api.registry.LogBatch(id, metrics, params, tags));
}

absl::StatusOr<Json> SetTag(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string id, RunIdParam(p));
  Tag tag;
  CHURN_ASSIGN_OR_RETURN(tag.key, p.String("key"));
  CHURN_ASSIGN_OR_RETURN(tag.value, p.StringOr("value"));
  return Empty(api.registry.LogBatch(id, {}, {}, {tag}));
}

absl::StatusOr<Json> DeleteTag(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string id, RunIdParam(p));
  CHURN_ASSIGN_OR_RETURN(const std::string key, p.String("key"));
  return Empty(api.registry.DeleteTag(id, key));
}

absl::StatusOr<Json> GetMetricHistory(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string id, RunIdParam(p));
  CHURN_ASSIGN_OR_RETURN(const std::string key, p.String("metric_key"));
  CHURN_ASSIGN_OR_RETURN(const std::optional<int64_t> max_results, p.OptInt("max_results"));
  // An int32 in MLflow's GetMetricHistory; the bound also keeps the registry's page arithmetic
  // far from int64 overflow.
  if (max_results.has_value() && *max_results > std::numeric_limits<int32_t>::max()) {
    return InvalidValue(p.Path("max_results"), *p.Find("max_results"),
                        "it must fit a 32-bit integer.");
  }
  CHURN_ASSIGN_OR_RETURN(const std::string token, p.StringOr("page_token"));
  CHURN_ASSIGN_OR_RETURN(const Page<Metric> page,
                         api.registry.GetMetricHistory(id, key, max_results.value_or(0), token));
  return PageJson("metrics", page, MetricJson);
}

// Registered models.

absl::StatusOr<Json> CreateRegisteredModel(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string name, p.String("name"));
  CHURN_ASSIGN_OR_RETURN(const std::string description, p.StringOr("description"));
  CHURN_ASSIGN_OR_RETURN(const std::vector<Tag> tags, p.Tags("tags"));
  CHURN_ASSIGN_OR_RETURN(const RegisteredModel model,
                         api.registry.CreateRegisteredModel(name, description, tags));
  return Json{{"registered_model", RegisteredModelJson(model)}};
}

absl::StatusOr<Json> GetRegisteredModel(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string name, p.String("name"));
  CHURN_ASSIGN_OR_RETURN(const RegisteredModel model, api.registry.GetRegisteredModel(name));
  return Json{{"registered_model", RegisteredModelJson(model)}};
}

absl::StatusOr<Json> SearchRegisteredModels(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const SearchQuery query, SearchParams(p, 100));
  CHURN_ASSIGN_OR_RETURN(const Page<RegisteredModel> page,
                         api.registry.SearchRegisteredModels(query));
  return PageJson("registered_models", page, RegisteredModelJson);
}

absl::StatusOr<Json> UpdateRegisteredModel(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string name, p.String("name"));
  CHURN_ASSIGN_OR_RETURN(const std::string description, p.StringOr("description"));
  CHURN_ASSIGN_OR_RETURN(const RegisteredModel model,
                         api.registry.UpdateRegisteredModel(name, description));
  return Json{{"registered_model", RegisteredModelJson(model)}};
}

absl::StatusOr<Json> DeleteRegisteredModel(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string name, p.String("name"));
  return Empty(api.registry.DeleteRegisteredModel(name));
}

absl::StatusOr<Json> SetRegisteredModelTag(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string name, p.String("name"));
  Tag tag;
  CHURN_ASSIGN_OR_RETURN(tag.key, p.String("key"));
  CHURN_ASSIGN_OR_RETURN(tag.value, p.StringOr("value"));
  return Empty(api.registry.SetRegisteredModelTag(name, tag));
}

absl::StatusOr<Json> DeleteRegisteredModelTag(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string name, p.String("name"));
  CHURN_ASSIGN_OR_RETURN(const std::string key, p.String("key"));
  return Empty(api.registry.DeleteRegisteredModelTag(name, key));
}

// Model versions.

absl::StatusOr<Json> CreateModelVersion(const Api& api, const Params& p) {
  CreateModelVersionRequest request;
  CHURN_ASSIGN_OR_RETURN(request.name, p.String("name"));
  CHURN_ASSIGN_OR_RETURN(request.source, p.String("source"));
  CHURN_ASSIGN_OR_RETURN(request.run_id, p.StringOr("run_id"));
  CHURN_ASSIGN_OR_RETURN(request.tags, p.Tags("tags"));
  CHURN_ASSIGN_OR_RETURN(request.run_link, p.StringOr("run_link"));
  CHURN_ASSIGN_OR_RETURN(request.description, p.StringOr("description"));
  CHURN_ASSIGN_OR_RETURN(request.user_id, p.StringOr("user_id"));
  CHURN_ASSIGN_OR_RETURN(request.signature, p.StringOr("signature"));
  CHURN_ASSIGN_OR_RETURN(const std::vector<Params> metrics, p.Objects("metrics"));
  for (const Params& m : metrics) {
    CHURN_ASSIGN_OR_RETURN(std::string key, m.String("key"));
    CHURN_ASSIGN_OR_RETURN(const double value, m.Double("value"));
    request.metrics.emplace_back(std::move(key), value);
  }
  CHURN_ASSIGN_OR_RETURN(const ModelVersion version, api.registry.CreateModelVersion(request));
  return Json{{"model_version", ModelVersionJson(version)}};
}

absl::StatusOr<Json> GetModelVersion(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string name, p.String("name"));
  CHURN_ASSIGN_OR_RETURN(const int64_t version, p.Int("version"));
  CHURN_ASSIGN_OR_RETURN(const ModelVersion v, api.registry.GetModelVersion(name, version));
  return Json{{"model_version", ModelVersionJson(v)}};
}

absl::StatusOr<Json> SearchModelVersions(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const SearchQuery query, SearchParams(p, 1000));
  CHURN_ASSIGN_OR_RETURN(const Page<ModelVersion> page, api.registry.SearchModelVersions(query));
  return PageJson("model_versions", page, ModelVersionJson);
}

absl::StatusOr<Json> UpdateModelVersion(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string name, p.String("name"));
  CHURN_ASSIGN_OR_RETURN(const int64_t version, p.Int("version"));
  CHURN_ASSIGN_OR_RETURN(const std::string description, p.StringOr("description"));
  CHURN_ASSIGN_OR_RETURN(const ModelVersion v,
                         api.registry.UpdateModelVersion(name, version, description));
  return Json{{"model_version", ModelVersionJson(v)}};
}

absl::StatusOr<Json> DeleteModelVersion(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string name, p.String("name"));
  CHURN_ASSIGN_OR_RETURN(const int64_t version, p.Int("version"));
  return Empty(api.registry.DeleteModelVersion(name, version));
}

absl::StatusOr<Json> SetModelVersionTag(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string name, p.String("name"));
  CHURN_ASSIGN_OR_RETURN(const int64_t version, p.Int("version"));
  Tag tag;
  CHURN_ASSIGN_OR_RETURN(tag.key, p.String("key"));
  CHURN_ASSIGN_OR_RETURN(tag.value, p.StringOr("value"));
  return Empty(api.registry.SetModelVersionTag(name, version, tag));
}

absl::StatusOr<Json> DeleteModelVersionTag(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string name, p.String("name"));
  CHURN_ASSIGN_OR_RETURN(const int64_t version, p.Int("version"));
  CHURN_ASSIGN_OR_RETURN(const std::string key, p.String("key"));
  return Empty(api.registry.DeleteModelVersionTag(name, version, key));
}

// Aliases.

absl::StatusOr<Json> SetAlias(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string name, p.String("name"));
  CHURN_ASSIGN_OR_RETURN(const std::string alias, p.String("alias"));
  CHURN_ASSIGN_OR_RETURN(const int64_t version, p.Int("version"));
  CHURN_ASSIGN_OR_RETURN(const std::optional<std::string> actor, p.OptString("actor"));
  CHURN_ASSIGN_OR_RETURN(const std::string reason, p.StringOr("reason"));
  return Empty(api.registry.SetAlias(name, alias, version,
                                     actor.value_or(api.options.default_actor), reason));
}

absl::StatusOr<Json> DeleteAlias(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string name, p.String("name"));
  CHURN_ASSIGN_OR_RETURN(const std::string alias, p.String("alias"));
  CHURN_ASSIGN_OR_RETURN(const std::optional<std::string> actor, p.OptString("actor"));
  CHURN_ASSIGN_OR_RETURN(const std::string reason, p.StringOr("reason"));
  return Empty(
      api.registry.DeleteAlias(name, alias, actor.value_or(api.options.default_actor), reason));
}

absl::StatusOr<Json> GetModelVersionByAlias(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string name, p.String("name"));
  CHURN_ASSIGN_OR_RETURN(const std::string alias, p.String("alias"));
  CHURN_ASSIGN_OR_RETURN(const ModelVersion v, api.registry.GetModelVersionByAlias(name, alias));
  return Json{{"model_version", ModelVersionJson(v)}};
}

absl::StatusOr<Json> AliasHistory(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string name, p.String("name"));
  CHURN_ASSIGN_OR_RETURN(const std::optional<int64_t> at, p.OptInt("at"));
  if (at.has_value()) {
    CHURN_ASSIGN_OR_RETURN(const std::string alias, p.String("alias"));
    CHURN_ASSIGN_OR_RETURN(const std::optional<int64_t> version,
                           api.registry.AliasAt(name, alias, *at));
    return Json{{"version", VersionJson(version)}};
  }
  CHURN_ASSIGN_OR_RETURN(const std::string alias, p.StringOr("alias"));
  CHURN_ASSIGN_OR_RETURN(const std::vector<AliasEvent> events,
                         api.registry.AliasHistory(name, alias));
  Json list = Json::array();
  for (const AliasEvent& e : events) {
    list.push_back(AliasEventJson(e));
  }
  return Json{{"events", std::move(list)}};
}

// Artifacts: MLflow lists one folder level; folders come back with is_dir.
Json ListingJson(const std::vector<ArtifactRef>& files, absl::string_view folder) {
  const std::string prefix = folder.empty() ? "" : absl::StrCat(folder, "/");
  Json list = Json::array();
  std::string last_dir;
  for (const ArtifactRef& f : files) {
    const absl::string_view rest = absl::string_view(f.path).substr(prefix.size());
    const size_t slash = rest.find('/');
    if (slash == absl::string_view::npos) {
      list.push_back({{"path", f.path}, {"is_dir", false}, {"file_size", f.size}});
    } else if (const std::string dir = prefix + std::string(rest.substr(0, slash));
               dir != last_dir) {
      list.push_back({{"path", dir}, {"is_dir", true}});
      last_dir = dir;
    }
  }
  return list;
}

absl::StatusOr<Json> ListArtifacts(const Api& api, const Params& p) {
  CHURN_ASSIGN_OR_RETURN(const std::string run_id, RunIdParam(p));
  CHURN_ASSIGN_OR_RETURN(std::string folder, p.StringOr("path"));
  while (!folder.empty() && folder.back() == '/') {
    folder.pop_back();
  }
  CHURN_ASSIGN_OR_RETURN(const registry::Run run, api.registry.GetRun(run_id));
  CHURN_ASSIGN_OR_RETURN(const std::vector<ArtifactRef> files,
                         api.registry.ListArtifacts(run_id, folder.empty() ? "" : folder + "/"));
  Json out = {{"root_uri", run.info.artifact_uri}};
  Json list = ListingJson(files, folder);
  if (!list.empty()) {
    out["files"] = std::move(list);
  }
  return out;
}

struct Route {
  const char* method;
  const char* path;  // under kApiPrefix
  HandlerFn handler;
};

constexpr Route kRoutes[] = {
    {"POST", "experiments/create", &CreateExperiment},
    {"GET", "experiments/get", &GetExperiment},
    {"GET", "experiments/get-by-name", &GetExperimentByName},
    {"POST", "experiments/search", &SearchExperiments},
    {"GET", "experiments/search", &SearchExperiments},
    {"POST", "experiments/delete", &DeleteExperiment},
    {"POST", "experiments/restore", &RestoreExperiment},
    {"POST", "experiments/set-experiment-tag", &SetExperimentTag},
    {"POST", "runs/create", &CreateRun},
    {"POST", "runs/update", &UpdateRun},
    {"GET", "runs/get", &GetRun},
    {"POST", "runs/delete", &DeleteRun},
    {"POST", "runs/restore", &RestoreRun},
    {"POST", "runs/search", &SearchRuns},
    {"POST", "runs/log-metric", &LogMetric},
    {"POST", "runs/log-parameter", &LogParam},
    {"POST", "runs/log-batch", &LogBatch},
    {"POST", "runs/set-tag", &SetTag},
    {"POST", "runs/delete-tag", &DeleteTag},
    {"GET", "metrics/get-history", &GetMetricHistory},
    {"POST", "registered-models/create", &CreateRegisteredModel},
    {"GET", "registered-models/get", &GetRegisteredModel},
    {"GET", "registered-models/search", &SearchRegisteredModels},
    {"PATCH", "registered-models/update", &UpdateRegisteredModel},
    {"DELETE", "registered-models/delete", &DeleteRegisteredModel},
    {"POST", "registered-models/set-tag", &SetRegisteredModelTag},
    {"DELETE", "registered-models/delete-tag", &DeleteRegisteredModelTag},
    {"POST", "model-versions/create", &CreateModelVersion},
    {"GET", "model-versions/get", &GetModelVersion},
    {"GET", "model-versions/search", &SearchModelVersions},
    {"PATCH", "model-versions/update", &UpdateModelVersion},
    {"DELETE", "model-versions/delete", &DeleteModelVersion},
    {"POST", "model-versions/set-tag", &SetModelVersionTag},
    {"DELETE", "model-versions/delete-tag", &DeleteModelVersionTag},
    {"POST", "registered-models/alias", &SetAlias},
    {"DELETE", "registered-models/alias", &DeleteAlias},
    {"GET", "registered-models/alias", &GetModelVersionByAlias},
    {"GET", "registered-models/alias/history", &AliasHistory},
    {"GET", "artifacts/list", &ListArtifacts},
};

// --- The seam -----------------------------------------------------------------------------

// Compares in time that depends only on the length of `expected`.
bool ConstantTimeEquals(absl::string_view expected, absl::string_view given) {
  unsigned diff = expected.size() == given.size() ? 0U : 1U;
  for (size_t i = 0; i < expected.size(); ++i) {
    const char g = i < given.size() ? given[i] : '\0';
    diff |= static_cast<unsigned char>(expected[i]) ^ static_cast<unsigned char>(g);
  }
  return diff == 0;
}

absl::Status Authorize(const RestOptions& options, const http::Request& request) {
  if (options.token.empty() || request.method == "GET" || request.method == "HEAD") {
    return absl::OkStatus();
  }
  const std::optional<std::string> header = request.Header("authorization");
  absl::string_view credentials;
  if (header.has_value()) {
    credentials = *header;
  }
  constexpr absl::string_view kScheme = "bearer ";
  if (absl::StartsWithIgnoreCase(credentials, kScheme)) {
    credentials.remove_prefix(kScheme.size());
    if (ConstantTimeEquals(options.token, absl::StripAsciiWhitespace(credentials))) {
      return absl::OkStatus();
    }
  }
  return absl::UnauthenticatedError(
      "This call needs an 'Authorization: Bearer <token>' header with the server's token.");
}

http::Response Serve(const Api& api, HandlerFn handler, const http::Request& request) {
  try {
    if (absl::Status status = Authorize(api.options, request); !status.ok()) {
      return ErrorResponse(status);
    }
    const absl::StatusOr<Params> params = Params::FromRequest(request);
    if (!params.ok()) {
      return ErrorResponse(params.status());
    }
    const absl::StatusOr<Json> answer = handler(api, *params);
    return answer.ok() ? JsonResponse(200, *answer) : ErrorResponse(answer.status());
  } catch (const Json::exception& e) {
    // Not expected (values are type-checked before use); a bug here must not kill the server.
    return ErrorResponse(absl::InternalError(absl::StrCat("JSON error: ", e.what())));
  }
}

http::Response Health(const Api& api) {
  const absl::StatusOr<int64_t> version = api.registry.SchemaVersion();
  if (!version.ok()) {
    return ErrorResponse(version.status());
  }
  return JsonResponse(
      200,
      Json{{"status", "ok"}, {"registry", api.registry.Describe()}, {"schema_version", *version}});
}

// MLflow's artifact proxy (mlflow-artifacts:/ URIs, what MLflow clients upload to and download
// from): /api/2.0/mlflow-artifacts/artifacts/<experiment_id>/<run_id>/artifacts/<path>.
// PUT stores the body as the run's file, GET returns its bytes (checked against the digest).
constexpr char kArtifactsPrefix[] = "/api/2.0/mlflow-artifacts/artifacts/";

absl::StatusOr<std::pair<std::string, std::string>> ProxiedRunAndPath(absl::string_view rest) {
  // <experiment_id>/<run_id>/artifacts[/<path>]
  const size_t a = rest.find('/');
  const size_t b = a == absl::string_view::npos ? a : rest.find('/', a + 1);
  if (b == absl::string_view::npos || rest.substr(b + 1, 9) != "artifacts") {
    return absl::InvalidArgumentError(absl::StrCat(
        "artifact path '", rest, "' is not <experiment_id>/<run_id>/artifacts/<path>"));
  }
  absl::string_view path = rest.substr(b + 10);
  absl::ConsumePrefix(&path, "/");
  return std::make_pair(std::string(rest.substr(a + 1, b - a - 1)), std::string(path));
}

http::Response ProxyArtifact(const Api& api, const http::Request& request) {
  if (absl::Status status = Authorize(api.options, request); !status.ok()) {
    return ErrorResponse(status);
  }
  const absl::string_view rest = absl::string_view(request.path).substr(strlen(kArtifactsPrefix));
  const auto target = ProxiedRunAndPath(rest);
  if (!target.ok()) {
    return ErrorResponse(target.status());
  }
  const auto& [run_id, path] = *target;
  if (request.method == "PUT") {
    const absl::StatusOr<ArtifactRef> ref = api.registry.LogArtifact(run_id, path, request.body);
    return ref.ok() ? JsonResponse(200, Json::object()) : ErrorResponse(ref.status());
  }
  absl::StatusOr<std::string> bytes = api.registry.ReadArtifact(run_id, path);
  if (!bytes.ok()) {
    return ErrorResponse(bytes.status());
  }
  http::Response response;
  response.content_type = "application/octet-stream";
  response.body = *std::move(bytes);
  return response;
}

// GET /api/2.0/mlflow-artifacts/artifacts?path=<experiment_id>/<run_id>/artifacts[/<folder>]
http::Response ProxyList(const Api& api, const http::Request& request) {
  const auto target = ProxiedRunAndPath(request.Query("path").value_or(""));
  if (!target.ok()) {
    return ErrorResponse(target.status());
  }
  const auto& [run_id, folder] = *target;
  const absl::StatusOr<std::vector<ArtifactRef>> files =
      api.registry.ListArtifacts(run_id, folder.empty() ? "" : folder + "/");
  if (!files.ok()) {
    return ErrorResponse(files.status());
  }
  Json list = ListingJson(*files, folder);
  // The proxy answers paths relative to the listed folder.
  for (Json& f : list) {
    f["path"] = f["path"].get<std::string>().substr(folder.empty() ? 0 : folder.size() + 1);
  }
  return JsonResponse(200, list.empty() ? Json::object() : Json{{"files", std::move(list)}});
}

}  // namespace

const char* MlflowErrorCode(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return "OK";
    case absl::StatusCode::kNotFound:
      return "RESOURCE_DOES_NOT_EXIST";
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return "INVALID_PARAMETER_VALUE";
    case absl::StatusCode::kAlreadyExists:
      return "RESOURCE_ALREADY_EXISTS";
    case absl::StatusCode::kFailedPrecondition:
      return "INVALID_STATE";
    case absl::StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
    case absl::StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case absl::StatusCode::kUnavailable:
      return "TEMPORARILY_UNAVAILABLE";
    case absl::StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    default:
      return "INTERNAL_ERROR";
  }
}

int MlflowHttpStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAlreadyExists:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:  // INVALID_STATE and INTERNAL_ERROR are 500 in MLflow
      return 500;
  }
}

void AddRestRoutes(Registry& registry, const RestOptions& options, http::Router& router) {
  auto api = std::make_shared<const Api>(
      Api{registry, options, options.clock != nullptr ? options.clock : base::SystemClock()});
  for (const Route& route : kRoutes) {
    router.Handle(route.method, absl::StrCat(kApiPrefix, route.path),
                  [api, handler = route.handler](const http::Request& request) {
                    return Serve(*api, handler, request);
                  });
  }
  router.Handle("GET", "/health", [api](const http::Request&) { return Health(*api); });
  for (const char* method : {"GET", "PUT"}) {
    router.HandlePrefix(method, kArtifactsPrefix, [api](const http::Request& request) {
      return ProxyArtifact(*api, request);
    });
  }
  router.Handle("GET", "/api/2.0/mlflow-artifacts/artifacts",
                [api](const http::Request& request) { return ProxyList(*api, request); });
  router.SetNotFound([](const http::Request& request) {
    return JsonResponse(
        404,
        Json{{"error_code", "ENDPOINT_NOT_FOUND"},
             {"message", absl::StrCat("No API endpoint ", request.method, " ", request.path)}});
  });
  router.SetMethodNotAllowed([](const http::Request& request, const std::string& allow) {
    return JsonResponse(
        405, Json{{"error_code", "BAD_REQUEST"},
                  {"message", absl::StrCat("Method ", request.method, " is not allowed for ",
                                           request.path, "; allowed: ", allow)}});
  });
}

}  // namespace churn::registry
