// Measures this machine's peak arithmetic rate, the ceiling that docs/BENCHMARKS.md compares nacc against:
// FP32 FMA (vfmadd231ps zmm), INT8 VNNI (vpdpbusd zmm), BF16 (vdpbf16ps zmm, on AVX-512 BF16) and, where the CPU has
// AMX, INT8 and BF16 tile multiplies (tdpbusd, tdpbf16ps), on every core, from independent accumulator chains. The best
// of several short trials is reported, since a shared machine only ever slows a trial down. A figure the CPU cannot
// measure is null.
// Usage: nacc_peak [seconds per trial] [trials]
#include <cpuid.h>
#include <immintrin.h>
#include <omp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

constexpr int kChains = 16;  // enough independent chains to hide the FMA latency on two ports

template <typename Body>
double rate_per_second(double seconds, long operations_per_iteration, Body body) {
  long iterations = 1 << 20;
  double total_operations = 0;
  auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
#pragma omp parallel
    body(iterations);
    total_operations += static_cast<double>(iterations) * operations_per_iteration * omp_get_max_threads();
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return total_operations / elapsed;
}

__attribute__((target("avx512f"))) void fma_loop(long iterations) {
  __m512 accumulators[kChains];
  for (int i = 0; i < kChains; ++i) accumulators[i] = _mm512_set1_ps(static_cast<float>(i) * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long n = 0; n < iterations; ++n) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) accumulators[i] = _mm512_fmadd_ps(accumulators[i], a, b);
  }
  float sink = 0;
  alignas(64) float lanes[16];
  for (int i = 0; i < kChains; ++i) {
    _mm512_store_ps(lanes, accumulators[i]);
    for (float lane : lanes) sink += lane;
  }
  if (sink == 12345.0f) std::puts("");  // keep the result alive
}

// Written in assembly: GCC's code for the intrinsics version reaches only about half of the VNNI rate.
__attribute__((target("avx512f,avx512vnni"))) void vnni_loop(long iterations) {
  if (iterations <= 0) return;
  asm volatile(
      "vpxord %%zmm16, %%zmm16, %%zmm16\n\t"
      "vpternlogd $0xff, %%zmm17, %%zmm17, %%zmm17\n\t"
      "1:\n\t"
      "vpdpbusd %%zmm16, %%zmm17, %%zmm0\n\t"
      "vpdpbusd %%zmm16, %%zmm17, %%zmm1\n\t"
      "vpdpbusd %%zmm16, %%zmm17, %%zmm2\n\t"
      "vpdpbusd %%zmm16, %%zmm17, %%zmm3\n\t"
      "vpdpbusd %%zmm16, %%zmm17, %%zmm4\n\t"
      "vpdpbusd %%zmm16, %%zmm17, %%zmm5\n\t"
      "vpdpbusd %%zmm16, %%zmm17, %%zmm6\n\t"
      "vpdpbusd %%zmm16, %%zmm17, %%zmm7\n\t"
      "vpdpbusd %%zmm16, %%zmm17, %%zmm8\n\t"
      "vpdpbusd %%zmm16, %%zmm17, %%zmm9\n\t"
      "vpdpbusd %%zmm16, %%zmm17, %%zmm10\n\t"
      "vpdpbusd %%zmm16, %%zmm17, %%zmm11\n\t"
      "vpdpbusd %%zmm16, %%zmm17, %%zmm12\n\t"
      "vpdpbusd %%zmm16, %%zmm17, %%zmm13\n\t"
      "vpdpbusd %%zmm16, %%zmm17, %%zmm14\n\t"
      "vpdpbusd %%zmm16, %%zmm17, %%zmm15\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(iterations)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
        "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "cc");
}

// One vdpbf16ps adds 2 bf16 products into each of 16 f32 lanes: 32 multiply-accumulates.
__attribute__((target("avx512f,avx512bf16"))) void bf16_loop(long iterations) {
  if (iterations <= 0) return;
  asm volatile(
      "vpxord %%zmm16, %%zmm16, %%zmm16\n\t"
      "vpxord %%zmm17, %%zmm17, %%zmm17\n\t"
      "1:\n\t"
      "vdpbf16ps %%zmm16, %%zmm17, %%zmm0\n\t"
      "vdpbf16ps %%zmm16, %%zmm17, %%zmm1\n\t"
      "vdpbf16ps %%zmm16, %%zmm17, %%zmm2\n\t"
      "vdpbf16ps %%zmm16, %%zmm17, %%zmm3\n\t"
      "vdpbf16ps %%zmm16, %%zmm17, %%zmm4\n\t"
      "vdpbf16ps %%zmm16, %%zmm17, %%zmm5\n\t"
      "vdpbf16ps %%zmm16, %%zmm17, %%zmm6\n\t"
      "vdpbf16ps %%zmm16, %%zmm17, %%zmm7\n\t"
      "vdpbf16ps %%zmm16, %%zmm17, %%zmm8\n\t"
      "vdpbf16ps %%zmm16, %%zmm17, %%zmm9\n\t"
      "vdpbf16ps %%zmm16, %%zmm17, %%zmm10\n\t"
      "vdpbf16ps %%zmm16, %%zmm17, %%zmm11\n\t"
      "vdpbf16ps %%zmm16, %%zmm17, %%zmm12\n\t"
      "vdpbf16ps %%zmm16, %%zmm17, %%zmm13\n\t"
      "vdpbf16ps %%zmm16, %%zmm17, %%zmm14\n\t"
      "vdpbf16ps %%zmm16, %%zmm17, %%zmm15\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(iterations)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
        "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "cc");
}

// AMX: eight 16 x 64-byte tiles. Four accumulators (tmm0-3) take the products of two A tiles (tmm4, tmm5) and two B
// tiles (tmm6, tmm7), four independent chains. tdpbusd: 16 x 16 outputs of 64 u8 x s8 products = 16,384 MACs;
// tdpbf16ps: 16 x 16 outputs of 32 bf16 products = 8,192 MACs.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

__attribute__((target("amx-tile"))) void configure_tiles() {
  TileConfig config;
  for (int tile = 0; tile < 8; ++tile) {
    config.bytes_per_row[tile] = 64;
    config.rows[tile] = 16;
  }
  _tile_loadconfig(&config);
  alignas(64) static uint8_t zeros[16 * 64] = {};
  _tile_loadd(4, zeros, 64);
  _tile_loadd(5, zeros, 64);
  _tile_loadd(6, zeros, 64);
  _tile_loadd(7, zeros, 64);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
}

// Compiled for both AMX kinds; a run executes only the one asked for, which the CPU has (cpu_features).
template <bool Bf16>
__attribute__((target("amx-tile,amx-int8,amx-bf16"))) void amx_loop(long iterations) {
  configure_tiles();
  for (long n = 0; n < iterations; ++n) {
    if constexpr (Bf16) {
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    } else {
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 4, 7);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(3, 5, 7);
    }
  }
  _tile_release();
}

struct Features {
  bool avx512_bf16 = false, amx_int8 = false, amx_bf16 = false;
};

Features cpu_features() {
  Features features;
  unsigned eax, ebx, ecx, edx;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
    bool tile = (edx >> 24) & 1;
    features.amx_int8 = tile && ((edx >> 25) & 1);
    features.amx_bf16 = tile && ((edx >> 22) & 1);
  }
  if (__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) features.avx512_bf16 = (eax >> 5) & 1;
  if (features.amx_int8 || features.amx_bf16) {
    // Linux lends the tile registers to a process only when it asks (ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA).
    constexpr long kReqXcompPerm = 0x1023, kXtileData = 18;
    if (syscall(SYS_arch_prctl, kReqXcompPerm, kXtileData) != 0) features.amx_int8 = features.amx_bf16 = false;
  }
  return features;
}

