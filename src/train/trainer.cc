#include "train/trainer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <numbers>
#include <numeric>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "core/machine.h"
#include "core/progress.h"
#include "core/rng.h"
#include "train/graph_module.h"
#include "train/loss.h"
#include "train/torch_threads.h"

namespace nacc::train {

namespace {

namespace F = torch::nn::functional;

struct Batch {
  torch::Tensor images;
  torch::Tensor labels;
};

// Samples `indices` preprocessed, with a random crop after padding and a random horizontal flip when `rng` is given.
Batch make_batch(const data::ImageDataset& dataset, const std::vector<int64_t>& indices, const data::Preprocess& preprocess,
                 int64_t crop_padding, bool flip, Rng* rng) {
  int64_t c = dataset.channels, h = dataset.height, w = dataset.width, plane = h * w;
  torch::Tensor images = torch::empty({static_cast<int64_t>(indices.size()), c, h, w});
  torch::Tensor labels = torch::empty({static_cast<int64_t>(indices.size())}, torch::kInt64);
  std::vector<float> sample(static_cast<size_t>(dataset.sample_elements()));
  float* out = images.data_ptr<float>();
  for (size_t n = 0; n < indices.size(); ++n) {
    NACC_CHECK(indices[n] >= 0 && indices[n] < dataset.size(), "sample {} of {}", indices[n], dataset.size());
    data::preprocess_sample(dataset, indices[n], preprocess, sample.data());
    labels.data_ptr<int64_t>()[n] = dataset.labels[static_cast<size_t>(indices[n])];
    int64_t dy = 0, dx = 0;
    bool mirrored = false;
    if (rng != nullptr) {
      if (crop_padding > 0) {
        dy = static_cast<int64_t>(rng->uniform_int(static_cast<uint64_t>(2 * crop_padding + 1))) - crop_padding;
        dx = static_cast<int64_t>(rng->uniform_int(static_cast<uint64_t>(2 * crop_padding + 1))) - crop_padding;
      }
      mirrored = flip && rng->uniform() < 0.5;
    }
    for (int64_t ch = 0; ch < c; ++ch) {
      size_t channel = preprocess.mean.size() == 1 ? 0 : static_cast<size_t>(ch);
      // Padding holds the value a black pixel preprocesses to.
      float fill = (0.0f - preprocess.mean[channel]) / preprocess.std[channel];
      for (int64_t y = 0; y < h; ++y) {
        for (int64_t x = 0; x < w; ++x) {
          int64_t sy = y + dy, sx = mirrored ? w - 1 - (x + dx) : x + dx;
          bool inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
          out[((static_cast<int64_t>(n) * c + ch) * h + y) * w + x] = inside ? sample[ch * plane + sy * w + sx] : fill;
        }
      }
    }
  }
  return {images, labels};
}

double learning_rate_at(const TrainOptions& options, double epoch_progress) {
  double total = static_cast<double>(options.epochs);
  if (options.schedule == "onecycle") {
    // Linear up to the peak at 30% of the run, then cosine down to 1/10000 of it.
    double peak_at = 0.3 * total;
    if (epoch_progress < peak_at) return options.learning_rate * (0.04 + 0.96 * epoch_progress / peak_at);
    double progress = (epoch_progress - peak_at) / std::max(total - peak_at, 1e-9);
    return options.learning_rate * (1e-4 + (1 - 1e-4) * 0.5 * (1 + std::cos(std::numbers::pi * progress)));
  }
  if (epoch_progress < options.warmup_epochs) return options.learning_rate * epoch_progress / options.warmup_epochs;
  if (options.schedule == "constant") return options.learning_rate;
  double progress = (epoch_progress - options.warmup_epochs) / std::max(total - options.warmup_epochs, 1e-9);
  return options.learning_rate * 0.5 * (1 + std::cos(std::numbers::pi * std::min(progress, 1.0)));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, const std::string& kind, double rate) {
  for (auto& group : optimizer.param_groups()) {
    if (kind == "adamw") {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(rate);
    } else {
      static_cast<torch::optim::SGDOptions&>(group.options()).lr(rate);
    }
  }
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(GraphModule& module, const TrainOptions& options) {
  // Weight decay on weights (rank > 1) only, not on biases or BatchNorm scale and shift.
  std::vector<torch::Tensor> decayed, plain;
  for (const torch::Tensor& parameter : module.parameters()) (parameter.dim() > 1 ? decayed : plain).push_back(parameter);
  if (options.optimizer == "adamw") {
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(
                                     torch::optim::AdamWOptions(options.learning_rate).weight_decay(options.weight_decay)));
    groups.emplace_back(plain, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(options.learning_rate).weight_decay(0)));
    return std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(options.learning_rate));
  }
  auto sgd = [&](double decay) {
    return std::make_unique<torch::optim::SGDOptions>(torch::optim::SGDOptions(options.learning_rate)
                                                          .momentum(options.momentum)
                                                          .nesterov(options.nesterov)
                                                          .weight_decay(decay));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decayed, sgd(options.weight_decay));
  groups.emplace_back(plain, sgd(0));
  return std::make_unique<torch::optim::SGD>(groups, *sgd(options.weight_decay));
}

