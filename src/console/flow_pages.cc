// Flows: the flows declared in churn.yaml with their schedules and next fire times, the flow
// runs of the run store (filtered by flow and state), and one run with its log.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "console/html.h"
#include "console/pages.h"
#include "nlohmann/json.hpp"

#include "churn/base/status_macros.h"
#include "churn/flows/schedule.h"

namespace churn::console::internal {
namespace {

using flows::FlowRun;
using flows::RunState;

constexpr int64_t kDefaultFlowRuns = 100;
// The tail of a log a page shows; the whole log is `churn flows logs RUN`.
constexpr size_t kMaxLogShown = size_t{256} * 1024;
constexpr RunState kAllStates[] = {RunState::kScheduled, RunState::kRunning,  RunState::kCompleted,
                                   RunState::kFailed,    RunState::kRetrying, RunState::kCancelled,
                                   RunState::kCrashed};

constexpr char kNoStore[] =
    "No flow-run store is configured here: the scheduler's runs show on the console of "
    "`churn serve http` started with the same config.";

std::string StateBadge(RunState state) {
  return Badge(flows::RunStateName(state));
}

std::string ScheduleText(const base::FlowSettings& f) {
  if (!f.cron.empty()) {
    return absl::StrCat("cron <code>", Esc(f.cron), "</code>",
                        f.time_zone.empty() ? "" : absl::StrCat(" ", Esc(f.time_zone)));
  }
  if (!f.every.empty()) {
    return absl::StrCat("every ", Esc(f.every));
  }
  return "-";
}

// The flow's next fire time after `now`, or why there is none.
std::string NextFire(const base::FlowSettings& f, const std::string& default_zone, absl::Time now) {
  if (!f.enabled) {
    return "<span class=\"muted\">disabled</span>";
  }
  const std::optional<std::string> cron =
      f.cron.empty() ? std::nullopt : std::optional<std::string>(f.cron);
  const std::optional<std::string> every =
      f.every.empty() ? std::nullopt : std::optional<std::string>(f.every);
  absl::StatusOr<flows::Schedule> schedule =
      flows::ParseFlowSchedule(cron, every, f.time_zone.empty() ? default_zone : f.time_zone);
  if (!schedule.ok()) {
    return absl::StrCat(Badge("invalid"), " ", Esc(schedule.status().message()));
  }
  return TimeAt(schedule->Next(now));
}

std::string LastRunCell(flows::RunStore* store, const std::string& flow) {
  if (store == nullptr) {
    return "-";
  }
  absl::StatusOr<std::vector<FlowRun>> last =
      store->ListRuns({.flow = flow, .states = {}, .limit = 1});
  if (!last.ok()) {
    return Esc(last.status().message());
  }
  if (last->empty()) {
    return "<span class=\"muted\">never ran</span>";
  }
  const FlowRun& r = last->front();
  return absl::StrCat(StateBadge(r.state), " ", Link(FlowRunHref(r.id), absl::StrCat("#", r.id)),
                      " ", TimeMs(r.start_ms != 0 ? r.start_ms : r.scheduled_ms));
}

std::string DeclaredFlows(const PageContext& ctx) {
  std::vector<std::vector<std::string>> rows;
  for (const base::FlowSettings& f : ctx.sources.flows) {
    rows.push_back(
        {Link(absl::StrCat("/ui/flows?flow=", UrlPart(f.name)), f.name), Esc(f.kind),
         ScheduleText(f), Badge(f.enabled ? "enabled" : "disabled"),
         NextFire(f, ctx.sources.time_zone, ctx.now), Numeric(absl::StrCat(f.retries)),
         f.timeout_seconds > 0 ? DurationMs(static_cast<int64_t>(f.timeout_seconds * 1000)) : "-",
         LastRunCell(ctx.sources.runs, f.name)});
  }
  return Table(
      {"Flow", "Kind", "Schedule", "Enabled", "Next run (UTC)", "Retries", "Timeout", "Last run"},
      rows);
}

std::string FlowFilterForm(const PageContext& ctx, const std::string& flow,
                           const std::string& state) {
  std::string out = R"(<form class="filters" method="get" action="/ui/flows"><label>Flow<select )"
                    R"(name="flow"><option value="">all</option>)";
  for (const base::FlowSettings& f : ctx.sources.flows) {
    absl::StrAppend(&out, "<option value=\"", Esc(f.name), "\"", f.name == flow ? " selected" : "",
                    ">", Esc(f.name), "</option>");
  }
  absl::StrAppend(&out,
                  "</select></label><label>State<select name=\"state\"><option "
                  "value=\"\">any</option>");
  for (const RunState s : kAllStates) {
    const absl::string_view name = flows::RunStateName(s);
    absl::StrAppend(&out, "<option value=\"", name, "\"",
                    absl::EqualsIgnoreCase(name, state) ? " selected" : "", ">", name, "</option>");
  }
  absl::StrAppend(&out, "</select></label><button type=\"submit\">Apply</button></form>\n");
  return out;
}

// End - start when over; the time so far (marked running) when going; "-" when never started.
std::string FlowRunDuration(const FlowRun& r, int64_t now_ms) {
  if (r.start_ms == 0) {
    return "-";
  }
  if (r.end_ms != 0) {
    return DurationMs(r.end_ms - r.start_ms);
  }
  return flows::IsFinal(r.state) ? "-" : Elapsed(r.start_ms, 0, now_ms);
}

std::string FlowRunsTable(const std::vector<FlowRun>& runs, int64_t now_ms) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(runs.size());
  for (const FlowRun& r : runs) {
    rows.push_back({Link(FlowRunHref(r.id), absl::StrCat("#", r.id)), Esc(r.flow),
                    StateBadge(r.state), Esc(r.trigger), TimeMs(r.scheduled_ms), TimeMs(r.start_ms),
                    FlowRunDuration(r, now_ms), Numeric(absl::StrCat(r.attempts)),
                    absl::StrCat("<span class=\"wrap\">", Esc(r.result), "</span>")});
  }
  return Table({"Run", "Flow", "State", "Trigger", "Due (UTC)", "Started (UTC)", "Duration",
                "Attempts", "Result"},
               rows);
}

std::string PrettyParameters(const std::string& text) {
  const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? text : parsed.dump(2);
}

std::string FlowRunSummary(const FlowRun& r, int64_t now_ms) {
  return KeyValues(
      {{"Flow", Link(absl::StrCat("/ui/flows?flow=", UrlPart(r.flow)), r.flow)},
       {"State",
        absl::StrCat(StateBadge(r.state),
                     r.cancel_requested ? " <span class=\"muted\">(cancel asked)</span>" : "")},
       {"Trigger", Esc(r.trigger)},
       {"Due", TimeMs(r.scheduled_ms)},
       {"Started", TimeMs(r.start_ms)},
       {"Ended", TimeMs(r.end_ms)},
       {"Duration", FlowRunDuration(r, now_ms)},
       {"Attempts", absl::StrCat(r.attempts)},
       {"Next attempt", r.state == RunState::kRetrying ? TimeMs(r.next_attempt_ms) : "-"},
       {"Owner", Esc(r.owner.empty() ? "-" : r.owner)},
       {"Last heartbeat", TimeMs(r.heartbeat_ms)},
       {"Result", Esc(r.result.empty() ? "-" : r.result)}});
}

}  // namespace

