// What both search verbs (nacc search, nacc search space) load first: the baseline, and the training and validation
// data checked against it.
#pragma once

#include <optional>
#include <string>

#include "data/dataset.h"
#include "ir/graph.h"

namespace nacc::cli {

struct SearchData {
  Graph baseline;
  data::Preprocess preprocess;
  data::ImageDataset training;
  data::ImageDataset validation;
  std::string validation_spec;
  int64_t classes = 0;
};

// "fashion-mnist" + "val" -> "fashion-mnist:val"; a folder data set stays as it is.
std::string split_of(const std::string& data, const std::string& split);

// Loads the baseline and its data; throws nacc::Error when the data does not fit it (shape, classes) or a folder
// data set has no validation data (--val-data).
SearchData load_search_data(const std::string& baseline, const std::string& data, const std::string& validation_data);

// The test split of `data` (`test_data` when given); nullopt for a folder data set without --test-data.
std::optional<data::ImageDataset> load_test_data(const SearchData& loaded, const std::string& data,
                                                 const std::string& test_data);

}  // namespace nacc::cli
