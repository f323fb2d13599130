// File: churn/base/object_store.h
//
// A flat key -> bytes store: a folder on the local filesystem or an S3 bucket (any S3-compatible
// endpoint; requests signed with AWS SigV4 by libcurl). Keys are relative, '/'-separated paths
// such as "datasets/bank_churners/3f2a.../data.csv"; they never start with '/' nor contain "..".
//
// Every Put is atomic: a reader sees the whole old object or the whole new one. Implementations
// are thread-safe.
//
//   CHURN_ASSIGN_OR_RETURN(auto store, OpenObjectStore("s3://bucket/prefix", s3_options));
//   CHURN_RETURN_IF_ERROR(store->Put("a/b.json", "{}"));
#ifndef CHURN_BASE_OBJECT_STORE_H_
#define CHURN_BASE_OBJECT_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "churn/base/file.h"

namespace churn::base {

// Where and how to reach S3. Every field may also come from the environment (see
// S3OptionsFromEnv); explicit values win.
struct S3Options {
  // Base URL of the endpoint, e.g. "http://127.0.0.1:4568"; empty means AWS:
  // "https://s3.<region>.amazonaws.com".
  std::string endpoint;
  // Signing region. Default "us-east-1".
  std::string region = "us-east-1";
  std::string access_key_id;
  std::string secret_access_key;
  // Optional session token (temporary credentials).
  std::string session_token;
  // Request timeout in seconds for one object. Default 300.
  long timeout_seconds = 300;  // NOLINT(google-runtime-int): libcurl takes long
};

// Fills unset fields of `options` from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_REGION (or AWS_DEFAULT_REGION) and AWS_ENDPOINT_URL (or
// CHURN_S3_ENDPOINT) and returns the result.
S3Options S3OptionsFromEnv(S3Options options);

// The interface both stores implement.
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Stores `bytes` under `key`, replacing any object there. InvalidArgument for a bad key,
  // Unavailable when the backend cannot be reached.
  virtual absl::Status Put(absl::string_view key, absl::string_view bytes) = 0;

  // Returns the object. NotFound when there is none.
  virtual absl::StatusOr<std::string> Get(absl::string_view key) = 0;

  // Whether an object exists under exactly `key`.
  virtual absl::StatusOr<bool> Exists(absl::string_view key) = 0;

  // Every key that starts with `prefix`, sorted.
  virtual absl::StatusOr<std::vector<std::string>> List(absl::string_view prefix) = 0;

  // Removes the object; OK when there was none.
  virtual absl::Status Delete(absl::string_view key) = 0;

  // A URI naming the store, for messages and metadata ("file:///..." or "s3://bucket/prefix").
  virtual std::string Uri() const = 0;
};

// Checks a key: non-empty, relative, no "." or ".." segments, no NUL, no empty segments.
absl::Status ValidateObjectKey(absl::string_view key);

// A store on a local folder (created when missing).
std::unique_ptr<ObjectStore> NewLocalObjectStore(std::string root);

// A store on `bucket`, keys under `prefix` (may be empty).
std::unique_ptr<ObjectStore> NewS3ObjectStore(std::string bucket, std::string prefix,
                                              S3Options options);

// Opens "s3://bucket[/prefix]" as an S3 store and anything else ("file://path" or a plain path)
// as a local one. InvalidArgument for a malformed URI.
absl::StatusOr<std::unique_ptr<ObjectStore>> OpenObjectStore(absl::string_view uri,
                                                             const S3Options& s3);

// The bytes of an object named by a URI: a local file memory-mapped (no copy), an S3 object
// held in memory. Movable, not copyable.
class UriBytes {
 public:
  absl::string_view View() const;

 private:
  friend absl::StatusOr<UriBytes> ReadUri(absl::string_view uri, const S3Options& s3);
  std::string owned_;
  std::unique_ptr<MappedFile> mapped_;
};

// Reads the whole object named by `uri`: "s3://bucket/key" through S3, anything else (or
// "file://path") as a local file. NotFound when it does not exist.
absl::StatusOr<UriBytes> ReadUri(absl::string_view uri, const S3Options& s3);

}  // namespace churn::base

#endif  // CHURN_BASE_OBJECT_STORE_H_
