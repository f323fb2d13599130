// File: churn/base/file.h
//
// Whole-file helpers on the local filesystem. Every function is thread-compatible; concurrent
// writers of one path are safe only through WriteFileAtomic (last rename wins).
#ifndef CHURN_BASE_FILE_H_
#define CHURN_BASE_FILE_H_

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace churn::base {

// Returns the bytes of `path`. NotFound when it does not exist, InvalidArgument when it is a
// directory, Unavailable/Internal on other I/O errors; messages name the path.
absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path);

// Writes `bytes` to a temporary file beside `path`, fsyncs it and renames it over `path`, so
// readers see either the old or the new content, never a part. Creates missing parent folders.
absl::Status WriteFileAtomic(const std::filesystem::path& path, absl::string_view bytes);

// The status for a failed system call on `path`: "<what> <path>: <strerror(err)>", coded by errno
// (NotFound, PermissionDenied, ResourceExhausted for a full disk, InvalidArgument for a
// directory, Internal otherwise).
absl::Status ErrnoStatus(absl::string_view what, const std::filesystem::path& path, int err);

// Creates `dir` and its parents when missing. OK when it exists already.
absl::Status MakeDirs(const std::filesystem::path& dir);

// A whole file mapped read-only into memory for the object's lifetime: reading a large input
// without copying it. The file must not be truncated while mapped (the kernel would stop the
// process with SIGBUS). Not copyable; Bytes() is safe to read from any thread.
class MappedFile {
 public:
  // NotFound when missing, InvalidArgument for a directory, Internal otherwise; names the path.
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  absl::string_view Bytes() const { return {data_, size_}; }

 private:
  MappedFile(const char* data, size_t size) : data_(data), size_(size) {}

  const char* data_;
  size_t size_;
};

// A fresh, empty directory under the system temp folder (or TMPDIR), removed with its contents
// by the destructor. For tests and scratch space. Not thread-safe.
class TempDir {
 public:
  // Creates the directory; aborts the process if it cannot (there is nothing to recover).
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& Path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace churn::base

#endif  // CHURN_BASE_FILE_H_
