// Measures this machine's peak arithmetic rate, the ceiling that docs/BENCHMARKS.md compares nacc against:
// FP32 FMA (vfmadd231ps zmm) and INT8 VNNI (vpdpbusd zmm) on every core, from independent accumulator chains.
// Usage: nacc_peak [seconds]
#include <immintrin.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

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

__attribute__((target("avx512f,avx512vnni"))) void vnni_loop(long iterations) {
  __m512i accumulators[kChains];
  for (int i = 0; i < kChains; ++i) accumulators[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  for (long n = 0; n < iterations; ++n) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) accumulators[i] = _mm512_dpbusd_epi32(accumulators[i], a, b);
  }
  int sink = 0;
  alignas(64) int lanes[16];
  for (int i = 0; i < kChains; ++i) {
    _mm512_store_si512(lanes, accumulators[i]);  // (GCC 12's _mm512_reduce_add_epi32 trips -Wuninitialized)
    for (int lane : lanes) sink += lane;
  }
  if (sink == 12345) std::puts("");
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  if (!__builtin_cpu_supports("avx512f")) {
    std::puts("{\"error\": \"this CPU has no AVX-512\"}");
    return 1;
  }
  // One FMA on 16 floats = 32 FLOP; one vpdpbusd = 64 u8 x s8 multiply-accumulates.
  double fp32_flops = rate_per_second(seconds, 32L * kChains, fma_loop);
  double int8_macs = __builtin_cpu_supports("avx512vnni") ? rate_per_second(seconds, 64L * kChains, vnni_loop) : 0;
  std::printf("{\"threads\": %d, \"fp32_gflops\": %.1f, \"fp32_gmacs\": %.1f, \"int8_vnni_gmacs\": %.1f}\n",
              omp_get_max_threads(), fp32_flops / 1e9, fp32_flops / 2e9, int8_macs / 1e9);
  return 0;
}
