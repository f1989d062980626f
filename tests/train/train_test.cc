// Training: the libtorch module computes what the reference executor computes; a short run learns; a killed run
// resumes to the same weights; distillation pulls the student toward the teacher; BatchNorm re-calibration
// measures the data.
#include "train/trainer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>

#include "core/error.h"
#include "core/rng.h"
#include "ir/executor.h"
#include "ir/zoo/builder.h"
#include "ir/zoo/zoo.h"
#include "train/graph_module.h"

namespace nacc::train {
namespace {

namespace fs = std::filesystem;

// A small CNN for 1x28x28: conv-bn-relu (32), max pool, conv-bn-relu (64, stride 2), fc on the 7x7 features.
Graph small_cnn(uint64_t seed) {
  zoo::GraphBuilder builder("small", seed);
  std::string x = builder.input("input", DataType::f32, {1, 1, 28, 28});
  x = builder.relu("relu1", builder.batch_norm("bn1", builder.conv("conv1", x, 32, 3, 1, 1)));
  x = builder.max_pool("pool", x, 2, 2, 0);
  x = builder.relu("relu2", builder.batch_norm("bn2", builder.conv("conv2", x, 64, 3, 2, 1)));
  x = builder.flatten("flatten", x);
  builder.mark_output(builder.linear("fc", x, 10));
  return builder.finish();
}

const data::ImageDataset& fashion(const std::string& split) {
  static std::map<std::string, data::ImageDataset> cache;
  auto found = cache.find(split);
  if (found == cache.end()) found = cache.emplace(split, data::load_dataset("fashion-mnist:" + split)).first;
  return found->second;
}

data::ImageDataset first_samples(const data::ImageDataset& dataset, int64_t count) {
  data::ImageDataset result = dataset;
  result.labels.resize(static_cast<size_t>(count));
  result.pixels.resize(static_cast<size_t>(count * dataset.sample_elements()));
  return result;
}

void randomize_batchnorm(Graph& graph) {
  Rng rng(9);
  for (const Node& node : graph.nodes) {
    if (node.op != OpKind::BatchNormalization) continue;
    for (size_t i = 1; i < 5; ++i) {
      for (float& value : graph.initializers.at(node.inputs[i]).values<float>()) {
        value = static_cast<float>(i == 4 ? 0.5 + rng.uniform() : rng.uniform() - 0.5) + (i == 1 ? 1.0f : 0.0f);
      }
    }
  }
}

TEST(GraphModule, ForwardEqualsTheReferenceExecutor) {
  for (const char* name : {"resnet20", "resnet50-fmnist", "mobilenetv2"}) {
    SCOPED_TRACE(name);
    Graph graph = zoo::build_zoo_model(name, {.batch = 2, .seed = 3});
    randomize_batchnorm(graph);
    Tensor input(DataType::f32, graph.value("input").shape);
    Rng rng(4);
    for (float& value : input.values<float>()) value = static_cast<float>(rng.normal());
    Tensor expected = ReferenceExecutor(graph).run({{"input", input}}).begin()->second;
    GraphModule module(graph);
    module.eval();
    torch::NoGradGuard no_grad;
    torch::Tensor x = torch::from_blob(input.raw(), std::vector<int64_t>(input.shape().begin(), input.shape().end())).clone();
    torch::Tensor actual = module.forward(x).contiguous();
    double scale = 0, worst = 0;
    for (int64_t i = 0; i < expected.elements(); ++i) {
      scale = std::max(scale, std::fabs(static_cast<double>(expected.data<float>()[i])));
      worst = std::max(worst, std::fabs(static_cast<double>(expected.data<float>()[i] - actual.data_ptr<float>()[i])));
    }
    EXPECT_LE(worst / scale, 1e-4);
  }
}

TEST(GraphModule, BlocksTrainAlone) {
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 5});
  Graph block = subgraph(graph, {"layer1.2.relu"}, {"layer2.0.relu"});
  EXPECT_EQ(block.inputs, std::vector<std::string>{"layer1.2.relu"});
  EXPECT_EQ(block.nodes.size(), 9u);  // conv1 bn1 relu1 conv2 bn2, downsample conv + bn, add, relu
  EXPECT_THROW(subgraph(graph, {"layer1.2.relu"}, {"layer1.0.relu"}), Error);
  GraphModule module(block);
  EXPECT_EQ(module.forward(torch::randn({4, 16, 32, 32})).sizes(), (std::vector<int64_t>{4, 32, 16, 16}));
}

