// File: churn/base/sha256.h
//
// SHA-256 digests (OpenSSL underneath), as lowercase hex. Content addresses of snapshots and
// artifacts are these digests.
#ifndef CHURN_BASE_SHA256_H_
#define CHURN_BASE_SHA256_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace churn::base {

// The SHA-256 of `bytes` as 64 lowercase hex digits.
std::string Sha256Hex(absl::string_view bytes);

// An incremental SHA-256. Not thread-safe; one instance per stream of bytes.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(absl::string_view bytes);
  // Returns the digest of everything passed to Update as 64 lowercase hex digits. The object
  // must not be used afterwards.
  std::string FinishHex();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace churn::base

#endif  // CHURN_BASE_SHA256_H_
