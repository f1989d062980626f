#include "data/dataset.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.h"
#include "core/files.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

namespace nacc::data {
namespace {

namespace fs = std::filesystem;

std::string big_endian(uint32_t value) {
  return {static_cast<char>(value >> 24), static_cast<char>(value >> 16), static_cast<char>(value >> 8),
          static_cast<char>(value)};
}

void write_gzip(const fs::path& path, const std::string& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
}

// `count` images of 2x3 whose pixels are (image * 10 + position), labels image % 4.
void write_fake_split(const fs::path& folder, const std::string& prefix, uint32_t count) {
  std::string images = big_endian(0x803) + big_endian(count) + big_endian(2) + big_endian(3);
  std::string labels = big_endian(0x801) + big_endian(count);
  for (uint32_t i = 0; i < count; ++i) {
    for (uint32_t p = 0; p < 6; ++p) images += static_cast<char>(i * 10 + p);
    labels += static_cast<char>(i % 4);
  }
  write_gzip(folder / (prefix + "-images-idx3-ubyte.gz"), images);
  write_gzip(folder / (prefix + "-labels-idx1-ubyte.gz"), labels);
}

class FakeFashionMnist : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = fs::temp_directory_path() / ("nacc_data_test_" + std::to_string(getpid()));
    fs::create_directories(folder_);
    write_fake_split(folder_, "train", 20);
    write_fake_split(folder_, "t10k", 7);
  }
  void TearDown() override { fs::remove_all(folder_); }
  fs::path folder_;
};