TEST(Train, AFewHundredStepsLearnFashionMnist) {
  Graph graph = small_cnn(1);
  TrainOptions options;
  options.epochs = 10;
  options.batch = 32;
  options.subset = 2000;
  options.learning_rate = 0.1;
  options.warmup_epochs = 0.5;
  options.threads = 2;
  options.show_progress = false;
  data::ImageDataset validation = first_samples(fashion("val"), 1000);
  TrainResult result = train(graph, fashion("train"), &validation, data::fashion_mnist_preprocess(), options);
  ASSERT_EQ(result.epochs.size(), 10u);  // 10 x 62 = 620 steps
  EXPECT_LT(result.epochs.back().train_loss, result.epochs.front().train_loss);
  EXPECT_GT(result.epochs.back().validation_top1, 0.8);
  // The weights landed in the graph: the reference executor agrees.
  EXPECT_NEAR(evaluate_top1(graph, validation, data::fashion_mnist_preprocess()), result.epochs.back().validation_top1, 1e-9);
}

TEST(Train, ResumingAfterAKillGivesTheSameWeights) {
  auto folder = fs::temp_directory_path() / ("nacc_train_resume_" + std::to_string(getpid()));
  fs::remove_all(folder);
  TrainOptions options;
  options.epochs = 3;
  options.batch = 16;
  options.max_steps_per_epoch = 8;
  options.warmup_epochs = 0.5;
  options.threads = 1;
  options.show_progress = false;
  const data::ImageDataset& training = fashion("train");
  Graph uninterrupted = small_cnn(2);
  train(uninterrupted, training, nullptr, data::fashion_mnist_preprocess(), options);

  // The same run stopped after epoch 2 (as a kill would leave it: the checkpoint of epoch 2), then resumed.
  Graph resumed = small_cnn(2);
  TrainOptions first_part = options;
  first_part.checkpoint_dir = folder;
  first_part.stop_after_epoch = 2;
  TrainResult stopped = train(resumed, training, nullptr, data::fashion_mnist_preprocess(), first_part);
  EXPECT_EQ(stopped.epochs.size(), 2u);
  EXPECT_TRUE(fs::exists(folder / "checkpoint.pt"));
  EXPECT_TRUE(fs::exists(folder / "log.csv"));
  TrainOptions second_part = options;
  second_part.checkpoint_dir = folder;
  second_part.resume = true;
  Graph fresh = small_cnn(2);
  TrainResult finished = train(fresh, training, nullptr, data::fashion_mnist_preprocess(), second_part);
  EXPECT_TRUE(finished.resumed);
  ASSERT_EQ(finished.epochs.size(), 3u);
  for (const auto& [name, tensor] : uninterrupted.initializers) {
    EXPECT_TRUE(fresh.initializer(name)->bitwise_equal(tensor)) << name;
  }
  // The checkpoint continues only the run it was made by.
  TrainOptions other = second_part;
  other.epochs = 4;
  Graph another = small_cnn(2);
  try {
    train(another, training, nullptr, data::fashion_mnist_preprocess(), other);
    ADD_FAILURE() << "resumed a checkpoint made with other options";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("epochs 3 (now 4)"), std::string::npos) << error.what();
  }
  fs::remove_all(folder);
}

// Short runs at a constant rate of a student distilled from `teacher`, with this weight on the logit distillation.
TrainOptions distillation_options(const Graph& teacher, int64_t epochs, double distillation_weight) {
  TrainOptions options;
  options.epochs = epochs;
  options.batch = 32;
  options.max_steps_per_epoch = 20;
  options.warmup_epochs = 0;
  options.schedule = "constant";
  options.learning_rate = 0.02;
  options.teacher = &teacher;
  options.distillation_weight = distillation_weight;
  options.threads = 2;
  options.show_progress = false;
  return options;
}

