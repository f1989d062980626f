// IDX reading (the MNIST family's format) through zlib, which reads plain and gzip files alike.
#include <zlib.h>

#include <array>

#include "core/error.h"
#include "data/dataset.h"

namespace nacc::data {

namespace {

std::string read_gzip(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    fail("expected data file '{}', but it does not exist", path.string());
  }
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) fail("cannot open '{}' for reading", path.string());
  std::string bytes;
  std::array<char, 1 << 16> buffer;
  for (;;) {
    int count = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()));
    if (count < 0) {
      int code = 0;
      std::string message = gzerror(file, &code);
      gzclose(file);
      fail("expected a readable (gzip) file, but '{}' is corrupt: {}", path.string(), message);
    }
    if (count == 0) break;
    bytes.append(buffer.data(), static_cast<size_t>(count));
  }
  gzclose(file);
  return bytes;
}

uint32_t big_endian(const std::string& bytes, size_t offset) {
  return static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset])) << 24 |
         static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + 1])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + 2])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + 3]));
}

}  // namespace

ImageDataset read_idx_pair(const std::filesystem::path& images, const std::filesystem::path& labels) {
  std::string image_bytes = read_gzip(images);
  std::string label_bytes = read_gzip(labels);
  if (image_bytes.size() < 16 || big_endian(image_bytes, 0) != 0x803) {
    fail("expected an IDX image file (magic 0x00000803), but '{}' is not one", images.string());
  }
  if (label_bytes.size() < 8 || big_endian(label_bytes, 0) != 0x801) {
    fail("expected an IDX label file (magic 0x00000801), but '{}' is not one", labels.string());
  }
  int64_t count = big_endian(image_bytes, 4);
  ImageDataset dataset;
  dataset.channels = 1;
  dataset.height = big_endian(image_bytes, 8);
  dataset.width = big_endian(image_bytes, 12);
  size_t expected = 16 + static_cast<size_t>(count * dataset.height * dataset.width);
  if (image_bytes.size() != expected) {
    fail("expected {} bytes in '{}' for {} images of {}x{}, but found {}", expected, images.string(), count,
         dataset.height, dataset.width, image_bytes.size());
  }
  int64_t label_count = big_endian(label_bytes, 4);
  if (label_count != count || label_bytes.size() != 8 + static_cast<size_t>(count)) {
    fail("expected {} labels in '{}' (one per image of '{}'), but found {}", count, labels.string(), images.string(),
         label_count);
  }
  dataset.pixels.assign(image_bytes.begin() + 16, image_bytes.end());
  dataset.labels.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    dataset.labels.push_back(static_cast<unsigned char>(label_bytes[8 + static_cast<size_t>(i)]));
    dataset.classes = std::max(dataset.classes, dataset.labels.back() + 1);
  }
  return dataset;
}

}  // namespace nacc::data
