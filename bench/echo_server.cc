// The physical floor of /predict for the serving benchmark: our HTTP server (Boost.Beast, the same
// options as `churn serve http`) with one route that parses the JSON body with simdjson
// On-Demand, walks every field, and echoes the body back. No model, no validation, no log.
//   echo_server PORT [THREADS]
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "simdjson.h"

#include "churn/http/server.h"

namespace {

// Whether `body` is a JSON object whose every value could be read.
bool Parses(const std::string& body) {
  thread_local simdjson::ondemand::parser parser;
  thread_local std::string buffer;
  buffer.assign(body);
  buffer.resize(body.size() + simdjson::SIMDJSON_PADDING);
  simdjson::ondemand::document doc;
  if (parser.iterate(buffer.data(), body.size(), buffer.size()).get(doc) != simdjson::SUCCESS) {
    return false;
  }
  simdjson::ondemand::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) {
    return false;
  }
  for (auto field : object) {
    simdjson::ondemand::value value;
    if (field.value().get(value) != simdjson::SUCCESS) {
      return false;
    }
    simdjson::ondemand::json_type type{};
    if (value.type().get(type) != simdjson::SUCCESS) {
      return false;
    }
    if (type == simdjson::ondemand::json_type::number) {
      double d = 0;
      if (value.get_double().get(d) != simdjson::SUCCESS) {
        return false;
      }
    } else if (type == simdjson::ondemand::json_type::string) {
      std::string_view s;
      if (value.get_string().get(s) != simdjson::SUCCESS) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  int threads = 0;
  if (argc < 2 || !absl::SimpleAtoi(argv[1], &port) ||
      (argc > 2 && !absl::SimpleAtoi(argv[2], &threads))) {
    std::fprintf(stderr, "usage: echo_server PORT [THREADS]\n");
    return 2;
  }
  auto server = churn::http::Server::Start(
      {.port = static_cast<uint16_t>(port), .threads = threads, .stop_on_signals = true},
      [](const churn::http::Request& request) {
        return Parses(request.body) ? churn::http::Response::Json(200, request.body)
                                    : churn::http::Response::Error(400, "malformed JSON");
      });
  if (!server.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  std::printf("echo_server on 127.0.0.1:%d\n", (*server)->Port());
  std::fflush(stdout);
  (*server)->Wait();
  return 0;
}
