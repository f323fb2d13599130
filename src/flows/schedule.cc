#include "churn/flows/schedule.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

#include "churn/base/status_macros.h"

namespace churn::flows {
namespace {

using Field = CronSchedule::Field;

// The Gregorian calendar repeats every 400 years, so a schedule that can fire at all fires
// within 400 years of any instant.
constexpr absl::civil_year_t kSearchYears = 400;

constexpr absl::string_view kMonthNames = "JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC";
constexpr absl::string_view kDayNames = "SUNMONTUEWEDTHUFRISAT";
constexpr absl::string_view kDurationHint =
    "is not a duration such as 90s, 15m, 3h, 1d or 1h30m (units d, h, m, s)";

// What one cron field accepts.
struct FieldSpec {
  absl::string_view name;
  int min = 0;
  int max = 0;              // the largest value written: 7 for day-of-week (Sunday again)
  int last = 0;             // the largest value '*' and "N/step" cover: 6 for day-of-week
  absl::string_view names;  // three letters per value from `min`, or empty
  absl::string_view names_hint;
};

constexpr std::array<FieldSpec, 5> kFields = {{
    {"minute", 0, 59, 59, "", ""},
    {"hour", 0, 23, 23, "", ""},
    {"day-of-month", 1, 31, 31, "", ""},
    {"month", 1, 12, 12, kMonthNames, "a month name (JAN-DEC)"},
    {"day-of-week", 0, 7, 6, kDayNames, "a day name (SUN-SAT)"},
}};
constexpr size_t kDayOfMonth = 2;
constexpr size_t kMonth = 3;
constexpr size_t kDayOfWeek = 4;

constexpr std::array<std::pair<absl::string_view, absl::string_view>, 7> kMacros = {{
    {"@hourly", "0 * * * *"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@weekly", "0 0 * * 0"},
    {"@monthly", "0 0 1 * *"},
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
}};

bool AllDigits(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

bool HasBit(uint64_t bits, int value) {
  return ((bits >> value) & 1U) != 0;
}

// The lowest set bit >= `from`, or -1.
int NextBit(uint64_t bits, int from) {
  const uint64_t rest = bits & (~uint64_t{0} << from);
  return rest == 0 ? -1 : std::countr_zero(rest);
}

int FirstBit(uint64_t bits) {
  return std::countr_zero(bits);
}

// A number or (month, day-of-week) a three-letter name, within the field's range.
absl::StatusOr<int> ParseValue(const FieldSpec& spec, absl::string_view token,
                               absl::string_view item) {
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(spec.name, " has an empty value in '", item, "'"));
  }
  if (AllDigits(token)) {
    int value = 0;
    if (token.size() > 4 || !absl::SimpleAtoi(token, &value) || value < spec.min ||
        value > spec.max) {
      return absl::InvalidArgumentError(
          absl::StrCat(spec.name, " ", token, " is outside ", spec.min, "-", spec.max));
    }
    return value;
  }
  if (token.size() == 3) {
    for (size_t i = 0; i + 3 <= spec.names.size(); i += 3) {
      if (absl::EqualsIgnoreCase(token, spec.names.substr(i, 3))) {
        return spec.min + static_cast<int>(i / 3);
      }
    }
  }
  if (spec.names.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(spec.name, " '", token, "' is not a number"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(spec.name, " '", token, "' is not a number or ", spec.names_hint));
}

// The step of "BASE/STEP": 1 to the size of the field's range.
absl::StatusOr<int> ParseStep(const FieldSpec& spec, absl::string_view step_text,
                              absl::string_view item) {
  const int span = spec.last - spec.min + 1;
  int step = 0;
  if (!AllDigits(step_text) || step_text.size() > 4 || !absl::SimpleAtoi(step_text, &step)) {
    return absl::InvalidArgumentError(
        absl::StrCat(spec.name, " step '", step_text, "' in '", item, "' is not a number"));
  }
  if (step < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(spec.name, " step 0 in '", item, "' must be at least 1"));
  }
  if (step > span) {
    return absl::InvalidArgumentError(absl::StrCat(spec.name, " step ", step, " in '", item,
                                                   "' exceeds the field's range ", spec.min, "-",
                                                   spec.last));
  }
  return step;
}

// The bits of one list item: VALUE, LOW-HIGH or '*', each with an optional "/STEP".
absl::StatusOr<uint64_t> ParseItem(const FieldSpec& spec, absl::string_view item) {
  const std::vector<absl::string_view> parts = absl::StrSplit(item, '/');
  if (parts.size() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(spec.name, " '", item, "' has more than one step"));
  }
  const absl::string_view base = parts[0];
  const bool has_step = parts.size() == 2;
  int step = 1;
  if (has_step) {
    CHURN_ASSIGN_OR_RETURN(step, ParseStep(spec, parts[1], item));
  }
  int low = spec.min;
  int high = spec.last;
  if (const size_t dash = base.find('-'); dash != absl::string_view::npos) {
    CHURN_ASSIGN_OR_RETURN(low, ParseValue(spec, base.substr(0, dash), item));
    CHURN_ASSIGN_OR_RETURN(high, ParseValue(spec, base.substr(dash + 1), item));
    if (low > high && spec.max > spec.last && high == spec.min) {
      high = spec.max;  // FRI-SUN, 5-0: up to Sunday as 7
    }
    if (low > high) {
      return absl::InvalidArgumentError(
          absl::StrCat(spec.name, " range '", base, "' is reversed (", low, " > ", high, ")"));
    }
  } else if (base != "*") {
    CHURN_ASSIGN_OR_RETURN(low, ParseValue(spec, base, item));
    high = has_step ? std::max(low, spec.last) : low;
  }
  uint64_t bits = 0;
  for (int value = low; value <= high; value += step) {
    // Only day-of-week's 7 exceeds `last`: it is Sunday, 0.
    bits |= uint64_t{1} << (value > spec.last ? spec.min : value);
  }
  return bits;
}

// A comma-separated list of items.
absl::StatusOr<Field> ParseField(const FieldSpec& spec, absl::string_view text) {
  Field field;
  field.star = absl::StartsWith(text, "*");
  for (const absl::string_view item : absl::StrSplit(text, ',')) {
    if (item.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(spec.name, " has an empty item in '", text, "'"));
    }
    CHURN_ASSIGN_OR_RETURN(const uint64_t bits, ParseItem(spec, item));
    field.bits |= bits;
  }
  return field;
}

