// How the load generator talks to what it measures, in MLPerf LoadGen's shape: a SystemUnderTest that answers
// queries and a QuerySampleLibrary that owns the samples. The load generator knows nothing of models or data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace nacc::loadgen {

// One sample of a query: `id` identifies the response, `index` the sample in the QuerySampleLibrary.
struct QuerySample {
  uint64_t id;
  size_t index;
};

// The answer for one sample. `data` is only read in accuracy mode (e.g. the predicted class as int64 bytes); it
// is copied before complete() returns, so it may point into the SUT's own buffers.
struct QuerySampleResponse {
  uint64_t id;
  std::span<const std::byte> data;
};

// Where a SUT reports finished samples. Thread-safe: complete() may be called from any thread, with any grouping
// of samples, but exactly once per sample id.
class ResponseDelegate {
 public:
  virtual ~ResponseDelegate() = default;
  virtual void complete(std::span<const QuerySampleResponse> responses) = 0;
};

class SystemUnderTest {
 public:
  virtual ~SystemUnderTest() = default;
  virtual std::string name() const = 0;
  // Called from the load generator's issuing thread only, one call at a time. The SUT answers every sample
  // through `responses`, either before returning or later from another thread. `samples` is valid only during
  // the call: copy what is needed.
  virtual void issue_query(std::span<const QuerySample> samples, ResponseDelegate& responses) = 0;
  // No more queries will come until the next issue_query(): a SUT that collects samples into batches should
  // run what it holds.
  virtual void flush_queries() {}
};

// Owns the data set. load_samples() is called before the samples are used and outside the timed part.
class QuerySampleLibrary {
 public:
  virtual ~QuerySampleLibrary() = default;
  virtual std::string name() const = 0;
  virtual size_t total_sample_count() const = 0;
  // How many samples fit in memory at once; performance runs use this many distinct samples.
  virtual size_t performance_sample_count() const = 0;
  virtual void load_samples(std::span<const size_t> indices) = 0;
  virtual void unload_samples(std::span<const size_t> indices) = 0;
};

// Scores accuracy-mode responses, e.g. top-1 against labels. add() is called once per sample from one thread.
class AccuracyMetric {
 public:
  virtual ~AccuracyMetric() = default;
  virtual std::string name() const = 0;  // e.g. "top-1"
  virtual void add(size_t sample_index, std::span<const std::byte> response) = 0;
  // The score in [0, 1] over the samples added so far.
  virtual double value() const = 0;
};

}  // namespace nacc::loadgen