nlohmann::json record_to_json(const EpochRecord& record) {
  return {{"epoch", record.epoch},
          {"learning_rate", record.learning_rate},
          {"train_loss", record.train_loss},
          {"train_top1", record.train_top1},
          {"validation_top1", record.validation_top1},
          {"images_per_second", record.images_per_second},
          {"seconds", record.seconds}};
}

EpochRecord record_from_json(const nlohmann::json& json) {
  return {json.at("epoch"),     json.at("learning_rate"),     json.at("train_loss"), json.at("train_top1"),
          json.at("validation_top1"), json.at("images_per_second"), json.at("seconds")};
}

void write_logs(const std::filesystem::path& folder, const std::vector<EpochRecord>& records, const TrainOptions& options) {
  std::string csv = "epoch,learning_rate,train_loss,train_top1,validation_top1,images_per_second,seconds\n";
  nlohmann::json epochs = nlohmann::json::array();
  for (const EpochRecord& record : records) {
    csv += fmt::format("{},{:.6g},{:.6f},{:.6f},{:.6f},{:.2f},{:.2f}\n", record.epoch, record.learning_rate, record.train_loss,
                       record.train_top1, record.validation_top1, record.images_per_second, record.seconds);
    epochs.push_back(record_to_json(record));
  }
  write_file(folder / "log.csv", csv);
  write_json_file(folder / "log.json", {{"options", options.to_json()}, {"epochs", epochs}});
}

// One epoch of the same length and order, whatever came before it: the seeds depend only on the base seed and
// the epoch.
std::vector<int64_t> epoch_order(int64_t samples, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(samples));
  std::iota(order.begin(), order.end(), 0);
  Rng rng(derive_seed(seed, seed_concern::kDataOrder) + static_cast<uint64_t>(epoch));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.uniform_int(i)]);
  return order;
}

// Every feature pair names a value of each graph, of the same shape apart from the batch.
void check_feature_pairs(const Graph& student, const Graph& teacher,
                         const std::vector<std::pair<std::string, std::string>>& pairs) {
  for (const auto& [student_value, teacher_value] : pairs) {
    if (!student.has_value(student_value)) fail("expected '{}' to be a value of the student graph, but it is not", student_value);
    if (!teacher.has_value(teacher_value)) fail("expected '{}' to be a value of the teacher graph, but it is not", teacher_value);
    Shape a = student.value(student_value).shape, b = teacher.value(teacher_value).shape;
    if (a.empty() || b.empty() || Shape(a.begin() + 1, a.end()) != Shape(b.begin() + 1, b.end())) {
      fail("expected feature maps of the same shape, but student '{}' is {} and teacher '{}' is {}", student_value,
           shape_to_string(a), teacher_value, shape_to_string(b));
    }
  }
}

