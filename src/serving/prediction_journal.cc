#include "serving/prediction_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include <sys/file.h>
#include <sys/stat.h>

#include "churn/base/file.h"

namespace churn::serving::internal {
namespace {

// An entry's payload is at most this long: a record's strings are bounded by the server's body
// limit, far below; a larger length can only be a corrupt file.
constexpr uint32_t kMaxEntryBytes = uint32_t{64} << 20;
constexpr char kPrediction = 'P';
// A prediction with a source key (a stream entry): the same fields, then the key.
constexpr char kKeyedPrediction = 'Q';
constexpr char kFeedback = 'F';

// Numbers are stored in the machine's order, which must be little-endian (every platform we
// build for is): a journal is read back by the process that wrote it, or its successor on the
// same host.
static_assert(std::endian::native == std::endian::little);

uint32_t LoadU32(const char* p) {
  uint32_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

uint64_t LoadU64(const char* p) {
  uint64_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <typename T>
void PutRaw(T v, std::string* out) {
  std::array<char, sizeof(T)> bytes{};
  std::memcpy(bytes.data(), &v, sizeof(T));
  out->append(bytes.data(), bytes.size());
}

void PutU32(uint32_t v, std::string* out) {
  PutRaw(v, out);
}

void PutI64(int64_t v, std::string* out) {
  PutRaw(v, out);
}

void PutF64(double v, std::string* out) {
  uint64_t bits = 0;
  static_assert(sizeof(bits) == sizeof(v));
  std::memcpy(&bits, &v, sizeof(v));
  PutI64(static_cast<int64_t>(bits), out);
}

void PutString(absl::string_view s, std::string* out) {
  PutU32(static_cast<uint32_t>(s.size()), out);
  out->append(s.data(), s.size());
}

// Writes the length of the entry begun at `start` (its 4 placeholder bytes) once its payload is
// complete.
void SealEntry(size_t start, std::string* out) {
  const auto n = static_cast<uint32_t>(out->size() - start - 4);
  std::memcpy(out->data() + start, &n, sizeof(n));
}

// Reads fields off one entry's payload; every read checks the bounds.
class EntryReader {
 public:
  explicit EntryReader(absl::string_view payload) : rest_(payload) {}

  bool I64(int64_t* v) {
    if (rest_.size() < 8) {
      return false;
    }
    *v = static_cast<int64_t>(LoadU64(rest_.data()));
    rest_.remove_prefix(8);
    return true;
  }

  bool F64(double* v) {
    int64_t bits = 0;
    if (!I64(&bits)) {
      return false;
    }
    std::memcpy(v, &bits, sizeof(*v));
    return true;
  }

  bool String(std::string* s) {
    if (rest_.size() < 4) {
      return false;
    }
    const uint32_t n = LoadU32(rest_.data());
    rest_.remove_prefix(4);
    if (rest_.size() < n) {
      return false;
    }
    s->assign(rest_.data(), n);
    rest_.remove_prefix(n);
    return true;
  }

  bool Done() const { return rest_.empty(); }

 private:
  absl::string_view rest_;
};

bool DecodePrediction(absl::string_view payload, bool keyed, PredictionRecord* r) {
  EntryReader in(payload);
  int64_t label = 0;
  if (!(in.I64(&r->time_us) && in.I64(&r->model_version) && in.F64(&r->probability) &&
        in.I64(&label) && in.I64(&r->latency_us) && in.String(&r->request_id) &&
        in.String(&r->model_name) && in.String(&r->source) && in.String(&r->customer_id) &&
        in.String(&r->inputs_json) &&
        // A keyed entry's key is never empty (an empty one is written unkeyed, as 'P').
        (!keyed || (in.String(&r->source_key) && !r->source_key.empty())) && in.Done())) {
    return false;
  }
  r->label = static_cast<int>(label);
  return label == 0 || label == 1;
}

bool DecodeFeedback(absl::string_view payload, FeedbackRecord* r) {
  EntryReader in(payload);
  int64_t churned = 0;
  if (!(in.I64(&r->time_us) && in.I64(&churned) && in.String(&r->request_id) &&
        in.String(&r->customer_id) && in.Done())) {
    return false;
  }
  r->churned = static_cast<int>(churned);
  return churned == 0 || churned == 1;
}

absl::Status Errno(absl::string_view what, const std::filesystem::path& path) {
  return base::ErrnoStatus(absl::StrCat("prediction journal: ", what), path, errno);
}

}  // namespace

void AppendJournalEntry(const PredictionRecord& r, std::string* out) {
  const size_t start = out->size();
  PutU32(0, out);
  out->push_back(r.source_key.empty() ? kPrediction : kKeyedPrediction);
  PutI64(r.time_us, out);
  PutI64(r.model_version, out);
  PutF64(r.probability, out);
  PutI64(r.label, out);
  PutI64(r.latency_us, out);
  PutString(r.request_id, out);
  PutString(r.model_name, out);
  PutString(r.source, out);
  PutString(r.customer_id, out);
  PutString(r.inputs_json, out);
  if (!r.source_key.empty()) {
    PutString(r.source_key, out);
  }
  SealEntry(start, out);
}

void AppendJournalEntry(const FeedbackRecord& r, std::string* out) {
  const size_t start = out->size();
  PutU32(0, out);
  out->push_back(kFeedback);
  PutI64(r.time_us, out);
  PutI64(r.churned, out);
  PutString(r.request_id, out);
  PutString(r.customer_id, out);
  SealEntry(start, out);
}

absl::StatusOr<size_t> DecodeJournal(absl::string_view bytes, std::vector<JournalEntry>* out) {
  size_t at = 0;
  while (bytes.size() - at >= 4) {
    const uint32_t n = LoadU32(bytes.data() + at);
    if (n == 0 || n > kMaxEntryBytes) {
      return absl::DataLossError(
          absl::StrCat("prediction journal: entry at byte ", at, " has length ", n));
    }
    if (bytes.size() - at - 4 < n) {
      break;  // cut short: the rest was never acknowledged
    }
    const absl::string_view entry = bytes.substr(at + 4, n);
    const absl::string_view payload = entry.substr(1);
    bool ok = false;
    if (entry[0] == kPrediction || entry[0] == kKeyedPrediction) {
      PredictionRecord r;
      ok = DecodePrediction(payload, entry[0] == kKeyedPrediction, &r);
      if (ok) {
        out->emplace_back(std::move(r));
      }
    } else if (entry[0] == kFeedback) {
      FeedbackRecord r;
      ok = DecodeFeedback(payload, &r);
      if (ok) {
        out->emplace_back(std::move(r));
      }
    }
    if (!ok) {
      return absl::DataLossError(
          absl::StrCat("prediction journal: entry at byte ", at, " is malformed"));
    }
    at += 4 + size_t{n};
  }
  return at;
}

absl::StatusOr<std::unique_ptr<JournalSegment>> JournalSegment::Create(
    const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Errno("cannot create", path);
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    absl::Status status = Errno("cannot lock", path);
    ::close(fd);
    return status;
  }
  return std::unique_ptr<JournalSegment>(new JournalSegment(path, fd, 0));
}

absl::StatusOr<std::unique_ptr<JournalSegment>> JournalSegment::Claim(
    const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat("prediction journal: ", path.string(), " is gone"));
    }
    return Errno("cannot open", path);
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const bool busy = errno == EWOULDBLOCK;
    absl::Status status = busy ? absl::OkStatus() : Errno("cannot lock", path);
    ::close(fd);
    if (busy) {
      return std::unique_ptr<JournalSegment>();
    }
    return status;
  }

  struct stat st {};

  if (::fstat(fd, &st) != 0) {
    absl::Status status = Errno("cannot stat", path);
    ::close(fd);
    return status;
  }
  return std::unique_ptr<JournalSegment>(
      new JournalSegment(path, fd, static_cast<uint64_t>(st.st_size)));
}

