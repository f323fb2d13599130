// Test-only: one HTTP/1.1 request sent byte for byte as given (no client-side normalisation:
// libcurl and browsers squash "/../" and would hide what a server does with it), for the path
// traversal tests of the reports routes and of the nginx config.
#ifndef CHURN_TESTS_REPORT_RAW_HTTP_H_
#define CHURN_TESTS_REPORT_RAW_HTTP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace churn::testing {

struct RawResponse {
  // -1 when nothing parseable came back (connection refused, reset, timeout).
  int status = -1;
  // Names lower-cased, values trimmed.
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};

  std::optional<std::string> Header(absl::string_view name) const;
};

// Sends "METHOD TARGET HTTP/1.1" with Host and "Connection: close" to 127.0.0.1:port and reads
// the answer until the server closes (5 s timeout per read).
RawResponse RawRequest(uint16_t port, absl::string_view method, absl::string_view target);

}  // namespace churn::testing

#endif  // CHURN_TESTS_REPORT_RAW_HTTP_H_
