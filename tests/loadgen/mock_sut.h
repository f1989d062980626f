// A SystemUnderTest with a known service time per sample (fixed, or uniform random from a seed) that answers on
// its own worker thread, and a QuerySampleLibrary that checks every issued sample is loaded.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "core/rng.h"
#include "loadgen/loadgen.h"

namespace nacc::testing {

class MockQsl : public loadgen::QuerySampleLibrary {
 public:
  MockQsl(size_t total, size_t performance) : total_(total), performance_(performance) {}
  std::string name() const override { return "mock-qsl"; }
  size_t total_sample_count() const override { return total_; }
  size_t performance_sample_count() const override { return performance_; }
  void load_samples(std::span<const size_t> indices) override {
    std::lock_guard lock(mutex_);
    for (size_t index : indices) {
      EXPECT_LT(index, total_);
      loaded_.insert(index);
    }
    ++load_calls_;
  }
  void unload_samples(std::span<const size_t> indices) override {
    std::lock_guard lock(mutex_);
    for (size_t index : indices) loaded_.erase(index);
  }
  bool is_loaded(size_t index) {
    std::lock_guard lock(mutex_);
    return loaded_.count(index) != 0;
  }
  int load_calls() const { return load_calls_; }
  size_t loaded_count() {
    std::lock_guard lock(mutex_);
    return loaded_.size();
  }

 private:
  size_t total_, performance_;
  std::mutex mutex_;
  std::set<size_t> loaded_;
  int load_calls_ = 0;
};

class MockSut : public loadgen::SystemUnderTest {
 public:
  // Each sample takes service_time_us, plus a uniform random [0, jitter_us) from the seed when jitter_us > 0.
  MockSut(MockQsl& qsl, int64_t service_time_us, int64_t jitter_us = 0, uint64_t seed = 0)
      : qsl_(qsl), service_time_us_(service_time_us), jitter_us_(jitter_us), rng_(seed) {
    worker_ = std::thread([this] { work(); });
  }
  ~MockSut() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    condition_.notify_all();
    worker_.join();
  }
  std::string name() const override { return "mock-sut"; }
  void issue_query(std::span<const loadgen::QuerySample> samples, loadgen::ResponseDelegate& responses) override {
    std::lock_guard lock(mutex_);
    for (const loadgen::QuerySample& sample : samples) {
      if (!qsl_.is_loaded(sample.index)) ++unloaded_uses_;
      queue_.push_back({sample, &responses});
    }
    issued_ += static_cast<int64_t>(samples.size());
    condition_.notify_all();
  }
  int64_t issued() const { return issued_; }
  int64_t unloaded_uses() const { return unloaded_uses_; }

 private:
  struct Work {
    loadgen::QuerySample sample;
    loadgen::ResponseDelegate* responses;
  };

  void work() {
    for (;;) {
      Work item;
      {
        std::unique_lock lock(mutex_);
        condition_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        item = queue_.front();
        queue_.pop_front();
      }
      int64_t service_us = service_time_us_ + (jitter_us_ > 0 ? static_cast<int64_t>(rng_.uniform_int(jitter_us_)) : 0);
      auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(service_us);
      while (std::chrono::steady_clock::now() < until) std::this_thread::sleep_until(until);
      // The "prediction" is the sample index modulo 3, as int64 bytes.
      int64_t prediction = static_cast<int64_t>(item.sample.index % 3);
      loadgen::QuerySampleResponse response{item.sample.id, std::as_bytes(std::span(&prediction, 1))};
      item.responses->complete(std::span(&response, 1));
    }
  }

  MockQsl& qsl_;
  int64_t service_time_us_, jitter_us_;
  Rng rng_;
  std::mutex mutex_;
  std::condition_variable condition_;
  std::deque<Work> queue_;
  bool stopping_ = false;
  std::atomic<int64_t> issued_ = 0;
  std::atomic<int64_t> unloaded_uses_ = 0;
  std::thread worker_;
};

// Counts how often each sample is scored; a sample is correct when the prediction equals index % 3 and the index
// is even (so the expected accuracy is the share of even indices).
class CountingMetric : public loadgen::AccuracyMetric {
 public:
  explicit CountingMetric(size_t total) : counts_(total, 0) {}
  std::string name() const override { return "even-and-right"; }
  void add(size_t sample_index, std::span<const std::byte> response) override {
    ++counts_.at(sample_index);
    int64_t prediction;
    EXPECT_EQ(response.size(), sizeof(prediction));
    std::memcpy(&prediction, response.data(), sizeof(prediction));
    correct_ += prediction == static_cast<int64_t>(sample_index % 3) && sample_index % 2 == 0;
    ++added_;
  }
  double value() const override { return added_ == 0 ? 0.0 : static_cast<double>(correct_) / added_; }
  const std::vector<int>& counts() const { return counts_; }

 private:
  std::vector<int> counts_;
  int64_t correct_ = 0;
  int64_t added_ = 0;
};

}  // namespace nacc::testing
