#include "testing/http_client.h"

#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include <curl/curl.h>

namespace churn::testing {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t CollectBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t CollectHeader(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  const absl::string_view line(data, size * count);
  if (absl::StartsWith(line, "HTTP/")) {
    response->headers.clear();  // A new status line (after "100 Continue", say).
  } else if (const size_t colon = line.find(':'); colon != absl::string_view::npos) {
    response->headers.emplace_back(
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon))),
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return size * count;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// Runs one request on `curl` (reset first; its connection cache survives). Returns the
// response and adds the number of connections it opened to `*connects`.
HttpResponse Perform(CURL* curl, absl::string_view method, const std::string& url,
                     absl::string_view body, const std::vector<std::string>& headers,
                     int* connects) {
  curl_easy_reset(curl);
  HttpResponse response;
  bool has_expect = false;
  std::unique_ptr<curl_slist, SlistDeleter> list;
  for (const std::string& header : headers) {
    has_expect = has_expect || absl::StartsWithIgnoreCase(header, "expect:");
    list.reset(curl_slist_append(list.release(), header.c_str()));
  }
  if (!has_expect) {
    list.reset(curl_slist_append(list.release(), "Expect:"));
  }
  const std::string method_string(method);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, CollectBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (!body.empty() || method == "POST" || method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  if (method != "GET" && method != "HEAD" && method != "POST") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_string.c_str());
  } else if (method == "GET" && !body.empty()) {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "GET");
  }
  const CURLcode rc = curl_easy_perform(curl);
  long opened = 0;  // NOLINT(google-runtime-int): libcurl's type
  curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &opened);
  *connects += static_cast<int>(opened);
  if (rc != CURLE_OK) {
    response.status = -1;
    response.error = absl::StrCat(method, " ", url, ": ", curl_easy_strerror(rc));
    response.body = response.error;
    return response;
  }
  long status = 0;  // NOLINT(google-runtime-int): libcurl's type
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace

std::optional<std::string> HttpResponse::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) {
      return value;
    }
  }
  return std::nullopt;
}

struct HttpConnection::Handle {
  struct Deleter {
    void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
  };

  std::unique_ptr<CURL, Deleter> curl;
};

HttpConnection::HttpConnection() : handle_(std::make_unique<Handle>()) {
  GlobalInit();
  handle_->curl.reset(curl_easy_init());
}

HttpConnection::~HttpConnection() = default;

HttpResponse HttpConnection::Fetch(absl::string_view method, const std::string& url,
                                   absl::string_view body,
                                   const std::vector<std::string>& headers) {
  if (handle_->curl == nullptr) {
    HttpResponse response;
    response.error = response.body = "curl_easy_init failed";
    return response;
  }
  return Perform(handle_->curl.get(), method, url, body, headers, &connections_opened_);
}

HttpResponse HttpFetch(absl::string_view method, const std::string& url, absl::string_view body,
                       const std::vector<std::string>& headers) {
  HttpConnection connection;
  return connection.Fetch(method, url, body, headers);
}

}  // namespace churn::testing
