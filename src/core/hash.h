// FNV-1a, 64 bits: a stable hash of bytes, the same on every machine and build (std::hash is neither), for names
// that must mean the same thing in files written by another process or another build: graph hashes, cache keys.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nacc {

class Fnv {
 public:
  void bytes(const void* data, size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) {
      hash_ ^= p[i];
      hash_ *= 0x100000001b3ULL;
    }
  }
  // The length first, so that ("ab", "c") and ("a", "bc") differ.
  void text(std::string_view value) {
    uint64_t size = value.size();
    bytes(&size, sizeof(size));
    bytes(value.data(), value.size());
  }
  void number(int64_t value) { bytes(&value, sizeof(value)); }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ULL;
};

}  // namespace nacc
