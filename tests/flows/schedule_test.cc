#include "churn/flows/schedule.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/test_env.h"

#include "churn/base/file.h"
#include "churn/base/time.h"

namespace churn::flows {
namespace {

using ::churn::testing::IsOk;
using ::churn::testing::StatusIs;

// An RFC 3339 time ("2026-03-08T03:00:00-04:00", "2026-01-01T00:00:00Z").
absl::Time T(absl::string_view rfc3339) {
  absl::Time t;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &error)) << rfc3339 << error;
  return t;
}

std::string Local(absl::Time t, absl::TimeZone zone) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez (%a)", t, zone);
}

// An expression, its zone, a start time, and the fire times Next() gives one after the other.
struct NextCase {
  std::string expression;
  std::string zone;
  std::string after;
  std::vector<std::string> next;
};

void ExpectNextTimes(const NextCase& c) {
  SCOPED_TRACE(absl::StrCat("'", c.expression, "' in ", c.zone, " after ", c.after));
  CHURN_ASSERT_OK_AND_ASSIGN(const CronSchedule schedule,
                             CronSchedule::Parse(c.expression, c.zone));
  std::vector<std::string> got;
  std::vector<std::string> want;
  absl::Time t = T(c.after);
  for (const std::string& next : c.next) {
    t = schedule.Next(t);
    got.push_back(Local(t, schedule.Zone()));
    want.push_back(Local(T(next), schedule.Zone()));
  }
  EXPECT_EQ(got, want);
}

void ExpectTable(const std::vector<NextCase>& cases) {
  for (const NextCase& c : cases) {
    ExpectNextTimes(c);
  }
}

TEST(CronScheduleTest, MonthEndsAndLeapDays) {
  ExpectTable({
      {"0 0 31 * *",
       "UTC",
       "2026-01-01T00:00:00Z",
       {"2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z",
        "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z", "2026-10-31T00:00:00Z",
        "2026-12-31T00:00:00Z", "2027-01-31T00:00:00Z"}},
      {"0 0 30 * *",
       "UTC",
       "2026-01-30T00:00:00Z",
       {"2026-03-30T00:00:00Z", "2026-04-30T00:00:00Z"}},
      {"0 12 29 2 *",
       "UTC",
       "2025-01-01T00:00:00Z",
       {"2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z"}},
      // 2100 is not a leap year: eight years between two Feb 29s.
      {"0 12 29 2 *", "UTC", "2096-03-01T00:00:00Z", {"2104-02-29T12:00:00Z"}},
      {"0 0 28-31 2 *",
       "UTC",
       "2027-02-27T00:00:00Z",
       {"2027-02-28T00:00:00Z", "2028-02-28T00:00:00Z", "2028-02-29T00:00:00Z"}},
      {"59 23 28,29 2 *",
       "UTC",
       "2028-02-28T23:59:00Z",
       {"2028-02-29T23:59:00Z", "2029-02-28T23:59:00Z"}},
  });
}

TEST(CronScheduleTest, StepsListsAndRanges) {
  ExpectTable({
      {"*/15 * * * *",
       "UTC",
       "2026-05-05T10:07:30Z",
       {"2026-05-05T10:15:00Z", "2026-05-05T10:30:00Z", "2026-05-05T10:45:00Z",
        "2026-05-05T11:00:00Z"}},
      {"10-50/20 * * * *",
       "UTC",
       "2026-05-05T10:00:00Z",
       {"2026-05-05T10:10:00Z", "2026-05-05T10:30:00Z", "2026-05-05T10:50:00Z",
        "2026-05-05T11:10:00Z"}},
      {"5/10 * * * *",
       "UTC",
       "2026-05-05T10:50:00Z",
       {"2026-05-05T10:55:00Z", "2026-05-05T11:05:00Z", "2026-05-05T11:15:00Z"}},
      {"1,15 * * * *",
       "UTC",
       "2026-05-05T10:15:00Z",
       {"2026-05-05T11:01:00Z", "2026-05-05T11:15:00Z", "2026-05-05T12:01:00Z"}},
      {"0 9-11 * * *",
       "UTC",
       "2026-05-05T10:00:00Z",
       {"2026-05-05T11:00:00Z", "2026-05-06T09:00:00Z", "2026-05-06T10:00:00Z"}},
      {"0 9-17/4 * * 1-5",
       "UTC",
       "2026-05-08T13:00:00Z",
       {"2026-05-08T17:00:00Z", "2026-05-11T09:00:00Z", "2026-05-11T13:00:00Z"}},
      {"30 8,12-13 1,15 * *",
       "UTC",
       "2026-05-01T12:30:00Z",
       {"2026-05-01T13:30:00Z", "2026-05-15T08:30:00Z", "2026-05-15T12:30:00Z"}},
      {"0 0 * */5 *",
       "UTC",
       "2026-01-31T00:00:00Z",
       {"2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"}},
      {"0 0 1 10-12/2 *",
       "UTC",
       "2026-01-01T00:00:00Z",
       {"2026-10-01T00:00:00Z", "2026-12-01T00:00:00Z", "2027-10-01T00:00:00Z"}},
      // Strictly after, to the minute.
      {"0 10 * * *", "UTC", "2026-05-05T10:00:00Z", {"2026-05-06T10:00:00Z"}},
      {"0 10 * * *", "UTC", "2026-05-05T09:59:59.5Z", {"2026-05-05T10:00:00Z"}},
      {"* * * * *",
       "UTC",
       "2026-05-05T10:00:00.001Z",
       {"2026-05-05T10:01:00Z", "2026-05-05T10:02:00Z"}},
  });
}

