// Image folders: one sub-folder per class of JPEG or PNG files. A folder is read at the shape a model takes:
// grey or RGB, and either "imagenet" (MLPerf's ResNet-50 preprocessing: resize so the shorter side is size / 0.875
// keeping the aspect ratio, INTER_AREA, then the centred crop) or "stretch" (resized to the model's size with
// INTER_AREA, or taken as is when it has that size: 28x28 digits stay 28x28). The mean and deviation are the
// Preprocess's.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "data/dataset.h"

namespace nacc::data {

namespace {

constexpr int64_t kPhotographSide = 128;  // images at least this large on both sides count as photographs
constexpr size_t kInspectedPerClass = 32;  // inspect_image_folder decodes this many images of each class

struct FolderFiles {
  std::vector<std::filesystem::path> classes;
  std::vector<std::vector<std::filesystem::path>> files;  // per class, sorted
};

FolderFiles list_files(const std::filesystem::path& root) {
  std::error_code error;
  if (!std::filesystem::is_directory(root, error)) {
    fail("expected an image folder '{}' with one sub-folder of JPEG/PNG images per class, but it does not exist",
         root.string());
  }
  FolderFiles listing;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (entry.is_directory()) listing.classes.push_back(entry.path());
  }
  std::sort(listing.classes.begin(), listing.classes.end());
  if (listing.classes.empty()) fail("expected one sub-folder per class in '{}', but found none", root.string());
  int64_t total = 0;
  for (const std::filesystem::path& folder : listing.classes) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
      std::string extension = entry.path().extension().string();
      std::transform(extension.begin(), extension.end(), extension.begin(), [](unsigned char c) { return std::tolower(c); });
      if (extension == ".jpg" || extension == ".jpeg" || extension == ".png") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    total += static_cast<int64_t>(files.size());
    listing.files.push_back(std::move(files));
  }
  if (total == 0) fail("expected JPEG or PNG images in the class folders of '{}', but found none", root.string());
  return listing;
}

cv::Mat read_image(const std::filesystem::path& file, int flags) {
  cv::Mat image = cv::imread(file.string(), flags);
  if (image.empty()) fail("expected a JPEG or PNG image, but '{}' cannot be decoded", file.string());
  return image;
}

