// File: churn/registry/rest_api.h
//
// The registry over HTTP: MLflow's REST API (/api/2.0/mlflow/...) for experiments, runs,
// metrics, registered models, model versions and aliases, with MLflow's JSON field names and
// error bodies ({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "..."}), so an MLflow
// client pointed at `churn registry serve` works for those calls.
//
//   http::Router router;
//   AddRestRoutes(*registry, {.token = "s3cret"}, router);
//   CHURN_ASSIGN_OR_RETURN(auto server, http::Server::Start(
//       {.port = 5000}, [&router](const http::Request& r) { return router.Dispatch(r); }));
//
// Requests and answers are proto3 JSON as MLflow's server reads and writes it:
//  - GET parameters come from the query string (a repeated one, such as order_by, may repeat);
//    POST, PATCH and DELETE parameters from the JSON body (DELETE also reads the query string).
//  - Integer fields (times, steps, max_results) are JSON numbers or decimal strings; metric values
//    are numbers or the strings "NaN", "Infinity", "-Infinity", and are written the same way.
//  - Model version numbers are strings ("version": "3"); empty strings, lists and unset values
//    are left out of answers (a search without results answers {}).
//  - A missing required parameter, a value of the wrong type or a malformed body answers 400
//    INVALID_PARAMETER_VALUE naming the parameter; an unknown path 404 ENDPOINT_NOT_FOUND; a
//    known path with another method 405 BAD_REQUEST with an Allow header.
//
// Beyond MLflow:
//  - POST and DELETE registered-models/alias take optional "actor" and "reason", recorded in
//    the alias history (actor defaults to RestOptions::default_actor).
//  - GET registered-models/alias/history?name=&alias= answers {"events": [{"id", "name",
//    "alias", "version", "previous_version", "timestamp", "actor", "reason"}]}, oldest first,
//    versions as strings and null where the alias pointed nowhere (alias may be omitted: every
//    alias of the model); with &at=<ms> it answers {"version": "3"} (or null): where the alias
//    pointed at that time.
//  - Model versions carry "signature" (JSON text), "metrics" [{"key", "value"}] and
//    "artifacts" [{"path", "sha256", "size"}], and model-versions/create accepts "signature"
//    and "metrics"; runs/create accepts and run infos carry "dataset_snapshot".
//  - GET /health answers {"status": "ok", "registry": "<Describe()>", "schema_version": N}.
//
// When RestOptions::token is set, every mutating call (POST, PATCH, DELETE) needs
// "Authorization: Bearer <token>" and answers 401 UNAUTHENTICATED without it; reads stay open.
#ifndef CHURN_REGISTRY_REST_API_H_
#define CHURN_REGISTRY_REST_API_H_

#include <string>

#include "absl/status/status.h"

#include "churn/base/time.h"
#include "churn/http/server.h"
#include "churn/registry/registry.h"

namespace churn::registry {

struct RestOptions {
  // Bearer token required on mutating calls; empty: none required.
  std::string token;
  // Recorded as the actor of alias moves made without an "actor" field.
  std::string default_actor = "rest";
  // "Now" for runs/log-metric and log-batch metrics sent without a timestamp. Must outlive the
  // router. Default (nullptr): the system clock.
  base::Clock* clock = nullptr;
};

// Adds every route to `router` (under /api/2.0/mlflow/, and GET /health) and replaces its 404
// and 405 answers with MLflow-shaped error bodies. `registry` must outlive the router; `options`
// is copied. Handlers never throw and are thread-safe once added.
void AddRestRoutes(Registry& registry, const RestOptions& options, http::Router& router);

// MLflow's error code for a failed status: NotFound RESOURCE_DOES_NOT_EXIST, InvalidArgument
// and OutOfRange INVALID_PARAMETER_VALUE, AlreadyExists RESOURCE_ALREADY_EXISTS,
// FailedPrecondition INVALID_STATE, Unauthenticated UNAUTHENTICATED, PermissionDenied
// PERMISSION_DENIED, Unavailable TEMPORARILY_UNAVAILABLE, DeadlineExceeded DEADLINE_EXCEEDED,
// anything else (DataLoss, Internal, ...) INTERNAL_ERROR. "OK" for an OK status.
const char* MlflowErrorCode(const absl::Status& status);

// The HTTP status MLflow answers with for that error code (its ERROR_CODE_TO_HTTP_STATUS):
// 404, 400, 400, 500 (MLflow answers INVALID_STATE with 500), 401, 403, 503, 504, else 500;
// 200 for an OK status.
int MlflowHttpStatus(const absl::Status& status);

}  // namespace churn::registry

#endif  // CHURN_REGISTRY_REST_API_H_