// A checkpoint continues only the run it was made by: the options that shape the result must be the same.
void check_resumable(const nlohmann::json& state, const TrainOptions& options, const std::filesystem::path& checkpoint) {
  if (!state.contains("options")) return;  // written before checkpoints recorded their options
  nlohmann::json now = options.to_json();
  std::string differences;
  for (const auto& [key, value] : state.at("options").items()) {
    if (!now.contains(key) || now.at(key) != value) {
      differences += fmt::format("{}{} {} (now {})", differences.empty() ? "" : ", ", key, value.dump(),
                                 now.contains(key) ? now.at(key).dump() : "unset");
    }
  }
  if (!differences.empty()) {
    fail("expected the options {} was made with, but found {}; pass the same options or use a new --checkpoint-dir",
         checkpoint.string(), differences);
  }
}

}  // namespace

void TrainOptions::validate() const {
  if (epochs < 1) fail("expected --epochs >= 1, but found {}", epochs);
  if (batch < 1) fail("expected --batch >= 1, but found {}", batch);
  if (!(learning_rate > 0)) fail("expected a learning rate > 0, but found {}", learning_rate);
  if (optimizer != "sgd" && optimizer != "adamw") fail("expected --optimizer sgd or adamw, but found '{}'", optimizer);
  if (schedule != "cosine" && schedule != "onecycle" && schedule != "constant") {
    fail("expected --schedule cosine, onecycle or constant, but found '{}'", schedule);
  }
  if (warmup_epochs < 0 || warmup_epochs >= static_cast<double>(epochs)) {
    fail("expected --warmup-epochs in [0, epochs), but found {}", warmup_epochs);
  }
  if (label_smoothing < 0 || label_smoothing >= 1) fail("expected --label-smoothing in [0, 1), but found {}", label_smoothing);
  if (weight_decay < 0) fail("expected --weight-decay >= 0, but found {}", weight_decay);
  if (crop_padding < 0) fail("expected a crop padding >= 0, but found {}", crop_padding);
  if (temperature <= 0) fail("expected --temperature > 0, but found {}", temperature);
  if (distillation_weight < 0 || distillation_weight > 1) fail("expected --kd-weight in [0, 1], but found {}", distillation_weight);
  if (!feature_pairs.empty() && teacher == nullptr) fail("expected --teacher with feature distillation, but none was given");
  if (feature_weight < 0) fail("expected --feature-kd-weight >= 0, but found {}", feature_weight);
  if (resume && checkpoint_dir.empty()) fail("expected --checkpoint-dir with --resume, but none was given");
  if (stop_after_epoch < 0) fail("expected --stop-after >= 0, but found {}", stop_after_epoch);
}

nlohmann::json TrainOptions::to_json() const {
  return {{"epochs", epochs},
          {"batch", batch},
          {"optimizer", optimizer},
          {"learning_rate", learning_rate},
          {"momentum", momentum},
          {"nesterov", nesterov},
          {"weight_decay", weight_decay},
          {"schedule", schedule},
          {"warmup_epochs", warmup_epochs},
          {"label_smoothing", label_smoothing},
          {"crop_padding", crop_padding},
          {"horizontal_flip", horizontal_flip},
          {"seed", seed},
          {"max_steps_per_epoch", max_steps_per_epoch},
          {"subset", subset},
          {"distillation", teacher != nullptr},
          {"temperature", temperature},
          {"distillation_weight", distillation_weight},
          {"feature_pairs", feature_pairs},
          {"feature_weight", feature_weight},
          {"loss", loss ? "custom" : "built-in"}};
}

torch::Tensor default_loss(const LossInputs& inputs) {
  const TrainOptions& options = inputs.options;
  torch::Tensor loss = F::cross_entropy(inputs.logits, inputs.labels,
                                        F::CrossEntropyFuncOptions().label_smoothing(options.label_smoothing));
  if (inputs.teacher_logits == nullptr) return loss;
  double t = options.temperature;
  torch::Tensor distillation =
      F::kl_div(torch::log_softmax(inputs.logits / t, 1), torch::softmax(*inputs.teacher_logits / t, 1),
                F::KLDivFuncOptions().reduction(torch::kBatchMean)) * (t * t);
  loss = (1 - options.distillation_weight) * loss + options.distillation_weight * distillation;
  if (!inputs.features.empty()) {
    torch::Tensor features = torch::zeros({});
    for (const auto& [student, teacher] : inputs.features) features = features + F::mse_loss(student, teacher);
    loss = loss + options.feature_weight * features / static_cast<double>(inputs.features.size());
  }
  return loss;
}

