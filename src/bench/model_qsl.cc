#include <fmt/format.h>

#include "bench/bench.h"
#include "core/error.h"
#include "core/rng.h"

namespace nacc::bench {

ModelQsl::ModelQsl(data::ImageDataset dataset, data::Preprocess preprocess)
    : name_(dataset.name),
      sample_shape_(dataset.sample_shape()),
      total_(static_cast<size_t>(dataset.size())),
      dataset_(std::move(dataset)),
      preprocess_(std::move(preprocess)) {
  if (preprocess_.mean.size() != 1 && static_cast<int64_t>(preprocess_.mean.size()) != dataset_->channels) {
    fail("expected preprocessing with 1 or {} channel means, but found {}", dataset_->channels, preprocess_.mean.size());
  }
}

ModelQsl::ModelQsl(Shape sample_shape, size_t count, uint64_t seed)
    : name_(fmt::format("generated {} (seed {})", shape_to_string(sample_shape), seed)),
      sample_shape_(std::move(sample_shape)),
      total_(count),
      seed_(seed) {}

size_t ModelQsl::performance_sample_count() const {
  size_t sample_bytes = static_cast<size_t>(shape_elements(sample_shape_)) * sizeof(float);
  size_t fitting = std::max<size_t>(16, (size_t{256} << 20) / std::max<size_t>(sample_bytes, 1));
  return std::min(total_, fitting);
}

void ModelQsl::load_samples(std::span<const size_t> indices) {
  size_t elements = static_cast<size_t>(shape_elements(sample_shape_));
  for (size_t index : indices) {
    NACC_CHECK(index < total_);
    std::vector<float>& values = loaded_[index];
    if (!values.empty()) continue;
    values.resize(elements);
    if (dataset_) {
      data::preprocess_sample(*dataset_, static_cast<int64_t>(index), preprocess_, values.data());
    } else {
      Rng rng(derive_seed(seed_, seed_concern::kInput) + index);
      for (float& value : values) value = static_cast<float>(rng.normal());
    }
  }
}

void ModelQsl::unload_samples(std::span<const size_t> indices) {
  for (size_t index : indices) loaded_.erase(index);
}

const float* ModelQsl::sample(size_t index) const {
  auto found = loaded_.find(index);
  NACC_CHECK(found != loaded_.end(), "sample {} used but not loaded", index);
  return found->second.data();
}

}  // namespace nacc::bench
