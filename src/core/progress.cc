#include "core/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace nacc {

namespace {
constexpr int kBarWidth = 24;
constexpr auto kTerminalRedrawInterval = std::chrono::milliseconds(100);
constexpr auto kLogRedrawInterval = std::chrono::seconds(5);
}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  if (seconds < 10) return fmt::format("{:.1f}s", seconds);
  auto total = static_cast<int64_t>(std::llround(seconds));
  int64_t hours = total / 3600, minutes = total / 60 % 60, secs = total % 60;
  if (hours > 0) return fmt::format("{}:{:02}:{:02}", hours, minutes, secs);
  return fmt::format("{:02}:{:02}", minutes, secs);
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit, std::FILE* stream, double delay_s)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      stream_(stream),
      is_terminal_(stream != nullptr && isatty(fileno(stream))),
      delay_s_(delay_s),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::advance(int64_t count) {
  done_ += count;
  draw(false);
}

void ProgressBar::set_postfix(std::string text) { postfix_ = std::move(text); }

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
  if (stream_ != nullptr && is_terminal_ && drawn_) std::fputc('\n', stream_);
}

std::string ProgressBar::render() const {
  double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed_s > 0 ? static_cast<double>(done_) / elapsed_s : 0.0;
  std::string line = label_;
  if (total_ > 0) {
    double fraction = std::clamp(static_cast<double>(done_) / static_cast<double>(total_), 0.0, 1.0);
    int filled = static_cast<int>(fraction * kBarWidth);
    line += fmt::format(" [{}{}] {}/{} {:3.0f}%", std::string(filled, '#'), std::string(kBarWidth - filled, '.'),
                        done_, total_, fraction * 100);
  } else {
    line += fmt::format(" {}", done_);
  }
  // Slow jobs (a candidate a minute) read better as seconds per item than as 0.0 items per second.
  if (rate > 0 && rate < 0.1) {
    line += fmt::format(" | {:.0f} s/{}", 1 / rate, unit_);
  } else {
    line += fmt::format(" | {:.1f} {}/s", rate, unit_);
  }
  if (total_ > 0) {
    double remaining_s = rate > 0 ? static_cast<double>(total_ - done_) / rate : NAN;
    line += fmt::format(" | ETA {}", done_ >= total_ ? "done" : format_duration(remaining_s));
  }
  line += fmt::format(" | {}", format_duration(elapsed_s));
  if (!postfix_.empty()) line += " | " + postfix_;
  return line;
}

void ProgressBar::draw(bool force) {
  if (stream_ == nullptr) return;
  auto now = std::chrono::steady_clock::now();
  if (!drawn_ && std::chrono::duration<double>(now - start_).count() < delay_s_) return;
  auto interval = is_terminal_ ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(kTerminalRedrawInterval)
                               : std::chrono::duration_cast<std::chrono::steady_clock::duration>(kLogRedrawInterval);
  if (!force && now - last_draw_ < interval) return;
  last_draw_ = now;
  drawn_ = true;
  if (is_terminal_) {
    fmt::print(stream_, "\r\x1b[2K{}", render());
  } else {
    fmt::print(stream_, "{}\n", render());
  }
  std::fflush(stream_);
}

}  // namespace nacc