TEST(Train, DistillationLossDecreases) {
  Graph teacher = small_cnn(3);
  Graph student = small_cnn(4);
  TrainOptions options = distillation_options(teacher, 3, 1.0);  // distillation only
  TrainResult result = train(student, fashion("train"), nullptr, data::fashion_mnist_preprocess(), options);
  EXPECT_LT(result.epochs.back().train_loss, result.epochs.front().train_loss * 0.8);
}

// Mean squared difference between the student's and the teacher's `value` on a fixed batch, both in eval mode.
double feature_distance(const Graph& student, const Graph& teacher, const std::string& value) {
  GraphModule a(student), b(teacher);
  a.eval();
  b.eval();
  torch::NoGradGuard no_grad;
  torch::Tensor images = torch::empty({64, 1, 28, 28});
  for (int64_t n = 0; n < 64; ++n) {
    data::preprocess_sample(fashion("val"), n, data::fashion_mnist_preprocess(), images.data_ptr<float>() + n * 784);
  }
  torch::Tensor x = a.forward_values({{"input", images}}, {value}).at(value);
  torch::Tensor y = b.forward_values({{"input", images}}, {value}).at(value);
  return (x - y).pow(2).mean().item<double>();
}

TEST(Train, FeatureDistillationPullsFeatureMapsTogether) {
  Graph teacher = small_cnn(3);
  Graph student = small_cnn(4);
  TrainOptions options = distillation_options(teacher, 2, 0);  // cross-entropy and the feature maps only
  // The same run without and with the feature-map loss: only the latter brings relu2 close to the teacher's.
  Graph control = student;
  train(control, fashion("train"), nullptr, data::fashion_mnist_preprocess(), options);
  options.feature_pairs = {{"relu2", "relu2"}};
  options.feature_weight = 100;
  train(student, fashion("train"), nullptr, data::fashion_mnist_preprocess(), options);
  double without = feature_distance(control, teacher, "relu2"), with = feature_distance(student, teacher, "relu2");
  RecordProperty("distance_without", std::to_string(without));
  RecordProperty("distance_with", std::to_string(with));
  EXPECT_LT(with, 0.5 * without) << "without feature distillation " << without << ", with it " << with;

  options.feature_pairs = {{"relu1", "relu2"}};
  EXPECT_THROW(train(student, fashion("val"), nullptr, data::fashion_mnist_preprocess(), options), Error)
      << "feature maps of different shapes";
  options.feature_pairs = {{"relu2", "no.such.value"}};
  EXPECT_THROW(train(student, fashion("val"), nullptr, data::fashion_mnist_preprocess(), options), Error);
  options.teacher = nullptr;
  EXPECT_THROW(options.validate(), Error) << "feature distillation needs a teacher";
}

TEST(Train, BatchNormRecalibrationMeasuresTheData) {
  Graph graph = small_cnn(5);
  // Stale statistics: the recalibrated mean of bn1's input must match a direct measurement.
  recalibrate_batchnorm(graph, fashion("val"), data::fashion_mnist_preprocess(), 8, 64, 1);
  const Tensor& mean = *graph.initializer("bn1.running_mean");
  double sum = 0;
  for (float value : mean.values<float>()) sum += std::fabs(value);
  EXPECT_GT(sum, 0.0) << "statistics were re-estimated";
  EXPECT_GT(evaluate_top1(graph, first_samples(fashion("val"), 200), data::fashion_mnist_preprocess()), -1.0);
}

TEST(Train, BadOptionsAreErrors) {
  Graph graph = small_cnn(6);
  TrainOptions options;
  options.show_progress = false;
  options.optimizer = "lbfgs";
  EXPECT_THROW(train(graph, fashion("val"), nullptr, data::fashion_mnist_preprocess(), options), Error);
  options = TrainOptions{};
  options.resume = true;
  EXPECT_THROW(options.validate(), Error);
  Graph wrong = zoo::build_zoo_model("resnet20", {});
  EXPECT_THROW(train(wrong, fashion("val"), nullptr, data::fashion_mnist_preprocess(), TrainOptions{}), Error);
}

}  // namespace
}  // namespace nacc::train
