// The prediction log's journal (internal to the serving module): append-only segment files that
// make a record durable with one write() per group commit, before the record reaches the SQL
// prediction store. See churn/serving/prediction_log.h for the design.
//
// A segment is a sequence of entries, each a little-endian u32 payload length, a kind byte and
// the payload (fixed 8-byte numbers, then strings as a u32 length and the bytes). A segment file
// is owned by the PredictionLog that writes it, through an exclusive flock held while it is open;
// a segment whose lock can be taken belongs to nobody (its writer exited or was killed) and is
// recovered by the next PredictionLog opened on the same journal directory.
#ifndef CHURN_SERVING_PREDICTION_JOURNAL_H_
#define CHURN_SERVING_PREDICTION_JOURNAL_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "churn/serving/prediction_log.h"

namespace churn::serving::internal {

using JournalEntry = std::variant<PredictionRecord, FeedbackRecord>;

// Appends the encoding of one entry to `out`.
void AppendJournalEntry(const PredictionRecord& record, std::string* out);
void AppendJournalEntry(const FeedbackRecord& record, std::string* out);

// Decodes the whole entries at the start of `bytes` into `out` and returns how many bytes they
// took; a partial entry at the end (a write cut short) is left undecoded. DataLoss naming the
// offset when an entry is malformed (a length beyond the limit, an unknown kind, strings that
// overrun the entry, bytes left over); the entries before it are in `out`. Never crashes on any
// input.
absl::StatusOr<size_t> DecodeJournal(absl::string_view bytes, std::vector<JournalEntry>* out);

// One segment file, opened with an exclusive flock. Thread-compatible: one writer appends; any
// thread may ReadAt what has been appended.
class JournalSegment {
 public:
  // Creates `path` (it must not exist) and locks it. Internal naming the path on failure.
  static absl::StatusOr<std::unique_ptr<JournalSegment>> Create(const std::filesystem::path& path);
  // Opens an existing segment if nobody holds its lock: nullptr when somebody does (a live
  // PredictionLog owns it), NotFound when it is gone, Internal on other errors.
  static absl::StatusOr<std::unique_ptr<JournalSegment>> Claim(const std::filesystem::path& path);

  ~JournalSegment();
  JournalSegment(const JournalSegment&) = delete;
  JournalSegment& operator=(const JournalSegment&) = delete;

  // Appends `bytes` at the end (fdatasync after it when `sync`). On failure the segment is cut
  // back to its size before the call, so that no partial entry stays in it.
  absl::Status Append(absl::string_view bytes, bool sync);
  // `length` bytes from `offset`; fewer at the end of the file.
  absl::StatusOr<std::string> ReadAt(uint64_t offset, size_t length) const;
  // The file's size now.
  absl::StatusOr<uint64_t> FileSize() const;
  // Deletes the file (the lock goes with the descriptor, at destruction).
  absl::Status Remove();

  const std::filesystem::path& Path() const { return path_; }

  // The segment's name in the store's journal state table (the file name).
  std::string Name() const { return path_.filename().string(); }

 private:
  JournalSegment(std::filesystem::path path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}

  std::filesystem::path path_;
  int fd_ = -1;
  uint64_t size_ = 0;  // bytes appended (Append keeps it; Claim reads it)
};

}  // namespace churn::serving::internal

#endif  // CHURN_SERVING_PREDICTION_JOURNAL_H_