TEST(CronScheduleTest, NamesAnyCase) {
  ExpectTable({
      {"0 0 1 JAN,jul *",
       "UTC",
       "2026-01-01T00:00:00Z",
       {"2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
      {"0 0 1 feb-Apr *",
       "UTC",
       "2026-01-01T00:00:00Z",
       {"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z",
        "2027-02-01T00:00:00Z"}},
      {"0 8 * * mon-FRI",
       "UTC",
       "2026-05-08T08:00:00Z",
       {"2026-05-11T08:00:00Z", "2026-05-12T08:00:00Z"}},
      {"0 8 * * Sat,sun",
       "UTC",
       "2026-05-08T08:00:00Z",
       {"2026-05-09T08:00:00Z", "2026-05-10T08:00:00Z", "2026-05-16T08:00:00Z"}},
      // FRI-SUN wraps to Sunday as 7, as 5-7 does.
      {"0 0 * * FRI-SUN",
       "UTC",
       "2026-05-07T00:00:00Z",
       {"2026-05-08T00:00:00Z", "2026-05-09T00:00:00Z", "2026-05-10T00:00:00Z",
        "2026-05-15T00:00:00Z"}},
      {"0 0 * * 5-7",
       "UTC",
       "2026-05-07T00:00:00Z",
       {"2026-05-08T00:00:00Z", "2026-05-09T00:00:00Z", "2026-05-10T00:00:00Z",
        "2026-05-15T00:00:00Z"}},
      {"0 6 * DEC/1 *", "UTC", "2026-12-31T06:00:00Z", {"2027-12-01T06:00:00Z"}},
  });
}

TEST(CronScheduleTest, SundayIsZeroSevenAndSun) {
  const std::vector<std::string> sundays = {"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z",
                                            "2026-01-18T00:00:00Z", "2026-01-25T00:00:00Z",
                                            "2026-02-01T00:00:00Z"};
  for (const char* expression :
       {"0 0 * * 0", "0 0 * * 7", "0 0 * * SUN", "0 0 * * sun", "0 0 * * 0,7", "@weekly"}) {
    ExpectNextTimes({expression, "UTC", "2026-01-01T00:00:00Z", sundays});
  }
  ExpectNextTimes({"0 0 * * 6-7",
                   "UTC",
                   "2026-01-01T00:00:00Z",
                   {"2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-10T00:00:00Z"}});
}

TEST(CronScheduleTest, DayOfMonthOrDayOfWeekAsVixieCron) {
  ExpectTable({
      // Both restricted: the 13th OR any Friday.
      {"0 0 13 * FRI",
       "UTC",
       "2026-01-01T00:00:00Z",
       {"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z",
        "2026-01-16T00:00:00Z"}},
      {"0 0 1,15 * MON",
       "UTC",
       "2026-05-01T00:00:00Z",
       {"2026-05-04T00:00:00Z", "2026-05-11T00:00:00Z", "2026-05-15T00:00:00Z",
        "2026-05-18T00:00:00Z"}},
      // A day-of-month that never occurs in February still fires on February's Mondays.
      {"0 0 30 2 MON",
       "UTC",
       "2026-01-01T00:00:00Z",
       {"2026-02-02T00:00:00Z", "2026-02-09T00:00:00Z"}},
      // A field starting with '*' makes it AND: odd days that are Fridays.
      {"0 0 */2 * FRI",
       "UTC",
       "2026-01-01T00:00:00Z",
       {"2026-01-09T00:00:00Z", "2026-01-23T00:00:00Z", "2026-02-13T00:00:00Z"}},
      {"0 0 13 * *",
       "UTC",
       "2026-01-01T00:00:00Z",
       {"2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"}},
      {"0 0 * * FRI",
       "UTC",
       "2026-01-01T00:00:00Z",
       {"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z"}},
      // 1-31 is restricted in Vixie's sense (no '*'): OR with it is every day.
      {"0 0 1-31 * MON",
       "UTC",
       "2026-01-01T00:00:00Z",
       {"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"}},
  });
}

TEST(CronScheduleTest, MacrosAndYearRollover) {
  ExpectTable({
      {"@hourly", "UTC", "2026-12-31T23:00:00Z", {"2027-01-01T00:00:00Z"}},
      {"@daily", "UTC", "2026-12-31T00:00:00Z", {"2027-01-01T00:00:00Z"}},
      {"@MIDNIGHT", "UTC", "2026-12-31T12:00:00Z", {"2027-01-01T00:00:00Z"}},
      {"@weekly", "UTC", "2026-12-31T00:00:00Z", {"2027-01-03T00:00:00Z"}},
      {"@monthly", "UTC", "2026-12-01T00:00:00Z", {"2027-01-01T00:00:00Z"}},
      {"@yearly", "UTC", "2026-01-01T00:00:00Z", {"2027-01-01T00:00:00Z"}},
      {"@annually", "UTC", "2026-06-01T00:00:00Z", {"2027-01-01T00:00:00Z"}},
      {"59 23 31 12 *",
       "UTC",
       "2026-12-31T23:59:00Z",
       {"2027-12-31T23:59:00Z", "2028-12-31T23:59:00Z"}},
      {"* * * * *", "UTC", "2026-12-31T23:59:00Z", {"2027-01-01T00:00:00Z"}},
      {"0 0 1 1 *", "UTC", "9998-06-01T00:00:00Z", {"9999-01-01T00:00:00Z"}},
  });
}

TEST(CronScheduleTest, FlowDefaults) {
  // The training flow's default: every six hours on the hour.
  ExpectNextTimes({"0 */6 * * *",
                   "UTC",
                   "2026-05-05T07:00:00Z",
                   {"2026-05-05T12:00:00Z", "2026-05-05T18:00:00Z", "2026-05-06T00:00:00Z",
                    "2026-05-06T06:00:00Z"}});
  // The report flow: every 3 hours.
  CHURN_ASSERT_OK_AND_ASSIGN(const Schedule report, ParseFlowSchedule(std::nullopt, "3h"));
  absl::Time t = T("2026-05-05T07:30:00Z");
  std::vector<absl::Time> got;
  for (int i = 0; i < 3; ++i) {
    t = report.Next(t);
    got.push_back(t);
  }
  EXPECT_EQ(got, (std::vector<absl::Time>{T("2026-05-05T09:00:00Z"), T("2026-05-05T12:00:00Z"),
                                          T("2026-05-05T15:00:00Z")}));
}

TEST(CronScheduleTest, TimeZones) {
  ExpectTable({
      {"0 9 * * *",
       "Europe/Paris",
       "2026-07-01T00:00:00Z",
       {"2026-07-01T09:00:00+02:00", "2026-07-02T09:00:00+02:00"}},
      {"CRON_TZ=Asia/Kolkata 30 9 * * *",
       "UTC",
       "2026-07-01T00:00:00Z",
       {"2026-07-01T04:00:00Z", "2026-07-02T04:00:00Z"}},
      // CRON_TZ wins over the argument.
      {"CRON_TZ=Asia/Tokyo 0 0 1 1 *",
       "Europe/Paris",
       "2026-06-01T00:00:00Z",
       {"2026-12-31T15:00:00Z"}},
      // Paris, 2026-03-29 and 2026-10-25: a daily job stays at 09:00 local.
      {"0 9 * * *",
       "Europe/Paris",
       "2026-03-28T12:00:00+01:00",
       {"2026-03-29T09:00:00+02:00", "2026-03-30T09:00:00+02:00"}},
      {"0 9 * * *",
       "Europe/Paris",
       "2026-10-24T12:00:00+02:00",
       {"2026-10-25T09:00:00+01:00", "2026-10-26T09:00:00+01:00"}},
  });
}

TEST(CronScheduleTest, DaylightSavingTimeInNewYork) {
  const std::string ny = "America/New_York";
  ExpectTable({
      // Spring forward, 2026-03-08 02:00 EST -> 03:00 EDT. 02:30 does not exist: a fixed-time
      // job fires at the first instant after the gap, once, then at 02:30 again.
      {"30 2 * * *",
       ny,
       "2026-03-07T12:00:00-05:00",
       {"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"}},
      {"0 2 * * *",
       ny,
       "2026-03-07T12:00:00-05:00",
       {"2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"}},
      {"15,45 2 * * *",
       ny,
       "2026-03-07T12:00:00-05:00",
       {"2026-03-08T03:00:00-04:00", "2026-03-09T02:15:00-04:00"}},
      // ... a wildcard job skips the gap (hourly stays hourly in real time).
      {"30 * * * *",
       ny,
       "2026-03-08T00:00:00-05:00",
       {"2026-03-08T00:30:00-05:00", "2026-03-08T01:30:00-05:00", "2026-03-08T03:30:00-04:00"}},
      {"*/30 2 * * *",
       ny,
       "2026-03-07T12:00:00-05:00",
       {"2026-03-09T02:00:00-04:00", "2026-03-09T02:30:00-04:00"}},
      // A job after the gap is unaffected.
      {"30 3 * * *",
       ny,
       "2026-03-07T12:00:00-05:00",
       {"2026-03-08T03:30:00-04:00", "2026-03-09T03:30:00-04:00"}},
      // Fall back, 2026-11-01 02:00 EDT -> 01:00 EST: 01:00-01:59 happen twice. 02:30 once.
      {"30 2 * * *",
       ny,
       "2026-10-31T12:00:00-04:00",
       {"2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00"}},
      // A fixed-time job in the repeated hour fires at the first pass only ...
      {"30 1 * * *",
       ny,
       "2026-10-31T12:00:00-04:00",
       {"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
      {"30 1 * * *", ny, "2026-11-01T01:10:00-05:00", {"2026-11-02T01:30:00-05:00"}},
      // ... a wildcard job at both.
      {"30 * * * *",
       ny,
       "2026-11-01T00:00:00-04:00",
       {"2026-11-01T00:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00",
        "2026-11-01T02:30:00-05:00"}},
      // From late in the first pass, the second pass's 01:00 comes before 02:00.
      {"*/30 * * * *",
       ny,
       "2026-11-01T01:45:00-04:00",
       {"2026-11-01T01:00:00-05:00", "2026-11-01T01:30:00-05:00", "2026-11-01T02:00:00-05:00"}},
      {"0 */6 * * *",
       ny,
       "2026-10-31T19:00:00-04:00",
       {"2026-11-01T00:00:00-04:00", "2026-11-01T06:00:00-05:00", "2026-11-01T12:00:00-05:00"}},
      {"30 1 * * *", ny, "2026-11-01T01:45:00-04:00", {"2026-11-02T01:30:00-05:00"}},
  });
}

TEST(CronScheduleTest, NextOverManyYearsIsQuick) {
  CHURN_ASSERT_OK_AND_ASSIGN(const CronSchedule leap, CronSchedule::Parse("0 0 29 2 *"));
  CHURN_ASSERT_OK_AND_ASSIGN(const CronSchedule every_minute, CronSchedule::Parse("* * * * *"));
  const absl::Time start = absl::Now();
  absl::Time t = T("2026-01-01T00:00:00Z");
  for (int i = 0; i < 1000; ++i) {
    t = leap.Next(t);
  }
  EXPECT_EQ(absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()), "6148-02-29");
  for (int i = 0; i < 10000; ++i) {
    t = every_minute.Next(t);
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  // A schedule that first fires on February 1st being a Monday with AND semantics.
  CHURN_ASSERT_OK_AND_ASSIGN(const CronSchedule rare, CronSchedule::Parse("0 0 */29 2 MON"));
  EXPECT_EQ(rare.Next(T("2027-02-02T00:00:00Z")), T("2038-02-01T00:00:00Z"));
}

TEST(CronScheduleTest, ToStringRoundTrips) {
  for (const auto& [text, zone, want] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"  0   */6 * *\t*  ", "UTC", "0 */6 * * *"},
           {"@Daily", "UTC", "@daily"},
           {"30 9 * * MON-FRI", "Europe/Paris", "CRON_TZ=Europe/Paris 30 9 * * MON-FRI"},
           {"CRON_TZ=Asia/Tokyo 0 0 1 1 *", "UTC", "CRON_TZ=Asia/Tokyo 0 0 1 1 *"},
       }) {
    CHURN_ASSERT_OK_AND_ASSIGN(const CronSchedule schedule, CronSchedule::Parse(text, zone));
    EXPECT_EQ(schedule.ToString(), want);
    CHURN_ASSERT_OK_AND_ASSIGN(const CronSchedule again, CronSchedule::Parse(schedule.ToString()));
    EXPECT_EQ(again.ToString(), want);
    const absl::Time t = T("2026-05-05T10:00:00Z");
    EXPECT_EQ(again.Next(t), schedule.Next(t));
  }
}

struct BadCron {
  std::string text;
  std::string zone;
  std::string message;
};

TEST(CronScheduleTest, BadInputNamesTheFieldAndToken) {
  const std::vector<BadCron> cases = {
      {"61 * * * *", "UTC", "cron '61 * * * *': minute 61 is outside 0-59"},
      {"* 24 * * *", "UTC", "hour 24 is outside 0-23"},
      {"* * 0 * *", "UTC", "day-of-month 0 is outside 1-31"},
      {"* * 32 * *", "UTC", "day-of-month 32 is outside 1-31"},
      {"* * * 13 *", "UTC", "month 13 is outside 1-12"},
      {"* * * 0 *", "UTC", "month 0 is outside 1-12"},
      {"* * * * 8", "UTC", "day-of-week 8 is outside 0-7"},
      {"99999999999 * * * *", "UTC", "minute 99999999999 is outside 0-59"},
      {"1-70 * * * *", "UTC", "minute 70 is outside 0-59"},
      {"x * * * *", "UTC", "minute 'x' is not a number"},
      {"* MON * * *", "UTC", "hour 'MON' is not a number"},
      {"* * * FOO *", "UTC", "month 'FOO' is not a number or a month name (JAN-DEC)"},
      {"* * * * MOON", "UTC", "day-of-week 'MOON' is not a number or a day name (SUN-SAT)"},
      {"* * * JAN-FOO *", "UTC", "month 'FOO' is not a number or a month name"},
      {"5-1 * * * *", "UTC", "minute range '5-1' is reversed (5 > 1)"},
      {"* * * DEC-JAN *", "UTC", "month range 'DEC-JAN' is reversed (12 > 1)"},
      {"* * * * SAT-MON", "UTC", "day-of-week range 'SAT-MON' is reversed (6 > 1)"},
      {"*/0 * * * *", "UTC", "minute step 0 in '*/0' must be at least 1"},
      {"*/90 * * * *", "UTC", "minute step 90 in '*/90' exceeds the field's range 0-59"},
      {"* */25 * * *", "UTC", "hour step 25 in '*/25' exceeds the field's range 0-23"},
      {"*/x * * * *", "UTC", "minute step 'x' in '*/x' is not a number"},
      {"*/ * * * *", "UTC", "minute step '' in '*/' is not a number"},
      {"1/2/3 * * * *", "UTC", "minute '1/2/3' has more than one step"},
      {"1,,2 * * * *", "UTC", "minute has an empty item in '1,,2'"},
      {"1, * * * *", "UTC", "minute has an empty item in '1,'"},
      {"1- * * * *", "UTC", "minute has an empty value in '1-'"},
      {"-5 * * * *", "UTC", "minute has an empty value in '-5'"},
      {"*-5 * * * *", "UTC", "minute '*' is not a number"},
      {"* * * *", "UTC",
       "cron '* * * *': expected 5 fields (minute hour day-of-month month day-of-week), got 4"},
      {"* * * * * *", "UTC",
       "expected 5 fields (minute hour day-of-month month day-of-week), got 6"},
      {"", "UTC", "cron '': expected 5 fields"},
      {"3h", "UTC", "got 1 (for an interval, write 'every 3h')"},
      {"@fortnightly", "UTC", "cron '@fortnightly': unknown macro '@fortnightly' (known: @hourly"},
      {"@reboot", "UTC", "@reboot is not supported"},
      {"@daily 0", "UTC",
       "cron '@daily 0': expected 5 fields (minute hour day-of-month month day-of-week), got 2"},
      {"0 0 30 2 *", "UTC",
       "cron '0 0 30 2 *': never fires: day-of-month '30' never occurs in month '2'"},
      {"0 0 31 4,6,9,11 *", "UTC",
       "never fires: day-of-month '31' never occurs in month '4,6,9,11'"},
      {"0 0 30,31 FEB *", "UTC", "never fires: day-of-month '30,31' never occurs in month 'FEB'"},
      {"0 0 31 2 */2", "UTC", "never fires"},
      {"CRON_TZ=Mars/Olympus 0 0 * * *", "UTC",
       "cron 'CRON_TZ=Mars/Olympus 0 0 * * *': unknown time zone 'Mars/Olympus'"},
      {"0 0 * * *", "Nowhere/Else", "cron '0 0 * * *': unknown time zone 'Nowhere/Else'"},
      {"CRON_TZ= 0 0 * * *", "UTC", "CRON_TZ= names no time zone"},
  };
  for (const BadCron& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_THAT(CronSchedule::Parse(c.text, c.zone),
                StatusIs(absl::StatusCode::kInvalidArgument, c.message));
  }
  // Accepted: the edges of every field, and a Feb 29 that does occur.
  for (const char* good :
       {"0-59 0-23 1-31 1-12 0-7", "59 23 31 12 7", "0 0 29 2 *", "0 0 31 1-12 *", "0 0 * * */7",
        "*/60 */24 */31 */12 *", "0 0 30 2 MON"}) {
    EXPECT_THAT(CronSchedule::Parse(good), IsOk()) << good;
  }
}

// croniter's next fire times (tests/fixtures/cron/make_fixtures.py): every one must agree.
TEST(CronScheduleTest, AgreesWithCroniter) {
  const std::filesystem::path path =
      std::filesystem::path(::churn::testing::SourceDir()) / "tests/fixtures/cron/next_times.json";
  CHURN_ASSERT_OK_AND_ASSIGN(const std::string text, base::ReadFile(path));
  const nlohmann::json fixture = nlohmann::json::parse(text);
  const nlohmann::json& cases = fixture.at("cases");
  ASSERT_GE(cases.size(), 200U);
  std::set<std::string> expressions;
  int compared = 0;
  for (const nlohmann::json& c : cases) {
    const auto expression = c.at("expression").get<std::string>();
    const auto zone = c.at("time_zone").get<std::string>();
    expressions.insert(expression);
    SCOPED_TRACE(
        absl::StrCat("'", expression, "' in ", zone, " after ", c.at("start").get<int64_t>()));
    CHURN_ASSERT_OK_AND_ASSIGN(const CronSchedule schedule, CronSchedule::Parse(expression, zone));
    absl::Time t = absl::FromUnixSeconds(c.at("start").get<int64_t>());
    for (const nlohmann::json& next : c.at("next")) {
      t = schedule.Next(t);
      const absl::Time want = absl::FromUnixSeconds(next.get<int64_t>());
      ASSERT_EQ(Local(t, schedule.Zone()), Local(want, schedule.Zone()));
      ++compared;
    }
  }
  EXPECT_GE(expressions.size(), 40U);
  EXPECT_GE(compared, 1000);
}

TEST(IntervalScheduleTest, ParsesDurations) {
  for (const auto& [text, want] : std::vector<std::pair<std::string, absl::Duration>>{
           {"every 3h", absl::Hours(3)},
           {"3h", absl::Hours(3)},
           {"every 90s", absl::Seconds(90)},
           {"EVERY 15m", absl::Minutes(15)},
           {"  every   1h30m ", absl::Minutes(90)},
           {"every 1.5h", absl::Minutes(90)},
           {"every 1d", absl::Hours(24)},
           {"2d12h", absl::Hours(60)},
           {"every 1s", absl::Seconds(1)},
       }) {
    CHURN_ASSERT_OK_AND_ASSIGN(const IntervalSchedule schedule, IntervalSchedule::Parse(text));
    EXPECT_EQ(schedule.Period(), want) << text;
    CHURN_ASSERT_OK_AND_ASSIGN(const IntervalSchedule again,
                               IntervalSchedule::Parse(schedule.ToString()));
    EXPECT_EQ(again.Period(), want) << schedule.ToString();
  }
  CHURN_ASSERT_OK_AND_ASSIGN(const IntervalSchedule ninety, IntervalSchedule::Parse("every 90s"));
  EXPECT_EQ(ninety.ToString(), "every 1m30s");
}

TEST(IntervalScheduleTest, BadInput) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"every", "every 'every': '' is not a duration such as 90s, 15m, 3h, 1d or 1h30m"},
      {"every 3x", "every 'every 3x': '3x' is not a duration"},
      {"3 hours", "'3 hours' is not a duration"},
      {"every -3h", "'-3h' is not a duration"},
      {"every h", "'h' is not a duration"},
      {"every 500ms", "'500ms' is not a duration"},
      {"every 0s", "every 'every 0s': the period 0 is not a whole number of seconds >= 1s"},
      {"every 1.5s", "the period 1.5s is not a whole number of seconds >= 1s"},
      {"every 3h3", "'3h3' is not a duration"},
  };
  for (const auto& [text, message] : cases) {
    EXPECT_THAT(IntervalSchedule::Parse(text),
                StatusIs(absl::StatusCode::kInvalidArgument, message))
        << text;
  }
  EXPECT_THAT(IntervalSchedule::Create(absl::Milliseconds(500)),
              StatusIs(absl::StatusCode::kInvalidArgument, "whole number of seconds"));
  EXPECT_THAT(IntervalSchedule::Create(absl::Hours(1), absl::InfiniteFuture()),
              StatusIs(absl::StatusCode::kInvalidArgument, "finite"));
}

