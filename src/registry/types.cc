#include "churn/registry/types.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"

namespace churn::registry {
namespace {

template <typename Enum, size_t N>
absl::StatusOr<Enum> FromTable(const std::array<std::pair<Enum, const char*>, N>& table,
                               absl::string_view text, absl::string_view what) {
  for (const auto& [value, name] : table) {
    if (text == name) {
      return value;
    }
  }
  std::string names;
  for (const auto& entry : table) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", entry.second);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid ", what, " '", text, "': expected one of ", names));
}

template <typename Enum, size_t N>
const char* ToName(const std::array<std::pair<Enum, const char*>, N>& table, Enum value) {
  for (const auto& [v, name] : table) {
    if (v == value) {
      return name;
    }
  }
  return "UNKNOWN";
}

constexpr std::array<std::pair<RunStatus, const char*>, 5> kRunStatuses = {{
    {RunStatus::kRunning, "RUNNING"},
    {RunStatus::kScheduled, "SCHEDULED"},
    {RunStatus::kFinished, "FINISHED"},
    {RunStatus::kFailed, "FAILED"},
    {RunStatus::kKilled, "KILLED"},
}};

constexpr std::array<std::pair<LifecycleStage, const char*>, 2> kStages = {{
    {LifecycleStage::kActive, "active"},
    {LifecycleStage::kDeleted, "deleted"},
}};

constexpr std::array<std::pair<ViewType, const char*>, 3> kViews = {{
    {ViewType::kActiveOnly, "ACTIVE_ONLY"},
    {ViewType::kDeletedOnly, "DELETED_ONLY"},
    {ViewType::kAll, "ALL"},
}};

}  // namespace

const char* ToString(RunStatus status) {
  return ToName(kRunStatuses, status);
}

absl::StatusOr<RunStatus> RunStatusFromString(absl::string_view text) {
  return FromTable(kRunStatuses, text, "run status");
}

const char* ToString(LifecycleStage stage) {
  return ToName(kStages, stage);
}

absl::StatusOr<LifecycleStage> LifecycleStageFromString(absl::string_view text) {
  return FromTable(kStages, text, "lifecycle stage");
}

const char* ToString(ViewType view) {
  return ToName(kViews, view);
}

absl::StatusOr<ViewType> ViewTypeFromString(absl::string_view text) {
  return FromTable(kViews, text, "view type");
}

}  // namespace churn::registry
