// File: churn/flows/schedule.h
//
// When the scheduler's flows run: cron expressions and fixed intervals, as a flow of churn.yaml
// declares them (`cron: "0 */6 * * *"` or `every: 3h`), and the missed-run policy.
//
// Cron (Vixie cron's five fields: minute hour day-of-month month day-of-week):
//   *            every value                  1,15        a list (of any of these items)
//   1-5          a range                      */15        every 15th value from the first
//   10-50/20     every 20th value of a range  5/10        every 10th value from 5 to the last
//   JAN-DEC      month names                  SUN-SAT     day names (Sunday is also 0 and 7;
//                                                         FRI-SUN means 5-7)
// Names are case-insensitive and allowed in lists and ranges. A step may not exceed the field's
// range (`*/90` in the minute field is refused: write `every: 90m`). Macros: @hourly, @daily,
// @midnight, @weekly, @monthly, @yearly, @annually. A leading "CRON_TZ=Zone/Name " sets the
// time zone (it wins over the time_zone argument), otherwise UTC.
//
// Day-of-month and day-of-week follow Vixie cron: when both fields are restricted (neither one
// starts with `*`), a day matches if EITHER matches (`0 0 1 * MON` is the 1st and every Monday);
// otherwise both must (`0 0 */2 * MON` is odd days that are Mondays; `*` matches every day).
//
// Daylight saving time, also as Vixie cron does it. A "fixed-time" schedule is one whose minute
// and hour fields both do not start with `*` (`30 2 * * *`, @daily); the others are "wildcard"
// schedules (`*/15 * * * *`, `0 */6 * * *`, @hourly).
//   - Spring forward (local times skipped): a fixed-time schedule whose time falls in the gap
//     fires once at the first instant after it (New York 2026-03-08, `30 2 * * *`: 03:00 EDT);
//     a wildcard schedule does not fire in the gap (its runs keep their wall-clock times).
//   - Fall back (local times repeated): a fixed-time schedule fires at the first occurrence only
//     (`30 1 * * *` on 2026-11-01: 01:30 EDT, not again at 01:30 EST); a wildcard schedule fires
//     at both (`30 * * * *`: 01:30 EDT and 01:30 EST, one real hour apart).
// So a daily job runs exactly once each day and an hourly one once each real hour.
//
// Intervals ("every 3h", "every 90s", "every 1h30m", "every 1d"; `every:` of churn.yaml may omit
// "every"): fire times are anchor + k * period for k >= 0, the anchor defaulting to the Unix epoch
// (so "every 3h" fires at 00:00, 03:00, ... UTC). The period is a whole number of seconds, at
// least one second.
//
// Every parse error is InvalidArgument naming the expression, the field and the token:
//   cron '61 * * * *': minute 61 is outside 0-59
//   cron '0 0 30 2 *': never fires: day-of-month '30' never occurs in month '2'
#ifndef CHURN_FLOWS_SCHEDULE_H_
#define CHURN_FLOWS_SCHEDULE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace churn::flows {

// A parsed cron expression in its time zone. Immutable, copyable, thread-safe.
class CronSchedule {
 public:
  // Parses a five-field expression or macro, optionally prefixed by "CRON_TZ=Zone/Name ";
  // `time_zone` applies otherwise. InvalidArgument for a malformed expression, an unknown zone
  // or a schedule that can never fire (`0 0 30 2 *`).
  static absl::StatusOr<CronSchedule> Parse(absl::string_view text,
                                            absl::string_view time_zone = "UTC");

  // The first fire time strictly after `after` (fire times are whole local minutes; see the
  // file comment for DST). absl::InfiniteFuture() for an infinite `after`.
  absl::Time Next(absl::Time after) const;

  // The expression with single spaces between fields, prefixed by "CRON_TZ=<zone> " unless
  // the zone is UTC: Parse(ToString()) gives the same schedule.
  std::string ToString() const;

  // The expression as parsed (without CRON_TZ=), e.g. "0 */6 * * *" or "@daily".
  const std::string& Expression() const { return expression_; }

  const std::string& ZoneName() const { return zone_name_; }

  absl::TimeZone Zone() const { return zone_; }

  // One field: a bit per allowed value; `star` when its text starts with '*'.
  struct Field {
    uint64_t bits = 0;
    bool star = false;
  };

 private:
  CronSchedule() = default;

  // The first civil minute at or after `from` matching every field, up to year `last_year`.
  std::optional<absl::CivilMinute> NextMatch(absl::CivilMinute from,
                                             absl::civil_year_t last_year) const;
  bool DayMatches(absl::CivilDay day) const;