TEST(IntervalScheduleTest, NextFromTheAnchor) {
  CHURN_ASSERT_OK_AND_ASSIGN(const IntervalSchedule epoch, IntervalSchedule::Parse("every 3h"));
  EXPECT_EQ(epoch.Next(T("2026-05-05T07:30:00Z")), T("2026-05-05T09:00:00Z"));
  EXPECT_EQ(epoch.Next(T("2026-05-05T09:00:00Z")), T("2026-05-05T12:00:00Z"));  // strictly after
  EXPECT_EQ(epoch.LastAtOrBefore(T("2026-05-05T09:00:00Z")), T("2026-05-05T09:00:00Z"));
  EXPECT_EQ(epoch.LastAtOrBefore(T("2026-05-05T08:59:59Z")), T("2026-05-05T06:00:00Z"));

  const absl::Time anchor = T("2026-05-05T10:00:00Z");
  CHURN_ASSERT_OK_AND_ASSIGN(const IntervalSchedule ninety,
                             IntervalSchedule::Parse("every 90s", anchor));
  EXPECT_EQ(ninety.Anchor(), anchor);
  EXPECT_EQ(ninety.Next(T("2026-05-05T09:00:00Z")), anchor);  // before the anchor: the anchor
  EXPECT_EQ(ninety.Next(T("2026-05-05T10:20:00Z")), T("2026-05-05T10:21:00Z"));
  EXPECT_EQ(ninety.Next(T("2026-05-05T10:21:00Z")), T("2026-05-05T10:22:30Z"));
  EXPECT_EQ(ninety.LastAtOrBefore(T("2026-05-05T09:59:59Z")), absl::InfinitePast());
  EXPECT_EQ(ninety.Next(absl::InfiniteFuture()), absl::InfiniteFuture());
}

