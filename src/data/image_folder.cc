// Image folders (one sub-folder per class, JPEG or PNG files) with MLPerf's ResNet-50 preprocessing: resize so the
// shorter side is size / 0.875 keeping the aspect ratio (INTER_AREA), take the centred size x size crop, RGB order;
// the mean subtraction is the Preprocess (scale 1, ImageNet's channel means, deviation 1).
#include <fmt/format.h>

#include <algorithm>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "data/dataset.h"

namespace nacc::data {

ImageDataset load_image_folder(const std::filesystem::path& root, int64_t size) {
  std::error_code error;
  if (!std::filesystem::is_directory(root, error)) {
    fail("expected an image folder '{}' with one sub-folder of JPEG/PNG images per class, but it does not exist",
         root.string());
  }
  if (size < 1) fail("expected an image size >= 1, but found {}", size);
  std::vector<std::filesystem::path> classes;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (entry.is_directory()) classes.push_back(entry.path());
  }
  std::sort(classes.begin(), classes.end());
  if (classes.empty()) fail("expected one sub-folder per class in '{}', but found none", root.string());
  ImageDataset dataset;
  dataset.name = "folder:" + root.string();
  dataset.channels = 3;
  dataset.height = dataset.width = size;
  dataset.classes = static_cast<int64_t>(classes.size());
  int64_t resized_short_side = static_cast<int64_t>(static_cast<double>(size) / 0.875);
  for (size_t label = 0; label < classes.size(); ++label) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(classes[label])) {
      std::string extension = entry.path().extension().string();
      std::transform(extension.begin(), extension.end(), extension.begin(), [](unsigned char c) { return std::tolower(c); });
      if (extension == ".jpg" || extension == ".jpeg" || extension == ".png") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const std::filesystem::path& file : files) {
      cv::Mat image = cv::imread(file.string(), cv::IMREAD_COLOR);
      if (image.empty()) fail("expected a JPEG or PNG image, but '{}' cannot be decoded", file.string());
      double scale = static_cast<double>(resized_short_side) / std::min(image.rows, image.cols);
      cv::Mat resized;
      cv::resize(image, resized, cv::Size(std::max(size, static_cast<int64_t>(std::lround(image.cols * scale))),
                                          std::max(size, static_cast<int64_t>(std::lround(image.rows * scale)))),
                 0, 0, cv::INTER_AREA);
      int top = (resized.rows - static_cast<int>(size)) / 2, left = (resized.cols - static_cast<int>(size)) / 2;
      cv::Mat crop = resized(cv::Rect(left, top, static_cast<int>(size), static_cast<int>(size)));
      cv::Mat rgb;
      cv::cvtColor(crop, rgb, cv::COLOR_BGR2RGB);
      // HWC -> CHW
      size_t base = dataset.pixels.size();
      dataset.pixels.resize(base + static_cast<size_t>(3 * size * size));
      for (int y = 0; y < rgb.rows; ++y) {
        const uint8_t* row = rgb.ptr<uint8_t>(y);
        for (int x = 0; x < rgb.cols; ++x) {
          for (int c = 0; c < 3; ++c) dataset.pixels[base + static_cast<size_t>((c * size + y) * size + x)] = row[x * 3 + c];
        }
      }
      dataset.labels.push_back(static_cast<int64_t>(label));
    }
  }
  if (dataset.labels.empty()) fail("expected JPEG or PNG images in the class folders of '{}', but found none", root.string());
  return dataset;
}

Preprocess imagenet_preprocess() { return Preprocess{1.0f, {123.68f, 116.78f, 103.94f}, {1.0f, 1.0f, 1.0f}}; }

}  // namespace nacc::data