absl::StatusOr<absl::string_view> ExpandMacro(absl::string_view macro) {
  const std::string lower = absl::AsciiStrToLower(macro);
  for (const auto& [name, expansion] : kMacros) {
    if (lower == name) {
      return expansion;
    }
  }
  if (lower == "@reboot") {
    return absl::InvalidArgumentError(
        "@reboot is not supported: a flow runs on a schedule, not when the scheduler starts");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown macro '", macro,
                   "' (known: @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually)"));
}

// The most days `month` has (29 for February).
int MaxDaysInMonth(int month) {
  constexpr std::array<int, 13> kDays = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return kDays[static_cast<size_t>(month)];
}

// InvalidArgument when no date matches. When both day fields are restricted, either one
// matching is enough and every weekday comes; otherwise the day-of-month must occur in one of
// the months (weekdays then come in some year of the 400-year cycle).
absl::Status CheckCanFire(const std::array<Field, 5>& fields,
                          const std::vector<absl::string_view>& words) {
  const Field& day_of_month = fields[kDayOfMonth];
  if (!day_of_month.star && !fields[kDayOfWeek].star) {
    return absl::OkStatus();
  }
  for (int month = 1; month <= 12; ++month) {
    if (!HasBit(fields[kMonth].bits, month)) {
      continue;
    }
    const uint64_t days = ((uint64_t{1} << (MaxDaysInMonth(month) + 1)) - 1) & ~uint64_t{1};
    if ((day_of_month.bits & days) != 0) {
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("never fires: day-of-month '", words[kDayOfMonth],
                                                 "' never occurs in month '", words[kMonth], "'"));
}

absl::StatusOr<absl::Duration> ParsePeriod(absl::string_view text);

struct ParsedCron {
  std::array<Field, 5> fields;
  std::string expression;
  std::string zone_name;
  absl::TimeZone zone;
};

// Takes a "CRON_TZ=NAME " prefix off `rest` into `zone_name`.
absl::Status ConsumeZonePrefix(absl::string_view& rest, std::string& zone_name) {
  if (!absl::ConsumePrefix(&rest, "CRON_TZ=")) {
    return absl::OkStatus();
  }
  const size_t end = rest.find_first_of(" \t");
  zone_name = std::string(rest.substr(0, end));
  rest = end == absl::string_view::npos ? absl::string_view()
                                        : absl::StripLeadingAsciiWhitespace(rest.substr(end));
  if (zone_name.empty()) {
    return absl::InvalidArgumentError("CRON_TZ= names no time zone");
  }
  return absl::OkStatus();
}

absl::StatusOr<ParsedCron> ParseCron(absl::string_view text, absl::string_view default_zone) {
  ParsedCron parsed;
  parsed.zone_name = default_zone.empty() ? "UTC" : std::string(default_zone);
  absl::string_view rest = absl::StripAsciiWhitespace(text);
  CHURN_RETURN_IF_ERROR(ConsumeZonePrefix(rest, parsed.zone_name));
  if (!absl::LoadTimeZone(parsed.zone_name, &parsed.zone)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown time zone '", parsed.zone_name, "'"));
  }
  std::vector<absl::string_view> words =
      absl::StrSplit(rest, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (words.size() == 1 && absl::StartsWith(words[0], "@")) {
    CHURN_ASSIGN_OR_RETURN(const absl::string_view expansion, ExpandMacro(words[0]));
    parsed.expression = absl::AsciiStrToLower(words[0]);
    std::vector<absl::string_view> expanded = absl::StrSplit(expansion, ' ');
    words = std::move(expanded);
  } else {
    parsed.expression = absl::StrJoin(words, " ");
  }
  if (words.size() != kFields.size()) {
    std::string hint;
    if (words.size() == 1 && ParsePeriod(words[0]).ok()) {
      hint = absl::StrCat(" (for an interval, write 'every ", words[0], "')");
    }
    return absl::InvalidArgumentError(
        absl::StrCat("expected 5 fields (minute hour day-of-month month day-of-week), got ",
                     words.size(), hint));
  }
  for (size_t i = 0; i < kFields.size(); ++i) {
    CHURN_ASSIGN_OR_RETURN(parsed.fields[i], ParseField(kFields[i], words[i]));
  }
  CHURN_RETURN_IF_ERROR(CheckCanFire(parsed.fields, words));
  return parsed;
}

// One "NUMBERunit" term of a duration.
absl::StatusOr<absl::Duration> ParseTerm(absl::string_view number, absl::string_view unit) {
  absl::Duration duration;
  const std::string as_hours = absl::StrCat(number, "h");
  if (unit == "d" && absl::ParseDuration(as_hours, &duration)) {
    return duration * 24;
  }
  if ((unit == "h" || unit == "m" || unit == "s") &&
      absl::ParseDuration(absl::StrCat(number, unit), &duration)) {
    return duration;
  }
  return absl::InvalidArgumentError("bad term");
}

// "90s", "15m", "3h", "1d", "1h30m", "1.5h".
absl::StatusOr<absl::Duration> ParsePeriod(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  absl::string_view rest = lower;
  const absl::Status bad = absl::InvalidArgumentError(absl::StrCat("'", text, "' ", kDurationHint));
  if (rest.empty()) {
    return bad;
  }
  absl::Duration total = absl::ZeroDuration();
  while (!rest.empty()) {
    size_t digits = 0;
    while (digits < rest.size() && (absl::ascii_isdigit(rest[digits]) || rest[digits] == '.')) {
      ++digits;
    }
    size_t letters = digits;
    while (letters < rest.size() && absl::ascii_isalpha(rest[letters])) {
      ++letters;
    }
    const absl::StatusOr<absl::Duration> term =
        ParseTerm(rest.substr(0, digits), rest.substr(digits, letters - digits));
    if (digits == 0 || !term.ok()) {
      return bad;
    }
    total += *term;
    rest.remove_prefix(letters);
  }
  return total;
}

// Takes a leading "every" (any case) and the blanks after it off `text`.
bool ConsumeEvery(absl::string_view& text) {
  constexpr absl::string_view kEvery = "every";
  if (!absl::StartsWithIgnoreCase(text, kEvery) ||
      (text.size() > kEvery.size() && !absl::ascii_isspace(text[kEvery.size()]))) {
    return false;
  }
  text = absl::StripLeadingAsciiWhitespace(text.substr(kEvery.size()));
  return true;
}

}  // namespace

absl::StatusOr<CronSchedule> CronSchedule::Parse(absl::string_view text,
                                                 absl::string_view time_zone) {
  absl::StatusOr<ParsedCron> parsed = ParseCron(text, time_zone);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cron '", absl::StripAsciiWhitespace(text), "': ", parsed.status().message()));
  }
  CronSchedule schedule;
  schedule.minute_ = parsed->fields[0];
  schedule.hour_ = parsed->fields[1];
  schedule.day_of_month_ = parsed->fields[kDayOfMonth];
  schedule.month_ = parsed->fields[kMonth];
  schedule.day_of_week_ = parsed->fields[kDayOfWeek];
  schedule.expression_ = std::move(parsed->expression);
  schedule.zone_name_ = std::move(parsed->zone_name);
  schedule.zone_ = parsed->zone;
  return schedule;
}

