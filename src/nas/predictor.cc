#include "nas/predictor.h"

#include <cmath>
#include <numeric>

#include "core/error.h"

namespace nacc::nas {

namespace {

constexpr std::array<const char*, 6> kKinds = {"remove", "width", "stage-width", "kernel", "replace", "stride"};
// The ridge penalty: a feature seen in few observations stays near 0 (no drop) rather than fitting the noise.
constexpr double kRidge = 0.05;

// Solves the symmetric positive definite system a x = b by Gaussian elimination with partial pivoting.
std::array<double, AccuracyPredictor::kFeatures> solve(
    std::array<std::array<double, AccuracyPredictor::kFeatures>, AccuracyPredictor::kFeatures> a,
    std::array<double, AccuracyPredictor::kFeatures> b) {
  constexpr size_t n = AccuracyPredictor::kFeatures;
  for (size_t column = 0; column < n; ++column) {
    size_t pivot = column;
    for (size_t r = column + 1; r < n; ++r) {
      if (std::abs(a[r][column]) > std::abs(a[pivot][column])) pivot = r;
    }
    std::swap(a[column], a[pivot]);
    std::swap(b[column], b[pivot]);
    NACC_CHECK(std::abs(a[column][column]) > 1e-12);  // the ridge term keeps the system regular
    for (size_t r = column + 1; r < n; ++r) {
      double factor = a[r][column] / a[column][column];
      for (size_t c = column; c < n; ++c) a[r][c] -= factor * a[column][c];
      b[r] -= factor * b[column];
    }
  }
  std::array<double, n> x{};
  for (size_t r = n; r-- > 0;) {
    double sum = b[r];
    for (size_t c = r + 1; c < n; ++c) sum -= a[r][c] * x[c];
    x[r] = sum / a[r][r];
  }
  return x;
}

}  // namespace

std::string feature_kind(const Edit& edit, bool is_stage) {
  return edit.kind == "width" && is_stage ? "stage-width" : edit.kind;
}

std::array<double, AccuracyPredictor::kFeatures> AccuracyPredictor::row(const EditFeatures& edit) const {
  std::array<double, kFeatures> x{};
  for (size_t k = 0; k < kKinds.size(); ++k) x[k] = edit.kind == kKinds[k] ? 1.0 : 0.0;
  // In percent of the baseline, so that the coefficients are of the order of points per percent and the ridge
  // penalty does not swamp them.
  x[6] = 100 * edit.macs_removed;
  x[7] = 100 * edit.parameters_removed;
  // Relative to the mean loss of the blocks distilled so far (1 for an edit not distilled yet).
  double loss = edit.block_loss.value_or(mean_block_loss_);
  x[8] = mean_block_loss_ > 0 ? loss / mean_block_loss_ : 0.0;
  return x;
}

void AccuracyPredictor::add(const std::vector<EditFeatures>& edits, double drop_points) {
  edits_.push_back(edits);
  targets_.push_back(drop_points);
}

void AccuracyPredictor::fit() {
  double loss_sum = 0;
  int64_t losses = 0;
  for (const std::vector<EditFeatures>& observation : edits_) {
    for (const EditFeatures& edit : observation) {
      if (edit.block_loss) {
        loss_sum += *edit.block_loss;
        ++losses;
      }
    }
  }
  mean_block_loss_ = losses > 0 ? loss_sum / static_cast<double>(losses) : 0.0;
  std::array<std::array<double, kFeatures>, kFeatures> gram{};
  std::array<double, kFeatures> moment{};
  for (size_t i = 0; i < edits_.size(); ++i) {
    std::array<double, kFeatures> x{};
    for (const EditFeatures& edit : edits_[i]) {
      std::array<double, kFeatures> one = row(edit);
      for (size_t k = 0; k < kFeatures; ++k) x[k] += one[k];
    }
    for (size_t r = 0; r < kFeatures; ++r) {
      moment[r] += x[r] * targets_[i];
      for (size_t c = 0; c < kFeatures; ++c) gram[r][c] += x[r] * x[c];
    }
  }
  for (size_t r = 0; r < kFeatures; ++r) gram[r][r] += kRidge;
  weights_ = solve(gram, moment);
}

double AccuracyPredictor::predict(const EditFeatures& edit) const {
  std::array<double, kFeatures> x = row(edit);
  return std::inner_product(x.begin(), x.end(), weights_.begin(), 0.0);
}

void AccuracyPredictor::record_error(double predicted_drop, double actual_drop) {
  errors_.push_back(predicted_drop - actual_drop);
}

std::optional<double> AccuracyPredictor::rms_error(size_t minimum) const {
  if (errors_.size() < minimum || errors_.empty()) return std::nullopt;
  double sum = 0;
  for (double error : errors_) sum += error * error;
  return std::sqrt(sum / static_cast<double>(errors_.size()));
}

}  // namespace nacc::nas
