// `nacc train --arch NAME | --model init.onnx --data fashion-mnist|cifar10|folder:PATH --epochs N -o model.onnx` and
// `nacc eval model.onnx --data fashion-mnist:test`.
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <optional>

#include "bench/evaluate.h"
#include "cli/format.h"
#include "cli/verbs.h"
#include "core/error.h"
#include "core/files.h"
#include "ir/zoo/zoo.h"
#include "onnx/onnx.h"
#include "train/trainer.h"

namespace nacc::cli {

namespace {

struct TrainCliOptions {
  std::string arch;
  std::string model;
  std::string data = "fashion-mnist";
  std::string validation_data;
  std::string output;
  std::string teacher;
  std::vector<std::string> feature_pairs;
  int64_t validation_samples = 0;
  std::string input;  // CxHxW: image folders read at this shape for --arch (default: the folder's own)
  train::TrainOptions train;
};

// A data set by spec, an image folder read at the model's input shape (NCHW) and resize.
data::ImageDataset load_for(const std::string& spec, const Graph& graph, const data::Preprocess& preprocess) {
  const Shape& input = graph.value(graph.inputs[0]).shape;
  return data::load_dataset_as(spec, Shape(input.begin() + 1, input.end()), preprocess.resize);
}

// The training split of --data: fashion-mnist and cifar10 name their train split, anything else (folder:PATH, or a
// spec with its split) is used as given.
std::string training_spec(const std::string& data) {
  return data == "fashion-mnist" || data == "cifar10" ? data + ":train" : data;
}

// The validation split: --val-data, else the held-out val split of fashion-mnist or cifar10, else none.
std::string validation_spec(const TrainCliOptions& options) {
  if (!options.validation_data.empty()) return options.validation_data;
  std::string name = options.data.substr(0, options.data.find(':'));
  return name == "fashion-mnist" || name == "cifar10" ? name + ":val" : "";
}

std::pair<std::string, std::string> parse_feature_pair(const std::string& text) {
  size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0 || equals + 1 == text.size()) {
    fail("expected --feature-kd as STUDENT_VALUE=TEACHER_VALUE (e.g. layer2.0.relu=layer2.0.relu), but found '{}'", text);
  }
  return {text.substr(0, equals), text.substr(equals + 1)};
}

void run_train(TrainCliOptions options) {
  if (options.arch.empty() == options.model.empty()) fail("expected exactly one of --arch NAME or --model FILE");
  for (const std::string& pair : options.feature_pairs) options.train.feature_pairs.push_back(parse_feature_pair(pair));
  if (options.validation_samples < 0) fail("expected --validation-samples >= 0, but found {}", options.validation_samples);
  Graph teacher;
  if (!options.teacher.empty()) {
    teacher = import_onnx_file(options.teacher);
    options.train.teacher = &teacher;
  }
  options.train.validate();
  check_writable(options.output);
  // A zoo architecture takes the data's image shape (an image folder's own, or --input) and class count; a model must
  // already fit the data, and reads an image folder as its preprocessing records.
  Graph graph;
  data::ImageDataset training;
  data::Preprocess preprocess;
  std::string training_name = training_spec(options.data);
  bool folder = training_name.starts_with("folder:");
  if (options.arch.empty()) {
    if (!options.input.empty()) fail("expected --input only with --arch (a --model has its input shape)");
    graph = import_onnx_file(options.model);
    preprocess = data::model_preprocess(graph.get_metadata("nacc.preprocess"), options.data);
    training = load_for(training_name, graph, preprocess);
  } else {
    Shape shape = options.input.empty() ? Shape{} : parse_image_shape(options.input, "--input");
    if (!shape.empty() && !folder) fail("expected --input only with an image folder (--data folder:PATH)");
    std::string resize = shape.empty() ? "" : data::default_resize(shape[0], shape[1], shape[2]);
    training = data::load_dataset_as(training_name, shape, resize);
    graph = zoo::build_zoo_model(options.arch, {.batch = 1, .seed = options.train.seed},
                                 {.input = training.sample_shape(), .classes = training.classes});
    preprocess = folder ? data::folder_preprocess(training, data::default_resize(training.channels, training.height,
                                                                                  training.width))
                        : data::default_preprocess(options.data);
  }
  std::string validation_name = validation_spec(options);
  std::optional<data::ImageDataset> validation;
  if (!validation_name.empty()) {
    validation = load_for(validation_name, graph, preprocess);
    if (options.validation_samples > 0 && options.validation_samples < validation->size()) {
      validation->labels.resize(static_cast<size_t>(options.validation_samples));
      validation->pixels.resize(static_cast<size_t>(options.validation_samples * validation->sample_elements()));
    }
  }
  train::TrainResult result =
      train::train(graph, training, validation ? &*validation : nullptr, preprocess, options.train);
  const train::EpochRecord& last = result.epochs.back();
  graph.set_metadata("nacc.preprocess", preprocess.to_json());
  graph.set_metadata("nacc.training", options.train.to_json().dump());
  if (validation) graph.set_metadata("nacc.accuracy", nlohmann::json{{validation_name, last.validation_top1}}.dump());
  export_onnx_file(graph, options.output);
  spdlog::info("wrote {} after {} epochs{}", options.output, last.epoch,
               validation ? fmt::format(": top-1 {:.2f}% on {}", 100 * last.validation_top1, validation_name) : "");
}

struct EvalCliOptions {
  std::string model;
  std::string data = "fashion-mnist:test";
  std::string precision = "auto";
  int64_t batch = 64;
  bool reference = false;
  runtime::RuntimeOptions runtime;
};

void run_eval(const EvalCliOptions& options) {
  Graph graph = import_onnx_file(options.model, ImportOptions{.batch = options.batch, .constant_inputs = {}});
  data::Preprocess preprocess = data::model_preprocess(graph.get_metadata("nacc.preprocess"), options.data);
  data::ImageDataset dataset = load_for(options.data, graph, preprocess);
  bench::Evaluation evaluation =
      bench::evaluate(graph, dataset, preprocess,
                      {.precision = options.precision, .reference = options.reference, .runtime = options.runtime});
  fmt::print("{}: top-1 {:.2f}% ({} of {}) on {}, {}\n", options.model, 100 * evaluation.top1, evaluation.correct,
             evaluation.samples, options.data, evaluation.executor);
  for (size_t c = 0; c < evaluation.class_top1.size(); ++c) {
    fmt::print("  class {}: {:.2f}%\n", c, 100 * evaluation.class_top1[c]);
  }
}

}  // namespace

