// Private to the base module: the S3 request used by ReadUri, and a test knob.
#ifndef CHURN_BASE_S3_OBJECT_STORE_H_
#define CHURN_BASE_S3_OBJECT_STORE_H_

#include <string>

#include "absl/status/statusor.h"

#include "churn/base/object_store.h"

namespace churn::base::internal {

// GET s3://bucket/key. NotFound when there is no such object.
absl::StatusOr<std::string> S3GetObject(const std::string& bucket, const std::string& key,
                                        const S3Options& options);

// Keys per ListObjectsV2 page (S3's maximum, 1000, by default). Tests lower it to exercise
// pagination. Not thread-safe; set before use.
void SetS3ListPageSizeForTesting(int keys);

}  // namespace churn::base::internal

#endif  // CHURN_BASE_S3_OBJECT_STORE_H_