std::string CronSchedule::ToString() const {
  if (zone_name_ == "UTC") {
    return expression_;
  }
  return absl::StrCat("CRON_TZ=", zone_name_, " ", expression_);
}

bool CronSchedule::DayMatches(absl::CivilDay day) const {
  const bool by_month_day = HasBit(day_of_month_.bits, day.day());
  // absl's weekdays run Monday (0) to Sunday (6); cron's Sunday (0) to Saturday (6).
  const int weekday = (static_cast<int>(absl::GetWeekday(day)) + 1) % 7;
  const bool by_weekday = HasBit(day_of_week_.bits, weekday);
  if (day_of_month_.star || day_of_week_.star) {
    return by_month_day && by_weekday;
  }
  return by_month_day || by_weekday;  // Vixie cron: both restricted, either matches
}

std::optional<absl::CivilMinute> CronSchedule::NextMatch(absl::CivilMinute from,
                                                         absl::civil_year_t last_year) const {
  absl::CivilMinute c = from;
  while (c.year() <= last_year) {
    if (!HasBit(month_.bits, c.month())) {
      const int month = NextBit(month_.bits, c.month());
      c = month < 0 ? absl::CivilMinute(c.year() + 1, FirstBit(month_.bits), 1)
                    : absl::CivilMinute(c.year(), month, 1);
      continue;
    }
    const absl::CivilDay day(c);
    if (!DayMatches(day)) {
      c = absl::CivilMinute(day + 1);
      continue;
    }
    if (!HasBit(hour_.bits, c.hour())) {
      const int hour = NextBit(hour_.bits, c.hour());
      c = hour < 0 ? absl::CivilMinute(day + 1)
                   : absl::CivilMinute(c.year(), c.month(), c.day(), hour);
      continue;
    }
    if (!HasBit(minute_.bits, c.minute())) {
      const int minute = NextBit(minute_.bits, c.minute());
      c = minute < 0 ? absl::CivilMinute(absl::CivilHour(c) + 1)
                     : absl::CivilMinute(c.year(), c.month(), c.day(), c.hour(), minute);
      continue;
    }
    return c;
  }
  return std::nullopt;
}

