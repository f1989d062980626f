// Internal: choosing a layer's oneDNN implementation by measuring (RuntimeOptions::tune). oneDNN offers several
// implementations of most convolutions and inner products and takes the first that applies; on small layers that is
// often not the fastest (a 16-channel INT8 3x3 convolution at 28x28 runs 1.5x faster on jit_int8 than on the brgconv
// oneDNN 2.6 puts first, on a VNNI host: docs/BENCHMARKS.md). The tuner times each implementation on this CPU, at the
// layer's shapes, layouts, fused operations and threads, checks that it computes what the first one computes, and
// keeps the fastest. Choices are cached per machine in a JSON file (default: $XDG_CACHE_HOME/nacc/tuning.json), so
// that a second compile measures nothing.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nacc::runtime {

// oneDNN 2.6's jit_1x1:avx512_core_amx_int8 reads and writes past the end of each image for some image sizes
// (src/runtime/lower_int8.cc): no layer runs on it, tuned or not.
constexpr const char* kOverrunningKernel = "jit_1x1:avx512_core_amx_int8";

// One layer's measured choice.
struct TunedLayer {
  std::string implementation;  // the chosen one
  // Every implementation tried with its median time in ms, in oneDNN's order (the first is what the rules take);
  // a negative time marks one refused because its output differed from the first's.
  std::vector<std::pair<std::string, double>> timings_ms;
  bool cached = false;  // read from the cache file rather than measured now
};

// The entries of one cache file for this machine (tuning_machine()): entries of other machines in the same file are
// kept but never used. A missing file is an empty cache; an unreadable or corrupt one is ignored with a warning and
// replaced on the next save.
class TuningCache {
 public:
  explicit TuningCache(std::filesystem::path file);
  std::optional<TunedLayer> find(const std::string& key) const;
  void store(const std::string& key, const TunedLayer& layer);
  // Writes the entries stored since the last save, merged with the file's current contents (another process may
  // have added some), atomically. A file that cannot be written is reported once, as a warning.
  void save();
  size_t size() const;  // entries for this machine

 private:
  std::filesystem::path file_;
  mutable std::mutex mutex_;
  std::map<std::string, TunedLayer> entries_;
  std::map<std::string, TunedLayer> unsaved_;
  bool warned_ = false;
};

// $XDG_CACHE_HOME/nacc/tuning.json, else $HOME/.cache/nacc/tuning.json, else tuning.json in the temporary folder.
std::filesystem::path default_tuning_file();
// What a cache entry is valid for: the CPU's model name, the instruction set oneDNN uses, oneDNN's version.
std::string tuning_machine();
// The process's cache of `file` (empty: default_tuning_file()), loaded once.
TuningCache& tuning_cache(const std::filesystem::path& file);

// An argument a primitive reads besides its source, weights, bias and destination (a binary post-op's operand).
struct ExtraArgument {
  int argument;
  dnnl::memory::desc desc;
};

// What the tuner needs to know of a layer besides its primitive descriptor.
struct TuningRequest {
  std::string key;                   // the layer's shapes, layouts, fused operations and threads
  std::vector<ExtraArgument> extra;  // post-op operands
  int threads = 1;                   // per inference, as the plan runs it
  bool int8 = false;                 // an INT8 primitive (a u8 or s8 source)
};

// Chooses among the implementations oneDNN offers for `descriptor`'s operation with its current source and
// destination layouts; the current one (the rules' choice) first, and the one kept unless another measures faster
// by more than 3%. Reference implementations and those known to be wrong (skip_implementation) are not considered.
// Returns the chosen implementation's primitive descriptor (a clone) and fills `*tuned`. Called on the thread that
// compiles; the measurements run on a thread of their own, which leaves no OpenMP pool on it.
dnnl::primitive_desc_base tune_implementation(const dnnl::primitive_desc_base& descriptor, const TuningRequest& request,
                                              TuningCache& cache, TunedLayer* tuned);

// The plan's line for a tuned layer, fastest first: "jit_int8:avx512_core_vnni 0.3040 ms (chosen),
// brgconv:avx512_core_vnni 0.4270 ms (the rules' choice)", and " [cached]" when read from the cache.
std::string describe_tuning(const TunedLayer& layer);

}  // namespace nacc::runtime
