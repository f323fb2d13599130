#include "churn/base/object_store.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "base/s3_object_store.h"

#include "churn/base/file.h"
#include "churn/base/status_macros.h"

namespace churn::base {
namespace {

void FillFromEnv(std::string* field, std::initializer_list<const char*> names) {
  if (!field->empty()) {
    return;
  }
  for (const char* name : names) {
    const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
    if (value != nullptr && *value != '\0') {
      *field = value;
      return;
    }
  }
}

// Splits "s3://bucket/rest" into bucket and rest.
absl::Status SplitS3Uri(absl::string_view uri, std::string* bucket, std::string* rest) {
  absl::string_view tail = uri.substr(5);
  const size_t slash = tail.find('/');
  *bucket = std::string(tail.substr(0, slash));
  *rest = slash == absl::string_view::npos ? "" : std::string(tail.substr(slash + 1));
  if (bucket->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("S3 URI without a bucket: ", uri));
  }
  return absl::OkStatus();
}

}  // namespace

S3Options S3OptionsFromEnv(S3Options options) {
  FillFromEnv(&options.access_key_id, {"AWS_ACCESS_KEY_ID"});
  FillFromEnv(&options.secret_access_key, {"AWS_SECRET_ACCESS_KEY"});
  FillFromEnv(&options.session_token, {"AWS_SESSION_TOKEN"});
  FillFromEnv(&options.endpoint, {"AWS_ENDPOINT_URL", "CHURN_S3_ENDPOINT"});
  std::string region;
  FillFromEnv(&region, {"AWS_REGION", "AWS_DEFAULT_REGION"});
  if (!region.empty()) {
    options.region = region;
  }
  return options;
}

absl::Status ValidateObjectKey(absl::string_view key) {
  if (key.empty()) {
    return absl::InvalidArgumentError("object key is empty");
  }
  if (key.front() == '/') {
    return absl::InvalidArgumentError(absl::StrCat("object key is absolute: ", key));
  }
  if (key.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("object key contains a NUL byte");
  }
  for (absl::string_view segment : absl::StrSplit(key, '/')) {
    if (segment.empty() || segment == "." || segment == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("object key has an empty, '.' or '..' segment: ", key));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ObjectStore>> OpenObjectStore(absl::string_view uri,
                                                             const S3Options& s3) {
  if (absl::StartsWith(uri, "s3://")) {
    std::string bucket;
    std::string prefix;
    if (absl::Status s = SplitS3Uri(uri, &bucket, &prefix); !s.ok()) {
      return s;
    }
    while (!prefix.empty() && prefix.back() == '/') {
      prefix.pop_back();
    }
    return NewS3ObjectStore(bucket, prefix, s3);
  }
  absl::string_view path = uri;
  if (absl::StartsWith(path, "file://")) {
    path.remove_prefix(7);
  } else if (absl::StrContains(path, "://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported object store URI (want a path, file:// or s3://): ", uri));
  }
  if (path.empty()) {
    return absl::InvalidArgumentError("object store path is empty");
  }
  return NewLocalObjectStore(std::string(path));
}

absl::string_view UriBytes::View() const {
  return mapped_ != nullptr ? mapped_->Bytes() : absl::string_view(owned_);
}

absl::StatusOr<UriBytes> ReadUri(absl::string_view uri, const S3Options& s3) {
  UriBytes bytes;
  if (absl::StartsWith(uri, "s3://")) {
    std::string bucket;
    std::string key;
    CHURN_RETURN_IF_ERROR(SplitS3Uri(uri, &bucket, &key));
    if (absl::Status s = ValidateObjectKey(key); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("bad S3 URI ", uri, ": ", s.message()));
    }
    CHURN_ASSIGN_OR_RETURN(bytes.owned_, internal::S3GetObject(bucket, key, s3));
    return bytes;
  }
  absl::string_view path = uri;
  absl::ConsumePrefix(&path, "file://");
  CHURN_ASSIGN_OR_RETURN(bytes.mapped_, MappedFile::Open(std::filesystem::path(std::string(path))));
  return bytes;
}

}  // namespace churn::base