namespace {

// Bytes of activations one sample's forward pass produces (every node output), the basis of the memory checks.
int64_t activation_bytes_per_sample(const Graph& graph) {
  int64_t bytes = 0;
  for (const Node& node : graph.nodes) {
    for (const std::string& output : node.outputs) {
      const Shape& shape = graph.value(output).shape;
      int64_t batch = shape.empty() ? 1 : std::max<int64_t>(shape[0], 1);
      bytes += shape_elements(shape) / batch * static_cast<int64_t>(dtype_size(graph.value(output).dtype));
    }
  }
  return bytes;
}

int64_t parameter_bytes(const Graph& graph) {
  int64_t bytes = 0;
  for (const auto& [name, tensor] : graph.initializers) bytes += static_cast<int64_t>(tensor.size_bytes());
  return bytes;
}

// Training keeps each activation for the backward pass and makes its gradient (about 3x the forward's bytes with
// libtorch's temporaries), the optimizer 4 copies of the weights; a teacher adds its forward pass. A job that cannot
// fit says so before it starts, instead of the kernel's out-of-memory killer ending it silently.
void check_training_fits(const Graph& graph, const Graph* teacher, int64_t batch) {
  int64_t memory = physical_memory_bytes();
  if (memory <= 0) return;
  double needed = 3.0 * static_cast<double>(activation_bytes_per_sample(graph) * batch) + 4.0 * parameter_bytes(graph);
  if (teacher != nullptr) {
    needed += static_cast<double>(activation_bytes_per_sample(*teacher) * batch) + parameter_bytes(*teacher);
  }
  if (needed > 0.8 * static_cast<double>(memory)) {
    fail("expected training to fit in memory, but batch {} needs about {:.1f} GB ({:.1f} MB of activations per "
         "image) and this machine has {:.1f} GB; use a smaller --batch, or smaller images (--input)",
         batch, needed / 1e9, static_cast<double>(activation_bytes_per_sample(graph)) / 1e6,
         static_cast<double>(memory) / 1e9);
  }
}

// Evaluation runs in batches whose activations stay within this many bytes (the live ones, without gradients).
constexpr int64_t kEvaluationBytes = int64_t{1} << 30;

}  // namespace

