// The data part: labelled image data sets held in memory as u8 pixels (NCHW), and the preprocessing that turns a
// sample into the f32 tensor a model expects. Fashion-MNIST (the default, from the Debian package
// dataset-fashion-mnist) is read from its IDX .gz files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <cstddef>

namespace nacc::data {

struct ImageDataset {
  std::string name;  // e.g. "fashion-mnist:test"
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  int64_t classes = 0;
  std::vector<uint8_t> pixels;  // size() x channels x height x width
  std::vector<int64_t> labels;  // one per sample

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t sample_elements() const { return channels * height * width; }
  std::vector<int64_t> sample_shape() const { return {channels, height, width}; }
};

// x -> (x * scale - mean[c]) / std[c], per channel; for image folders also how a file becomes a sample.
struct Preprocess {
  float scale = 1.0f / 255.0f;
  std::vector<float> mean = {0.0f};
  std::vector<float> std = {1.0f};
  // Image folders: "imagenet" (shorter side to size / 0.875, centred crop: MLPerf's ResNet-50), "stretch" (resized
  // to the model's size, or taken as is at that size); empty: not recorded (default_resize then decides).
  std::string resize;

  // Parses the JSON stored in a model's `nacc.preprocess` metadata; throws nacc::Error if malformed.
  static Preprocess from_json(std::string_view text);
  std::string to_json() const;
};

// Fashion-MNIST's statistics over its training images.
Preprocess fashion_mnist_preprocess();

// Writes sample `index` preprocessed into `out` (sample_elements() floats).
void preprocess_sample(const ImageDataset& dataset, int64_t index, const Preprocess& preprocess, float* out);

// A batch: the samples `indices` (or [first, first + count)) preprocessed one after another into `out`
// (indices.size() * sample_elements() floats, the layout of an [N, C, H, W] tensor). How every part feeds a data set
// to a graph: evaluation, calibration, BatchNorm re-estimation, recorded features, block training.
void preprocess_samples(const ImageDataset& dataset, std::span<const int64_t> indices, const Preprocess& preprocess,
                        float* out);
void preprocess_samples(const ImageDataset& dataset, int64_t first, int64_t count, const Preprocess& preprocess,
                        float* out);

// `count` indices spread evenly over a data set of `size` samples (i * size / count): a fixed stride, so that a
// small subset mixes the classes. The calibration images of quantization and of the search.
std::vector<int64_t> spread_indices(int64_t count, int64_t size);

// A data set by name:
//   fashion-mnist:train (55,000 images), fashion-mnist:val (5,000 held out of train with a fixed seed),
//   fashion-mnist:test (10,000): from `folder`, $NACC_FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist;
//   cifar10:train (45,000), cifar10:val (5,000 held out of train with a fixed seed), cifar10:test (10,000):
//   CIFAR-10's binary files, from `folder` or $NACC_CIFAR10_DIR;
//   folder:PATH: an image folder as default_reading() says (load_dataset_as reads it at a model's shape).
// Throws nacc::Error naming the package or layout when missing.
ImageDataset load_dataset(std::string_view spec, const std::filesystem::path& folder = {});

// CIFAR-10 binary batches (split "train": all 50,000 training images, or "test").
ImageDataset load_cifar10(std::string_view split, const std::filesystem::path& folder);
Preprocess cifar10_preprocess();

// What an image folder (one sub-folder per class, sorted by name = label 0, 1, ...; JPEG / PNG files) holds, from its
// first 32 images per class: grey when all are, their common size (0 when they differ); `images` counts every file.
struct FolderSummary {
  int64_t channels = 3;
  int64_t height = 0;
  int64_t width = 0;
  int64_t images = 0;
  int64_t classes = 0;
};
FolderSummary inspect_image_folder(const std::filesystem::path& root);

// How a folder's images become samples of [channels, height, width]: grey (1) or RGB (3), resized `resize`'s way.
struct ImageReading {
  int64_t channels = 3;
  int64_t height = 224;
  int64_t width = 224;
  std::string resize = "imagenet";
};
// The reading that fits a folder for a new model: photographs (colour, at least 128 pixels a side, or of different
// sizes) as ImageNet's 3x224x224 crop; anything else at its own channel count and size, as is.
ImageReading default_reading(const FolderSummary& folder);
// The resize for a model input of [channels, height, width] when the model does not record one.
std::string default_resize(int64_t channels, int64_t height, int64_t width);

// Reads every image as `reading` says. Throws nacc::Error naming the file that cannot be decoded.
ImageDataset load_image_folder(const std::filesystem::path& root, const ImageReading& reading = {});
// MLPerf's ResNet-50 mean subtraction (scale 1, per-channel means, no division).
Preprocess imagenet_preprocess();
// The preprocessing a new model of a folder's images gets: ImageNet's for "imagenet" readings, else scale 1/255 and
// the per-channel mean and deviation measured over `training`.
Preprocess folder_preprocess(const ImageDataset& training, const std::string& resize);

// A data set by spec (load_dataset), an image folder read as samples of `sample_shape` ([C, H, W]) with `resize`
// (empty: default_resize); an empty sample_shape reads a folder as default_reading() says.
ImageDataset load_dataset_as(std::string_view spec, const std::vector<int64_t>& sample_shape, const std::string& resize = "");
// The default preprocessing of a data set spec.
Preprocess default_preprocess(std::string_view spec);
// A model's preprocessing: its `nacc.preprocess` metadata (`stored`) if it has one, else the data set's default.
Preprocess model_preprocess(const std::string& stored, std::string_view spec);

// Reads an IDX images file (magic 0x803) and labels file (magic 0x801), gzip-compressed or not.
ImageDataset read_idx_pair(const std::filesystem::path& images, const std::filesystem::path& labels);

}  // namespace nacc::data
