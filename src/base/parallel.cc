#include "churn/base/parallel.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace churn::base {

size_t MaxParallelism() {
  return std::max(1U, std::thread::hardware_concurrency());
}

void ParallelFor(size_t n, const std::function<void(size_t)>& fn) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < n; i = next++) {
      fn(i);
    }
  };
  std::vector<std::thread> threads;
  const size_t extra = std::min(MaxParallelism(), n) - (n > 0 ? 1 : 0);
  threads.reserve(extra);
  for (size_t t = 0; t < extra; ++t) {
    threads.emplace_back(worker);
  }
  worker();
  for (auto& t : threads) {
    t.join();
  }
}

}  // namespace churn::base
