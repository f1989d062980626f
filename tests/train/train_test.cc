// Training: the libtorch module computes what the reference executor computes; a short run learns; a killed run
// resumes to the same weights; distillation pulls the student toward the teacher; BatchNorm re-calibration
// measures the data.
#include "train/trainer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/rng.h"
#include "ir/executor.h"
#include "ir/zoo/builder.h"
#include "ir/zoo/zoo.h"
#include "train/graph_module.h"
#include "train/loss.h"

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

// A block cut out of a network trains alone: from the teacher's features at its input it learns to reproduce the
// teacher's features at its output, and the weights it learns land in the block's graph.
TEST(GraphModule, BlocksTrainAlone) {
  Graph teacher = zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 5});
  randomize_batchnorm(teacher);
  Graph block = slice_graph(teacher, {"layer1.2.relu"}, {"layer2.0.relu"});
  EXPECT_EQ(block.inputs, std::vector<std::string>{"layer1.2.relu"});
  EXPECT_EQ(block.nodes.size(), 9u);  // conv1 bn1 relu1 conv2 bn2, downsample conv + bn, add, relu
  EXPECT_THROW(slice_graph(teacher, {"layer1.2.relu"}, {"layer1.0.relu"}), Error);

  // The teacher's features on 256 random images.
  GraphModule module(teacher);
  module.eval();
  torch::NoGradGuard no_grad;
  torch::manual_seed(6);
  auto features = module.forward_values({{"input", torch::randn({256, 3, 32, 32})}}, {"layer1.2.relu", "layer2.0.relu"});
  auto to_tensor = [](const torch::Tensor& value) {
    torch::Tensor contiguous = value.contiguous();
    Tensor tensor(DataType::f32, Shape(contiguous.sizes().begin(), contiguous.sizes().end()));
    std::memcpy(tensor.raw(), contiguous.data_ptr<float>(), tensor.size_bytes());
    return tensor;
  };
  Tensor inputs = to_tensor(features.at("layer1.2.relu")), targets = to_tensor(features.at("layer2.0.relu"));
  // The block reproduces its own teacher exactly; a student with other weights does not, until it has trained.
  EXPECT_LT(block_loss(block, inputs, targets), 1e-10);
  Graph student = slice_graph(zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 7}), {"layer1.2.relu"}, {"layer2.0.relu"});
  double before = block_loss(student, inputs, targets);
  BlockTrainOptions options;
  options.steps = 150;
  options.batch = 32;
  options.learning_rate = 3e-3;
  Graph untouched = student;
  BlockTrainResult result = train_block(student, inputs, targets, options);
  ASSERT_EQ(result.losses.size(), 150u);
  double after = block_loss(student, inputs, targets);
  RecordProperty("mse_before", std::to_string(before));
  RecordProperty("mse_after", std::to_string(after));
  EXPECT_LT(after, 0.5 * before) << "before " << before << ", after " << after;
  EXPECT_FALSE(student.initializer("layer2.0.conv1.weight")->bitwise_equal(*untouched.initializer("layer2.0.conv1.weight")));
  // Features that do not fit the block are refused.
  EXPECT_THROW(train_block(student, targets, targets, options), Error);
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
  // The weights landed in the graph: the reference executor, which shares no code with libtorch, scores the graph
  // as training's last validation did (a float-rounding tie may flip a sample or two).
  Graph batched = graph;
  set_batch_size(batched, 100);
  ReferenceExecutor executor(batched);
  int64_t correct = 0;
  for (int64_t first = 0; first < validation.size(); first += 100) {
    Tensor images(DataType::f32, {100, 1, 28, 28});
    for (int64_t n = 0; n < 100; ++n) {
      data::preprocess_sample(validation, first + n, data::fashion_mnist_preprocess(), images.data<float>() + n * 784);
    }
    Tensor scores = executor.run({{"input", images}}).at(batched.outputs[0]);
    for (int64_t n = 0; n < 100; ++n) {
      const float* row = scores.data<float>() + n * 10;
      correct += std::max_element(row, row + 10) - row == validation.labels[static_cast<size_t>(first + n)];
    }
  }
  EXPECT_NEAR(static_cast<double>(correct) / static_cast<double>(validation.size()), result.epochs.back().validation_top1,
              2.5e-3);
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

bool same_weights(const Graph& a, const Graph& b) {
  for (const auto& [name, tensor] : a.initializers) {
    const Tensor& other = b.initializers.at(name);
    if (tensor.size_bytes() != other.size_bytes() || std::memcmp(tensor.raw(), other.raw(), tensor.size_bytes()) != 0) {
      return false;
    }
  }
  return true;
}