JournalSegment::~JournalSegment() {
  ::close(fd_);
}

absl::Status JournalSegment::Append(absl::string_view bytes, bool sync) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(size_ + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      absl::Status status = Errno("cannot write", path_);
      if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
        return Errno("cannot cut back after a failed write", path_);
      }
      return status;
    }
    done += static_cast<size_t>(n);
  }
  if (sync && ::fdatasync(fd_) != 0) {
    absl::Status status = Errno("cannot sync", path_);
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      return Errno("cannot cut back after a failed sync", path_);
    }
    return status;
  }
  size_ += bytes.size();
  return absl::OkStatus();
}

absl::StatusOr<std::string> JournalSegment::ReadAt(uint64_t offset, size_t length) const {
  std::string out(length, '\0');
  size_t done = 0;
  while (done < length) {
    const ssize_t n =
        ::pread(fd_, out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Errno("cannot read", path_);
    }
    if (n == 0) {
      break;
    }
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

absl::StatusOr<uint64_t> JournalSegment::FileSize() const {
  struct stat st {};

  if (::fstat(fd_, &st) != 0) {
    return Errno("cannot stat", path_);
  }
  return static_cast<uint64_t>(st.st_size);
}

absl::Status JournalSegment::Remove() {
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
    return Errno("cannot remove", path_);
  }
  return absl::OkStatus();
}

}  // namespace churn::serving::internal
