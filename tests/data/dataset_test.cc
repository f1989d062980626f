#include "data/dataset.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <set>

#include "core/error.h"
#include "core/files.h"

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