absl::Time CronSchedule::Next(absl::Time after) const {
  if (after == absl::InfiniteFuture() || after == absl::InfinitePast()) {
    return absl::InfiniteFuture();
  }
  using Kind = absl::TimeZone::TimeInfo::CivilKind;
  absl::CivilMinute from = absl::ToCivilMinute(after, zone_);
  if (const absl::TimeZone::TimeInfo info = zone_.At(from); info.kind == Kind::REPEATED) {
    from = absl::ToCivilMinute(info.trans, zone_);  // both passes of the repeated hour
  }
  const absl::civil_year_t last_year = from.year() + kSearchYears;
  const bool wildcard = minute_.star || hour_.star;
  // In a repeated hour a later local minute's first pass comes before an earlier one's second
  // pass: the earliest second pass seen waits here until the first passes are done.
  absl::Time second_pass = absl::InfiniteFuture();
  for (std::optional<absl::CivilMinute> match = NextMatch(from, last_year); match.has_value();
       match = NextMatch(from, last_year)) {
    const absl::TimeZone::TimeInfo info = zone_.At(*match);
    from = *match + 1;
    switch (info.kind) {
      case Kind::UNIQUE:
        if (info.pre > after) {
          return std::min(second_pass, info.pre);
        }
        break;
      case Kind::SKIPPED:  // fixed-time: at the end of the gap; wildcard: not at all
        if (!wildcard && info.trans > after) {
          return std::min(second_pass, info.trans);
        }
        from = std::max(from, absl::ToCivilMinute(info.trans, zone_));
        break;
      case Kind::REPEATED:  // fixed-time: first pass only; wildcard: both
        if (info.pre > after) {
          return std::min(second_pass, info.pre);
        }
        if (wildcard && info.post > after) {
          second_pass = std::min(second_pass, info.post);
        }
        break;
    }
  }
  return second_pass;
}