TrainResult train(Graph& graph, const data::ImageDataset& training, const data::ImageDataset* validation,
                  const data::Preprocess& preprocess, const TrainOptions& options) {
  options.validate();
  keep_freed_memory();
  if (graph.inputs.size() != 1 || graph.outputs.empty()) fail("expected a graph with one input to train");
  const Shape& input_shape = graph.value(graph.inputs[0]).shape;
  if (Shape(input_shape.begin() + 1, input_shape.end()) != training.sample_shape()) {
    fail("expected training data of the model's input shape {}, but {} has samples of shape {}",
         shape_to_string(Shape(input_shape.begin() + 1, input_shape.end())), training.name,
         shape_to_string(training.sample_shape()));
  }
  TorchThreadScope threads(options.threads);
  int64_t samples = options.subset > 0 ? std::min(options.subset, training.size()) : training.size();
  if (samples < 1) fail("expected training samples, but {} has none", training.name);
  // A batch larger than the samples would read past them: the batch is then all of them.
  int64_t batch_size = std::min(options.batch, samples);
  if (batch_size < options.batch) {
    spdlog::warn("{} samples to train on, fewer than --batch {}: each step takes all {}", samples, options.batch, samples);
  }
  int64_t steps = std::max<int64_t>(1, samples / batch_size);  // whole batches only
  if (options.max_steps_per_epoch > 0) steps = std::min(steps, options.max_steps_per_epoch);
  check_training_fits(graph, options.teacher, batch_size);

  GraphModule module(graph);
  std::unique_ptr<GraphModule> teacher;
  if (options.teacher != nullptr) {
    check_feature_pairs(graph, *options.teacher, options.feature_pairs);
    teacher = std::make_unique<GraphModule>(*options.teacher);
    teacher->eval();
  }
  std::set<std::string> student_values = {graph.outputs[0]}, teacher_values;
  if (options.teacher != nullptr) teacher_values.insert(options.teacher->outputs[0]);
  for (const auto& [student_value, teacher_value] : options.feature_pairs) {
    student_values.insert(student_value);
    teacher_values.insert(teacher_value);
  }
  std::unique_ptr<torch::optim::Optimizer> optimizer = make_optimizer(module, options);

  TrainResult result;
  int64_t first_epoch = 1;
  std::filesystem::path checkpoint = options.checkpoint_dir / "checkpoint.pt";
  std::filesystem::path checkpoint_state = options.checkpoint_dir / "checkpoint.json";
  if (options.resume && std::filesystem::exists(checkpoint) && std::filesystem::exists(checkpoint_state)) {
    nlohmann::json state;
    try {
      state = nlohmann::json::parse(read_file(checkpoint_state));
      state.at("epoch").get<int64_t>();
      for (const auto& record : state.at("epochs")) record_from_json(record);
    } catch (const nlohmann::json::exception& error) {
      fail("expected {} as written by nacc train, but it cannot be read ({}); use a new --checkpoint-dir",
           checkpoint_state.string(), error.what());
    }
    check_resumable(state, options, checkpoint);
    try {
      torch::serialize::InputArchive archive, model_archive, optimizer_archive;
      archive.load_from(checkpoint.string());
      archive.read("model", model_archive);
      archive.read("optimizer", optimizer_archive);
      module.load(model_archive);
      optimizer->load(optimizer_archive);
    } catch (const c10::Error& error) {
      fail("expected {} to be a checkpoint of this model, but it cannot be loaded ({}); use a new --checkpoint-dir",
           checkpoint.string(), std::string(error.what_without_backtrace()).substr(0, 200));
    }
    for (const auto& record : state.at("epochs")) result.epochs.push_back(record_from_json(record));
    first_epoch = state.at("epoch").get<int64_t>() + 1;
    result.resumed = true;
    spdlog::info("resuming from {} after epoch {}", checkpoint.string(), first_epoch - 1);
  }

  for (int64_t epoch = first_epoch; epoch <= options.epochs; ++epoch) {
    module.train();
    torch::manual_seed(derive_seed(options.seed, "dropout") + static_cast<uint64_t>(epoch));
    std::vector<int64_t> order = epoch_order(samples, options.seed, epoch);
    Rng augment(derive_seed(options.seed, "augment") + static_cast<uint64_t>(epoch));
    ProgressBar progress(fmt::format("epoch {}/{}", epoch, options.epochs), steps * batch_size, "img",
                         options.show_progress ? stderr : nullptr);
    auto start = std::chrono::steady_clock::now();
    double loss_sum = 0, rate = 0;
    int64_t correct = 0, seen = 0;
    for (int64_t step = 0; step < steps; ++step) {
      rate = learning_rate_at(options, static_cast<double>(epoch - 1) + static_cast<double>(step) / static_cast<double>(steps));
      set_learning_rate(*optimizer, options.optimizer, rate);
      std::vector<int64_t> indices(order.begin() + step * batch_size, order.begin() + (step + 1) * batch_size);
      Batch batch = make_batch(training, indices, preprocess, options.crop_padding, options.horizontal_flip, &augment);
      optimizer->zero_grad();
      std::map<std::string, torch::Tensor> student = module.forward_values({{graph.inputs[0], batch.images}}, student_values);
      torch::Tensor logits = student.at(graph.outputs[0]);
      torch::Tensor teacher_logits;
      LossInputs inputs{.logits = logits, .labels = batch.labels, .teacher_logits = nullptr, .features = {}, .options = options};
      if (teacher) {
        std::map<std::string, torch::Tensor> taught;
        {
          torch::NoGradGuard no_grad;
          taught = teacher->forward_values({{options.teacher->inputs[0], batch.images}}, teacher_values);
        }
        teacher_logits = taught.at(options.teacher->outputs[0]);
        inputs.teacher_logits = &teacher_logits;
        for (const auto& [student_value, teacher_value] : options.feature_pairs) {
          inputs.features.emplace_back(student.at(student_value), taught.at(teacher_value));
        }
      }
      torch::Tensor loss = options.loss ? options.loss(inputs) : default_loss(inputs);
      loss.backward();
      optimizer->step();
      loss_sum += loss.item<double>();
      correct += logits.argmax(1).eq(batch.labels).sum().item<int64_t>();
      seen += batch_size;
      progress.set_postfix(fmt::format("loss {:.4f} top-1 {:.2f}% lr {:.4g}", loss_sum / static_cast<double>(step + 1),
                                       100.0 * static_cast<double>(correct) / static_cast<double>(seen), rate));
      progress.advance(batch_size);
    }
    progress.finish();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EpochRecord record{epoch, rate, loss_sum / static_cast<double>(steps), static_cast<double>(correct) / static_cast<double>(seen),
                       -1, static_cast<double>(seen) / seconds, seconds};
    module.write_back(graph);
    if (validation != nullptr) record.validation_top1 = evaluate_top1(graph, *validation, preprocess, 256, options.threads);
    result.epochs.push_back(record);
    spdlog::info("epoch {}/{}: loss {:.4f}, train top-1 {:.2f}%{}, {:.0f} img/s", epoch, options.epochs, record.train_loss,
                 100 * record.train_top1,
                 record.validation_top1 >= 0 ? fmt::format(", validation top-1 {:.2f}%", 100 * record.validation_top1) : "",
                 record.images_per_second);
    if (!options.checkpoint_dir.empty()) {
      torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
      module.save(model_archive);
      optimizer->save(optimizer_archive);
      archive.write("model", model_archive);
      archive.write("optimizer", optimizer_archive);
      std::filesystem::create_directories(options.checkpoint_dir);
      // Written to a new name, then renamed: a kill leaves the previous checkpoint intact.
      archive.save_to((checkpoint.string() + ".tmp"));
      std::filesystem::rename(checkpoint.string() + ".tmp", checkpoint);
      nlohmann::json epochs = nlohmann::json::array();
      for (const EpochRecord& done : result.epochs) epochs.push_back(record_to_json(done));
      write_json_file(checkpoint_state.string() + ".tmp", {{"epoch", epoch}, {"epochs", epochs}, {"options", options.to_json()}});
      std::filesystem::rename(checkpoint_state.string() + ".tmp", checkpoint_state);
      write_logs(options.checkpoint_dir, result.epochs, options);
    }
    if (options.stop_after_epoch > 0 && epoch >= options.stop_after_epoch) break;
  }
  module.write_back(graph);
  return result;
}

