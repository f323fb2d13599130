#include "churn/base/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include <sys/mman.h>
#include <sys/stat.h>

namespace churn::base {
namespace {

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}

  ~Fd() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }

  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int Get() const { return fd_; }

  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

absl::Status ErrnoStatus(absl::string_view what, const std::filesystem::path& path, int err) {
  const std::string message = absl::StrCat(what, " ", path.string(), ": ",
                                           std::error_code(err, std::generic_category()).message());
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case ENOSPC:
      return absl::ResourceExhaustedError(message);
    case EISDIR:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path) {
  const Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.Get() < 0) {
    return ErrnoStatus("cannot open", path, errno);
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), " is a directory, not a file"));
  }
  const auto size = std::filesystem::file_size(path, ec);
  std::string bytes;
  if (!ec) {
    bytes.reserve(size);
  }
  char buf[1 << 16];
  while (true) {
    const ssize_t n = read(fd.Get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoStatus("cannot read", path, errno);
    }
    if (n == 0) {
      break;
    }
    bytes.append(buf, static_cast<size_t>(n));
  }
  return bytes;
}

absl::Status MakeDirs(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return ErrnoStatus("cannot create directory", dir, ec.value());
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomic(const std::filesystem::path& path, absl::string_view bytes) {
  if (path.has_parent_path()) {
    if (absl::Status s = MakeDirs(path.parent_path()); !s.ok()) {
      return s;
    }
  }
  std::string tmpl = absl::StrCat(path.string(), ".tmp-XXXXXX");
  Fd fd(mkstemp(tmpl.data()));
  if (fd.Get() < 0) {
    return ErrnoStatus("cannot create temporary file for", path, errno);
  }
  const std::filesystem::path tmp(tmpl);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd.Get(), bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int err = errno;
      unlink(tmp.c_str());
      return ErrnoStatus("cannot write", tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  if (fchmod(fd.Get(), 0644) != 0 || fsync(fd.Get()) != 0 || close(fd.Release()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return ErrnoStatus("cannot flush", tmp, err);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return ErrnoStatus("cannot rename temporary file to", path, err);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<MappedFile>> MappedFile::Open(const std::filesystem::path& path) {
  const Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.Get() < 0) {
    return ErrnoStatus("cannot open", path, errno);
  }

  struct stat st {};

  if (fstat(fd.Get(), &st) != 0) {
    return ErrnoStatus("cannot stat", path, errno);
  }
  if (S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), " is a directory, not a file"));
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    return std::unique_ptr<MappedFile>(new MappedFile(nullptr, 0));  // mmap refuses length 0
  }
  // MAP_POPULATE faults every page in at once: far cheaper than one fault per page later.
  void* data = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd.Get(), 0);
  if (data == MAP_FAILED) {
    return ErrnoStatus("cannot map", path, errno);
  }
  return std::unique_ptr<MappedFile>(new MappedFile(static_cast<const char*>(data), size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) {
    munmap(const_cast<char*>(data_), size_);
  }
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe)
  std::string tmpl =
      absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp", "/churn-test-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("TempDir: mkdtemp");
    std::abort();
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace churn::base