absl::StatusOr<IntervalSchedule> IntervalSchedule::Parse(absl::string_view text,
                                                         absl::Time anchor) {
  absl::string_view rest = absl::StripAsciiWhitespace(text);
  ConsumeEvery(rest);
  absl::StatusOr<IntervalSchedule> schedule = absl::InvalidArgumentError("");
  if (const absl::StatusOr<absl::Duration> period = ParsePeriod(rest); period.ok()) {
    schedule = Create(*period, anchor);
  } else {
    schedule = period.status();
  }
  if (!schedule.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("every '", absl::StripAsciiWhitespace(text),
                                                   "': ", schedule.status().message()));
  }
  return schedule;
}

absl::StatusOr<IntervalSchedule> IntervalSchedule::Create(absl::Duration period,
                                                          absl::Time anchor) {
  if (period < absl::Seconds(1) || period == absl::InfiniteDuration() ||
      absl::Trunc(period, absl::Seconds(1)) != period) {
    return absl::InvalidArgumentError(absl::StrCat("the period ", absl::FormatDuration(period),
                                                   " is not a whole number of seconds >= 1s"));
  }
  if (anchor == absl::InfinitePast() || anchor == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError("the anchor of an interval must be a finite time");
  }
  return IntervalSchedule(period, anchor);
}

absl::Time IntervalSchedule::Next(absl::Time after) const {
  if (after < anchor_) {
    return anchor_;
  }
  if (after == absl::InfiniteFuture()) {
    return absl::InfiniteFuture();
  }
  absl::Duration remainder;
  const int64_t periods = absl::IDivDuration(after - anchor_, period_, &remainder);
  return anchor_ + (periods + 1) * period_;
}

absl::Time IntervalSchedule::LastAtOrBefore(absl::Time at) const {
  if (at < anchor_) {
    return absl::InfinitePast();
  }
  if (at == absl::InfiniteFuture()) {
    return absl::InfiniteFuture();
  }
  absl::Duration remainder;
  return anchor_ + absl::IDivDuration(at - anchor_, period_, &remainder) * period_;
}