TEST(ScheduleTest, ParsesEitherKind) {
  CHURN_ASSERT_OK_AND_ASSIGN(const Schedule cron, ParseSchedule("0 */6 * * *"));
  ASSERT_NE(cron.Cron(), nullptr);
  EXPECT_EQ(cron.Interval(), nullptr);
  EXPECT_EQ(cron.ToString(), "0 */6 * * *");
  EXPECT_EQ(cron.Next(T("2026-05-05T07:00:00Z")), T("2026-05-05T12:00:00Z"));

  CHURN_ASSERT_OK_AND_ASSIGN(const Schedule every, ParseSchedule("every 3h"));
  ASSERT_NE(every.Interval(), nullptr);
  EXPECT_EQ(every.Cron(), nullptr);
  EXPECT_EQ(every.ToString(), "every 3h");
  EXPECT_EQ(every.Next(T("2026-05-05T07:00:00Z")), T("2026-05-05T09:00:00Z"));

  CHURN_ASSERT_OK_AND_ASSIGN(const Schedule zoned, ParseSchedule("0 9 * * *", "Europe/Paris"));
  EXPECT_EQ(zoned.ToString(), "CRON_TZ=Europe/Paris 0 9 * * *");
  for (const Schedule* schedule : {&cron, &every, &zoned}) {
    CHURN_ASSERT_OK_AND_ASSIGN(const Schedule again, ParseSchedule(schedule->ToString()));
    EXPECT_EQ(again.ToString(), schedule->ToString());
  }
  EXPECT_THAT(ParseSchedule("every 3x"), StatusIs(absl::StatusCode::kInvalidArgument, "every '"));
  EXPECT_THAT(ParseSchedule("everyday"), StatusIs(absl::StatusCode::kInvalidArgument, "cron '"));
}

