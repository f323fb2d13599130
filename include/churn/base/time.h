// File: churn/base/time.h
//
// Time as the project records it: RFC 3339 UTC strings with milliseconds, and a Clock interface
// so that tests can fix "now" (a FakeClock) instead of sleeping.
#ifndef CHURN_BASE_TIME_H_
#define CHURN_BASE_TIME_H_

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace churn::base {

// Thread-safe source of the current time.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The system's real-time clock; a process-wide instance that is never destroyed.
Clock* SystemClock();

// A clock that says what it is told. Thread-compatible.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time now) : now_(now) {}

  absl::Time Now() const override { return now_; }

  void Set(absl::Time now) { now_ = now; }

  void Advance(absl::Duration d) { now_ += d; }

 private:
  absl::Time now_;
};

// "2026-11-24T14:15:16.123Z".
std::string FormatRfc3339(absl::Time t);

}  // namespace churn::base

#endif  // CHURN_BASE_TIME_H_
