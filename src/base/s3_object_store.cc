// The S3 object store: path-style requests (<endpoint>/<bucket>/<key>) over libcurl, signed with
// AWS Signature V4 by libcurl itself (CURLOPT_AWS_SIGV4): we only supply the payload hash in
// x-amz-content-sha256, which S3 requires. One easy handle per request keeps it thread-safe.
// Listing uses ListObjectsV2 with continuation tokens; its XML is small and regular, so a few
// string searches read it.
#include "base/s3_object_store.h"

#include <algorithm>
#include <memory>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include <curl/curl.h>

#include "churn/base/sha256.h"
#include "churn/base/status_macros.h"

namespace churn::base {
namespace internal {
namespace {

int list_page_size = 1000;

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

using Curl = std::unique_ptr<CURL, CurlFree>;
using Slist = std::unique_ptr<curl_slist, SlistFree>;

size_t Collect(char* data, size_t size, size_t count, void* sink) {
  static_cast<std::string*>(sink)->append(data, size * count);
  return size * count;
}

// RFC 3986 percent-encoding of everything but unreserved characters (what SigV4 expects), with
// '/' kept when `keep_slash`.
std::string Escape(absl::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string XmlUnescape(absl::string_view text) {
  return absl::StrReplaceAll(
      text, {{"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}});
}

// The text of each <tag>...</tag> in `xml`, in order.
std::vector<std::string> XmlElements(absl::string_view xml, absl::string_view tag) {
  std::vector<std::string> out;
  const std::string open = absl::StrCat("<", tag, ">");
  const std::string close = absl::StrCat("</", tag, ">");
  size_t pos = 0;
  while ((pos = xml.find(open, pos)) != absl::string_view::npos) {
    const size_t begin = pos + open.size();
    const size_t end = xml.find(close, begin);
    if (end == absl::string_view::npos) {
      break;
    }
    out.push_back(XmlUnescape(xml.substr(begin, end - begin)));
    pos = end + close.size();
  }
  return out;
}

struct Response {
  long status = 0;  // NOLINT(google-runtime-int): libcurl's type
  std::string body;
};

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Endpoint(const S3Options& options) {
  std::string endpoint = options.endpoint.empty()
                             ? absl::StrCat("https://s3.", options.region, ".amazonaws.com")
                             : options.endpoint;
  while (!endpoint.empty() && endpoint.back() == '/') {
    endpoint.pop_back();
  }
  return endpoint;
}

// One signed request. `body` is sent for PUT. Unavailable when the endpoint cannot be reached.
absl::StatusOr<Response> Send(const S3Options& options, const std::string& method,
                              const std::string& url, absl::string_view body) {
  GlobalInit();
  Curl curl(curl_easy_init());
  if (curl == nullptr) {
    return absl::ResourceExhaustedError("curl_easy_init failed");
  }
  CURL* c = curl.get();
  Response response;
  const std::string sigv4 = absl::StrCat("aws:amz:", options.region, ":s3");
  const std::string userpwd = absl::StrCat(options.access_key_id, ":", options.secret_access_key);
  Slist headers(
      curl_slist_append(nullptr, absl::StrCat("x-amz-content-sha256: ", Sha256Hex(body)).c_str()));
  if (!options.session_token.empty()) {
    headers.reset(curl_slist_append(
        headers.release(), absl::StrCat("x-amz-security-token: ", options.session_token).c_str()));
  }
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(c, CURLOPT_USERPWD, userpwd.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, options.timeout_seconds);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (method == "PUT") {
    headers.reset(curl_slist_append(headers.release(), "Content-Type: application/octet-stream"));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  } else if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat("S3 ", method, " ", url, ": ", curl_easy_strerror(rc)));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

// An error status for a non-2xx response, with S3's own <Code> and <Message>.
absl::Status HttpError(const std::string& what, const Response& r) {
  const auto codes = XmlElements(r.body, "Code");
  const auto messages = XmlElements(r.body, "Message");
  const std::string message = absl::StrCat(
      "S3 ", what, ": HTTP ", r.status, codes.empty() ? "" : " ", codes.empty() ? "" : codes[0],
      messages.empty() ? "" : ": ", messages.empty() ? "" : messages[0]);
  if (r.status == 404) {
    return absl::NotFoundError(message);
  }
  if (r.status == 401 || r.status == 403) {
    return absl::PermissionDeniedError(message);
  }
  if (r.status >= 500 || r.status == 429) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

std::string ObjectUrl(const S3Options& options, absl::string_view bucket, absl::string_view key) {
  return absl::StrCat(Endpoint(options), "/", Escape(bucket, false), "/", Escape(key, true));
}

class S3ObjectStore : public ObjectStore {
 public:
  S3ObjectStore(std::string bucket, std::string prefix, S3Options options)
      : bucket_(std::move(bucket)), prefix_(std::move(prefix)), options_(std::move(options)) {}

  absl::Status Put(absl::string_view key, absl::string_view bytes) override {
    CHURN_RETURN_IF_ERROR(ValidateObjectKey(key));
    const std::string url = ObjectUrl(options_, bucket_, FullKey(key));
    CHURN_ASSIGN_OR_RETURN(const Response r, Send(options_, "PUT", url, bytes));
    if (r.status / 100 != 2) {
      return HttpError(absl::StrCat("PUT ", Name(key)), r);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Get(absl::string_view key) override {
    CHURN_RETURN_IF_ERROR(ValidateObjectKey(key));
    return S3GetObject(bucket_, FullKey(key), options_);
  }

  absl::StatusOr<bool> Exists(absl::string_view key) override {
    CHURN_RETURN_IF_ERROR(ValidateObjectKey(key));
    const std::string url = ObjectUrl(options_, bucket_, FullKey(key));
    CHURN_ASSIGN_OR_RETURN(const Response r, Send(options_, "HEAD", url, ""));
    if (r.status == 404) {
      return false;
    }
    if (r.status / 100 != 2) {
      return HttpError(absl::StrCat("HEAD ", Name(key)), r);
    }
    return true;
  }

  absl::StatusOr<std::vector<std::string>> List(absl::string_view prefix) override {
    std::vector<std::string> keys;
    const std::string full = FullKey(prefix);
    std::string token;
    while (true) {
      // Parameters in canonical (sorted) order, so the signed query is the one sent.
      std::string query;
      if (!token.empty()) {
        absl::StrAppend(&query, "continuation-token=", Escape(token, false), "&");
      }
      absl::StrAppend(&query, "list-type=2&max-keys=", list_page_size,
                      "&prefix=", Escape(full, false));
      const std::string url =
          absl::StrCat(Endpoint(options_), "/", Escape(bucket_, false), "?", query);
      CHURN_ASSIGN_OR_RETURN(const Response r, Send(options_, "GET", url, ""));
      if (r.status / 100 != 2) {
        return HttpError(absl::StrCat("LIST ", Name(prefix)), r);
      }
      for (std::string& key : XmlElements(r.body, "Key")) {
        keys.push_back(prefix_.empty() ? std::move(key) : key.substr(prefix_.size() + 1));
      }
      const auto truncated = XmlElements(r.body, "IsTruncated");
      const auto next = XmlElements(r.body, "NextContinuationToken");
      if (truncated.empty() || truncated[0] != "true" || next.empty()) {
        break;
      }
      token = next[0];
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  absl::Status Delete(absl::string_view key) override {
    CHURN_RETURN_IF_ERROR(ValidateObjectKey(key));
    const std::string url = ObjectUrl(options_, bucket_, FullKey(key));
    CHURN_ASSIGN_OR_RETURN(const Response r, Send(options_, "DELETE", url, ""));
    if (r.status / 100 != 2 && r.status != 404) {
      return HttpError(absl::StrCat("DELETE ", Name(key)), r);
    }
    return absl::OkStatus();
  }

  std::string Uri() const override {
    return prefix_.empty() ? absl::StrCat("s3://", bucket_)
                           : absl::StrCat("s3://", bucket_, "/", prefix_);
  }

 private:
  std::string FullKey(absl::string_view key) const {
    return prefix_.empty() ? std::string(key) : absl::StrCat(prefix_, "/", key);
  }

  std::string Name(absl::string_view key) const { return absl::StrCat(Uri(), "/", key); }

  std::string bucket_;
  std::string prefix_;
  S3Options options_;
};

}  // namespace

absl::StatusOr<std::string> S3GetObject(const std::string& bucket, const std::string& key,
                                        const S3Options& options) {
  CHURN_ASSIGN_OR_RETURN(Response r, Send(options, "GET", ObjectUrl(options, bucket, key), ""));
  if (r.status / 100 != 2) {
    return HttpError(absl::StrCat("GET s3://", bucket, "/", key), r);
  }
  return std::move(r.body);
}

void SetS3ListPageSizeForTesting(int keys) {
  list_page_size = keys;
}

}  // namespace internal

std::unique_ptr<ObjectStore> NewS3ObjectStore(std::string bucket, std::string prefix,
                                              S3Options options) {
  return std::make_unique<internal::S3ObjectStore>(std::move(bucket), std::move(prefix),
                                                   std::move(options));
}

}  // namespace churn::base
