// File: churn/base/parallel.h
//
// A minimal fork-join helper for CPU-bound loops over independent items (columns of a table,
// chunks of a file). Threads are started per call: use it for work of milliseconds or more.
#ifndef CHURN_BASE_PARALLEL_H_
#define CHURN_BASE_PARALLEL_H_

#include <cstddef>
#include <functional>

namespace churn::base {

// The number of threads ParallelFor uses at most: std::thread::hardware_concurrency(), at least 1.
size_t MaxParallelism();

// Calls fn(i) for every i in [0, n), on up to MaxParallelism() threads (the caller's included);
// items are handed out dynamically. Returns when all calls have returned. `fn` must be safe to
// call concurrently for different i.
void ParallelFor(size_t n, const std::function<void(size_t)>& fn);

}  // namespace churn::base

#endif  // CHURN_BASE_PARALLEL_H_
