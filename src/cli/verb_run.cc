// `nacc run model.onnx --input x.npy|x.pb [--input name=file ...] -o y.npy`: one inference through the compiled
// runtime (or, with --reference, the plain reference executor), or with --random-input on generated data.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <numeric>

#include "cli/verbs.h"
#include "core/error.h"
#include "core/files.h"
#include "core/progress.h"
#include "core/rng.h"
#include "compiler/compiler.h"
#include "ir/executor.h"
#include "runtime/runtime.h"
#include "ir/npy.h"
#include "onnx/onnx.h"

namespace nacc::cli {

namespace {

struct RunOptions {
  std::string model;
  std::vector<std::string> inputs;
  std::string output;
  bool random_input = false;
  uint64_t seed = 0;
  int64_t batch = 0;
  bool reference = false;
  runtime::RuntimeOptions runtime;
  std::string precision = "auto";
};

Tensor read_input_file(const std::string& path) {
  std::string extension = std::filesystem::path(path).extension().string();
  if (extension == ".npy") return read_npy_file(path);
  if (extension == ".pb") return read_tensor_proto_file(path);
  fail("expected an input file ending in .npy (NumPy) or .pb (onnx.TensorProto), but found '{}'", path);
}

// The --input arguments read: (name, tensor), the name empty for a bare FILE.
std::vector<std::pair<std::string, Tensor>> read_inputs(const RunOptions& options) {
  std::vector<std::pair<std::string, Tensor>> read;
  for (const std::string& argument : options.inputs) {
    auto equals = argument.find('=');
    if (equals == std::string::npos) {
      read.emplace_back("", read_input_file(argument));
    } else {
      read.emplace_back(argument.substr(0, equals), read_input_file(argument.substr(equals + 1)));
    }
  }
  return read;
}

std::map<std::string, Tensor> gather_inputs(const RunOptions& options, const Graph& graph,
                                            std::vector<std::pair<std::string, Tensor>> read) {
  std::map<std::string, Tensor> inputs;
  if (options.random_input) {
    if (!options.inputs.empty()) fail("expected either --input or --random-input, but found both");
    Rng rng(options.seed, seed_concern::kInput);
    for (const std::string& name : graph.inputs) {
      const ValueInfo& info = graph.value(name);
      if (info.dtype != DataType::f32) fail("--random-input makes f32 data, but input '{}' is {}", name, dtype_name(info.dtype));
      Tensor tensor(DataType::f32, info.shape);
      for (float& value : tensor.values<float>()) value = static_cast<float>(rng.normal());
      inputs.emplace(name, std::move(tensor));
    }
    return inputs;
  }
  if (read.empty()) fail("expected --input FILE (or --input NAME=FILE per input), or --random-input");
  for (auto& [name, tensor] : read) {
    if (name.empty()) {
      if (graph.inputs.size() != 1) {
        fail("the model has {} inputs, so expected --input NAME=FILE for each, but found a bare file",
             graph.inputs.size());
      }
      name = graph.inputs[0];
    } else if (std::find(graph.inputs.begin(), graph.inputs.end(), name) == graph.inputs.end()) {
      fail("expected --input NAME=FILE with NAME one of the model's inputs, but '{}' is not one", name);
    }
    inputs[name] = std::move(tensor);
  }
  return inputs;
}

void summarize(const std::string& name, const Tensor& tensor) {
  std::string line = fmt::format("output {} {} {}", name, dtype_name(tensor.dtype()), shape_to_string(tensor.shape()));
  if (tensor.dtype() == DataType::f32 && tensor.elements() > 0) {
    std::span<const float> values = tensor.values<float>();
    auto [low, high] = std::minmax_element(values.begin(), values.end());
    double mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
    line += fmt::format(": min {:.4g}, max {:.4g}, mean {:.4g}", *low, *high, mean);
    if (tensor.rank() == 2) {
      // Classifier output: the top classes of the first sample.
      int64_t classes = tensor.shape()[1];
      std::vector<int64_t> order(static_cast<size_t>(classes));
      std::iota(order.begin(), order.end(), 0);
      int64_t shown = std::min<int64_t>(5, classes);
      std::partial_sort(order.begin(), order.begin() + shown, order.end(),
                        [&](int64_t a, int64_t b) { return values[a] > values[b]; });
      line += "; sample 0 top classes:";
      for (int64_t i = 0; i < shown; ++i) line += fmt::format(" {} ({:.4g})", order[i], values[order[i]]);
    }
  }
  fmt::print("{}\n", line);
}

void run(const RunOptions& options) {
  std::vector<std::pair<std::string, Tensor>> read = read_inputs(options);
  ImportOptions import_options{.batch = options.batch, .constant_inputs = {}};
  if (options.batch == 0 && !read.empty() && read.front().second.rank() > 0) {
    // A symbolic batch takes the input file's; a fixed one stays, and a file of another batch is an error below.
    import_options.batch = read.front().second.shape()[0];
    import_options.batch_only_if_symbolic = true;
  }
  Graph graph = import_onnx_file(options.model, import_options);
  std::map<std::string, Tensor> inputs = gather_inputs(options, graph, std::move(read));
  if (!options.output.empty() && graph.outputs.size() == 1) check_writable(options.output);
  std::map<std::string, Tensor> outputs;
  if (options.reference) {
    ReferenceExecutor executor(graph);
    auto start = std::chrono::steady_clock::now();
    ProgressBar progress("reference run", static_cast<int64_t>(graph.nodes.size()), "node", stderr, 1.0);
    outputs = executor.run(inputs, [&](size_t) { progress.advance(); });
    progress.finish();
    double elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    spdlog::info("ran {} nodes with the reference executor in {:.1f} ms", graph.nodes.size(), elapsed_ms);
  } else {
    for (const auto& [name, tensor] : inputs) {
      if (tensor.dtype() != DataType::f32) continue;
      if (int64_t bad = first_non_finite(tensor.values<float>()); bad >= 0) {
        fail("expected finite numbers in input '{}', but element {} is {}: the compiled runtime does not carry NaN and "
             "infinity through the network as the reference executor does; replace them, or run with --reference",
             name, bad, tensor.values<float>()[static_cast<size_t>(bad)]);
      }
    }
    auto start = std::chrono::steady_clock::now();
    runtime::CompiledModel model = runtime::compile_graph(
        std::move(graph), {.precision = options.precision,
                           .runtime = options.runtime,
                           .dump_ir = {}});
    double compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    start = std::chrono::steady_clock::now();
    runtime::ExecutionContextPtr context = model.create_context();
    ProgressBar progress("compiled run", model.pieces(), "piece", stderr, 1.0);
    outputs = model.run(*context, inputs, nullptr, [&] { progress.advance(); });
    progress.finish();
    double elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    spdlog::info("compiled in {:.1f} ms ({} layers, {} on reference kernels); ran in {:.1f} ms (first run, including "
                 "allocation)",
                 compile_ms, model.plan().layers.size(), model.plan().fallbacks.size(), elapsed_ms);
  }
  for (const auto& [name, tensor] : outputs) summarize(name, tensor);
  if (options.output.empty()) return;
  if (outputs.size() == 1) {
    write_npy_file(outputs.begin()->second, options.output);
    spdlog::info("wrote {}", options.output);
    return;
  }
  // Several outputs: -o names a folder with one NAME.npy per output.
  for (const auto& [name, tensor] : outputs) {
    std::string file_name = name;
    std::replace_if(file_name.begin(), file_name.end(), [](char c) { return c == '/' || c == ':'; }, '_');
    write_npy_file(tensor, std::filesystem::path(options.output) / (file_name + ".npy"));
  }
  spdlog::info("wrote {} outputs to {}/", outputs.size(), options.output);
}

}  // namespace

void add_run_verb(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* verb = app.add_subcommand("run", "Run a model once on given inputs (.npy or .pb) and save its outputs");
  verb->add_option("model", options->model, "ONNX model file")->required();
  verb->add_option("-i,--input", options->inputs, "Input tensor: FILE.npy|FILE.pb, or NAME=FILE per input");
  verb->add_flag("--random-input", options->random_input, "Feed standard-normal data instead of files");
  verb->add_option("--seed", options->seed, "Seed of --random-input")->capture_default_str();
  verb->add_option("-o,--output", options->output,
                   "Output .npy file (a folder of NAME.npy files when the model has several outputs)");
  verb->add_option("--batch", options->batch,
                   "Set the batch size of the inputs (default: a symbolic batch takes the input file's, or 1)")
      ->check(at_least(1));
  verb->add_flag("--reference", options->reference, "Run on the plain reference executor instead of the compiled runtime");
  add_runtime_options(*verb, options->runtime);
  verb->add_option("--precision", options->precision, "auto (int8 for a QDQ model), fp32, int8 or bf16 (on CPUs with AVX-512 BF16 or AMX)")->capture_default_str();
  verb->callback([options] { run(*options); });
}

}  // namespace nacc::cli
