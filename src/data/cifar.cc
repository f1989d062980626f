// CIFAR-10 in its binary format (cifar-10-batches-bin): records of one label byte and 3 x 32 x 32 pixel bytes.
#include <fmt/format.h>

#include <cstdlib>

#include "core/error.h"
#include "core/files.h"
#include "data/dataset.h"

namespace nacc::data {

ImageDataset load_cifar10(std::string_view split, const std::filesystem::path& folder) {
  std::filesystem::path root = folder;
  if (root.empty()) {
    const char* from_environment = std::getenv("NACC_CIFAR10_DIR");
    root = from_environment != nullptr ? from_environment : "cifar-10-batches-bin";
  }
  std::vector<std::string> files;
  if (split == "train") {
    for (int i = 1; i <= 5; ++i) files.push_back(fmt::format("data_batch_{}.bin", i));
  } else if (split == "test") {
    files.push_back("test_batch.bin");
  } else {
    fail("expected a split train or test of cifar10, but found '{}'", split);
  }
  constexpr int64_t kRecord = 1 + 3 * 32 * 32;
  ImageDataset dataset;
  dataset.name = fmt::format("cifar10:{}", split);
  dataset.channels = 3;
  dataset.height = dataset.width = 32;
  dataset.classes = 10;
  for (const std::string& file : files) {
    std::filesystem::path path = root / file;
    std::error_code error;
    if (!std::filesystem::exists(path, error)) {
      fail("expected CIFAR-10's binary files in '{}' (data_batch_1.bin ... data_batch_5.bin, test_batch.bin), but {} is "
           "missing; set NACC_CIFAR10_DIR to the cifar-10-batches-bin folder",
           root.string(), file);
    }
    std::string bytes = read_file(path);
    if (bytes.size() % kRecord != 0) {
      fail("expected {} to hold whole records of {} bytes, but it has {} bytes", path.string(), kRecord, bytes.size());
    }
    for (size_t offset = 0; offset < bytes.size(); offset += kRecord) {
      int64_t label = static_cast<unsigned char>(bytes[offset]);
      if (label >= 10) fail("expected labels 0-9 in {}, but found {}", path.string(), label);
      dataset.labels.push_back(label);
      dataset.pixels.insert(dataset.pixels.end(), bytes.begin() + static_cast<std::ptrdiff_t>(offset + 1),
                            bytes.begin() + static_cast<std::ptrdiff_t>(offset + kRecord));
    }
  }
  return dataset;
}

Preprocess cifar10_preprocess() { return Preprocess{1.0f / 255.0f, {0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}, ""}; }

}  // namespace nacc::data