std::string IntervalSchedule::ToString() const {
  return absl::StrCat("every ", absl::FormatDuration(period_));
}

absl::Time Schedule::Next(absl::Time after) const {
  return std::visit([after](const auto& schedule) { return schedule.Next(after); }, schedule_);
}

std::string Schedule::ToString() const {
  return std::visit([](const auto& schedule) { return schedule.ToString(); }, schedule_);
}

absl::StatusOr<Schedule> ParseSchedule(absl::string_view text, absl::string_view time_zone,
                                       absl::Time anchor) {
  absl::string_view rest = absl::StripAsciiWhitespace(text);
  if (ConsumeEvery(rest)) {
    CHURN_ASSIGN_OR_RETURN(IntervalSchedule interval, IntervalSchedule::Parse(text, anchor));
    return Schedule(interval);
  }
  CHURN_ASSIGN_OR_RETURN(CronSchedule cron, CronSchedule::Parse(text, time_zone));
  return Schedule(std::move(cron));
}

absl::StatusOr<Schedule> ParseFlowSchedule(const std::optional<std::string>& cron,
                                           const std::optional<std::string>& every,
                                           absl::string_view time_zone, absl::Time anchor) {
  if (cron.has_value() == every.has_value()) {
    return absl::InvalidArgumentError(
        cron.has_value() ? "a flow's schedule has both cron: and every:; give one"
                         : "a flow's schedule needs cron: (an expression) or every: (a duration)");
  }
  if (every.has_value()) {
    CHURN_ASSIGN_OR_RETURN(IntervalSchedule interval, IntervalSchedule::Parse(*every, anchor));
    return Schedule(interval);
  }
  CHURN_ASSIGN_OR_RETURN(CronSchedule schedule, CronSchedule::Parse(*cron, time_zone));
  return Schedule(std::move(schedule));
}

namespace {

// The latest due time in (floor, at], given that there is one.
absl::Time LatestDue(const Schedule& schedule, absl::Time floor, absl::Time at) {
  if (const IntervalSchedule* interval = schedule.Interval()) {
    return interval->LastAtOrBefore(at);
  }
  // Look back over windows that double until one holds a due time.
  for (absl::Duration window = absl::Minutes(1);; window *= 2) {
    const absl::Time from = std::max(floor, at - window);
    absl::Time due = schedule.Next(from);
    if (due <= at || from == floor) {
      absl::Time later = schedule.Next(due);
      while (later <= at) {
        due = later;
        later = schedule.Next(due);
      }
      return due;
    }
  }
}

// The due times in (floor, before), at most kMaxCountedMissed.
int64_t CountDue(const Schedule& schedule, absl::Time floor, absl::Time before) {
  absl::Time due = schedule.Next(floor);
  if (due >= before) {
    return 0;
  }
  if (const IntervalSchedule* interval = schedule.Interval()) {
    absl::Duration remainder;
    return std::min(kMaxCountedMissed,
                    absl::IDivDuration(before - due, interval->Period(), &remainder));
  }
  int64_t count = 0;
  while (due < before && count < kMaxCountedMissed) {
    ++count;
    due = schedule.Next(due);
  }
  return count;
}

}  // namespace

absl::Time NextAfterMissed(const Schedule& schedule, absl::Time last_due, absl::Time now) {
  return schedule.Next(std::max(last_due, now));
}

bool IsDue(const Schedule& schedule, absl::Time last_due, absl::Time now) {
  return last_due != absl::InfinitePast() && schedule.Next(last_due) <= now;
}

DuePlan PlanDue(const Schedule& schedule, absl::Time last_due, absl::Time now) {
  DuePlan plan;
  plan.next = NextAfterMissed(schedule, last_due, now);
  if (!IsDue(schedule, last_due, now)) {
    return plan;
  }
  const absl::Time latest = LatestDue(schedule, last_due, now);
  plan.run = latest;
  plan.skipped = CountDue(schedule, last_due, latest);
  return plan;
}

}  // namespace churn::flows