std::string figure(double value) {
  if (value <= 0) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value / 1e9);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 0.5;
  int trials = argc > 2 ? std::atoi(argv[2]) : 5;
  if (!__builtin_cpu_supports("avx512f")) {
    std::puts("{\"error\": \"this CPU has no AVX-512\"}");
    return 1;
  }
  Features features = cpu_features();
  // One FMA on 16 floats = 32 FLOP; one vpdpbusd = 64 u8 x s8 multiply-accumulates; one vdpbf16ps = 32 bf16 ones.
  double fp32_flops = 0, int8_macs = 0, bf16_macs = 0, amx_int8_macs = 0, amx_bf16_macs = 0;
  for (int trial = 0; trial < trials; ++trial) {
    fp32_flops = std::max(fp32_flops, rate_per_second(seconds, 32L * kChains, fma_loop));
    if (__builtin_cpu_supports("avx512vnni")) int8_macs = std::max(int8_macs, rate_per_second(seconds, 64L * kChains, vnni_loop));
    if (features.avx512_bf16) bf16_macs = std::max(bf16_macs, rate_per_second(seconds, 32L * kChains, bf16_loop));
    if (features.amx_int8) amx_int8_macs = std::max(amx_int8_macs, rate_per_second(seconds, 4L * 16384, amx_loop<false>));
    if (features.amx_bf16) amx_bf16_macs = std::max(amx_bf16_macs, rate_per_second(seconds, 4L * 8192, amx_loop<true>));
  }
  std::printf("{\"threads\": %d, \"fp32_gflops\": %.1f, \"fp32_gmacs\": %.1f, \"int8_vnni_gmacs\": %s, "
              "\"bf16_avx512_gmacs\": %s, \"int8_amx_gmacs\": %s, \"bf16_amx_gmacs\": %s}\n",
              omp_get_max_threads(), fp32_flops / 1e9, fp32_flops / 2e9, figure(int8_macs).c_str(),
              figure(bf16_macs).c_str(), figure(amx_int8_macs).c_str(), figure(amx_bf16_macs).c_str());
  return 0;
}
