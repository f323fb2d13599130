// The local object store: one file per key under a root folder. Puts go through
// WriteFileAtomic (temp file, fsync, rename), so a crash leaves the old object or the new one;
// leftover "*.tmp-XXXXXX" files of a crash are never listed.
#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "churn/base/file.h"
#include "churn/base/object_store.h"

namespace churn::base {
namespace {

namespace fs = std::filesystem;

class LocalObjectStore : public ObjectStore {
 public:
  explicit LocalObjectStore(std::string root) : root_(std::move(root)) {}

  absl::Status Put(absl::string_view key, absl::string_view bytes) override {
    if (absl::Status s = ValidateObjectKey(key); !s.ok()) {
      return s;
    }
    return WriteFileAtomic(root_ / std::string(key), bytes);
  }

  absl::StatusOr<std::string> Get(absl::string_view key) override {
    if (absl::Status s = ValidateObjectKey(key); !s.ok()) {
      return s;
    }
    return ReadFile(root_ / std::string(key));
  }

  absl::StatusOr<bool> Exists(absl::string_view key) override {
    if (absl::Status s = ValidateObjectKey(key); !s.ok()) {
      return s;
    }
    std::error_code ec;
    return fs::is_regular_file(root_ / std::string(key), ec);
  }

  absl::StatusOr<std::vector<std::string>> List(absl::string_view prefix) override {
    std::vector<std::string> keys;
    std::error_code ec;
    if (!fs::is_directory(root_, ec)) {
      return keys;
    }
    // Walk only the deepest folder the prefix names, not the whole store.
    const size_t slash = prefix.rfind('/');
    const fs::path start =
        slash == absl::string_view::npos ? root_ : root_ / std::string(prefix.substr(0, slash));
    if (!fs::is_directory(start, ec)) {
      return keys;
    }
    for (auto it = fs::recursive_directory_iterator(start, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec)) {
        continue;
      }
      std::string key = it->path().lexically_relative(root_).generic_string();
      if (absl::StartsWith(key, prefix) && !absl::StrContains(key, ".tmp-")) {
        keys.push_back(std::move(key));
      }
    }
    if (ec) {
      return absl::InternalError(absl::StrCat("cannot list ", start.string(), ": ", ec.message()));
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  absl::Status Delete(absl::string_view key) override {
    if (absl::Status s = ValidateObjectKey(key); !s.ok()) {
      return s;
    }
    std::error_code ec;
    fs::remove(root_ / std::string(key), ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("cannot delete ", key, ": ", ec.message()));
    }
    return absl::OkStatus();
  }

  std::string Uri() const override {
    std::error_code ec;
    return absl::StrCat("file://", fs::absolute(root_, ec).lexically_normal().string());
  }

 private:
  fs::path root_;
};

}  // namespace

std::unique_ptr<ObjectStore> NewLocalObjectStore(std::string root) {
  return std::make_unique<LocalObjectStore>(std::move(root));
}

}  // namespace churn::base