TEST(ScheduleTest, FlowKeys) {
  CHURN_ASSERT_OK_AND_ASSIGN(const Schedule cron, ParseFlowSchedule("0 */6 * * *", std::nullopt));
  EXPECT_EQ(cron.ToString(), "0 */6 * * *");
  CHURN_ASSERT_OK_AND_ASSIGN(const Schedule every, ParseFlowSchedule(std::nullopt, "every 3h"));
  EXPECT_EQ(every.ToString(), "every 3h");
  const absl::Time anchor = T("2026-05-05T10:10:00Z");
  CHURN_ASSERT_OK_AND_ASSIGN(const Schedule anchored,
                             ParseFlowSchedule(std::nullopt, "3h", "UTC", anchor));
  EXPECT_EQ(anchored.Next(anchor), T("2026-05-05T13:10:00Z"));
  EXPECT_THAT(ParseFlowSchedule("0 * * * *", "3h"),
              StatusIs(absl::StatusCode::kInvalidArgument, "both cron: and every:"));
  EXPECT_THAT(ParseFlowSchedule(std::nullopt, std::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument, "needs cron:"));
  EXPECT_THAT(ParseFlowSchedule("0 0 30 2 *", std::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument, "never fires"));
  EXPECT_THAT(ParseFlowSchedule(std::nullopt, "0 */6 * * *"),
              StatusIs(absl::StatusCode::kInvalidArgument, "is not a duration"));
}

