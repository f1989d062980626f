// A progress bar for anything that takes more than a few seconds: count, percentage, rate and ETA.
// On a terminal it redraws one line in place (at most 10 times a second); otherwise (logs, CI) it prints a
// plain line at most every 5 seconds, so logs stay readable. Not thread-safe: advance it from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace nacc {

class ProgressBar {
 public:
  // total <= 0 means unknown: no percentage or ETA is shown. unit names what is counted ("img", "case").
  // Nothing is drawn before delay_s has passed, so quick jobs stay quiet.
  ProgressBar(std::string label, int64_t total, std::string unit = "it", std::FILE* stream = stderr,
              double delay_s = 0.0);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void advance(int64_t count = 1);
  // A new estimate of the total, for jobs whose length is known only as they go (<= 0: unknown).
  void set_total(int64_t total) { total_ = total; }
  // Extra text shown after the rate, e.g. "loss 0.31".
  void set_postfix(std::string text);
  // Draws now, whenever it last drew (a long step starts: say what it is).
  void redraw() { draw(true); }
  // Draws the final state and ends the line; called by the destructor if not called before.
  void finish();

  // The line as it would be drawn now (for tests and non-terminal output).
  std::string render() const;

 private:
  void draw(bool force);

  std::string label_;
  int64_t total_;
  std::string unit_;
  std::FILE* stream_;
  bool is_terminal_;
  double delay_s_;
  bool finished_ = false;
  bool drawn_ = false;
  int64_t done_ = 0;
  std::string postfix_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "1:02:03", "02:03" or "3.4s" for a duration in seconds.
std::string format_duration(double seconds);

}  // namespace nacc
