// File: churn/console/console.h
//
// The web console at /ui: one read-only view over the registry (registered models, versions and
// the history of every alias move; runs with their metrics, metric history charts and a side-by-
// side comparison; the quality-versus-cost front of a study), the flow runs of the scheduler
// (states, durations, logs), the drift reports on disk and the live drift of the served model.
//
//   console::ConsoleSources sources{.registry = registry.get(), .runs = run_store.get(),
//                                   .flows = config.flows, ...};
//   console::AddConsoleRoutes(router, std::move(sources));
//
// Every page is server-rendered HTML5 with one inline <style> and inline <svg> charts: no
// script, no external asset, nothing to build, so it works with JavaScript off, behind a strict
// Content-Security-Policy and on a phone (viewport meta, fluid layout, tables that scroll
// sideways). Every text that comes from data (names, tags, params, logs, file names) goes
// through report::HtmlEscape; every id in a URL is percent-encoded. Times are shown in UTC.
//
// Routes (GET, and HEAD through the router):
//   /ui                          overview: models and their aliases, latest runs, flow runs,
//                                reports and the live drift verdict
//   /ui/models                   registered models
//   /ui/models/NAME              versions (with links to their runs) and alias history
//   /ui/models/NAME/versions/N   one version: metrics, signature, files, tags
//   /ui/runs?experiment=ID&filter=F&max=N
//                                runs (MLflow filter syntax), checkboxes to compare
//   /ui/runs/ID                  one run: metrics with history charts, params, tags, files,
//                                parent study, versions registered from it
//   /ui/compare?run=A&run=B...   runs side by side, differing rows marked, histories overlaid
//   /ui/studies/ID               a study's trials: validation AUC vs tree nodes, front marked
//   /ui/flows?flow=F&state=S     declared flows with their next fire time, and flow runs
//   /ui/flows/runs/ID            one flow run: state, attempts, parameters, result and log
//   /ui/reports                  the reports in reports_dir, linking to /reports/FILE
//   /ui/drift                    live drift per feature and window (what GET /drift answers)
//
// Answers: 200 text/html; charset=utf-8; 404 an HTML page naming what was not found (an unknown
// model, version, run, study, flow run or page); 400 an HTML page naming the bad query parameter
// (an unparsable filter, max, state or id); 503 when a store cannot be reached. Each answer
// carries X-Content-Type-Options: nosniff, Cache-Control: no-store and
// Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src data:;
// form-action 'self'; frame-ancestors 'none'.
#ifndef CHURN_CONSOLE_CONSOLE_H_
#define CHURN_CONSOLE_CONSOLE_H_

#include <functional>
#include <string>
#include <vector>

#include "churn/base/config.h"
#include "churn/base/time.h"
#include "churn/flows/run_store.h"
#include "churn/http/server.h"
#include "churn/registry/registry.h"

namespace churn::console {

// Where the console reads what it shows. The pointers are not owned and must outlive the
// router's server; the handlers call them concurrently (Registry and RunStore are thread-safe).
struct ConsoleSources {
  // The tracking store and model registry. Required.
  registry::Registry* registry = nullptr;
  // The flow runs; nullptr: the flow pages say that no flow-run store is configured.
  flows::RunStore* runs = nullptr;
  // The flows declared in churn.yaml (base::Config::flows), listed with their next fire time.
  std::vector<base::FlowSettings> flows{};
  // The time zone of cron schedules that name none (scheduler.time_zone). Default "UTC".
  std::string time_zone = "UTC";
  // The folder of the drift reports (base::Config::ReportsDir()); empty: no report page data.
  std::string reports_dir{};
  // Where the server serves that folder: links are reports_url + file name. Default "/reports/".
  std::string reports_url = "/reports/";
  // The live drift as GET /drift answers it (serving::ModelServer::DriftJson); empty: the drift
  // page says that live drift is only shown on the model server.
  std::function<std::string()> drift_json{};
  // The model the overview puts first (serve.model's name). Default "churn".
  std::string model_name = "churn";
  // "Now", for next fire times and the durations of runs still going. Default: the system
  // clock.
  base::Clock* clock = nullptr;
};

// Adds the GET routes listed in the file comment to `router`. REQUIRES: sources.registry is not
// null; called before the router's server starts (Router is thread-compatible while set up).
void AddConsoleRoutes(http::Router& router, ConsoleSources sources);

}  // namespace churn::console

#endif  // CHURN_CONSOLE_CONSOLE_H_
