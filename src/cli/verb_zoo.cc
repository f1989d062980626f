// `nacc zoo list` and `nacc zoo export NAME -o model.onnx [--batch N] [--seed S] [--input CxHxW] [--classes N]`.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/format.h"
#include "cli/verbs.h"
#include "ir/analysis.h"
#include "ir/zoo/zoo.h"
#include "onnx/onnx.h"

namespace nacc::cli {

namespace {

void list_models() {
  fmt::print("{:<16} {:<14} {:>7} {:>10} {:>9}  {}\n", "name", "input", "classes", "params", "MACs", "description");
  for (const zoo::ZooModel& model : zoo::zoo_models()) {
    GraphStats stats = analyze_graph(model.build(zoo::ZooOptions{}, zoo::ZooShape{}));
    fmt::print("{:<16} {:<14} {:>7} {:>10} {:>9}  {}\n", model.name,
               fmt::format("{}x{}x{}", model.input_shape[0], model.input_shape[1], model.input_shape[2]),
               model.classes, human_count(static_cast<double>(stats.parameters)),
               human_count(static_cast<double>(stats.macs)), model.description);
  }
}

}  // namespace

void add_zoo_verb(CLI::App& app) {
  CLI::App* zoo = app.add_subcommand("zoo", "Built-in architectures: list them, export one as ONNX");
  zoo->require_subcommand(1);
  zoo->add_subcommand("list", "List the zoo's models with their parameters and MACs")->callback(list_models);

  struct ZooExportOptions {
    std::string name;
    std::string output;
    int64_t batch = 0;
    uint64_t seed = 0;
    std::string input;
    int64_t classes = 0;
  };
  auto options = std::make_shared<ZooExportOptions>();
  CLI::App* export_verb = zoo->add_subcommand("export", "Build a zoo model with He-initialised weights and save it as ONNX");
  export_verb->add_option("name", options->name, "Model name (see `nacc zoo list`)")->required();
  export_verb->add_option("-o,--output", options->output, "Output ONNX file")->required();
  export_verb->add_option("--batch", options->batch,
                          "Fix the batch in the file (default: a symbolic batch N, which other runtimes set per run)")
      ->check(at_least(1));
  export_verb->add_option("--seed", options->seed, "Seed of the weight initialisation")->capture_default_str();
  export_verb->add_option("--input", options->input, "Image shape CxHxW instead of the model's own (e.g. 1x28x28)");
  export_verb->add_option("--classes", options->classes, "Classes instead of the model's own")->check(at_least(1));
  export_verb->callback([options] {
    zoo::ZooShape shape{.input = {}, .classes = options->classes};
    if (!options->input.empty()) shape.input = parse_image_shape(options->input, "--input");
    int64_t batch = std::max<int64_t>(options->batch, 1);
    Graph graph = zoo::build_zoo_model(options->name, {.batch = batch, .seed = options->seed}, shape);
    export_onnx_file(graph, options->output, nacc::ExportOptions{.symbolic_batch = options->batch == 0, .batch_name = "N"});
    GraphStats stats = analyze_graph(graph);
    spdlog::info("wrote {} ({} parameters, {} MACs per batch of {}) to {}", options->name,
                 human_count(static_cast<double>(stats.parameters)), human_count(static_cast<double>(stats.macs)),
                 batch, options->output);
  });
}

}  // namespace nacc::cli
