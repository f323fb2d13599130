#include "churn/http/client.h"

#include <charconv>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace churn::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

}  // namespace

absl::StatusOr<Url> ParseUrl(absl::string_view text) {
  const auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("URL '", text, "': ", why));
  };
  absl::string_view rest = text;
  if (!absl::ConsumePrefix(&rest, "http://")) {
    return bad("expected http://host[:port]/path");
  }
  const size_t slash = rest.find('/');
  const absl::string_view authority = rest.substr(0, slash);
  Url url;
  url.target = slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  const size_t colon = authority.rfind(':');
  url.host = std::string(authority.substr(0, colon));
  if (colon != absl::string_view::npos) {
    const absl::string_view port = authority.substr(colon + 1);
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return bad("bad port");
    }
    url.port = static_cast<uint16_t>(value);
  }
  if (url.host.empty()) {
    return bad("no host");
  }
  return url;
}

class Client::Impl {
 public:
  Impl(Url url, absl::Duration timeout) : url_(std::move(url)), timeout_(timeout) {}

  absl::StatusOr<ClientResponse> Send(bhttp::verb method, absl::string_view target,
                                      absl::string_view body, absl::string_view content_type) {
    absl::Status last;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!stream_) {
        if (absl::Status s = Connect(); !s.ok()) {
          return s;
        }
      }
      absl::StatusOr<ClientResponse> r = Exchange(method, target, body, content_type);
      if (r.ok() || absl::IsDeadlineExceeded(r.status())) {
        return r;
      }
      last = r.status();
      stream_.reset();  // the server closed the connection: reconnect once
    }
    return last;
  }

 private:
  absl::Status Connect() {
    beast::error_code ec;
    net::ip::tcp::resolver resolver(context_);
    const auto endpoints = resolver.resolve(url_.host, std::to_string(url_.port), ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("cannot resolve ", url_.host, ": ", ec.message()));
    }
    stream_.emplace(context_);
    stream_->expires_after(absl::ToChronoNanoseconds(timeout_));
    stream_->connect(endpoints, ec);
    if (ec) {
      stream_.reset();
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", url_.host, ":", url_.port, ": ", ec.message()));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<ClientResponse> Exchange(bhttp::verb method, absl::string_view target,
                                          absl::string_view body, absl::string_view content_type) {
    bhttp::request<bhttp::string_body> request{method, std::string(target), 11};
    request.set(bhttp::field::host, url_.host);
    request.set(bhttp::field::user_agent, "churn-simulate");
    if (method == bhttp::verb::post) {
      request.set(bhttp::field::content_type, std::string(content_type));
      request.body() = std::string(body);
      request.prepare_payload();
    }
    beast::error_code ec;
    stream_->expires_after(absl::ToChronoNanoseconds(timeout_));
    bhttp::write(*stream_, request, ec);
    bhttp::response<bhttp::string_body> response;
    if (!ec) {
      bhttp::read(*stream_, buffer_, response, ec);
    }
    if (ec == beast::error::timeout) {
      stream_.reset();
      return absl::DeadlineExceededError(absl::StrCat("no answer from ", url_.host, ":", url_.port,
                                                      " within ", absl::FormatDuration(timeout_)));
    }
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("request to ", url_.host, ":", url_.port, " failed: ", ec.message()));
    }
    if (!response.keep_alive()) {
      stream_.reset();
    }
    return ClientResponse{.status = static_cast<int>(response.result_int()),
                          .body = std::move(response.body())};
  }

  const Url url_;
  const absl::Duration timeout_;
  net::io_context context_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

Client::Client(Url url, absl::Duration timeout)
    : impl_(std::make_unique<Impl>(std::move(url), timeout)) {}

Client::~Client() = default;

absl::StatusOr<ClientResponse> Client::Post(absl::string_view target, absl::string_view body,
                                            absl::string_view content_type) {
  return impl_->Send(bhttp::verb::post, target, body, content_type);
}

absl::StatusOr<ClientResponse> Client::Get(absl::string_view target) {
  return impl_->Send(bhttp::verb::get, target, "", "");
}

}  // namespace churn::http
