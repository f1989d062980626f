#include "cli/search_data.h"

#include "core/error.h"
#include "onnx/onnx.h"

namespace nacc::cli {

namespace {

bool has_splits(const std::string& data) { return data == "fashion-mnist" || data == "cifar10"; }

}  // namespace

std::string split_of(const std::string& data, const std::string& split) {
  return has_splits(data) ? data + ":" + split : data;
}

SearchData load_search_data(const std::string& baseline, const std::string& data, const std::string& validation_data) {
  SearchData loaded;
  loaded.baseline = import_onnx_file(baseline);
  loaded.preprocess = data::model_preprocess(loaded.baseline.get_metadata("nacc.preprocess"), data);
  const Graph& graph = loaded.baseline;
  const Shape& input = graph.value(graph.inputs[0]).shape;
  Shape sample(input.begin() + 1, input.end());
  loaded.validation_spec = validation_data.empty() ? split_of(data, "val") : validation_data;
  if (loaded.validation_spec == split_of(data, "train")) {
    fail("expected validation data for {} (--val-data), which has no val split of its own", data);
  }
  loaded.training = data::load_dataset_as(split_of(data, "train"), sample, loaded.preprocess.resize);
  if (loaded.training.sample_shape() != sample) {
    fail("expected data of the baseline's input shape {}, but {} has samples of shape {}", shape_to_string(sample),
         loaded.training.name, shape_to_string(loaded.training.sample_shape()));
  }
  loaded.validation = data::load_dataset_as(loaded.validation_spec, sample, loaded.preprocess.resize);
  loaded.classes = graph.value(graph.outputs[0]).shape.back();
  if (loaded.classes != loaded.training.classes) {
    fail("expected a baseline with {} classes for {}, but it has {} outputs", loaded.training.classes,
         loaded.training.name, loaded.classes);
  }
  return loaded;
}

std::optional<data::ImageDataset> load_test_data(const SearchData& loaded, const std::string& data,
                                                 const std::string& test_data) {
  if (test_data.empty() && !has_splits(data)) return std::nullopt;
  std::string spec = test_data.empty() ? data + ":test" : test_data;
  return data::load_dataset_as(spec, loaded.training.sample_shape(), loaded.preprocess.resize);
}

}  // namespace nacc::cli