TEST(MissedRunsTest, DownTenHoursWithThreeHourIntervalRunsOnce) {
  CHURN_ASSERT_OK_AND_ASSIGN(const Schedule every, ParseFlowSchedule(std::nullopt, "3h"));
  base::FakeClock clock(T("2026-05-05T00:00:00Z"));
  const absl::Time last_due = clock.Now();  // the 00:00 run was started
  clock.Advance(absl::Hours(10));           // down until 10:00: 03:00, 06:00, 09:00 were due
  const DuePlan plan = PlanDue(every, last_due, clock.Now());
  ASSERT_TRUE(plan.run.has_value());
  EXPECT_EQ(*plan.run, T("2026-05-05T09:00:00Z"));  // one run, for the latest
  EXPECT_EQ(plan.skipped, 2);                       // 03:00 and 06:00 are not piled up
  EXPECT_EQ(plan.next, T("2026-05-05T12:00:00Z"));
  EXPECT_EQ(NextAfterMissed(every, last_due, clock.Now()), T("2026-05-05T12:00:00Z"));
  EXPECT_TRUE(IsDue(every, last_due, clock.Now()));

  // After that run, nothing is due until 12:00.
  const DuePlan after = PlanDue(every, *plan.run, clock.Now());
  EXPECT_FALSE(after.run.has_value());
  EXPECT_EQ(after.skipped, 0);
  EXPECT_EQ(after.next, T("2026-05-05T12:00:00Z"));
  EXPECT_FALSE(IsDue(every, *plan.run, clock.Now()));
}

