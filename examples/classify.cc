// Example for the public API (include/nacc/nacc.h): compile an ONNX classifier and print the top classes of one
// input read from a raw float32 file, or of generated data.
// Usage: nacc_classify model.onnx [input.f32]
#include <nacc/nacc.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s model.onnx [input.f32]\n", argv[0]);
    return 2;
  }
  try {
    nacc::CompiledModel model = nacc::compile(argv[1], {.batch = 1, .threads = 0, .precision = "auto"});
    const nacc::TensorInfo input = model.inputs().at(0);
    const nacc::TensorInfo output = model.outputs().at(0);
    std::vector<float> data(static_cast<size_t>(input.elements()));
    if (argc > 2) {
      std::ifstream file(argv[2], std::ios::binary);
      file.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size() * sizeof(float)));
      if (file.gcount() != static_cast<std::streamsize>(data.size() * sizeof(float))) {
        std::fprintf(stderr, "expected %zu float32 values in %s\n", data.size(), argv[2]);
        return 1;
      }
    } else {
      for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i % 251) / 251.0f - 0.5f;
    }
    nacc::InferRequest request = model.create_request();
    request.set_input(input.name, data.data(), data.size());
    request.run();
    std::span<const float> scores = request.output(output.name);
    std::vector<size_t> order(scores.size());
    std::iota(order.begin(), order.end(), 0);
    size_t shown = std::min<size_t>(5, order.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(shown), order.end(),
                      [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    std::printf("nacc %s, %s model, output %s:", nacc::version().c_str(), model.precision().c_str(), output.name.c_str());
    for (size_t i = 0; i < shown; ++i) std::printf(" %zu (%.4g)", order[i], scores[order[i]]);
    std::printf("\n");
  } catch (const nacc::Error& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
  return 0;
}
