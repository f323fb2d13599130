#include "churn/registry/artifact_store.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "churn/base/sha256.h"
#include "churn/base/status_macros.h"

namespace churn::registry {
namespace {

constexpr absl::string_view kPrefix = "artifacts/sha256/";

}  // namespace

absl::Status ValidateDigest(absl::string_view sha256) {
  const bool ok = sha256.size() == 64 && std::all_of(sha256.begin(), sha256.end(), [](char c) {
                    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                  });
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat("artifact digest '", sha256.substr(0, 80),
                                                   "' is not a SHA-256 (64 lowercase hex digits)"));
  }
  return absl::OkStatus();
}

ArtifactStore::ArtifactStore(std::unique_ptr<base::ObjectStore> objects)
    : objects_(std::move(objects)) {}

std::string ArtifactStore::KeyOf(absl::string_view sha256) {
  return absl::StrCat(kPrefix, sha256.substr(0, 2), "/", sha256);
}

absl::StatusOr<std::string> ArtifactStore::Put(absl::string_view bytes) {
  std::string digest = base::Sha256Hex(bytes);
  const std::string key = KeyOf(digest);
  CHURN_ASSIGN_OR_RETURN(const bool exists, objects_->Exists(key));
  if (!exists) {
    CHURN_RETURN_IF_ERROR(
        base::WithContext(objects_->Put(key, bytes), absl::StrCat("storing artifact ", digest)));
  }
  return digest;
}

absl::StatusOr<std::string> ArtifactStore::Get(absl::string_view sha256) {
  CHURN_RETURN_IF_ERROR(ValidateDigest(sha256));
  auto bytes = objects_->Get(KeyOf(sha256));
  if (!bytes.ok()) {
    if (absl::IsNotFound(bytes.status())) {
      return absl::NotFoundError(
          absl::StrCat("artifact ", sha256, " is not in the artifact store ", objects_->Uri()));
    }
    return bytes.status();
  }
  const std::string actual = base::Sha256Hex(*bytes);
  if (actual != sha256) {
    return absl::DataLossError(absl::StrCat("artifact ", sha256, " in ", objects_->Uri(),
                                            " is corrupted: its bytes hash to ", actual));
  }
  return bytes;
}

absl::StatusOr<bool> ArtifactStore::Contains(absl::string_view sha256) {
  CHURN_RETURN_IF_ERROR(ValidateDigest(sha256));
  return objects_->Exists(KeyOf(sha256));
}

absl::StatusOr<std::vector<std::string>> ArtifactStore::List() {
  CHURN_ASSIGN_OR_RETURN(const std::vector<std::string> keys, objects_->List(kPrefix));
  std::vector<std::string> digests;
  digests.reserve(keys.size());
  for (const auto& key : keys) {
    const absl::string_view name = absl::string_view(key).substr(key.rfind('/') + 1);
    if (ValidateDigest(name).ok()) {
      digests.emplace_back(name);
    }
  }
  std::sort(digests.begin(), digests.end());
  return digests;
}

absl::Status ArtifactStore::Delete(absl::string_view sha256) {
  CHURN_RETURN_IF_ERROR(ValidateDigest(sha256));
  return objects_->Delete(KeyOf(sha256));
}

}  // namespace churn::registry