TEST(MissedRunsTest, CronSkipsMissedRuns) {
  CHURN_ASSERT_OK_AND_ASSIGN(const Schedule cron, ParseFlowSchedule("0 */6 * * *", std::nullopt));
  const absl::Time last_due = T("2026-05-05T00:00:00Z");
  // Down 20 hours: 06:00, 12:00 and 18:00 were due; 18:00 runs now.
  const DuePlan plan = PlanDue(cron, last_due, T("2026-05-05T20:00:00Z"));
  ASSERT_TRUE(plan.run.has_value());
  EXPECT_EQ(*plan.run, T("2026-05-05T18:00:00Z"));
  EXPECT_EQ(plan.skipped, 2);
  EXPECT_EQ(plan.next, T("2026-05-06T00:00:00Z"));
  // Exactly on time: that due time, nothing skipped.
  const DuePlan on_time = PlanDue(cron, last_due, T("2026-05-05T06:00:00Z"));
  ASSERT_TRUE(on_time.run.has_value());
  EXPECT_EQ(*on_time.run, T("2026-05-05T06:00:00Z"));
  EXPECT_EQ(on_time.skipped, 0);
  EXPECT_EQ(on_time.next, T("2026-05-05T12:00:00Z"));
  // Early: nothing due.
  const DuePlan early = PlanDue(cron, last_due, T("2026-05-05T05:59:59Z"));
  EXPECT_FALSE(early.run.has_value());
  EXPECT_EQ(early.next, T("2026-05-05T06:00:00Z"));
  // A yearly schedule missed for three years.
  CHURN_ASSERT_OK_AND_ASSIGN(const Schedule yearly, ParseSchedule("@yearly"));
  const DuePlan years = PlanDue(yearly, T("2026-01-01T00:00:00Z"), T("2029-06-01T00:00:00Z"));
  ASSERT_TRUE(years.run.has_value());
  EXPECT_EQ(*years.run, T("2029-01-01T00:00:00Z"));
  EXPECT_EQ(years.skipped, 2);
  EXPECT_EQ(years.next, T("2030-01-01T00:00:00Z"));
}

