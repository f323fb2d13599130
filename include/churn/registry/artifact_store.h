// File: churn/registry/artifact_store.h
//
// Content-addressed artifact bytes: every blob is stored once under its SHA-256, in a local
// folder or in S3 (through base::ObjectStore), at "artifacts/sha256/<first 2 hex>/<64 hex>".
// Writes are atomic (the object store's temp file + rename, or S3's whole-object PUT); every
// read recomputes the digest, so a corrupted artifact is a DataLoss error, never wrong bytes.
//
// Thread-safe.
#ifndef CHURN_REGISTRY_ARTIFACT_STORE_H_
#define CHURN_REGISTRY_ARTIFACT_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "churn/base/object_store.h"

namespace churn::registry {

class ArtifactStore {
 public:
  explicit ArtifactStore(std::unique_ptr<base::ObjectStore> objects);

  // Stores `bytes` (a no-op when a blob of that digest exists) and returns the digest.
  absl::StatusOr<std::string> Put(absl::string_view bytes);

  // The blob of `sha256`. InvalidArgument for a malformed digest, NotFound when there is none,
  // DataLoss when the stored bytes no longer hash to `sha256`.
  absl::StatusOr<std::string> Get(absl::string_view sha256);

  // Whether a blob of `sha256` exists (its bytes are not checked).
  absl::StatusOr<bool> Contains(absl::string_view sha256);

  // Every stored digest, sorted.
  absl::StatusOr<std::vector<std::string>> List();

  // Removes the blob; OK when there was none.
  absl::Status Delete(absl::string_view sha256);

  // The object key of a digest: "artifacts/sha256/ab/ab...".
  static std::string KeyOf(absl::string_view sha256);

  // The underlying store's URI.
  std::string Uri() const { return objects_->Uri(); }

 private:
  std::unique_ptr<base::ObjectStore> objects_;
};

// InvalidArgument unless `sha256` is 64 lowercase hex digits.
absl::Status ValidateDigest(absl::string_view sha256);

}  // namespace churn::registry

#endif  // CHURN_REGISTRY_ARTIFACT_STORE_H_
