// Fuzzes the prediction journal's decoder (what recovery reads back from a segment a killed
// server left): any bytes must decode to whole entries or stop with DataLoss, never crash, leak
// or read out of bounds; what decodes encodes back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"
#include "serving/prediction_journal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace internal = churn::serving::internal;
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::vector<internal::JournalEntry> entries;
  const auto used = internal::DecodeJournal(bytes, &entries);
  if (used.ok() && *used > size) {
    std::abort();
  }
  std::string again;
  for (const auto& entry : entries) {
    std::visit([&again](const auto& e) { internal::AppendJournalEntry(e, &again); }, entry);
  }
  // The entries decoded are a prefix of the input, byte for byte.
  if (bytes.substr(0, again.size()) != again) {
    std::abort();
  }
  return 0;
}
