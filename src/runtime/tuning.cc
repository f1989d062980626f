#include "runtime/tuning.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <unordered_map>

#include "core/files.h"
#include "runtime/runtime.h"
#include "runtime/threads.h"

namespace nacc::runtime {

using dnnl::memory;

namespace {

// The cache file's layout; a file of another format is replaced.
constexpr int kFormat = 1;

TunedLayer layer_from_json(const nlohmann::json& json) {
  TunedLayer layer;
  layer.implementation = json.at("implementation").get<std::string>();
  for (const nlohmann::json& timing : json.at("timings_ms")) {
    layer.timings_ms.emplace_back(timing.at(0).get<std::string>(), timing.at(1).get<double>());
  }
  layer.cached = true;
  return layer;
}

nlohmann::json layer_json(const TunedLayer& layer) {
  nlohmann::json timings = nlohmann::json::array();
  for (const auto& [name, ms] : layer.timings_ms) timings.push_back({name, ms});
  return {{"implementation", layer.implementation}, {"timings_ms", timings}};
}

// The file's contents, or an empty cache (with `problem` set when the file exists but cannot be used).
nlohmann::json read_cache_file(const std::filesystem::path& file, std::string* problem) {
  std::error_code error;
  if (!std::filesystem::exists(file, error)) return nlohmann::json::object();
  try {
    nlohmann::json json = nlohmann::json::parse(read_file(file));
    if (!json.is_object() || json.value("format", 0) != kFormat || !json.contains("machines") ||
        !json["machines"].is_object()) {
      *problem = fmt::format("not a format-{} tuning cache", kFormat);
      return nlohmann::json::object();
    }
    return json;
  } catch (const std::exception& failure) {
    *problem = failure.what();
    return nlohmann::json::object();
  }
}

}  // namespace

TuningCache::TuningCache(std::filesystem::path file) : file_(std::move(file)) {
  std::string problem;
  nlohmann::json json = read_cache_file(file_, &problem);
  if (!problem.empty()) {
    spdlog::warn("ignoring the tuning cache {} ({}); layers are measured again and the file rewritten",
                 file_.string(), problem);
    return;
  }
  if (!json.contains("machines") || !json["machines"].contains(tuning_machine())) return;
  for (const auto& [key, entry] : json["machines"][tuning_machine()].items()) {
    try {
      entries_[key] = layer_from_json(entry);
    } catch (const nlohmann::json::exception&) {
      spdlog::warn("ignoring a malformed entry of the tuning cache {}", file_.string());
    }
  }
}

std::optional<TunedLayer> TuningCache::find(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto found = entries_.find(key);
  if (found == entries_.end()) return std::nullopt;
  return found->second;
}

size_t TuningCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void TuningCache::store(const std::string& key, const TunedLayer& layer) {
  std::lock_guard lock(mutex_);
  TunedLayer stored = layer;
  stored.cached = true;  // as the next lookup will see it
  entries_[key] = stored;
  unsaved_[key] = stored;
}

void TuningCache::save() {
  std::lock_guard lock(mutex_);
  if (unsaved_.empty()) return;
  std::string problem;
  nlohmann::json json = read_cache_file(file_, &problem);
  if (!json.contains("machines")) json = {{"format", kFormat}, {"machines", nlohmann::json::object()}};
  nlohmann::json& mine = json["machines"][tuning_machine()];
  for (const auto& [key, layer] : unsaved_) mine[key] = layer_json(layer);
  try {
    std::filesystem::create_directories(file_.parent_path());
    write_file_atomic(file_, json.dump(1));
    unsaved_.clear();
  } catch (const std::exception& failure) {
    if (!warned_) {
      spdlog::warn("cannot write the tuning cache {} ({}); the next compile measures again", file_.string(),
                   failure.what());
      warned_ = true;
    }
  }
}

std::filesystem::path default_tuning_file() {
  const char* cache_home = std::getenv("XDG_CACHE_HOME");
  if (cache_home != nullptr && *cache_home != '\0') return std::filesystem::path(cache_home) / "nacc" / "tuning.json";
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') return std::filesystem::path(home) / ".cache" / "nacc" / "tuning.json";
  return std::filesystem::temp_directory_path() / "nacc" / "tuning.json";
}

std::string tuning_machine() {
  const CpuInfo& cpu = cpu_info();
  return fmt::format("{} | {} | oneDNN {}", cpu.model, cpu.isa, cpu.onednn_version);
}

TuningCache& tuning_cache(const std::filesystem::path& file) {
  static std::mutex mutex;
  static std::map<std::filesystem::path, std::unique_ptr<TuningCache>> caches;
  std::filesystem::path path = file.empty() ? default_tuning_file() : file;
  std::lock_guard lock(mutex);
  std::unique_ptr<TuningCache>& cache = caches[path];
  if (!cache) cache = std::make_unique<TuningCache>(path);
  return *cache;
}

namespace {

// Implementations the tuner never takes: reference ones, kOverrunningKernel, and brgconv_1x1 on AMX, which gets a sum
// post-op wrong for an s8 destination (src/runtime/lower_int8.cc).
bool skip_implementation(const std::string& name, const TuningRequest& request) {
  if (name.rfind("ref", 0) == 0 || name == kOverrunningKernel) return true;
  if (name.rfind("brgconv_1x1:avx512_core_amx", 0) == 0) return true;
  if (!request.int8) return false;
  // On a CPU with VNNI or AMX the INT8 kernels of older instruction sets add products in pairs in 16 bits, which
  // saturates on real weights (weights are halved for that only on CPUs without VNNI), and gemm may do the same.
  // On a CPU without VNNI the kernels of its own instruction set compute what the rules' choice computes.
  const CpuInfo& cpu = cpu_info();
  size_t colon = name.find(':');
  std::string isa = colon == std::string::npos ? "" : name.substr(colon + 1);
  if (!cpu.int8_saturates) return isa.find("vnni") == std::string::npos && isa.find("amx") == std::string::npos;
  return !isa.starts_with(cpu.int8_isa);
}

// The same dimensions, row-major, of the type given (the desc's own by default).
memory::desc row_major(const memory::desc& desc, std::optional<memory::data_type> type = std::nullopt) {
  memory::dims dims = desc.dims();
  memory::dims strides(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * dims[i + 1];
  return memory::desc(dims, type.value_or(desc.data_type()), strides);
}

bool is_float(memory::data_type type) {
  return type == memory::data_type::f32 || type == memory::data_type::bf16 || type == memory::data_type::f16;
}

// Fills `target` with values of its type from `random` (u8 [0, 64), s8 [-16, 16], s32 [-100, 100], floating point
// [-1, 1]), through a plain copy (f32 for any floating-point type) and a reorder, so that blocked layouts keep their
// padding at zero.
void fill(const dnnl::engine& engine, dnnl::stream& stream, memory& target, std::mt19937& random) {
  memory::desc desc = target.get_desc();
  memory::desc plain = is_float(desc.data_type()) ? row_major(desc, memory::data_type::f32) : row_major(desc);
  memory source(plain, engine);
  size_t count = plain.get_size() / memory::data_type_size(plain.data_type());
  // xorshift64: the activations of a large layer hold tens of millions of values.
  uint64_t state = (uint64_t{random()} << 32) | random() | 1;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<uint32_t>(state >> 32);
  };
  switch (plain.data_type()) {
    case memory::data_type::u8: {
      auto* data = static_cast<uint8_t*>(source.get_data_handle());
      for (size_t i = 0; i < count; ++i) data[i] = static_cast<uint8_t>(next() % 64);
      break;
    }
    case memory::data_type::s8: {
      auto* data = static_cast<int8_t*>(source.get_data_handle());
      for (size_t i = 0; i < count; ++i) data[i] = static_cast<int8_t>(static_cast<int>(next() % 33) - 16);
      break;
    }
    case memory::data_type::s32: {
      auto* data = static_cast<int32_t*>(source.get_data_handle());
      for (size_t i = 0; i < count; ++i) data[i] = static_cast<int32_t>(next() % 201) - 100;
      break;
    }
    default: {
      auto* data = static_cast<float*>(source.get_data_handle());
      for (size_t i = 0; i < count; ++i) data[i] = static_cast<float>(next()) * (2.0f / 4294967296.0f) - 1.0f;
      break;
    }
  }
  dnnl::reorder(source, target).execute(stream, source, target);
  stream.wait();
}

// A row-major f32 copy of a floating-point memory.
memory as_f32(const dnnl::engine& engine, dnnl::stream& stream, const memory& source) {
  memory result(row_major(source.get_desc(), memory::data_type::f32), engine);
  dnnl::reorder(source, result).execute(stream, const_cast<memory&>(source), result);
  stream.wait();
  return result;
}

// Whether two destinations agree, compared in f32: integers within one step, f32 within 1e-4 of the reference's
// largest magnitude, bf16 and f16 (rounded to 8 or 11 bits) within 2e-2 of it.
bool same_output(const dnnl::engine& engine, dnnl::stream& stream, const memory& reference, const memory& candidate) {
  memory::data_type type = reference.get_desc().data_type();
  memory x = as_f32(engine, stream, reference), y = as_f32(engine, stream, candidate);
  const auto* a = static_cast<const float*>(x.get_data_handle());
  const auto* b = static_cast<const float*>(y.get_data_handle());
  size_t count = x.get_desc().get_size() / sizeof(float);
  float largest = 0;
  for (size_t i = 0; i < count; ++i) largest = std::max(largest, std::abs(a[i]));
  float tolerance = !is_float(type)                 ? 1.0f
                    : type == memory::data_type::f32 ? 1e-4f * std::max(largest, 1.0f)
                                                     : 2e-2f * std::max(largest, 1.0f);
  for (size_t i = 0; i < count; ++i) {
    if (!(std::abs(a[i] - b[i]) <= tolerance)) return false;
  }
  return true;
}

// The arguments every candidate shares (source, bias, extra operands, the destination's starting contents), filled
// once, and each candidate's own weights (its layout) and scratchpad.
struct Workspace {
  explicit Workspace(const dnnl::engine& engine) : engine(engine), stream(engine) {}
  dnnl::engine engine;  // the primitives' own
  dnnl::stream stream;
  std::mt19937 random{12345};
  std::unordered_map<int, memory> shared;
  memory start;  // the destination's contents before a run (a sum post-op reads them)
  memory plain_weights;
};

std::unordered_map<int, memory> arguments_for(Workspace& space, const dnnl::primitive_desc_base& candidate) {
  std::unordered_map<int, memory> arguments = space.shared;
  memory weights(candidate.weights_desc(), space.engine);
  dnnl::reorder(space.plain_weights, weights).execute(space.stream, space.plain_weights, weights);
  space.stream.wait();
  arguments[DNNL_ARG_WEIGHTS] = weights;
  if (candidate.scratchpad_desc().get_size() > 0) {
    arguments[DNNL_ARG_SCRATCHPAD] = memory(candidate.scratchpad_desc(), space.engine);
  }
  arguments[DNNL_ARG_DST] = memory(candidate.dst_desc(), space.engine);
  return arguments;
}

void reset_destination(const Workspace& space, memory& destination) {
  std::memcpy(destination.get_data_handle(), space.start.get_data_handle(), space.start.get_desc().get_size());
}

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// The median time of a run in ms, after the first (checked) run; stops early for a candidate far slower than
// `best_ms`.
double time_runs(Workspace& space, dnnl::primitive& primitive, std::unordered_map<int, memory>& arguments,
                 double best_ms) {
  std::vector<double> times;
  double total = 0;
  while (times.size() < 3 || (times.size() < 15 && total < 20.0)) {
    auto start = Clock::now();
    primitive.execute(space.stream, arguments);
    space.stream.wait();
    double ms = elapsed_ms(start);
    times.push_back(ms);
    total += ms;
    if (ms > 3 * best_ms) break;  // no chance
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Every implementation oneDNN offers for `rules`' operation, attributes and engine with its source and destination in
// `rules`' layouts (asked for as `any`, other implementations would choose layouts of their own), in oneDNN's order.
std::vector<dnnl::primitive_desc_base> offered(const dnnl::primitive_desc_base& rules) {
  const_dnnl_op_desc_t operation = nullptr;
  if (dnnl_primitive_desc_query(rules.get(), dnnl_query_op_d, 0, &operation) != dnnl_success) return {};
  dnnl_convolution_desc_t convolution;
  dnnl_inner_product_desc_t inner_product;
  const_dnnl_op_desc_t fixed = nullptr;
  if (rules.get_kind() == dnnl::primitive::kind::convolution) {
    convolution = *static_cast<const dnnl_convolution_desc_t*>(operation);
    convolution.src_desc = rules.src_desc().data;
    convolution.dst_desc = rules.dst_desc().data;
    fixed = &convolution;
  } else if (rules.get_kind() == dnnl::primitive::kind::inner_product) {
    inner_product = *static_cast<const dnnl_inner_product_desc_t*>(operation);
    inner_product.src_desc = rules.src_desc().data;
    inner_product.dst_desc = rules.dst_desc().data;
    fixed = &inner_product;
  } else {
    return {};
  }
  const_dnnl_primitive_attr_t attributes = nullptr;
  dnnl_engine_t engine = nullptr;
  if (dnnl_primitive_desc_get_attr(rules.get(), &attributes) != dnnl_success ||
      dnnl_primitive_desc_query(rules.get(), dnnl_query_engine, 0, &engine) != dnnl_success) {
    return {};
  }
  dnnl_primitive_desc_iterator_t iterator = nullptr;
  if (dnnl_primitive_desc_iterator_create(&iterator, fixed, attributes, engine, nullptr) != dnnl_success) return {};
  std::vector<dnnl::primitive_desc_base> result;
  do {
    if (dnnl_primitive_desc_t descriptor = dnnl_primitive_desc_iterator_fetch(iterator)) result.emplace_back(descriptor);
  } while (dnnl_primitive_desc_iterator_next(iterator) == dnnl_success);
  dnnl_primitive_desc_iterator_destroy(iterator);
  return result;
}

// Runs and times every candidate (the first is the rules' choice) on the same data and returns the index of the
// one to take; fills tuned->timings_ms.
size_t measure_candidates(const std::vector<dnnl::primitive_desc_base>& candidates, const TuningRequest& request,
                          TunedLayer* tuned) {
  memory::desc source = candidates[0].src_desc();
  memory::desc destination = candidates[0].dst_desc();
  CallerScope scope(request.threads, -1);
  Workspace space(candidates[0].get_engine());
  for (const auto& [argument, desc] : std::vector<std::pair<int, memory::desc>>{
           {DNNL_ARG_SRC, source}, {DNNL_ARG_BIAS, candidates[0].weights_desc(1)}}) {
    if (desc.get_size() == 0) continue;
    space.shared[argument] = memory(desc, space.engine);
    fill(space.engine, space.stream, space.shared[argument], space.random);
  }
  for (const ExtraArgument& extra : request.extra) {
    space.shared[extra.argument] = memory(extra.desc, space.engine);
    fill(space.engine, space.stream, space.shared[extra.argument], space.random);
  }
  space.plain_weights = memory(row_major(candidates[0].weights_desc()), space.engine);
  fill(space.engine, space.stream, space.plain_weights, space.random);
  space.start = memory(destination, space.engine);
  fill(space.engine, space.stream, space.start, space.random);

  memory reference_output;
  double best_ms = 1e30;
  size_t best = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    std::string name = candidates[i].impl_info_str();
    try {
      dnnl::primitive primitive(candidates[i].get());
      std::unordered_map<int, memory> arguments = arguments_for(space, candidates[i]);
      // The first run checks the result and warms up (it touches every page); a candidate it shows several times
      // slower than the best (gemm or an older instruction set on a large layer) is not timed further.
      reset_destination(space, arguments[DNNL_ARG_DST]);
      auto start = Clock::now();
      primitive.execute(space.stream, arguments);
      space.stream.wait();
      double first_ms = elapsed_ms(start);
      if (i == 0) {  // a copy: the timed runs below write the destination again
        reference_output = memory(destination, space.engine);
        std::memcpy(reference_output.get_data_handle(), arguments[DNNL_ARG_DST].get_data_handle(),
                    destination.get_size());
      } else if (!same_output(space.engine, space.stream, reference_output, arguments[DNNL_ARG_DST])) {
        spdlog::debug("tuning {}: {} computes another result than {}; not used", request.key, name,
                      tuned->implementation);
        tuned->timings_ms.emplace_back(name, -1.0);
        continue;
      }
      double ms = first_ms > 1.0 && first_ms > 5 * best_ms ? first_ms : time_runs(space, primitive, arguments, best_ms);
      tuned->timings_ms.emplace_back(name, ms);
      // Another implementation must be faster by more than the timing's noise to replace the rules' choice.
      if (i == 0 || ms < 0.97 * best_ms) {
        best_ms = ms;
        best = i;
      }
    } catch (const dnnl::error& failure) {
      if (i == 0) throw;  // the rules' choice itself cannot run: the caller's own fallback applies
      spdlog::debug("tuning {}: {} failed ({})", request.key, name, failure.what());
    }
  }
  return best;
}

}  // namespace

dnnl::primitive_desc_base tune_implementation(const dnnl::primitive_desc_base& descriptor, const TuningRequest& request,
                                              TuningCache& cache, TunedLayer* tuned) {
  // The candidates: the current implementation (the rules' choice) first.
  std::vector<dnnl::primitive_desc_base> candidates;
  memory::desc source = descriptor.src_desc();
  memory::desc destination = descriptor.dst_desc();
  {
    dnnl_primitive_desc_t clone = nullptr;
    dnnl::error::wrap_c_api(dnnl_primitive_desc_clone(&clone, descriptor.get()), "could not clone a descriptor");
    candidates.emplace_back(clone);
  }
  for (dnnl::primitive_desc_base& other : offered(candidates[0])) {
    std::string name = other.impl_info_str();
    if (skip_implementation(name, request) || other.src_desc() != source || other.dst_desc() != destination) continue;
    bool seen = std::any_of(candidates.begin(), candidates.end(),
                            [&](const dnnl::primitive_desc_base& c) { return name == c.impl_info_str(); });
    if (!seen) candidates.push_back(other);
  }
  if (std::optional<TunedLayer> known = cache.find(request.key)) {
    // A cached choice holds while oneDNN still offers it (the same machine and version offer the same list).
    for (const dnnl::primitive_desc_base& candidate : candidates) {
      if (known->implementation == candidate.impl_info_str()) {
        *tuned = *known;
        return candidate;
      }
    }
  }
  *tuned = TunedLayer{candidates[0].impl_info_str(), {}, false};
  if (candidates.size() == 1) return candidates[0];  // nothing to choose (and nothing worth caching)

  // On a thread of its own, like compile_graph: the measurements' parallel regions would otherwise leave an OpenMP
  // pool on the compiling thread (runtime.h, run_on_own_thread).
  size_t best = result_on_own_thread([&] { return measure_candidates(candidates, request, tuned); });
  tuned->implementation = candidates[best].impl_info_str();
  cache.store(request.key, *tuned);
  return candidates[best];
}

std::string describe_tuning(const TunedLayer& layer) {
  std::vector<std::pair<std::string, double>> timings = layer.timings_ms;
  std::stable_sort(timings.begin(), timings.end(), [](const auto& a, const auto& b) {
    return (a.second < 0 ? 1e30 : a.second) < (b.second < 0 ? 1e30 : b.second);
  });
  std::string rules = layer.timings_ms.empty() ? "" : layer.timings_ms.front().first;
  std::string text;
  for (const auto& [name, ms] : timings) {
    if (!text.empty()) text += ", ";
    text += ms < 0 ? fmt::format("{} differs, refused", name) : fmt::format("{} {:.4f} ms", name, ms);
    if (name == layer.implementation && name == rules) {
      text += " (chosen, the rules' choice)";
    } else if (name == layer.implementation) {
      text += " (chosen)";
    } else if (name == rules) {
      text += " (the rules' choice)";
    }
  }
  return text + (layer.cached ? " [cached]" : "");
}

}  // namespace nacc::runtime
