#include "churn/base/logging.h"

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace churn::base {
namespace {

// In JSON mode the message is written as an escaped JSON string, so a quote in it cannot break
// the line.
std::atomic<bool> json_messages{false};

std::string Render(absl::string_view message) {
  if (!json_messages.load(std::memory_order_relaxed)) {
    return std::string(message);
  }
  return nlohmann::json(std::string(message))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

absl::Status InitLogging(absl::string_view level, absl::string_view format) {
  const spdlog::level::level_enum lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown log level '", level, "' (trace, debug, info, warn, error, off)"));
  }
  auto logger = spdlog::get("churn");
  if (logger == nullptr) {
    logger = spdlog::stderr_logger_mt("churn");
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(lvl);
  if (format == "json") {
    spdlog::set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","pid":%P,"msg":%v})",
                        spdlog::pattern_time_type::utc);
    json_messages = true;
  } else if (format == "text") {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
    json_messages = false;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown log format '", format, "' (text or json)"));
  }
  return absl::OkStatus();
}

void LogDebug(absl::string_view message) {
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("{}", Render(message));
  }
}

void LogInfo(absl::string_view message) {
  spdlog::info("{}", Render(message));
}

void LogWarn(absl::string_view message) {
  spdlog::warn("{}", Render(message));
}

void LogError(absl::string_view message) {
  spdlog::error("{}", Render(message));
}

}  // namespace churn::base