TEST_F(FakeFashionMnist, ReadsImagesAndLabels) {
  ImageDataset test = load_dataset("fashion-mnist:test", folder_);
  EXPECT_EQ(test.size(), 7);
  EXPECT_EQ(test.sample_shape(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(test.pixels[5 * 6 + 4], 54);
  EXPECT_EQ(test.labels[5], 1);
  EXPECT_EQ(test.classes, 4);
}

// The batch feeder writes each chosen sample where one at a time would, and the spread indices cover the set evenly.
TEST_F(FakeFashionMnist, BatchesHoldTheSamplesOneAfterAnother) {
  ImageDataset test = load_dataset("fashion-mnist:test", folder_);
  Preprocess preprocess = fashion_mnist_preprocess();
  std::vector<int64_t> indices = {5, 0, 6};
  std::vector<float> batch(3 * 6), one(6);
  preprocess_samples(test, indices, preprocess, batch.data());
  for (size_t n = 0; n < indices.size(); ++n) {
    preprocess_sample(test, indices[n], preprocess, one.data());
    EXPECT_TRUE(std::equal(one.begin(), one.end(), batch.begin() + static_cast<std::ptrdiff_t>(n * 6))) << n;
  }
  std::vector<float> range(2 * 6);
  preprocess_samples(test, 5, 2, preprocess, range.data());
  preprocess_sample(test, 6, preprocess, one.data());
  EXPECT_TRUE(std::equal(one.begin(), one.end(), range.begin() + 6));
  EXPECT_EQ(spread_indices(4, 20), (std::vector<int64_t>{0, 5, 10, 15}));
  EXPECT_EQ(spread_indices(3, 3), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_TRUE(spread_indices(0, 3).empty());
}

TEST_F(FakeFashionMnist, ValidationIsAFixedDisjointPartOfTrain) {
  ImageDataset train = load_dataset("fashion-mnist:train", folder_);
  ImageDataset val = load_dataset("fashion-mnist:val", folder_);
  EXPECT_EQ(train.size() + val.size(), 20);
  EXPECT_EQ(val.size(), 10);  // at most half of a small set
  std::set<int> seen;
  for (const ImageDataset* split : {&train, &val}) {
    for (int64_t i = 0; i < split->size(); ++i) seen.insert(split->pixels[static_cast<size_t>(i * 6)] / 10);
  }
  EXPECT_EQ(seen.size(), 20u);
  EXPECT_EQ(load_dataset("fashion-mnist:val", folder_).pixels, val.pixels) << "the split is deterministic";
}

TEST_F(FakeFashionMnist, MalformedFilesAreClearErrors) {
  write_gzip(folder_ / "t10k-images-idx3-ubyte.gz", "not idx");
  EXPECT_THROW(load_dataset("fashion-mnist:test", folder_), Error);
  write_fake_split(folder_, "t10k", 7);
  write_gzip(folder_ / "t10k-labels-idx1-ubyte.gz", big_endian(0x801) + big_endian(6) + std::string(6, '\1'));
  EXPECT_THROW(load_dataset("fashion-mnist:test", folder_), Error);
  write_file(folder_ / "t10k-images-idx3-ubyte.gz", std::string("\x1f\x8b\x08\x00garbage", 12));
  EXPECT_THROW(load_dataset("fashion-mnist:test", folder_), Error);
}

TEST(Dataset, MissingDataNamesThePackage) {
  try {
    load_dataset("fashion-mnist:test", "/nonexistent/fmnist");
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("dataset-fashion-mnist"), std::string::npos) << error.what();
  }
  EXPECT_THROW(load_dataset("imagenet:val"), Error);
  EXPECT_THROW(load_dataset("fashion-mnist:holdout"), Error);
}

TEST(Dataset, RealFashionMnistFromTheDebianPackage) {
  ImageDataset test = load_dataset("fashion-mnist:test");
  EXPECT_EQ(test.size(), 10000);
  EXPECT_EQ(test.sample_shape(), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(test.classes, 10);
  std::vector<int> per_class(10, 0);
  for (int64_t label : test.labels) ++per_class[static_cast<size_t>(label)];
  for (int count : per_class) EXPECT_EQ(count, 1000);
  EXPECT_EQ(load_dataset("fashion-mnist:val").size(), 5000);
}

TEST(Cifar10, ReadsBinaryRecords) {
  fs::path folder = fs::temp_directory_path() / ("nacc_cifar_" + std::to_string(getpid()));
  fs::create_directories(folder);
  std::string record(1 + 3072, '\0');
  std::string bytes;
  for (int i = 0; i < 3; ++i) {
    record[0] = static_cast<char>(i + 4);
    record[1] = static_cast<char>(i * 10);  // first red pixel
    bytes += record;
  }
  write_file(folder / "test_batch.bin", bytes);
  ImageDataset test = load_cifar10("test", folder);
  EXPECT_EQ(test.size(), 3);
  EXPECT_EQ(test.sample_shape(), (std::vector<int64_t>{3, 32, 32}));
  EXPECT_EQ(test.labels[2], 6);
  EXPECT_EQ(test.pixels[2 * 3072], 20);
  EXPECT_THROW(load_cifar10("train", folder), Error) << "data_batch_1.bin is missing";
  write_file(folder / "test_batch.bin", bytes.substr(0, 100));
  EXPECT_THROW(load_cifar10("test", folder), Error) << "not whole records";
  fs::remove_all(folder);
}

TEST(Cifar10, ValidationIsHeldOutOfTrainWithAFixedSeed) {
  fs::path folder = fs::temp_directory_path() / ("nacc_cifar_split_" + std::to_string(getpid()));
  fs::create_directories(folder);
  // Five batches of 10 records each; record k's first pixel is k so that the splits can be told apart.
  std::string record(1 + 3072, '\0');
  for (int batch = 1; batch <= 5; ++batch) {
    std::string bytes;
    for (int i = 0; i < 10; ++i) {
      int k = (batch - 1) * 10 + i;
      record[0] = static_cast<char>(k % 10);
      record[1] = static_cast<char>(k);
      bytes += record;
    }
    write_file(folder / fmt::format("data_batch_{}.bin", batch), bytes);
  }
  ImageDataset train = load_dataset("cifar10:train", folder);
  ImageDataset val = load_dataset("cifar10:val", folder);
  EXPECT_EQ(train.size(), 25);  // at most half is held out
  EXPECT_EQ(val.size(), 25);
  EXPECT_EQ(val.name, "cifar10:val");
  std::set<int> seen;
  for (const ImageDataset* split : {&train, &val}) {
    for (int64_t n = 0; n < split->size(); ++n) seen.insert(split->pixels[static_cast<size_t>(n * 3072)]);
  }
  EXPECT_EQ(seen.size(), 50u) << "the splits are disjoint and cover every training image";
  EXPECT_EQ(load_dataset("cifar10:val", folder).pixels, val.pixels) << "the split is the same every time";
  EXPECT_THROW(load_dataset("cifar10:holdout", folder), Error);
  fs::remove_all(folder);
}

TEST(ImageFolder, ResizesAndCropsAsMlperf) {
  fs::path folder = fs::temp_directory_path() / ("nacc_images_" + std::to_string(getpid()));
  fs::create_directories(folder / "cat");
  fs::create_directories(folder / "dog");
  // 64 x 32 (width x height) images whose left half is one colour and right half another (BGR in OpenCV).
  cv::Mat image(32, 64, CV_8UC3, cv::Scalar(10, 20, 30));
  image(cv::Rect(32, 0, 32, 32)).setTo(cv::Scalar(200, 100, 50));
  ASSERT_TRUE(cv::imwrite((folder / "cat" / "a.png").string(), image));
  ASSERT_TRUE(cv::imwrite((folder / "dog" / "b.png").string(), image));
  ASSERT_TRUE(cv::imwrite((folder / "dog" / "c.jpg").string(), image));
  write_file(folder / "dog" / "notes.txt", "not an image");
  ImageDataset dataset = load_image_folder(folder, ImageReading{3, 16, 16, "imagenet"});
  EXPECT_EQ(dataset.size(), 3);
  EXPECT_EQ(dataset.classes, 2);
  EXPECT_EQ(dataset.labels, (std::vector<int64_t>{0, 1, 1}));
  EXPECT_EQ(dataset.sample_shape(), (std::vector<int64_t>{3, 16, 16}));
  // Shorter side resized to 16 / 0.875 = 18 (image 36 x 18), centre crop 16 x 16: columns 10-25 of 36, which
  // straddle the colour boundary at column 18. RGB order: channel 0 is red.
  EXPECT_EQ(dataset.pixels[0 * 256 + 0], 30);   // red, left part
  EXPECT_EQ(dataset.pixels[0 * 256 + 15], 50);  // red, right part
  EXPECT_EQ(dataset.pixels[2 * 256 + 15], 200);  // blue, right part
  // Small colour images are read at their own size; a model's shape and resize can ask for another.
  ImageDataset own = load_dataset("folder:" + folder.string());
  EXPECT_EQ(own.sample_shape(), (std::vector<int64_t>{3, 32, 64}));
  EXPECT_EQ(own.pixels[0], 30);
  EXPECT_EQ(load_dataset_as("folder:" + folder.string(), {1, 8, 8}).sample_shape(), (std::vector<int64_t>{1, 8, 8}));
  write_file(folder / "dog" / "broken.png", "not a png");
  EXPECT_THROW(load_image_folder(folder, ImageReading{3, 16, 16, "imagenet"}), Error);
  fs::remove_all(folder);
  EXPECT_THROW(load_image_folder(folder), Error) << "missing folder";
}

// Grey 28x28 images (digits written as PNG folders) are read as they are: one channel at their own size, with a
// preprocessing measured on them; photographs take ImageNet's 224 crop.
TEST(ImageFolder, GreyImagesAtTheirOwnSize) {
  fs::path folder = fs::temp_directory_path() / ("nacc_grey_" + std::to_string(getpid()));
  for (int label = 0; label < 3; ++label) {
    fs::create_directories(folder / fmt::format("digit{}", label));
    for (int i = 0; i < 2; ++i) {
      cv::Mat image(28, 28, CV_8UC1, cv::Scalar(10 * i));
      image.at<uint8_t>(label, 5) = 255;
      ASSERT_TRUE(cv::imwrite((folder / fmt::format("digit{}", label) / fmt::format("{}.png", i)).string(), image));
    }
  }
  FolderSummary summary = inspect_image_folder(folder);
  EXPECT_EQ(summary.channels, 1);
  EXPECT_EQ(summary.height, 28);
  EXPECT_EQ(summary.images, 6);
  EXPECT_EQ(summary.classes, 3);
  ImageReading reading = default_reading(summary);
  EXPECT_EQ(reading.channels, 1);
  EXPECT_EQ(reading.resize, "stretch");
  ImageDataset dataset = load_dataset("folder:" + folder.string());
  EXPECT_EQ(dataset.sample_shape(), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(dataset.pixels[2 * 784 + 1 * 28 + 5], 255) << "image 2 (digit1, first): the bright pixel at row 1";
  Preprocess preprocess = folder_preprocess(dataset, "stretch");
  ASSERT_EQ(preprocess.mean.size(), 1u);
  double mean = 0;
  for (uint8_t pixel : dataset.pixels) mean += pixel / 255.0;
  EXPECT_NEAR(preprocess.mean[0], mean / static_cast<double>(dataset.pixels.size()), 1e-6);
  EXPECT_EQ(Preprocess::from_json(preprocess.to_json()).resize, "stretch");
  // Photographs: colour, large.
  EXPECT_EQ(default_reading(FolderSummary{3, 480, 640, 10, 2}).height, 224);
  EXPECT_EQ(default_reading(FolderSummary{3, 480, 640, 10, 2}).resize, "imagenet");
  EXPECT_EQ(default_reading(FolderSummary{3, 0, 0, 10, 2}).resize, "imagenet") << "sizes that differ";
  fs::remove_all(folder);
}

TEST(Preprocess, JsonRoundTripAndApplication) {
  Preprocess preprocess = Preprocess::from_json(fashion_mnist_preprocess().to_json());
  EXPECT_FLOAT_EQ(preprocess.mean[0], 0.2860f);
  ImageDataset dataset;
  dataset.channels = 1;
  dataset.height = 1;
  dataset.width = 2;
  dataset.pixels = {0, 255};
  dataset.labels = {0};
  float out[2];
  preprocess_sample(dataset, 0, preprocess, out);
  EXPECT_NEAR(out[0], -0.2860f / 0.3530f, 1e-6);
  EXPECT_NEAR(out[1], (1 - 0.2860f) / 0.3530f, 1e-6);
  EXPECT_THROW(Preprocess::from_json("{\"scale\": 1}"), Error);
  EXPECT_THROW(Preprocess::from_json("{\"scale\": 1, \"mean\": [0], \"std\": [0]}"), Error);
  EXPECT_THROW(Preprocess::from_json("not json"), Error);
}

}  // namespace
}  // namespace nacc::data