  Field minute_;
  Field hour_;
  Field day_of_month_;  // bits 1-31
  Field month_;         // bits 1-12
  Field day_of_week_;   // bits 0-6, Sunday 0
  std::string expression_;
  std::string zone_name_ = "UTC";
  absl::TimeZone zone_;
};

// A fixed period from an anchor. Immutable, copyable, thread-safe.
class IntervalSchedule {
 public:
  // "every 3h", "3h", "every 90s", "every 1h30m", "every 1.5h", "every 2d" (units d, h, m, s).
  static absl::StatusOr<IntervalSchedule> Parse(absl::string_view text,
                                                absl::Time anchor = absl::UnixEpoch());
  // InvalidArgument unless `period` is a whole number of seconds >= 1s.
  static absl::StatusOr<IntervalSchedule> Create(absl::Duration period,
                                                 absl::Time anchor = absl::UnixEpoch());

  // The first anchor + k * period (k >= 0) strictly after `after`: the anchor itself when
  // `after` is before it. absl::InfiniteFuture() for an infinite `after`.
  absl::Time Next(absl::Time after) const;
  // The last fire time at or before `at`; absl::InfinitePast() when `at` is before the anchor.
  absl::Time LastAtOrBefore(absl::Time at) const;

  // "every 3h", "every 1m30s" (absl::FormatDuration): Parse(ToString()) gives the same period.
  std::string ToString() const;

  absl::Duration Period() const { return period_; }

  absl::Time Anchor() const { return anchor_; }

 private:
  IntervalSchedule(absl::Duration period, absl::Time anchor) : period_(period), anchor_(anchor) {}

  absl::Duration period_;
  absl::Time anchor_;
};

// A flow's schedule: a cron expression or an interval.
class Schedule {
 public:
  explicit Schedule(CronSchedule cron) : schedule_(std::move(cron)) {}

  explicit Schedule(IntervalSchedule interval) : schedule_(interval) {}

  // The first fire time strictly after `after`.
  absl::Time Next(absl::Time after) const;
  // The cron expression (CronSchedule::ToString) or "every <period>": ParseSchedule accepts it.
  std::string ToString() const;

  // The cron schedule, or nullptr for an interval; and the reverse.
  const CronSchedule* Cron() const { return std::get_if<CronSchedule>(&schedule_); }

  const IntervalSchedule* Interval() const { return std::get_if<IntervalSchedule>(&schedule_); }

 private:
  std::variant<CronSchedule, IntervalSchedule> schedule_;
};

// One string: "every <duration>" (case-insensitive "every") is an interval from `anchor`;
// anything else a cron expression in `time_zone` (unless it has CRON_TZ=).
absl::StatusOr<Schedule> ParseSchedule(absl::string_view text, absl::string_view time_zone = "UTC",
                                       absl::Time anchor = absl::UnixEpoch());

// A churn.yaml flow's keys: exactly one of `cron` (an expression) and `every` (a duration, with
// or without "every "). InvalidArgument for both or neither.
absl::StatusOr<Schedule> ParseFlowSchedule(const std::optional<std::string>& cron,
                                           const std::optional<std::string>& every,
                                           absl::string_view time_zone = "UTC",
                                           absl::Time anchor = absl::UnixEpoch());

// Missed runs. A scheduler keeps, per flow, the last due time it handled (`last_due`: the due
// time of the last run it started, or its own start time for a flow that never ran). When it
// was down (or busy) past several due times, it runs ONE of them, the latest, and skips the
// others: they are not piled up.

// The next due time strictly after both `last_due` and `now`: every due time up to `now` is
// skipped.
absl::Time NextAfterMissed(const Schedule& schedule, absl::Time last_due, absl::Time now);

// Whether a due time lies in (last_due, now].
bool IsDue(const Schedule& schedule, absl::Time last_due, absl::Time now);

// Due times counted at most, beyond which DuePlan::skipped says "at least this many".
inline constexpr int64_t kMaxCountedMissed = 10000;

// What to do at `now`.
struct DuePlan {
  // The latest due time in (last_due, now]: start one run for it now (and make it the new
  // last_due). Empty when nothing is due.
  std::optional<absl::Time> run;
  // The due times in (last_due, now] before `run`: skipped (at most kMaxCountedMissed).
  int64_t skipped = 0;
  // The first due time strictly after `now`: when to look again.
  absl::Time next = absl::InfiniteFuture();
};

// The plan for `now`. `last_due` absl::InfinitePast() means "never handled": nothing is due and
// the flow waits for its first due time after `now`.
DuePlan PlanDue(const Schedule& schedule, absl::Time last_due, absl::Time now);

}  // namespace churn::flows

#endif  // CHURN_FLOWS_SCHEDULE_H_