TEST(MissedRunsTest, NeverHandledAndCappedCounts) {
  CHURN_ASSERT_OK_AND_ASSIGN(const Schedule minutely, ParseSchedule("* * * * *"));
  const absl::Time now = T("2026-05-05T10:00:30Z");
  const DuePlan fresh = PlanDue(minutely, absl::InfinitePast(), now);
  EXPECT_FALSE(fresh.run.has_value());
  EXPECT_EQ(fresh.next, T("2026-05-05T10:01:00Z"));
  EXPECT_FALSE(IsDue(minutely, absl::InfinitePast(), now));
  // Thirty days of minutes missed: the count stops at kMaxCountedMissed.
  const DuePlan month = PlanDue(minutely, now - absl::Hours(24 * 30), now);
  ASSERT_TRUE(month.run.has_value());
  EXPECT_EQ(*month.run, T("2026-05-05T10:00:00Z"));
  EXPECT_EQ(month.skipped, kMaxCountedMissed);
  CHURN_ASSERT_OK_AND_ASSIGN(const Schedule every, ParseSchedule("every 1s"));
  EXPECT_EQ(PlanDue(every, now - absl::Hours(24 * 30), now).skipped, kMaxCountedMissed);
  // A last due time ahead of the clock (the clock stepped back): nothing due, the next one is
  // after the last due time.
  const DuePlan ahead = PlanDue(minutely, now + absl::Minutes(5), now);
  EXPECT_FALSE(ahead.run.has_value());
  EXPECT_EQ(ahead.next, T("2026-05-05T10:06:00Z"));
}

}  // namespace
}  // namespace churn::flows