void add_train_verbs(CLI::App& app) {
  auto train = std::make_shared<TrainCliOptions>();
  CLI::App* verb = app.add_subcommand("train", "Train a zoo architecture or an ONNX model (libtorch), with checkpoints");
  verb->add_option("--arch", train->arch, "Zoo architecture to train from scratch (see `nacc zoo list`)");
  verb->add_option("--model", train->model, "ONNX model to start from");
  verb->add_option("--data", train->data,
                   "fashion-mnist or cifar10 (train split trains, val split validates), or folder:PATH")->capture_default_str();
  verb->add_option("--val-data", train->validation_data, "Validation data instead of --data's val split");
  verb->add_option("--input", train->input,
                   "With --arch and an image folder: read the images as CxHxW (default: the folder's own channels and "
                   "size; photographs as ImageNet's 3x224x224 crop)");
  verb->add_option("-o,--output", train->output, "Trained ONNX model to write")->required();
  verb->add_option("--epochs", train->train.epochs, "Epochs")->capture_default_str();
  verb->add_option("--batch", train->train.batch, "Batch size")->capture_default_str();
  verb->add_option("--optimizer", train->train.optimizer, "sgd or adamw")->capture_default_str();
  verb->add_option("--lr", train->train.learning_rate, "Peak learning rate")->capture_default_str();
  verb->add_option("--momentum", train->train.momentum, "SGD momentum")->capture_default_str();
  verb->add_flag("!--no-nesterov", train->train.nesterov, "Plain momentum instead of Nesterov");
  verb->add_option("--weight-decay", train->train.weight_decay, "Weight decay on weights")->capture_default_str();
  verb->add_option("--schedule", train->train.schedule, "cosine, onecycle or constant")->capture_default_str();
  verb->add_option("--warmup-epochs", train->train.warmup_epochs, "Linear warm-up (cosine, constant)")->capture_default_str();
  verb->add_option("--label-smoothing", train->train.label_smoothing, "Label smoothing")->capture_default_str();
  verb->add_option("--crop-padding", train->train.crop_padding, "Random crop after padding (0: off)")->capture_default_str();
  verb->add_flag("!--no-flip", train->train.horizontal_flip, "No random horizontal flips");
  verb->add_option("--seed", train->train.seed, "Seed (weights, data order, augmentation)")->capture_default_str();
  verb->add_option("--threads", train->train.threads, "Threads (0: one per core)")->capture_default_str();
  verb->add_option("--max-steps", train->train.max_steps_per_epoch, "At most this many batches per epoch (0: all)");
  verb->add_option("--subset", train->train.subset, "Train on the first N samples only (0: all)");
  verb->add_option("--validation-samples", train->validation_samples, "Validate on the first N samples of val (0: all)");
  verb->add_option("--checkpoint-dir", train->train.checkpoint_dir, "Checkpoint and logs after every epoch here");
  verb->add_flag("--resume", train->train.resume, "Continue from --checkpoint-dir's checkpoint");
  verb->add_option("--stop-after", train->train.stop_after_epoch,
                   "Stop after this epoch (the schedule still spans --epochs); continue later with --resume");
  verb->add_option("--teacher", train->teacher, "Distil from this ONNX model");
  verb->add_option("--temperature", train->train.temperature, "Distillation temperature")->capture_default_str();
  verb->add_option("--kd-weight", train->train.distillation_weight, "Weight of the distillation loss")->capture_default_str();
  verb->add_option("--feature-kd", train->feature_pairs,
                   "STUDENT_VALUE=TEACHER_VALUE: also match these feature maps (mean squared error); repeatable");
  verb->add_option("--feature-kd-weight", train->train.feature_weight, "Weight of the feature-map loss")->capture_default_str();
  verb->callback([train] { run_train(*train); });

  auto eval = std::make_shared<EvalCliOptions>();
  CLI::App* eval_verb = app.add_subcommand("eval", "Top-1 accuracy of a model on a labelled data set");
  eval_verb->add_option("model", eval->model, "ONNX model file")->required();
  eval_verb->add_option("--data", eval->data, "Data set")->capture_default_str();
  eval_verb->add_option("--precision", eval->precision, "auto (int8 for a QDQ model), fp32, int8 or bf16 (on CPUs with AVX-512 BF16 or AMX)")->capture_default_str();
  eval_verb->add_option("--batch", eval->batch, "Samples per inference")->capture_default_str()->check(at_least(1));
  eval_verb->add_flag("--reference", eval->reference, "Use the plain reference executor");
  add_runtime_options(*eval_verb, eval->runtime);
  eval_verb->callback([eval] { run_eval(*eval); });
}

}  // namespace nacc::cli