absl::StatusOr<std::string> FlowsPage(const PageContext& ctx) {
  const std::string flow = ctx.request.Query("flow").value_or("");
  const std::string state_text = ctx.request.Query("state").value_or("");
  flows::RunQuery query{.flow = flow, .states = {}, .limit = kDefaultFlowRuns};
  if (!state_text.empty()) {
    absl::StatusOr<RunState> state = flows::ParseRunState(state_text);
    if (!state.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("query parameter 'state': ", state.status().message()));
    }
    query.states = {*state};
  }
  CHURN_ASSIGN_OR_RETURN(query.limit, IntParam(ctx.request, "max", kDefaultFlowRuns, 1, 1000));
  PageWriter page("Flows", Section::kFlows);
  page.Add("<h1>Flows</h1>\n<h2>Declared flows</h2>\n");
  page.Add(ctx.sources.flows.empty() ? Empty("No flow declared (flows: in churn.yaml).")
                                     : DeclaredFlows(ctx));
  page.Add("<h2>Flow runs</h2>\n");
  if (ctx.sources.runs == nullptr) {
    page.Add(Empty(kNoStore));
    return page.Finish(ctx.now);
  }
  page.Add(FlowFilterForm(ctx, flow, state_text));
  CHURN_ASSIGN_OR_RETURN(const std::vector<FlowRun> runs, ctx.sources.runs->ListRuns(query));
  page.Add(runs.empty() ? Empty(flow.empty() && state_text.empty() ? "No flow has run yet."
                                                                   : "No run matches.")
                        : FlowRunsTable(runs, ctx.NowMs()));
  return page.Finish(ctx.now);
}

absl::StatusOr<std::string> FlowRunPage(const PageContext& ctx, const std::string& id_text) {
  int64_t id = 0;
  if (!absl::SimpleAtoi(id_text, &id) || id <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("flow run id '", id_text, "' is not a positive number"));
  }
  if (ctx.sources.runs == nullptr) {
    return absl::NotFoundError(absl::StrCat("flow run ", id, " (", kNoStore, ")"));
  }
  absl::StatusOr<FlowRun> run = ctx.sources.runs->GetRun(id);
  CHURN_RETURN_IF_ERROR(Lookup(run.status(), absl::StrCat("flow run ", id)));
  CHURN_ASSIGN_OR_RETURN(std::string log, ctx.sources.runs->Log(id));
  PageWriter page(absl::StrCat("Flow run #", id), Section::kFlows);
  page.Add(absl::StrCat("<h1>Flow run #", id, " <small>", Esc(run->flow), "</small></h1>\n"));
  page.Add(FlowRunSummary(*run, ctx.NowMs()));
  page.Add(absl::StrCat("<h2>Parameters</h2>\n<pre class=\"json\">",
                        Esc(PrettyParameters(run->parameters)), "</pre>\n"));
  page.Add(absl::StrCat("<h2>Log <small class=\"muted\">", Bytes(static_cast<int64_t>(log.size())),
                        "</small></h2>\n"));
  if (log.empty()) {
    page.Add(Empty("Nothing logged yet."));
  } else {
    if (log.size() > kMaxLogShown) {
      page.Add(absl::StrCat("<p class=\"muted\">The last ", Bytes(kMaxLogShown),
                            " (the whole log: <code>churn flows logs ", id, "</code>).</p>\n"));
      log = log.substr(log.size() - kMaxLogShown);
    }
    page.Add(absl::StrCat("<pre class=\"log\">", Esc(log), "</pre>\n"));
  }
  return page.Finish(ctx.now);
}

}  // namespace churn::console::internal
