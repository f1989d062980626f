// What machine a result was measured on: the CPU's model name, the instruction set oneDNN dispatches to, and the
// CPUs the process may use. Every figure nacc records names these, because the machines change from day to day.
#include <oneapi/dnnl/dnnl.hpp>

#include <fstream>
#include <string>

#include "runtime/runtime.h"

namespace nacc::runtime {

namespace {

std::string cpu_model_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    size_t begin = line.find_first_not_of(" \t", colon + 1);
    return begin == std::string::npos ? "unknown" : line.substr(begin);
  }
  return "unknown";
}

std::string isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "isa_all";
  }
}

std::string int8_isa_name(dnnl::cpu_isa isa) {
  // oneDNN names an int8 kernel by the instruction set it was generated for: AMX tiles, AVX-512 VNNI (bf16 CPUs
  // have it too), AVX2 VNNI, or the plain AVX-512 / AVX2 multiply-adds without VNNI.
  switch (isa) {
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    case dnnl::cpu_isa::avx512_core_bf16:
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    default: return isa_name(isa);
  }
}

}  // namespace

const CpuInfo& cpu_info() {
  static const CpuInfo info = [] {
    CpuInfo result;
    result.model = cpu_model_name();
    dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
    result.isa = isa_name(isa);
    result.int8_isa = int8_isa_name(isa);
    result.int8_saturates = result.int8_isa.find("vnni") == std::string::npos &&
                            result.int8_isa.find("amx") == std::string::npos;
    result.bf16 = isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
    result.usable_cores = static_cast<int64_t>(usable_cpus().size());
    const dnnl_version_t* version = dnnl::version();
    result.onednn_version = std::to_string(version->major) + "." + std::to_string(version->minor) + "." +
                            std::to_string(version->patch);
    return result;
  }();
  return info;
}

}  // namespace nacc::runtime
