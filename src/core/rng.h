// Deterministic random numbers with one named seed per concern (weights, data order, search, measurement
// order, ...): each concern derives its own stream from the base seed, so adding a consumer of randomness in
// one place never shifts the numbers another place sees. The generator and the distributions are our own,
// so results are identical across compilers and standard libraries.
#pragma once

#include <cstdint>
#include <string_view>

namespace nacc {

namespace seed_concern {
inline constexpr std::string_view kWeights = "weights";
inline constexpr std::string_view kInput = "input";
inline constexpr std::string_view kDataOrder = "data-order";
inline constexpr std::string_view kSearch = "search";
inline constexpr std::string_view kMeasurementOrder = "measurement-order";
}  // namespace seed_concern

// A seed for one concern, derived from the base seed and the concern's name.
uint64_t derive_seed(uint64_t base_seed, std::string_view concern);

// xoshiro256** seeded through splitmix64. Not thread-safe: one instance per thread.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  Rng(uint64_t base_seed, std::string_view concern) : Rng(derive_seed(base_seed, concern)) {}

  uint64_t next_u64();
  // Uniform in [0, 1).
  double uniform();
  // Uniform integer in [0, bound); bound must be > 0.
  uint64_t uniform_int(uint64_t bound);
  // Standard normal (Box-Muller).
  double normal();

 private:
  uint64_t state_[4];
  double spare_normal_ = 0;
  bool has_spare_normal_ = false;
};

}  // namespace nacc