double evaluate_top1(const Graph& graph, const data::ImageDataset& dataset, const data::Preprocess& preprocess,
                     int64_t batch, int64_t threads) {
  TorchThreadScope scope(threads);
  GraphModule module(graph);
  module.eval();
  torch::NoGradGuard no_grad;
  batch = std::max<int64_t>(1, std::min(batch, kEvaluationBytes / std::max<int64_t>(1, activation_bytes_per_sample(graph))));
  int64_t correct = 0;
  for (int64_t first = 0; first < dataset.size(); first += batch) {
    std::vector<int64_t> indices(static_cast<size_t>(std::min(batch, dataset.size() - first)));
    std::iota(indices.begin(), indices.end(), first);
    Batch data = make_batch(dataset, indices, preprocess, 0, false, nullptr);
    correct += module.forward(data.images).argmax(1).eq(data.labels).sum().item<int64_t>();
  }
  return dataset.size() == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(dataset.size());
}

void recalibrate_batchnorm(Graph& graph, const data::ImageDataset& dataset, const data::Preprocess& preprocess,
                           int64_t batches, int64_t batch, uint64_t seed) {
  GraphModule module(graph);
  module.train();
  module.reset_batchnorm_statistics();
  torch::NoGradGuard no_grad;
  std::vector<int64_t> order = epoch_order(dataset.size(), seed, 0);
  int64_t available = dataset.size() / batch;
  for (int64_t k = 0; k < std::min(batches, available); ++k) {
    module.set_batchnorm_momentum(1.0 / static_cast<double>(k + 1));  // cumulative average
    std::vector<int64_t> indices(order.begin() + k * batch, order.begin() + (k + 1) * batch);
    module.forward(make_batch(dataset, indices, preprocess, 0, false, nullptr).images);
  }
  module.write_back(graph);
}

}  // namespace nacc::train