// The image as `reading` wants it, h x w, 1 or 3 channels (RGB order).
cv::Mat shape_image(const cv::Mat& image, const ImageReading& reading) {
  int height = static_cast<int>(reading.height), width = static_cast<int>(reading.width);
  cv::Mat sized;
  if (image.rows == height && image.cols == width) {
    sized = image;
  } else if (reading.resize == "imagenet") {
    double side = static_cast<double>(std::min(height, width)) / 0.875;
    double scale = side / std::min(image.rows, image.cols);
    cv::Mat resized;
    cv::resize(image, resized,
               cv::Size(std::max(width, static_cast<int>(std::lround(image.cols * scale))),
                        std::max(height, static_cast<int>(std::lround(image.rows * scale)))),
               0, 0, cv::INTER_AREA);
    int top = (resized.rows - height) / 2, left = (resized.cols - width) / 2;
    sized = resized(cv::Rect(left, top, width, height));
  } else {
    cv::resize(image, sized, cv::Size(width, height), 0, 0, cv::INTER_AREA);
  }
  if (reading.channels == 1) return sized;
  cv::Mat rgb;
  cv::cvtColor(sized, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

}  // namespace

FolderSummary inspect_image_folder(const std::filesystem::path& root) {
  FolderFiles listing = list_files(root);
  FolderSummary summary;
  summary.classes = static_cast<int64_t>(listing.classes.size());
  bool grey = true, first = true;
  for (const auto& files : listing.files) {
    for (size_t i = 0; i < files.size() && i < kInspectedPerClass; ++i) {
      const std::filesystem::path& file = files[i];
      // IMREAD_UNCHANGED keeps the file's own channel count (1 for grey PNGs and JPEGs).
      cv::Mat image = read_image(file, cv::IMREAD_UNCHANGED);
      grey = grey && image.channels() == 1;
      if (first) {
        summary.height = image.rows;
        summary.width = image.cols;
        first = false;
      } else if (summary.height != image.rows || summary.width != image.cols) {
        summary.height = summary.width = 0;
      }
    }
    summary.images += static_cast<int64_t>(files.size());
  }
  summary.channels = grey ? 1 : 3;
  return summary;
}

ImageReading default_reading(const FolderSummary& folder) {
  bool photographs = folder.height == 0 || (folder.channels == 3 && folder.height >= kPhotographSide &&
                                            folder.width >= kPhotographSide);
  if (photographs) return ImageReading{3, 224, 224, "imagenet"};
  return ImageReading{folder.channels, folder.height, folder.width, "stretch"};
}

std::string default_resize(int64_t channels, int64_t height, int64_t width) {
  return channels == 3 && height >= kPhotographSide && width >= kPhotographSide ? "imagenet" : "stretch";
}

ImageDataset load_image_folder(const std::filesystem::path& root, const ImageReading& reading) {
  if (reading.channels != 1 && reading.channels != 3) {
    fail("expected images of 1 (grey) or 3 (RGB) channels, but the model takes {}", reading.channels);
  }
  if (reading.height < 1 || reading.width < 1) {
    fail("expected an image size >= 1x1, but found {}x{}", reading.height, reading.width);
  }
  if (reading.resize != "imagenet" && reading.resize != "stretch") {
    fail("expected the resize 'imagenet' or 'stretch', but found '{}'", reading.resize);
  }
  FolderFiles listing = list_files(root);
  ImageDataset dataset;
  dataset.name = "folder:" + root.string();
  dataset.channels = reading.channels;
  dataset.height = reading.height;
  dataset.width = reading.width;
  dataset.classes = static_cast<int64_t>(listing.classes.size());
  int64_t elements = dataset.sample_elements();
  int flags = reading.channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR;
  for (size_t label = 0; label < listing.files.size(); ++label) {
    for (const std::filesystem::path& file : listing.files[label]) {
      cv::Mat image = shape_image(read_image(file, flags), reading);
      // HWC -> CHW
      size_t base = dataset.pixels.size();
      dataset.pixels.resize(base + static_cast<size_t>(elements));
      int64_t plane = reading.height * reading.width;
      for (int y = 0; y < image.rows; ++y) {
        const uint8_t* row = image.ptr<uint8_t>(y);
        for (int x = 0; x < image.cols; ++x) {
          for (int64_t c = 0; c < reading.channels; ++c) {
            dataset.pixels[base + static_cast<size_t>(c * plane + y * reading.width + x)] = row[x * reading.channels + c];
          }
        }
      }
      dataset.labels.push_back(static_cast<int64_t>(label));
    }
  }
  return dataset;
}

Preprocess imagenet_preprocess() { return Preprocess{1.0f, {123.68f, 116.78f, 103.94f}, {1.0f, 1.0f, 1.0f}, "imagenet"}; }

Preprocess folder_preprocess(const ImageDataset& training, const std::string& resize) {
  if (resize == "imagenet") return imagenet_preprocess();
  Preprocess preprocess{1.0f / 255.0f, {}, {}, resize};
  int64_t plane = training.height * training.width;
  for (int64_t c = 0; c < training.channels; ++c) {
    double sum = 0, squares = 0;
    for (int64_t n = 0; n < training.size(); ++n) {
      const uint8_t* pixels = training.pixels.data() + n * training.sample_elements() + c * plane;
      for (int64_t i = 0; i < plane; ++i) {
        double value = pixels[i] / 255.0;
        sum += value;
        squares += value * value;
      }
    }
    double count = static_cast<double>(std::max<int64_t>(1, training.size() * plane));
    double mean = sum / count;
    double deviation = std::sqrt(std::max(squares / count - mean * mean, 0.0));
    preprocess.mean.push_back(static_cast<float>(mean));
    preprocess.std.push_back(static_cast<float>(std::max(deviation, 1e-3)));
  }
  return preprocess;
}

ImageDataset load_dataset_as(std::string_view spec, const std::vector<int64_t>& sample_shape, const std::string& resize) {
  if (!spec.starts_with("folder:")) return load_dataset(spec);
  std::filesystem::path root(std::string(spec.substr(7)));
  ImageReading reading;
  if (sample_shape.empty()) {
    reading = default_reading(inspect_image_folder(root));
  } else {
    if (sample_shape.size() != 3) {
      fail("expected a model input of [N, C, H, W] to read images into, but it is [N, {}]",
           fmt::join(sample_shape, ", "));
    }
    reading = ImageReading{sample_shape[0], sample_shape[1], sample_shape[2],
                           resize.empty() ? default_resize(sample_shape[0], sample_shape[1], sample_shape[2]) : resize};
  }
  ImageDataset dataset = load_image_folder(root, reading);
  dataset.name = std::string(spec);
  return dataset;
}

}  // namespace nacc::data