// A pluggable loss: the built-in one passed as a function trains exactly as without it, and is given the teacher's
// logits and the feature maps; another one (the teacher's logits, mean squared) trains to another result.
TEST(Train, APluggableLossReplacesTheBuiltInOne) {
  Graph teacher = small_cnn(3);
  Graph built_in = small_cnn(4), passed = small_cnn(4), other = small_cnn(4);
  TrainOptions options = distillation_options(teacher, 1, 0.5);
  options.feature_pairs = {{"relu2", "relu2"}};
  train(built_in, fashion("train"), nullptr, data::fashion_mnist_preprocess(), options);
  int64_t calls = 0;
  options.loss = [&](const LossInputs& inputs) {
    ++calls;
    EXPECT_NE(inputs.teacher_logits, nullptr);
    EXPECT_EQ(inputs.features.size(), 1u);
    return default_loss(inputs);
  };
  train(passed, fashion("train"), nullptr, data::fashion_mnist_preprocess(), options);
  EXPECT_EQ(calls, options.max_steps_per_epoch);
  EXPECT_TRUE(same_weights(built_in, passed));
  options.loss = [](const LossInputs& inputs) {
    return torch::nn::functional::mse_loss(inputs.logits, *inputs.teacher_logits);
  };
  train(other, fashion("train"), nullptr, data::fashion_mnist_preprocess(), options);
  EXPECT_FALSE(same_weights(built_in, other));
  EXPECT_EQ(options.to_json().at("loss"), "custom");
}

TEST(Train, BatchNormRecalibrationMeasuresTheData) {
  Graph graph = small_cnn(5);
  randomize_batchnorm(graph);  // stale statistics
  // 8 batches of 64 over 512 images use each image once: the recalibrated mean of bn1's input must be its mean over
  // these images, and the variance the mean of the 8 batches' variances (unbiased, as torch keeps them).
  data::ImageDataset images = first_samples(fashion("val"), 512);
  recalibrate_batchnorm(graph, images, data::fashion_mnist_preprocess(), 8, 64, 1);

  torch::Tensor batch = torch::empty({512, 1, 28, 28});
  for (int64_t n = 0; n < 512; ++n) {
    data::preprocess_sample(images, n, data::fashion_mnist_preprocess(), batch.data_ptr<float>() + n * 784);
  }
  GraphModule module(graph);
  module.eval();
  torch::NoGradGuard no_grad;
  torch::Tensor conv1 = module.forward_values({{"input", batch}}, {"conv1"}).at("conv1");  // bn1's input
  torch::Tensor mean = conv1.mean({0, 2, 3});
  torch::Tensor variance = conv1.var({0, 2, 3});
  const Tensor& recalibrated_mean = *graph.initializer("bn1.running_mean");
  const Tensor& recalibrated_variance = *graph.initializer("bn1.running_var");
  ASSERT_EQ(recalibrated_mean.elements(), 32);
  for (int64_t c = 0; c < 32; ++c) {
    double expected = mean[c].item<double>();
    EXPECT_NEAR(recalibrated_mean.data<float>()[c], expected, 1e-4 * (1 + std::fabs(expected))) << "channel " << c;
    // The mean of per-batch variances is the whole set's less the spread of the batch means: within a few percent.
    double expected_variance = variance[c].item<double>();
    EXPECT_NEAR(recalibrated_variance.data<float>()[c], expected_variance, 0.05 * expected_variance) << "channel " << c;
  }
}

// Every way of choosing samples stays inside the data: subsets smaller than a batch, of one sample, not a multiple of
// the batch, larger than the data; recalibration asking for more batches than there are.
TEST(Train, SubsetsAndBatchesOfAnySizeStayInsideTheData) {
  data::ImageDataset small = first_samples(fashion("val"), 40);
  for (int64_t subset : {1, 5, 31, 32, 33, 40, 1000}) {
    SCOPED_TRACE(subset);
    Graph graph = small_cnn(7);
    TrainOptions options;
    options.epochs = 1;
    options.batch = 32;
    options.subset = subset;
    options.max_steps_per_epoch = 2;
    options.warmup_epochs = 0;
    options.show_progress = false;
    data::ImageDataset validation = first_samples(fashion("val"), 3);
    TrainResult result = train(graph, small, &validation, data::fashion_mnist_preprocess(), options);
    ASSERT_EQ(result.epochs.size(), 1u);
    EXPECT_TRUE(std::isfinite(result.epochs[0].train_loss));
  }
  Graph graph = small_cnn(8);
  recalibrate_batchnorm(graph, small, data::fashion_mnist_preprocess(), 100, 16, 1);  // only 2 batches exist
  EXPECT_GT(evaluate_top1(graph, small, data::fashion_mnist_preprocess(), 7), -1e-9);
}

TEST(Train, AJobThatCannotFitInMemorySaysSoBeforeItStarts) {
  // ResNet-20 on 3x2048x2048 images: about 25 GB of activations per image.
  Graph graph = zoo::build_zoo_model("resnet20", {.batch = 1, .seed = 1}, {.input = {3, 2048, 2048}, .classes = 10});
  data::ImageDataset images;
  images.name = "huge";
  images.channels = 3;
  images.height = images.width = 2048;
  images.classes = 10;
  images.labels = {0};
  images.pixels.resize(3 * 2048 * 2048);
  TrainOptions options;
  options.epochs = 1;
  options.warmup_epochs = 0;
  options.show_progress = false;
  try {
    train(graph, images, nullptr, data::fashion_mnist_preprocess(), options);
    ADD_FAILURE() << "trained";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("expected training to fit in memory"), std::string::npos) << error.what();
  }
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
