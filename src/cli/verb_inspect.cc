// `nacc inspect model.onnx [--json] [--top N] [--batch N]`: inputs, outputs, op counts, parameters, MACs, per layer.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cli/format.h"
#include "cli/verbs.h"
#include "ir/analysis.h"
#include "onnx/onnx.h"

namespace nacc::cli {

namespace {

struct InspectOptions {
  std::string model;
  bool json = false;
  int64_t top = 0;
  int64_t batch = 0;
};

std::string describe_value(const Graph& graph, const std::string& name) {
  const ValueInfo& info = graph.value(name);
  return fmt::format("{} {} {}", name, dtype_name(info.dtype), shape_to_string(info.shape));
}

nlohmann::json to_json(const InspectOptions& options, const Graph& graph, const GraphStats& stats) {
  nlohmann::json result;
  result["model"] = options.model;
  result["graph"] = graph.name;
  result["opset"] = graph.opset_version;
  auto values = [&](const std::vector<std::string>& names) {
    nlohmann::json list = nlohmann::json::array();
    for (const std::string& name : names) {
      const ValueInfo& info = graph.value(name);
      list.push_back({{"name", name}, {"dtype", dtype_name(info.dtype)}, {"shape", info.shape}});
    }
    return list;
  };
  result["inputs"] = values(graph.inputs);
  result["outputs"] = values(graph.outputs);
  result["nodes"] = graph.nodes.size();
  result["parameters"] = stats.parameters;
  result["macs"] = stats.macs;
  result["op_counts"] = stats.op_counts;
  nlohmann::json metadata = nlohmann::json::object();
  for (const auto& [key, value] : graph.metadata) metadata[key] = value;
  result["metadata"] = metadata;
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerStats& layer : stats.layers) {
    layers.push_back({{"name", layer.name},
                      {"op", op_name(layer.op)},
                      {"output_shape", layer.output_shape},
                      {"parameters", layer.parameters},
                      {"macs", layer.macs}});
  }
  result["layers"] = layers;
  return result;
}

void print_text(const InspectOptions& options, const Graph& graph, const GraphStats& stats) {
  fmt::print("model:      {} (graph '{}', opset {})\n", options.model, graph.name, graph.opset_version);
  for (const std::string& input : graph.inputs) fmt::print("input:      {}\n", describe_value(graph, input));
  for (const std::string& output : graph.outputs) fmt::print("output:     {}\n", describe_value(graph, output));
  fmt::print("nodes:      {}\n", graph.nodes.size());
  fmt::print("parameters: {} ({})\n", with_thousands(stats.parameters), human_count(static_cast<double>(stats.parameters)));
  fmt::print("MACs:       {} ({})\n", with_thousands(stats.macs), human_count(static_cast<double>(stats.macs)));
  std::vector<std::string> counts;
  for (const auto& [op, count] : stats.op_counts) counts.push_back(fmt::format("{} {}", op, count));
  fmt::print("ops:        {}\n", fmt::join(counts, ", "));
  for (const auto& [key, value] : graph.metadata) fmt::print("metadata:   {} = {}\n", key, value);

  std::vector<const LayerStats*> layers;
  for (const LayerStats& layer : stats.layers) layers.push_back(&layer);
  std::string heading = "layers";
  if (options.top > 0 && options.top < static_cast<int64_t>(layers.size())) {
    std::stable_sort(layers.begin(), layers.end(), [](const LayerStats* a, const LayerStats* b) { return a->macs > b->macs; });
    layers.resize(static_cast<size_t>(options.top));
    heading = fmt::format("top {} layers by MACs", options.top);
  }
  fmt::print("\n{}:\n{:<32} {:<20} {:<20} {:>12} {:>15} {:>6}\n", heading, "name", "op", "output shape", "params",
             "MACs", "share");
  for (const LayerStats* layer : layers) {
    double share = stats.macs > 0 ? 100.0 * static_cast<double>(layer->macs) / static_cast<double>(stats.macs) : 0.0;
    fmt::print("{:<32} {:<20} {:<20} {:>12} {:>15} {:>5.1f}%\n", layer->name, op_name(layer->op),
               shape_to_string(layer->output_shape), with_thousands(layer->parameters), with_thousands(layer->macs),
               share);
  }
}

}  // namespace

void add_inspect_verb(CLI::App& app) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* verb = app.add_subcommand("inspect", "Show a model's inputs, outputs, ops, parameters and MACs per layer");
  verb->add_option("model", options->model, "ONNX model file")->required();
  verb->add_flag("--json", options->json, "Print JSON instead of text");
  verb->add_option("--top", options->top, "Show only the N layers with the most MACs (0: all)")->check(at_least(0));
  verb->add_option("--batch", options->batch, "Set the batch size of the inputs (default: as declared, a symbolic batch 1)")
      ->check(at_least(1));
  verb->callback([options] {
    Graph graph = import_onnx_file(options->model, ImportOptions{.batch = options->batch, .constant_inputs = {}});
    GraphStats stats = analyze_graph(graph);
    if (options->json) {
      fmt::print("{}\n", to_json(*options, graph, stats).dump(2));
    } else {
      print_text(*options, graph, stats);
    }
  });
}

}  // namespace nacc::cli
